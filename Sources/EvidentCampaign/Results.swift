import EvidentIO
import Foundation

/// One finished instance of a campaign: a row of its results csv.
public struct CampaignRow: Sendable, Equatable {
    public var index: Int
    public var benchmark: String
    public var onnx: String
    public var vnnlib: String
    /// The time limit the run had: the csv's timeout times `--timeout-scale`.
    public var timeout: Double
    /// `sat`, `unsat`, `unknown`, `timeout` or `error`.
    public var result: String
    /// Wall time of the whole `evident verify` process, start-up and loading included.
    public var seconds: Double
    /// What settled it (verify's `method`), empty when nothing did.
    public var method: String
    public var truth: Truth?
    /// Why an instance is unknown, timed out or failed (verify's reason or error message).
    public var note: String

    public init(index: Int, benchmark: String, onnx: String, vnnlib: String, timeout: Double, result: String,
                seconds: Double, method: String, truth: Truth?, note: String) {
        self.index = index
        self.benchmark = benchmark
        self.onnx = onnx
        self.vnnlib = vnnlib
        self.timeout = timeout
        self.result = result
        self.seconds = seconds
        self.method = method
        self.truth = truth
        self.note = note
    }

    /// `sat` where the truth is `unsat`, or the reverse: the worst defect a verifier can have.
    public var wrong: Bool {
        (result == "sat" && truth == .unsat) || (result == "unsat" && truth == .sat)
    }

    /// The same instance, run under the same limit, with the same answer (times, methods and
    /// notes aside): what two runs of a campaign must agree on.
    public func sameOutcome(as other: CampaignRow) -> Bool {
        sameInstance(as: other) && result == other.result
    }

    func sameInstance(as other: CampaignRow) -> Bool {
        index == other.index && benchmark == other.benchmark && onnx == other.onnx && vnnlib == other.vnnlib
            && timeout == other.timeout
    }
}

/// The results csv of a campaign: a header, then one row per finished instance in the order
/// they finished (merged files are sorted by index).
public enum ResultsFile {
    public static let columns = ["index", "benchmark", "onnx", "vnnlib", "timeout", "result", "seconds", "method", "truth", "note"]
    public static let results: Set<String> = ["sat", "unsat", "unknown", "timeout", "error"]

    /// The header line.
    public static var header: String { CSV.line(columns) }

    /// A row as one line.
    public static func line(_ row: CampaignRow) -> String {
        CSV.line([String(row.index), row.benchmark, row.onnx, row.vnnlib, number(row.timeout), row.result,
                  String(format: "%.3f", row.seconds), row.method, row.truth?.rawValue ?? "", row.note])
    }

    /// The rows of the results file at `path`.
    public static func read(path: String) throws -> [CampaignRow] {
        let records = try InstanceList.records(path: path)
        guard let first = records.first, first.fields == columns else {
            throw CampaignError(file: path, line: 1, "not a campaign results file (its header is not \(columns.joined(separator: ",")))")
        }
        return try records.dropFirst().map { record in
            let f = record.fields
            func fail(_ reason: String) -> CampaignError { CampaignError(file: path, line: record.line, reason) }
            guard f.count == columns.count else { throw fail("expected \(columns.count) fields, found \(f.count)") }
            guard let index = Int(f[0]), index >= 0 else { throw fail("the index '\(f[0])' is not a whole number") }
            guard let timeout = Double(f[4]), timeout > 0 else { throw fail("the timeout '\(f[4])' is not a positive number") }
            guard results.contains(f[5]) else { throw fail("the result '\(f[5])' is none of \(results.sorted().joined(separator: ", "))") }
            guard let seconds = Double(f[6]), seconds >= 0 else { throw fail("the time '\(f[6])' is not a number of seconds") }
            var truth: Truth?
            if !f[8].isEmpty {
                guard let value = Truth(word: f[8]) else { throw fail("the truth '\(f[8])' is none of sat, unsat, unknown") }
                truth = value
            }
            return CampaignRow(index: index, benchmark: f[1], onnx: f[2], vnnlib: f[3], timeout: timeout, result: f[5],
                               seconds: seconds, method: f[7], truth: truth, note: f[9])
        }
    }

    /// Writes `rows` (sorted by index) as a whole results file, atomically.
    public static func write(_ rows: [CampaignRow], to path: String) throws {
        try OutputFile.writeAtomically(header + rows.sorted { $0.index < $1.index }.map(line).joined(), to: path)
    }

    /// The rows of several results files (shards of one campaign) as one list sorted by
    /// index. An instance in two files is an error naming both, unless the two rows are the
    /// same instance with the same answer (a shard that was copied twice).
    public static func merge(paths: [String]) throws -> [CampaignRow] {
        var byIndex = [Int: (row: CampaignRow, file: String)]()
        for path in paths {
            for row in try read(path: path) {
                if let (earlier, file) = byIndex[row.index] {
                    guard earlier.sameInstance(as: row) else {
                        throw CampaignError(file: path, "instance \(row.index) is \(row.onnx) \(row.vnnlib) here but \(earlier.onnx) \(earlier.vnnlib) in \(file): the files come from different instance lists or timeout scales")
                    }
                    guard earlier.result == row.result else {
                        throw CampaignError(file: path, "instance \(row.index) (\(row.onnx) \(row.vnnlib)) is also in \(file), with another answer (\(row.result) here, \(earlier.result) there): shards overlap")
                    }
                    continue
                }
                byIndex[row.index] = (row, path)
            }
        }
        return byIndex.values.map(\.row).sorted { $0.index < $1.index }
    }

    /// `116.0` as `116`, other values in shortest round-trip form.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}
