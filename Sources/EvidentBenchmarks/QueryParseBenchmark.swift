import EvidentTestSupport
import EvidentVNNLib
import Foundation

/// Parse time of VNN-LIB 2.0 queries of 100,000 assertions each, generated in memory with seeded random thresholds, through
/// `VNNLibParser.parseDocument(text:)` (the text already in memory; no file read):
/// - **cifar-box**: one network, input `X [1,3,32,32]` and output `Y [1,10]`; a lower and an
///   upper bound on every input element (6,144 assertions), then single output comparisons up
///   to the total, cycling through `(<= Y[0,c] t)`, `(>= Y[0,c] Y[0,d])` and
///   `(<= (- Y[0,c] Y[0,d]) t)`: one region, one clause;
/// - **two-networks**: `f` with `X [1,2,100,100]` and output `Y [1,10]`, `g` equal-to `f` with
///   `U` and `Z` of the same shapes; per input element five single comparisons, in turn: the
///   two bounds of X, the tie `(== U[..] X[..])` (U and X share the element), a coupled constraint
///   `(<= (+ X[a] X[b]) t)` of neighbouring elements (an input copied to the output), and an
///   output comparison `(>= (- Y[0,c] Z[0,c]) t)` or `(<= (- Y[0,c] Z[0,d]) t)`;
/// - **box-only**: one network with `X [1,2,125,200]`: 100,000 bounds, the last one in an `and`
///   with the single output comparison.
///
/// Figures per query: its size, the median and minimum of `runs` parses (default 5),
/// assertions per second at the median, and the peak resident memory while parsing (VmHWM,
/// reset before each query where the kernel allows it; the query's text is part of it, and
/// the growth over the resident size before the first parse is given too).
/// The acceptance target: at most 1 s per 100,000-assertion query in release mode.
func benchmarkQueryParsing(_ settings: BenchmarkSettings) {
    let runs = settings.runs(default: 5)
    let total = queryAssertions
    print("VNN-LIB 2.0 queries of \(total) assertions, VNNLibParser.parseDocument(text:), \(runs) runs each; \(memoryLine())")
    var table = Table("query", "KB", "asserts", "inputs", "outputs", "regions", "clauses", "constraints",
                      "median", "min", "asserts/s", "peak", "growth")
    var medians = [String]()
    for (name, generate) in [("cifar-box", cifarBoxQuery), ("two-networks", tiedNetworksQuery), ("box-only", boxOnlyQuery)] {
        let (generateSeconds, text) = timed { generate(total) }
        resetPeakMemory()
        let resetWorked = FileManager.default.isWritableFile(atPath: "/proc/self/clear_refs")
        let before = memoryUsage()?.current ?? 0
        var result: Result<VNNLibDocument, Error> = .failure(CocoaError(.featureUnsupported))
        let times = sampleSeconds(runs: runs) {
            result = Result { try VNNLibParser.parseDocument(text: text, source: "\(name).vnnlib") }
        }
        let peak = memoryUsage()?.peak ?? 0
        let sample = Sample(times)
        switch result {
        case .success(.query(let query)):
            let property = query.property
            let constraints = property.regions.reduce(0) { $0 + $1.clauses.reduce(0) { $0 + $1.constraints.count } }
            table.add(name, "\(text.utf8.count / 1024)", "\(query.assertionCount)", "\(property.inputCount)",
                      "\(property.outputCount)", "\(property.regions.count)", "\(property.outputClauseCount)", "\(constraints)",
                      formatSeconds(sample.median), formatSeconds(sample.min),
                      String(format: "%.0f", Double(query.assertionCount) / sample.median),
                      resetWorked ? formatBytes(peak) : "n/a", resetWorked ? formatBytes(max(0, peak - before)) : "n/a")
            medians.append("\(name) \(formatSeconds(sample.median))")
        case .success(.property):
            print("\(name): parsed as a 1.0 property (the generator is wrong)")
        case .failure(let error):
            print("\(name): error: \(error.localizedDescription)")
        }
        print("  \(name): generated in \(formatSeconds(generateSeconds)); runs \(times.map(formatSeconds).joined(separator: ", "))")
        flushOutput()
    }
    table.print()
    print("  peak: VmHWM while parsing (query text included); growth: peak minus the resident size before the first parse")
    summary("vnnlib2", medians.joined(separator: ", ") + " per \(total)-assertion query (target: at most 1 s)")
}

/// Assertions in each generated query (the shapes below are chosen for this count).
let queryAssertions = 100_000

/// `X[0,2,5,7]`: the element of `name` at row-major index `flat` of `shape`.
private func element(_ name: String, _ shape: [Int], _ flat: Int) -> String {
    DeclaredTensor.elementName(name, shape: shape, flat: flat)
}

/// A 2.0 decimal (`-?digits.digits`, never an exponent).
private func decimal(_ x: Double) -> String { String(format: "%.6f", x) }

private func cifarBoxQuery(_ total: Int) -> String {
    var random = SeededGenerator(seed: 2_000)
    let input = [1, 3, 32, 32], inputs = 3 * 32 * 32
    var text = "(vnnlib-version <2.0>)\n(declare-network cifar\n    (declare-input  X Real [1,3,32,32])\n    (declare-output Y Real [1,10])\n)\n"
    text.reserveCapacity(total * 40)
    for i in 0..<inputs {
        let centre = random.uniform(0...1), radius = 2.0 / 255
        text += "(assert (>= \(element("X", input, i)) \(decimal(max(0, centre - radius)))))\n"
        text += "(assert (<= \(element("X", input, i)) \(decimal(min(1, centre + radius)))))\n"
    }
    for k in 0..<max(0, total - 2 * inputs) {
        let c = Int(random.next() % 10), d = (c + 1 + Int(random.next() % 9)) % 10
        switch k % 3 {
        case 0: text += "(assert (<= Y[0,\(c)] \(decimal(random.uniform(-5...5)))))\n"
        case 1: text += "(assert (>= Y[0,\(c)] Y[0,\(d)]))\n"
        default: text += "(assert (<= (- Y[0,\(c)] Y[0,\(d)]) \(decimal(random.uniform(0...1)))))\n"
        }
    }
    return text
}

private func tiedNetworksQuery(_ total: Int) -> String {
    var random = SeededGenerator(seed: 2_001)
    let shape = [1, 2, 100, 100], elements = 20_000
    var text = """
        (vnnlib-version <2.0>)
        (declare-network f
            (declare-input  X Real [1,2,100,100])
            (declare-output Y Real [1,10])
        )
        (declare-network g
            (equal-to f)
            (declare-input  U Real [1,2,100,100])
            (declare-output Z Real [1,10])
        )

        """
    text.reserveCapacity(total * 48)
    for k in 0..<total {
        let i = (k / 5) % elements
        switch k % 5 {
        case 0: text += "(assert (>= \(element("X", shape, i)) \(decimal(random.uniform(-1 ... -0.5)))))\n"
        case 1: text += "(assert (<= \(element("X", shape, i)) \(decimal(random.uniform(0.5...1)))))\n"
        case 2: text += "(assert (== \(element("U", shape, i)) \(element("X", shape, i))))\n"
        case 3:
            let j = (i + 1) % elements
            text += "(assert (<= (+ \(element("X", shape, i)) \(element("X", shape, j))) \(decimal(random.uniform(0.5...1.5)))))\n"
        default:
            let c = Int(random.next() % 10), d = Int(random.next() % 10)
            text += c == d ? "(assert (>= (- Y[0,\(c)] Z[0,\(c)]) \(decimal(random.uniform(-2 ... -1)))))\n"
                : "(assert (<= (- Y[0,\(c)] Z[0,\(d)]) \(decimal(random.uniform(1...2)))))\n"
        }
    }
    return text
}

private func boxOnlyQuery(_ total: Int) -> String {
    var random = SeededGenerator(seed: 2_002)
    let shape = [1, 2, 125, 200], elements = 50_000
    var text = "(vnnlib-version <2.0>)\n(declare-network n\n    (declare-input  X Real [1,2,125,200])\n    (declare-output Y Real [1,2])\n)\n"
    text.reserveCapacity(total * 40)
    for k in 0..<(2 * elements) {
        let i = k / 2
        let bound = k % 2 == 0 ? "(>= \(element("X", shape, i)) \(decimal(random.uniform(-1...0))))"
            : "(<= \(element("X", shape, i)) \(decimal(random.uniform(0...1))))"
        text += k < 2 * elements - 1 ? "(assert \(bound))\n" : "(assert (and \(bound) (>= Y[0,0] Y[0,1])))\n"
    }
    return text
}
