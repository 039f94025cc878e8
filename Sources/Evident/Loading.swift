import Foundation
import EvidentIO
import EvidentIR
import EvidentONNX
import EvidentNNet
import EvidentVNNLib
import EvidentEval

/// Errors of the library's front door (file-type dispatch and plain input files).
public enum EvidentError: Error, LocalizedError, Equatable {
    /// The file extension is not one Evident reads.
    case unknownFileType(path: String, expected: String)
    /// A number in an input file could not be read.
    case badNumber(file: String, line: Int, column: Int, token: String)
    /// An input file holds the wrong number of values.
    case inputCount(file: String, expected: Int, got: Int)
    /// A file could not be read.
    case unreadable(file: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case let .unknownFileType(path, expected):
            "\(path): unknown file type (expected \(expected))"
        case let .badNumber(file, line, column, token):
            "\(file):\(line):\(column): '\(token)' is not a number"
        case let .inputCount(file, expected, got):
            "\(file): holds \(got) numbers, the network takes \(expected)"
        case let .unreadable(file, reason):
            "\(file): cannot be read (\(reason))"
        }
    }
}

/// The network file formats Evident reads.
public enum NetworkFormat: String, Sendable {
    case onnx, nnet

    /// The format of a path, judged by its extension (case-insensitive), ignoring a `.gz`
    /// suffix: `x.onnx` and `x.onnx.gz` are ONNX, `x.nnet` and `x.nnet.gz` are `.nnet`
    /// (the loaders decompress gzip content whatever the name).
    public init(path: String) throws {
        switch InputFile.effectiveExtension(of: path) {
        case "onnx": self = .onnx
        case "nnet": self = .nnet
        default: throw EvidentError.unknownFileType(path: path, expected: ".onnx or .nnet, optionally gzip-compressed as .onnx.gz or .nnet.gz")
        }
    }
}

/// Loads a network from an `.onnx` or `.nnet` file (or its gzip-compressed `.gz` form).
///
/// A `.nnet` network takes normalised inputs and produces unnormalised outputs,
/// exactly as stored (see ``NNetLoader``); use ``NNetLoader/load(path:)`` directly
/// for its normalisation metadata.
public func loadNetwork(path: String) throws -> Network {
    switch try NetworkFormat(path: path) {
    case .onnx: try ONNXLoader.load(path: path)
    case .nnet: try NNetLoader.load(path: path).network
    }
}

/// Loads a VNN-LIB property and checks its variables against a network when one is given.
///
/// `maxMemory` is the run's working-memory limit (`--max-memory`), of which the expanded
/// property may take half (``VNNLibParser/memoryBudget(maxMemory:)``); without it the
/// parser's default budget applies.
public func loadProperty(path: String, for network: Network? = nil, maxMemory: Int? = nil) throws -> Property {
    let property = try VNNLibParser.parse(path: path, memoryBudget: VNNLibParser.memoryBudget(maxMemory: maxMemory))
    if let network {
        try property.validate(inputCount: network.graph.values[network.graph.input].count,
                              outputCount: network.graph.values[network.graph.output].count)
    }
    return property
}

/// Reads a flattened input: numbers separated by white space or commas; `#` starts a comment.
public func readInputVector(path: String, expectedCount: Int? = nil) throws -> [Double] {
    let text: String
    do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
        throw EvidentError.unreadable(file: path, reason: (error as NSError).localizedDescription)
    }
    var values = [Double]()
    for (lineIndex, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        var column = 1
        for token in content.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" || $0 == "\r" }) {
            defer { column += token.count + 1 }
            if token.isEmpty { continue }
            guard let value = Double(token), value.isFinite else {
                throw EvidentError.badNumber(file: path, line: lineIndex + 1, column: column, token: String(token))
            }
            values.append(value)
        }
    }
    if let expectedCount, values.count != expectedCount {
        throw EvidentError.inputCount(file: path, expected: expectedCount, got: values.count)
    }
    return values
}

/// Applies the process-wide settings of the numeric kernels (OpenBLAS single-threaded, heap
/// settings); executables call it once at start, before any other thread runs.
public func configureProcess() {
    ProcessSettings.configure()
}
