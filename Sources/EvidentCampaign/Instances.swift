import Foundation

/// A malformed campaign file or a campaign that cannot go on; the message names the file
/// and, where there is one, the line.
public struct CampaignError: Error, LocalizedError, Equatable, Sendable {
    public var message: String

    public init(_ message: String) { self.message = message }

    init(file: String, line: Int? = nil, _ reason: String) {
        message = line.map { "\(file):\($0): \(reason)" } ?? "\(file): \(reason)"
    }

    public var errorDescription: String? { message }
}

/// What is known to be the right answer of an instance.
public enum Truth: String, Sendable, Equatable {
    case sat, unsat, unknown

    /// `sat`/`violated`, `unsat`/`holds`, `unknown` (any case); `nil` for anything else.
    init?(word: String) {
        switch word.lowercased() {
        case "sat", "violated": self = .sat
        case "unsat", "holds": self = .unsat
        case "unknown", "": self = .unknown
        default: return nil
        }
    }
}

/// One row of an instances csv.
public struct CampaignInstance: Sendable, Equatable {
    /// The 0-based position among the csv's instance rows (the header is not counted): the
    /// key of the instance in results files and shards.
    public var index: Int
    /// The csv's `benchmark` (or `category`) column, else the name of the csv's folder.
    public var benchmark: String
    /// The paths as the csv writes them (relative to the csv's folder unless absolute).
    public var onnx: String
    public var vnnlib: String
    /// The csv's time limit, seconds.
    public var timeout: Double
    /// The csv's answer column (`result`, `truth` or `expected`, or a fourth column without a
    /// header), or the one `--truth` gives.
    public var truth: Truth?
    /// `onnx` and `vnnlib` resolved against the csv's folder.
    public var modelPath: String
    public var propertyPath: String

    public init(index: Int, benchmark: String, onnx: String, vnnlib: String, timeout: Double, truth: Truth?,
                modelPath: String, propertyPath: String) {
        self.index = index
        self.benchmark = benchmark
        self.onnx = onnx
        self.vnnlib = vnnlib
        self.timeout = timeout
        self.truth = truth
        self.modelPath = modelPath
        self.propertyPath = propertyPath
    }
}

/// Reading VNN-COMP instance lists: `onnx,vnnlib,timeout` rows (its `instances.csv`), or a
/// csv whose header names the columns (`onnx`, `vnnlib`, `timeout`, and optionally
/// `benchmark` and `result`, as in `ground_truth.csv`).
public enum InstanceList {
    /// The instances of the csv at `path`.
    public static func read(path: String) throws -> [CampaignInstance] {
        let records = try records(path: path)
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        guard let first = records.first else { throw CampaignError(file: path, "no instances (the file is empty)") }
        let header = Header(first.fields)
        if let header, header.timeout == nil { throw CampaignError(file: path, line: first.line, "the header names no timeout column") }
        let columns = header ?? Header.positional(count: first.fields.count)
        let defaultBenchmark = folder.standardizedFileURL.lastPathComponent
        var instances = [CampaignInstance]()
        for record in records.dropFirst(header == nil ? 0 : 1) {
            let field = { (column: Int?) -> String? in column.flatMap { $0 < record.fields.count ? record.fields[$0] : nil } }
            guard let onnx = field(columns.onnx), let vnnlib = field(columns.vnnlib), let timeoutText = field(columns.timeout),
                  !onnx.isEmpty, !vnnlib.isEmpty
            else {
                throw CampaignError(file: path, line: record.line,
                                    "expected onnx,vnnlib,timeout, found \(record.fields.count) field\(record.fields.count == 1 ? "" : "s")")
            }
            guard let timeout = Double(timeoutText), timeout.isFinite, timeout > 0 else {
                throw CampaignError(file: path, line: record.line, "the timeout '\(timeoutText)' is not a positive number of seconds")
            }
            var truth: Truth?
            if let word = field(columns.truth) {
                guard let value = Truth(word: word) else {
                    throw CampaignError(file: path, line: record.line, "the answer '\(word)' is none of sat, unsat, unknown")
                }
                truth = value
            }
            let benchmark = field(columns.benchmark).flatMap { $0.isEmpty ? nil : $0 } ?? defaultBenchmark
            instances.append(CampaignInstance(index: instances.count, benchmark: benchmark, onnx: onnx, vnnlib: vnnlib,
                                              timeout: timeout, truth: truth,
                                              modelPath: resolve(onnx, in: folder), propertyPath: resolve(vnnlib, in: folder)))
        }
        guard !instances.isEmpty else { throw CampaignError(file: path, "no instances (only a header)") }
        return instances
    }

    /// Sets each instance's truth from a ground-truth csv (a header with `onnx`, `vnnlib` and
    /// `result`, paths relative to that csv), matching instances by their resolved files
    /// (a `.gz` suffix ignored). Returns how many instances it found an answer for.
    @discardableResult
    public static func applyTruth(path: String, to instances: inout [CampaignInstance]) throws -> Int {
        let records = try records(path: path)
        guard let first = records.first, let header = Header(first.fields), let truthColumn = header.truth else {
            throw CampaignError(file: path, line: 1, "a truth file needs a header naming the columns onnx, vnnlib and result")
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        var answers = [String: Truth]()
        for record in records.dropFirst() {
            guard let onnxColumn = header.onnx, let vnnlibColumn = header.vnnlib,
                  max(onnxColumn, vnnlibColumn, truthColumn) < record.fields.count
            else { throw CampaignError(file: path, line: record.line, "the row has fewer fields than the header") }
            guard let value = Truth(word: record.fields[truthColumn]) else {
                throw CampaignError(file: path, line: record.line, "the answer '\(record.fields[truthColumn])' is none of sat, unsat, unknown")
            }
            answers[key(resolve(record.fields[onnxColumn], in: folder), resolve(record.fields[vnnlibColumn], in: folder))] = value
        }
        var found = 0
        for k in instances.indices {
            if let value = answers[key(instances[k].modelPath, instances[k].propertyPath)] {
                instances[k].truth = value
                found += 1
            }
        }
        return found
    }

    static func records(path: String) throws -> [CSVRecord] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CampaignError(file: path, FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw CampaignError(file: path, "is not UTF-8 text") }
        return try CSV.parse(text, file: path)
    }

    static func resolve(_ path: String, in folder: URL) -> String {
        (path.hasPrefix("/") ? URL(fileURLWithPath: path) : folder.appendingPathComponent(path)).standardizedFileURL.path
    }

    static func key(_ model: String, _ property: String) -> String {
        func plain(_ p: String) -> String { p.hasSuffix(".gz") ? String(p.dropLast(3)) : p }
        return plain(model) + "\u{0}" + plain(property)
    }

    /// Where the columns are.
    struct Header: Equatable {
        var onnx: Int?, vnnlib: Int?, timeout: Int?, truth: Int?, benchmark: Int?

        /// A header row: one that names the `onnx` and `vnnlib` columns.
        init?(_ fields: [String]) {
            let names = fields.map { $0.lowercased() }
            func column(_ candidates: String...) -> Int? { names.firstIndex { candidates.contains($0) } }
            onnx = column("onnx", "network", "model")
            vnnlib = column("vnnlib", "property", "spec")
            guard onnx != nil, vnnlib != nil else { return nil }
            timeout = column("timeout", "timeout_seconds", "timeout_secs", "timeout_s")
            truth = column("result", "truth", "expected")
            benchmark = column("benchmark", "category", "family")
        }

        private init(onnx: Int, vnnlib: Int, timeout: Int, truth: Int?) {
            self.onnx = onnx
            self.vnnlib = vnnlib
            self.timeout = timeout
            self.truth = truth
        }

        /// VNN-COMP's headerless `onnx,vnnlib,timeout` with an optional fourth answer column.
        static func positional(count: Int) -> Header {
            Header(onnx: 0, vnnlib: 1, timeout: 2, truth: count > 3 ? 3 : nil)
        }
    }
}
