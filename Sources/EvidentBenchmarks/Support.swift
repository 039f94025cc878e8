import EvidentTestSupport
import Foundation

// Shared helpers of the benchmark commands: timing, statistics, tables, memory, reference data.

/// Wall-clock seconds since an arbitrary origin (monotonic).
func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// Seconds taken by `body`, with its result.
func timed<T>(_ body: () throws -> T) rethrows -> (seconds: Double, value: T) {
    let start = DispatchTime.now().uptimeNanoseconds
    let value = try body()
    return (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, value)
}

/// Runs `body` `runs` times and returns each run's seconds.
func sampleSeconds(runs: Int, _ body: () throws -> Void) rethrows -> [Double] {
    try (0..<max(1, runs)).map { _ in try timed(body).seconds }
}

/// Runs `body` at least `runs` times and, unless `exact`, until `minimumSeconds` have
/// passed too (at most 10,000 runs); returns each run's seconds. Short kernels thus get
/// enough runs for a stable median on a shared machine.
func sampleSeconds(runs: Int, exact: Bool, minimumSeconds: Double, _ body: () throws -> Void) rethrows -> [Double] {
    var times = [Double]()
    var total = 0.0
    while times.count < max(1, runs) || (!exact && total < minimumSeconds && times.count < 10_000) {
        let t = try timed(body).seconds
        times.append(t)
        total += t
    }
    return times
}

/// Median and minimum of a non-empty sample.
struct Sample {
    let values: [Double]
    init(_ values: [Double]) { self.values = values.sorted() }
    /// The median (mean of the two middle values for an even count); NaN when empty.
    var median: Double {
        guard !values.isEmpty else { return .nan }
        let n = values.count
        return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2
    }
    var min: Double { values.first ?? .nan }
    var max: Double { values.last ?? .nan }
}

func median(_ values: [Double]) -> Double { Sample(values).median }

/// Formats a duration with a unit that keeps three significant figures readable.
func formatSeconds(_ s: Double) -> String {
    guard s.isFinite else { return "n/a" }
    if s >= 100 { return String(format: "%.0f s", s) }
    if s >= 1 { return String(format: "%.2f s", s) }
    if s >= 1e-3 { return String(format: "%.1f ms", s * 1e3) }
    return String(format: "%.1f us", s * 1e6)
}

func formatNumber(_ x: Double, _ format: String = "%.4f") -> String {
    x.isNaN ? "n/a" : String(format: format, x)
}

/// A plain-text table with right-aligned columns (the first column left-aligned).
struct Table {
    var header: [String]
    var rows: [[String]] = []

    init(_ header: String...) { self.header = header }

    mutating func add(_ cells: String...) { rows.append(cells) }
    mutating func add(_ cells: [String]) { rows.append(cells) }

    func print(indent: String = "  ") {
        let all = [header] + rows
        let columns = all.map(\.count).max() ?? 0
        let widths = (0..<columns).map { c in all.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            var parts = [String]()
            for c in 0..<columns {
                let cell = c < cells.count ? cells[c] : ""
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                parts.append(c == 0 ? cell + pad : pad + cell)
            }
            return indent + parts.joined(separator: "  ")
        }
        Swift.print(line(header))
        Swift.print(indent + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
        for row in rows { Swift.print(line(row)) }
    }

    /// The table in Markdown (GitHub pipe table, the first column left-aligned).
    var markdown: String {
        let rule = header.indices.map { $0 == 0 ? "---" : "---:" }
        return ([header, rule] + rows).map { "| " + $0.joined(separator: " | ") + " |" }.joined(separator: "\n")
    }
}

/// Replaces the text between the lines `<!-- NAME:begin -->` and `<!-- NAME:end -->` of the
/// Markdown file at `path` by `text`.
func replaceGeneratedSection(_ name: String, in path: String, with text: String) throws {
    let document = try String(contentsOfFile: path, encoding: .utf8)
    let begin = "<!-- \(name):begin -->", end = "<!-- \(name):end -->"
    guard let b = document.range(of: begin), let e = document.range(of: end), b.upperBound <= e.lowerBound else {
        throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "\(path): no \(begin) ... \(end) section"])
    }
    let updated = document[..<b.upperBound] + "\n" + text + "\n" + document[e.lowerBound...]
    try String(updated).write(toFile: path, atomically: true, encoding: .utf8)
}

/// Prints a benchmark's one-line summary, recognisable with `grep SUMMARY`.
func summary(_ name: String, _ text: String) {
    print("SUMMARY \(name): \(text)")
    flushOutput()
}

func section(_ title: String) {
    print("\n== \(title) " + String(repeating: "=", count: max(0, 74 - title.count)))
    flushOutput()
}

func flushOutput() { fflush(stdout) }

/// Peak and current resident set size of this process in bytes (Linux `/proc/self/status`
/// VmHWM and VmRSS); `nil` where unavailable.
func memoryUsage() -> (peak: Int, current: Int)? {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    func field(_ name: String) -> Int? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return nil }
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count >= 2, let kilobytes = Int(parts[1]) else { return nil }
        return kilobytes * 1024
    }
    guard let peak = field("VmHWM"), let current = field("VmRSS") else { return nil }
    return (peak, current)
}

func formatBytes(_ bytes: Int) -> String {
    let gib = Double(bytes) / 1_073_741_824
    return gib >= 1 ? String(format: "%.2f GiB", gib) : String(format: "%.0f MiB", Double(bytes) / 1_048_576)
}

/// The 1-, 5- and 15-minute load averages (`/proc/loadavg`), to judge how busy a shared machine was.
func loadAverage() -> String {
    guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "n/a" }
    return text.split(separator: " ").prefix(3).joined(separator: " ")
}

func memoryLine() -> String {
    guard let m = memoryUsage() else { return "peak memory: n/a (no /proc/self/status)" }
    return "peak memory (VmHWM) \(formatBytes(m.peak)), current (VmRSS) \(formatBytes(m.current))"
}

/// The shared benchmarks folder, or `nil` after printing why `benchmark` is skipped.
func sharedRoot(for benchmark: String) -> String? {
    guard let root = SharedBenchmarks.root else {
        print("\(benchmark): skipped: \(SharedBenchmarks.missingMessage)")
        summary(benchmark, "skipped (shared benchmarks missing)")
        return nil
    }
    return root.path
}

/// Whether a file under the shared benchmarks exists; prints a skip message when not.
func requireFile(_ path: String, for benchmark: String) -> Bool {
    if FileManager.default.fileExists(atPath: path) { return true }
    print("\(benchmark): \(path) is missing; skipped")
    return false
}

/// One row of `reference/lirpa_bounds.csv` (auto_LiRPA's bounds on the CIFAR instances).
struct ReferenceBounds {
    var seconds: Double
    var minMargin: Double
    var margins: [Double]
}

/// The auto_LiRPA reference rows keyed by "onnx|vnnlib|method" (paths relative to the
/// shared benchmarks folder, method as in the file: `IBP`, `CROWN`, `alpha-CROWN`).
enum Reference {
    static let rows: [String: ReferenceBounds] = {
        var result = [String: ReferenceBounds]()
        for row in SharedBenchmarks.csvRows("reference/lirpa_bounds.csv") where row.count >= 6 {
            guard let seconds = Double(row[3]), let minMargin = Double(row[4]) else { continue }
            let margins = row[5].split(separator: ";").compactMap { Double($0) }
            result[key(onnx: row[0], vnnlib: row[1], method: row[2])] =
                ReferenceBounds(seconds: seconds, minMargin: minMargin, margins: margins)
        }
        return result
    }()

    static func key(onnx: String, vnnlib: String, method: String) -> String { "\(onnx)|\(vnnlib)|\(method)" }

    static func lookup(onnx: String, vnnlib: String, method: String) -> ReferenceBounds? {
        rows[key(onnx: onnx, vnnlib: vnnlib, method: method)]
    }
}

/// One instance of a benchmark folder's `instances.csv`, with paths relative to the
/// shared benchmarks folder.
struct Instance {
    var onnx: String
    var vnnlib: String

    /// A short name for tables: the property file name without its extension.
    var name: String { ((vnnlib as NSString).lastPathComponent as NSString).deletingPathExtension }

    /// The instances of `folder/instances.csv` (`onnx,vnnlib,timeout` rows; VNN-COMP's files
    /// have no header, so a row is skipped only when its first field does not name an .onnx file).
    static func list(folder: String) -> [Instance] {
        guard let text = try? String(contentsOfFile: SharedBenchmarks.path(folder + "/instances.csv"), encoding: .utf8)
        else { return [] }
        return text.split(whereSeparator: \.isNewline).compactMap { line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count >= 2, fields[0].hasSuffix(".onnx") else { return nil }
            return Instance(onnx: folder + "/" + fields[0], vnnlib: folder + "/" + fields[1])
        }
    }
}
