import ArgumentParser
import Evident
import Foundation

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a network on one input.",
        discussion: """
        The input is either a file of numbers (the input flattened in row-major order, \
        separated by white space or commas, `#` starting a comment) or the centre of a \
        VNN-LIB property's first input region. Prints the outputs (flattened) and the index \
        of the largest one. JSON keys: outputs, argmax.
        """)

    @Argument(help: "The network (.onnx or .nnet).")
    var model: String

    @Option(help: "A file holding the flattened input.")
    var input: String?

    @Option(help: "Evaluate at the centre of this property's first input region.")
    var center: String?

    @OptionGroup var output: OutputOptions

    struct Result: Encodable {
        var outputs: [Double]
        var argmax: Int
    }

    func run() throws {
        try reportingErrors {
            guard (input == nil) != (center == nil) else {
                throw UsageError("give exactly one of --input FILE or --center PROPERTY")
            }
            let network = try loadNetwork(path: model)
            let evaluator = Evaluator(graph: network.graph)
            let x: [Double]
            if let input {
                x = try readInputVector(path: input, expectedCount: evaluator.inputCount)
            } else {
                let property = try loadProperty(path: center!, for: network)
                let region = property.regions[0]
                x = zip(region.lower, region.upper).map { ($0 + $1) / 2 }
            }
            let y = try evaluator.evaluate(x)
            let argmax = y.indices.max { y[$0] < y[$1] } ?? 0
            if output.json { return try printJSON(Result(outputs: y, argmax: argmax)) }
            for (j, value) in y.enumerated() { print("Y_\(j) = \(value)") }
            print("argmax: \(argmax)")
        }
    }
}
