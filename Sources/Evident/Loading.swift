import Foundation
import EvidentIO
import EvidentIR
import EvidentONNX
import EvidentNNet
import EvidentVNNLib
import EvidentEval
import EvidentCertificate
import EvidentChecker

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
    /// A VNN-LIB 2.0 query that one model file cannot carry.
    case queryNeedsNetworks(file: String)
    /// The command line does not fit the property file's version.
    case usage(String)

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
        case let .queryNeedsNetworks(file):
            "\(file): this VNN-LIB 2.0 query declares several networks, hidden tensors, or tied or coupled inputs; "
                + "run it with evident verify \(file) --network NAME=MODEL ..., which composes its networks"
        case let .usage(message):
            message
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
///
/// A VNN-LIB 2.0 query is bound to `network` as its one model (shapes and element types
/// checked, see ``VNNLibQuery/bind(models:)``); a query that needs more (several networks,
/// hidden tensors, tied or coupled inputs) is refused with a pointer to
/// `evident verify QUERY --network NAME=MODEL`, which composes them. Without a network the
/// query's property over its own layout is returned.
public func loadProperty(path: String, for network: Network? = nil, maxMemory: Int? = nil) throws -> Property {
    let document = try VNNLibParser.parseDocument(path: path, memoryBudget: VNNLibParser.memoryBudget(maxMemory: maxMemory))
    var property = document.property
    if let network, case .query(let query) = document {
        guard query.isPlainProperty else {
            throw EvidentError.queryNeedsNetworks(file: path)
        }
        property = try query.bind(models: [query.networks[0].name: network]).property
    }
    if let network { try validate(property, for: network) }
    return property
}

/// Checks a property's variables against the network's input and output.
private func validate(_ property: Property, for network: Network) throws {
    try property.validate(inputCount: network.graph.values[network.graph.input].count,
                          outputCount: network.graph.values[network.graph.output].count)
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

/// A verification problem as the command line gives it: a network and a property over it,
/// with the file bindings a certificate records.
public struct Problem: Sendable {
    /// The network the property is about (for a 2.0 query, the composition of its networks).
    public var network: Network
    public var property: Property
    /// The model file (for a 2.0 query, its first declared network's).
    public var modelBinding: FileBinding
    public var propertyBinding: FileBinding
    /// For a 2.0 query: every declared network's model file (the certificate binds them).
    public var networkBindings: [NetworkBinding]
    /// For a 2.0 query: the query bound to its models.
    public var query: BoundQuery?
}

/// Loads a problem from `evident verify MODEL PROPERTY` (a 1.0 property, or a 2.0 query with
/// one network) or `evident verify QUERY --network NAME=MODEL ...` (a 2.0 query; `networks`
/// maps declared names to model files).
public func loadProblem(model: String?, property path: String, networks: [String: String],
                        maxMemory: Int? = nil) throws -> Problem {
    let document = try VNNLibParser.parseDocument(path: path, memoryBudget: VNNLibParser.memoryBudget(maxMemory: maxMemory))
    let propertyBinding = FileBinding(path: path, sha256: try InputFile.contentDigest(path: path))
    switch document {
    case .property(let property):
        guard networks.isEmpty else {
            throw EvidentError.usage("\(path) is a VNN-LIB 1.0 property: give the model as the first argument (evident verify MODEL PROPERTY); --network is for 2.0 queries")
        }
        guard let model else {
            throw EvidentError.usage("\(path) is a VNN-LIB 1.0 property: give the model too (evident verify MODEL PROPERTY)")
        }
        let network = try loadNetwork(path: model)
        try validate(property, for: network)
        return Problem(network: network, property: property,
                       modelBinding: FileBinding(path: model, sha256: try InputFile.contentDigest(path: model)),
                       propertyBinding: propertyBinding, networkBindings: [], query: nil)
    case .query(let query):
        var paths = networks
        if let model {
            guard networks.isEmpty else {
                throw EvidentError.usage("give the models of a 2.0 query either as --network NAME=MODEL or, for a one-network query, as the first argument, not both")
            }
            guard query.modelNetworkNames.count == 1 else {
                throw EvidentError.usage("\(path) declares \(query.modelNetworkNames.count) networks that need a model (\(query.modelNetworkNames.joined(separator: ", "))): give one --network NAME=MODEL for each")
            }
            paths = [query.modelNetworkNames[0]: model]
        }
        let (bound, digests) = try Checker.bindQuery(query, modelPaths: paths)
        let bindings = query.modelNetworkNames.map {
            NetworkBinding(name: $0, file: FileBinding(path: paths[$0]!, sha256: digests[$0]!))
        }
        return Problem(network: bound.network, property: bound.property, modelBinding: bindings[0].file,
                       propertyBinding: propertyBinding, networkBindings: bindings, query: bound)
    }
}
