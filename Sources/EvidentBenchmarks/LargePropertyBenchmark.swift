import Evident
import EvidentTestSupport
import Foundation

/// Parsing and CROWN margins of very large disjunctive properties (issue 15), on files this
/// benchmark writes into a temporary folder, over a seeded random MLP (5 inputs, three ReLU
/// layers of 50, 5 outputs):
/// - **output-only**: an input box and one `(assert (or …))` of `disjuncts` output clauses,
///   alternately `(<= Y_i t)` with varied thresholds and `(>= Y_i Y_j)` for output pairs: one
///   region with that many clauses, at most 30 distinct specification rows;
/// - **lindex-style**: one input and output of a 1-50-50-1 MLP and `disjuncts` disjuncts
///   `(and (>= X_0 a_k) (<= X_0 b_k) (<= Y_0 t_k))`, as in nn4sys `lindex` files: one region
///   per box.
///
/// Figures per file: its size, parse time (`loadProperty`, file read included), CROWN margin
/// time (`propertyMargins`), regions, clauses, the smallest margin, and the process's peak
/// resident memory (VmHWM) after each step (a high-water mark of the whole run so far).
/// The acceptance target: parse plus CROWN under 10 s and the peak under 2 GiB at 120,000.
func benchmarkLargeProperties(_ settings: BenchmarkSettings) {
    let disjuncts = settings.disjuncts
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("evident-large-\(getpid())")
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    print("large properties: \(disjuncts) disjuncts, written to \(folder.path); \(memoryLine())")

    struct Case {
        var name: String
        var network: Network
        var text: String
    }
    func network(inputs: Int, hidden: [Int], outputs: Int) -> Network {
        let graph = try! RandomNetworks.dense(seed: 15, inputs: inputs, hidden: hidden, outputs: outputs)
        return Network(graph: graph, source: "random MLP \(inputs)-\(hidden.map(String.init).joined(separator: "-"))-\(outputs)",
                       format: "memory", sourceOperatorCounts: [:], parameterCount: 0)
    }
    var random = SeededGenerator(seed: 60_000)
    func threshold(_ range: ClosedRange<Double>) -> String { String(format: "%.6f", random.uniform(range)) }

    var outputOnly = (0..<5).map { "(declare-const X_\($0) Real)\n" }.joined()
        + (0..<5).map { "(declare-const Y_\($0) Real)\n" }.joined()
        + (0..<5).map { "(assert (>= X_\($0) -0.1))\n(assert (<= X_\($0) 0.1))\n" }.joined()
        + "(assert (or\n"
    outputOnly.reserveCapacity(disjuncts * 24)
    for k in 0..<disjuncts {
        let i = Int(random.next() % 5), j = (i + 1 + Int(random.next() % 4)) % 5
        outputOnly += k % 2 == 0 ? "  (<= Y_\(i) \(threshold(-5...5)))\n" : "  (and (>= Y_\(i) Y_\(j)))\n"
    }
    outputOnly += "))\n"

    var lindex = "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (or\n"
    lindex.reserveCapacity(disjuncts * 64)
    for k in 0..<disjuncts {
        let lower = Double(k) / Double(disjuncts), upper = Double(k + 1) / Double(disjuncts)
        lindex += "  (and (>= X_0 \(String(format: "%.9f", lower))) (<= X_0 \(String(format: "%.9f", upper))) (<= Y_0 \(threshold(-5 ... -1))))\n"
    }
    lindex += "))\n"

    let cases = [
        Case(name: "output-only", network: network(inputs: 5, hidden: [50, 50, 50], outputs: 5), text: outputOnly),
        Case(name: "lindex-style", network: network(inputs: 1, hidden: [50, 50], outputs: 1), text: lindex),
    ]
    var totals = [String]()
    for item in cases {
        let path = folder.appendingPathComponent("\(item.name).vnnlib").path
        guard FileManager.default.createFile(atPath: path, contents: Data(item.text.utf8)) else {
            print("\(item.name): cannot write \(path)")
            continue
        }
        let parse = Result { try timed { try loadProperty(path: path, for: item.network) } }
        guard case .success(let (parseSeconds, property)) = parse else {
            print("\(item.name): error: \(parse)")
            continue
        }
        let afterParse = memoryUsage()?.peak ?? 0
        let (crownSeconds, report) = timed {
            propertyMargins(network: item.network, property: property, options: BoundOptions(method: .crown))
        }
        let afterCrown = memoryUsage()?.peak ?? 0
        print("\(item.name): \(item.text.utf8.count / 1024) KB, \(property.regions.count) regions, "
              + "\(property.outputClauseCount) clauses; parse \(formatSeconds(parseSeconds)) (peak \(formatBytes(afterParse))), "
              + "CROWN margins \(formatSeconds(crownSeconds)) (peak \(formatBytes(afterCrown))), "
              + "min margin \(formatNumber(report.minMargin)), \(report.margins.filter { $0 > 0 }.count) clauses refuted")
        totals.append("\(item.name) parse+CROWN \(formatSeconds(parseSeconds + crownSeconds))")
        flushOutput()
    }
    summary("large", totals.joined(separator: ", ") + "; \(memoryLine())")
}
