import ArgumentParser
import Evident
import Foundation

/// `evident supports --CAPABILITY`: the VNN-LIB 2.0 standard's capability report.
struct Supports: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Report one capability, as the VNN-LIB 2.0 standard's supports command defines it.",
        discussion: """
        Give exactly one capability flag. Element types: Evident verifies networks as functions \
        of real numbers, so it reports only real (queries typed float32 and so on are refused, \
        as the standard requires). Theories: hidden nodes (NH, H), inputs and outputs (SIO, MIO), \
        networks (SNET, MENET, MINET, MNET), node comparisons (SNC, MNC), arithmetic (BND, OUTC, \
        LIN; polynomial constraints are refused). Disjunctions are expanded to disjunctive normal \
        form (streamed, never stored), so optimised disjunctive reasoning is false. Evident's \
        proofs are its own certificates (evident check), not the standard's proof format, so \
        --unsat-proofs is false.
        """)

    @Flag(help: "Minimum and maximum ONNX opset.") var onnxOpsetVersions = false
    @Flag(help: "Element types analysed soundly.") var onnxElementTypes = false
    @Flag(help: "ONNX operators read.") var onnxOperators = false
    @Flag(help: "ONNX operators in the standard's UNSAT proofs (none: not supported).") var onnxOperatorsUnsatProofs = false
    @Flag(help: "Minimum and maximum VNN-LIB version.") var vnnlibVersions = false
    @Flag(help: "Hidden-node theories.") var hiddenNodeTheories = false
    @Flag(help: "Multiple input/output theories.") var multipleInputOutputTheories = false
    @Flag(help: "Multiple-network theories.") var multipleNetworkTheories = false
    @Flag(help: "Multi-node comparison theories.") var multipleNodeComparisonTheories = false
    @Flag(help: "Arithmetic complexity theories.") var arithmeticComplexityTheories = false
    @Flag(help: "Whether disjunctions are handled other than by normal form.") var optimisedDisjunctiveReasoning = false
    @Flag(help: "Whether verify takes --serialise-assignments.") var serialiseAssignments = false
    @Flag(help: "Whether verify writes the standard's UNSAT proofs.") var unsatProofs = false

    func run() throws {
        let answers: [(Bool, [String])] = [
            (onnxOpsetVersions, [String(ONNXLoader.supportedOpsets.lowerBound), String(ONNXLoader.supportedOpsets.upperBound)]),
            (onnxElementTypes, ["real"]),
            (onnxOperators, ONNXLoader.operators),
            (onnxOperatorsUnsatProofs, []),
            (vnnlibVersions, ["1.0", "2.0"]),
            (hiddenNodeTheories, ["NH", "H"]),
            (multipleInputOutputTheories, ["SIO", "MIO"]),
            (multipleNetworkTheories, ["SNET", "MENET", "MINET", "MNET"]),
            (multipleNodeComparisonTheories, ["SNC", "MNC"]),
            (arithmeticComplexityTheories, ["BND", "OUTC", "LIN"]),
            (optimisedDisjunctiveReasoning, ["false"]),
            (serialiseAssignments, ["true"]),
            (unsatProofs, ["false"]),
        ]
        let chosen = answers.filter(\.0)
        guard chosen.count == 1 else {
            throw ValidationError("give exactly one capability, for example evident supports --vnnlib-versions")
        }
        for line in chosen[0].1 { print(line) }
    }
}

/// `evident vnnlib`: VNN-LIB files themselves.
struct VNNLibCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vnnlib",
        abstract: "Check or convert VNN-LIB properties (1.0) and queries (2.0).",
        subcommands: [VNNLibCheck.self, VNNLibConvert.self])
}

struct VNNLibCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Print the normalised problem of a property or query, or its errors.",
        discussion: """
        For a 2.0 query: its networks with their tensors, the composed input (tied inputs \
        share one element) and output (declared outputs and hidden tensors, then the copies of \
        inputs that constraints other than bounds use), input regions, clauses and constraints. \
        With --network NAME=MODEL for each declared network not marked equal-to, the query is \
        also bound to the models (counts, shapes, element types, hidden tensor names checked) \
        and composed. Errors name the file, line and column. Exit status 2 on any error.
        """)

    @Argument(help: "A VNN-LIB file (.vnnlib, optionally .gz).")
    var file: String

    @Option(name: .customLong("network"), help: ArgumentHelp("A declared network and its model file.", valueName: "name=model"))
    var networks: [String] = []

    func run() throws {
        try reportingErrors {
            let document = try VNNLibParser.parseDocument(path: file)
            let property = document.property
            func summary() {
                let constraints = property.regions.reduce(0) { $0 + $1.clauses.reduce(0) { $0 + $1.constraints.count } }
                print("  input regions: \(property.regions.count), output clauses: \(property.outputClauseCount), constraints: \(constraints)")
            }
            switch document {
            case .property:
                guard networks.isEmpty else { throw UsageError("\(file) is a VNN-LIB 1.0 property; --network is for 2.0 queries") }
                print("VNN-LIB 1.0 property \(file)")
                print("  inputs X_0..X_\(property.inputCount - 1), outputs Y_0..Y_\(property.outputCount - 1)")
                summary()
            case .query(let query):
                print("VNN-LIB \(query.version) query \(file): \(query.networks.count) network\(query.networks.count == 1 ? "" : "s"), \(query.assertionCount) assertion\(query.assertionCount == 1 ? "" : "s")")
                for network in query.networks {
                    var line = "  network \(network.name)"
                    switch network.equivalence {
                    case .equalTo(let other): line += " (equal-to \(other): the same model, its own inputs)"
                    case .isomorphicTo(let other): line += " (isomorphic-to \(other))"
                    case nil: break
                    }
                    print(line)
                    for tensor in network.tensors {
                        let onnx = tensor.onnxName.map { " \"\($0)\"" } ?? ""
                        let place = tensor.kind == .input
                            ? "slots \(tensor.offset)..\(tensor.offset + tensor.elementCount - 1)"
                            : "outputs \(tensor.offset)..\(tensor.offset + tensor.elementCount - 1)"
                        print("    \(tensor.kind.rawValue) \(tensor.name) \(tensor.elementType) \(tensor.shapeText)\(onnx)  \(place)")
                    }
                }
                let tied = query.declaredInputCount - property.inputCount
                print("  composed input: \(property.inputCount) elements (\(query.declaredInputCount) declared, \(tied) tied to others)")
                print("  composed output: \(property.outputCount) elements (\(query.declaredOutputCount) declared outputs and hidden, \(query.passthrough.count) input copies for constraints other than bounds)")
                summary()
                if !networks.isEmpty {
                    let paths = try networkArguments(networks)
                    let (bound, digests) = try Checker.bindQuery(query, modelPaths: paths)
                    for name in query.modelNetworkNames {
                        print("  model of \(name): \(paths[name]!) (sha256 \(digests[name]!.map { String(format: "%02x", $0) }.joined().prefix(16))…)")
                    }
                    for note in bound.notes { print("  note: \(note)") }
                    print("  bound: the composed network has \(bound.network.graph.nodes.count) nodes, input \(bound.network.graph.inputShape), output \(bound.network.graph.outputShape)")
                }
            }
        }
    }
}

struct VNNLibConvert: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Write a 1.0 property as a 2.0 query, or a 2.0 query 1.0 can state as 1.0.",
        discussion: """
        The direction follows the input: a 1.0 file becomes a 2.0 query of one network N with \
        input X and output Y shaped as --model's (without --model, flat [n] shapes); a 2.0 \
        query with one network, one input and one output tensor, no hidden tensor and no tied \
        or coupled inputs becomes a 1.0 property. Numbers keep their exact decimal values. \
        Strict comparisons: 1.0 reads them as their closures (VNN-COMP's convention), so a \
        1.0 < is written as 2.0 <=, which means the same to Evident.
        """)

    @Argument(help: "The file to convert.") var input: String
    @Argument(help: "Where to write the result.") var output: String
    @Option(help: "The model whose input and output shapes the 2.0 query declares.") var model: String?
    @Option(help: "The network name of the 2.0 query.") var name = "N"

    func run() throws {
        try reportingErrors {
            let data = try InputFile.readData(path: input)
            let text = String(decoding: data, as: UTF8.self)
            let converted: String
            switch try VNNLibParser.parseDocument(path: input) {
            case .property(let property):
                var inputShape = [property.inputCount], outputShape = [property.outputCount]
                if let model {
                    let network = try loadNetwork(path: model)
                    guard network.inputParts.count == 1, network.outputParts.count == 1 else {
                        throw UsageError("\(model) has several inputs or outputs; a converted query declares one of each")
                    }
                    inputShape = network.inputParts[0].shape
                    outputShape = network.outputParts[0].shape
                }
                converted = try VNNLibConversion.versionTwo(of: text, source: input, networkName: name,
                                                            inputShape: inputShape, outputShape: outputShape)
            case .query:
                converted = try VNNLibConversion.versionOne(of: text, source: input)
            }
            try OutputFile.writeAtomically(converted, to: output)
        }
    }
}
