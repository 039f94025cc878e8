import Foundation
import EvidentIR

/// Errors of concrete evaluation.
public enum EvaluationError: Error, LocalizedError, Equatable {
    /// The input buffer does not hold `batch` inputs of the network's size.
    case inputSize(expected: Int, batch: Int, got: Int)
    /// The output coefficients of a gradient do not match the output size.
    case coefficientSize(expected: Int, got: Int)

    public var errorDescription: String? {
        switch self {
        case let .inputSize(expected, batch, got):
            "input has \(got) numbers, expected \(batch) x \(expected) = \(batch * expected)"
        case let .coefficientSize(expected, got):
            "output coefficients have \(got) numbers, expected \(expected) (or one row per batch item)"
        }
    }
}

/// Batched concrete evaluation of a graph, and reverse-mode gradients.
///
/// Inputs and outputs are flattened row-major (as VNN-LIB's `X_i` and `Y_j`
/// index them), with the items of a batch back to back. Arithmetic is Float64
/// with round-to-nearest, convolutions and matrix products through OpenBLAS:
/// the results are a floating-point evaluation of the real-valued network, close
/// to but not bit-identical with other inference engines.
public struct Evaluator: Sendable {
    /// The graph being evaluated.
    public let graph: Graph

    public init(graph: Graph) {
        self.graph = graph
    }

    /// Size of one flattened input.
    public var inputCount: Int { graph.values[graph.input].count }
    /// Size of one flattened output.
    public var outputCount: Int { graph.values[graph.output].count }

    /// The network's outputs for `batch` inputs stacked in `inputs`.
    /// Intermediate values are released as soon as their last consumer has run.
    public func evaluate(_ inputs: [Double], batch: Int = 1) throws -> [Double] {
        try run(inputs, batch: batch, keepAll: false)[graph.output]
    }

    /// Every value of the graph (indexed by ``ValueID``) for `batch` stacked inputs.
    public func evaluateAll(_ inputs: [Double], batch: Int = 1) throws -> [[Double]] {
        try run(inputs, batch: batch, keepAll: true)
    }

    private func run(_ inputs: [Double], batch: Int, keepAll: Bool) throws -> [[Double]] {
        guard batch >= 1, inputs.count == batch * inputCount else {
            throw EvaluationError.inputSize(expected: inputCount, batch: batch, got: inputs.count)
        }
        var values = [[Double]](repeating: [], count: graph.values.count)
        values[graph.input] = inputs
        var remainingUses = graph.consumers.map(\.count)
        remainingUses[graph.output] += 1
        for node in graph.nodes {
            values[node.output] = Kernels.forward(
                node.operation, operands: node.inputs.map { values[$0] },
                shapes: node.inputs.map { graph.values[$0].shape },
                outputShape: graph.values[node.output].shape, batch: batch)
            guard !keepAll else { continue }
            for operand in Set(node.inputs) {
                remainingUses[operand] -= 1
                if remainingUses[operand] == 0 { values[operand] = [] }
            }
        }
        return values
    }

    /// Outputs and the gradient of `cᵀ y` with respect to the input, for each batch item.
    ///
    /// `coefficients` holds either one row `c` of the output size (shared by all items)
    /// or one row per item. At a ReLU input of exactly 0 the derivative is taken as 0;
    /// at a MaxPool tie the first maximal cell gets the whole derivative.
    /// - Returns: the outputs (`batch x outputCount`) and gradients (`batch x inputCount`).
    public func gradient(of coefficients: [Double], at inputs: [Double], batch: Int = 1) throws
        -> (outputs: [Double], gradients: [Double]) {
        guard coefficients.count == outputCount || coefficients.count == batch * outputCount else {
            throw EvaluationError.coefficientSize(expected: outputCount, got: coefficients.count)
        }
        let values = try evaluateAll(inputs, batch: batch)
        // Cotangents are element-major (`size × batch`), the layout of `Kernels.transpose`.
        var cotangents = [[Double]?](repeating: nil, count: graph.values.count)
        cotangents[graph.output] = (0..<(outputCount * batch)).map { i in
            let (e, b) = (i / batch, i % batch)
            return coefficients.count == outputCount ? coefficients[e] : coefficients[b * outputCount + e]
        }
        for node in graph.nodes.reversed() {
            guard let dy = cotangents[node.output] else { continue }
            let shapes = node.inputs.map { graph.values[$0].shape }
            let contributions: [[Double]]
            switch node.operation {
            case .relu:
                let x = values[node.inputs[0]], size = shapes[0].elementCount
                contributions = [dy.indices.map { i in x[(i % batch) * size + i / batch] > 0 ? dy[i] : 0 }]
            case .maxPool(let window):
                let inSize = shapes[0].elementCount, outSize = graph.values[node.output].count
                let winners = Kernels.maxPoolArgmax(values[node.inputs[0]], shape: shapes[0], window: window, batch: batch)
                var dx = [Double](repeating: 0, count: inSize * batch)
                for (index, winner) in winners.enumerated() {
                    let b = index / outSize
                    dx[(winner - b * inSize) * batch + b] += dy[(index % outSize) * batch + b]
                }
                contributions = [dx]
            default:
                contributions = Kernels.transpose(node.operation, columns: dy, count: batch, shapes: shapes,
                                                  outputShape: graph.values[node.output].shape) ?? []
            }
            for (operand, contribution) in zip(node.inputs, contributions) {
                if let existing = cotangents[operand] {
                    cotangents[operand] = zip(existing, contribution).map { $0 + $1 }
                } else {
                    cotangents[operand] = contribution
                }
            }
        }
        let n = inputCount
        let atInput = cotangents[graph.input] ?? [Double](repeating: 0, count: batch * n)
        let gradients = (0..<(batch * n)).map { i in atInput[(i % n) * batch + i / n] }
        return (values[graph.output], gradients)
    }
}
