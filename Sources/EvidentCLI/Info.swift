import ArgumentParser
import Evident
import Foundation

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarise a network (.onnx, .nnet) or a property (.vnnlib).",
        discussion: """
        For a network: inputs and outputs with shapes and the property variables each one is \
        (several inputs or outputs are concatenated in file order, VNN-COMP's convention), \
        operator counts (as in the file), parameter count and number of ReLU neurons. A model \
        with unsupported operators is refused with the list of all of them. JSON keys: inputs, \
        outputs (arrays of {name, shape, first}), operators, parameters, reluNeurons.
        For a property: number of input and output variables, input regions (boxes) and output \
        clauses (conjunctions describing the unsafe set); for a VNN-LIB 2.0 query the same over \
        its composed input and output (evident vnnlib check shows its networks and layout). \
        JSON keys: inputs, outputs, inputRegions, outputClauses.
        """)

    @Argument(help: "A network (.onnx, .nnet) or a property (.vnnlib).")
    var file: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        try reportingErrors {
            let kind = InputFile.effectiveExtension(of: file)  // `x.onnx.gz` is ONNX
            guard ["vnnlib", "onnx", "nnet"].contains(kind) else {
                throw UsageError("\(file): unknown file type (expected .onnx, .nnet or .vnnlib)")
            }
            if kind == "vnnlib" {
                let document = try VNNLibParser.parseDocument(path: file)
                let summary = PropertySummary(document.property)
                if output.json { return try printJSON(summary) }
                if case .query(let query) = document {
                    print("query \(file) (VNN-LIB \(query.version)): networks \(query.networks.map(\.name).joined(separator: ", "))")
                    print("  composed input: \(summary.inputs) elements, composed output: \(summary.outputs) (evident vnnlib check shows the layout)")
                } else {
                    print("property \(file)")
                    print("  inputs X_0..X_\(summary.inputs - 1), outputs Y_0..Y_\(summary.outputs - 1)")
                }
                print("  input regions: \(summary.inputRegions), output clauses: \(summary.outputClauses)")
            } else {
                let network = try loadNetwork(path: file)
                let summary = NetworkSummary(network)
                if output.json { return try printJSON(summary) }
                print("network \(file) (\(network.format))")
                for input in summary.inputs { print("  input  \(input.name) \(input.shape)  \(input.variables("X"))") }
                for output in summary.outputs { print("  output \(output.name) \(output.shape)  \(output.variables("Y"))") }
                let ops = summary.operators.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                print("  operators: \(ops.joined(separator: ", "))")
                print("  parameters: \(summary.parameters)")
                print("  ReLU neurons: \(summary.reluNeurons)")
            }
        }
    }
}
