import Foundation

/// Index of a value (an activation tensor) in a ``Graph``.
public typealias ValueID = Int

/// A typed DAG of operations with every shape known.
///
/// Values are activations: the graph input and the output of each node.
/// Nodes are stored in topological order (every operand is produced before
/// it is used), which ``GraphBuilder`` guarantees by construction. Shapes are
/// the model's own (an ONNX `1 x 3 x 32 x 32` input keeps its leading 1);
/// evaluation and bound propagation add their own batch dimension in front.
public struct Graph: Sendable {
    /// A named activation with its shape.
    public struct Value: Sendable, Equatable {
        public var name: String
        public var shape: [Int]
        public var count: Int { shape.elementCount }
    }

    /// One operation applied to earlier values.
    public struct Node: Sendable, Equatable {
        /// The node's name in the source file (or a generated one).
        public var name: String
        public var operation: GraphOperation
        public var inputs: [ValueID]
        public var output: ValueID
    }

    public internal(set) var values: [Value]
    public internal(set) var nodes: [Node]
    /// The single network input.
    public internal(set) var input: ValueID
    /// The single network output.
    public internal(set) var output: ValueID

    public var inputShape: [Int] { values[input].shape }
    public var outputShape: [Int] { values[output].shape }

    /// The node producing each value (`nil` for the graph input), indexed by ``ValueID``.
    public var producers: [Int?] {
        var result = [Int?](repeating: nil, count: values.count)
        for (index, node) in nodes.enumerated() { result[node.output] = index }
        return result
    }

    /// The nodes consuming each value, indexed by ``ValueID``.
    public var consumers: [[Int]] {
        var result = [[Int]](repeating: [], count: values.count)
        for (index, node) in nodes.enumerated() { for v in Set(node.inputs) { result[v].append(index) } }
        return result
    }

    /// Number of ReLU neurons: the total element count of all ReLU outputs.
    public var reluNeuronCount: Int {
        nodes.filter { $0.operation == .relu }.reduce(0) { $0 + values[$1.output].count }
    }

    /// GraphOperation name -> number of nodes, on this (possibly normalised) graph.
    public var operationCounts: [String: Int] {
        nodes.reduce(into: [:]) { $0[$1.operation.name, default: 0] += 1 }
    }
}

/// Errors raised when a graph is built from operations whose shapes do not fit.
public enum IRError: Error, LocalizedError, CustomStringConvertible, Equatable {
    /// An operation's operands do not have the shapes it needs.
    case shapeMismatch(node: String, operation: String, detail: String)
    /// A value was used before being defined, or the graph is otherwise malformed.
    case malformed(String)
    /// ``Network/composing(_:inputIndices:inputCount:passthrough:source:)`` was given
    /// networks and indices that do not fit together.
    case invalidComposition(String)

    public var errorDescription: String? { description }

    public var description: String {
        switch self {
        case let .shapeMismatch(node, operation, detail):
            "\(operation) node '\(node)': \(detail)"
        case let .malformed(detail):
            "malformed graph: \(detail)"
        case let .invalidComposition(detail):
            "cannot compose the networks: \(detail)"
        }
    }
}

/// Builds a ``Graph`` one node at a time, inferring and checking every shape.
public struct GraphBuilder {
    private var values: [Graph.Value] = []
    private var nodes: [Graph.Node] = []
    private let input: ValueID

    /// Starts a graph with one input.
    public init(inputName: String, inputShape: [Int]) {
        values.append(Graph.Value(name: inputName, shape: inputShape))
        input = 0
    }

    /// The input value.
    public var inputValue: ValueID { input }

    /// The shape of a value built so far.
    public func shape(of value: ValueID) -> [Int] { values[value].shape }

    /// Appends a node and returns its output value.
    /// - Throws: ``IRError/shapeMismatch(node:operation:detail:)`` when the operands do not fit.
    @discardableResult
    public mutating func add(_ operation: GraphOperation, inputs: [ValueID], name: String, outputName: String? = nil) throws -> ValueID {
        for v in inputs where v < 0 || v >= values.count {
            throw IRError.malformed("node '\(name)' uses an undefined value \(v)")
        }
        let shape = try inferShape(operation, inputs: inputs.map { values[$0].shape }, node: name)
        // An empty value would make every kernel's loops and averages degenerate.
        guard shape.allSatisfy({ $0 > 0 }) else {
            throw IRError.shapeMismatch(node: name, operation: operation.name,
                                        detail: "output '\(outputName ?? name)' has shape \(shape); zero-size dimensions are not supported")
        }
        values.append(Graph.Value(name: outputName ?? name, shape: shape))
        let output = values.count - 1
        nodes.append(Graph.Node(name: name, operation: operation, inputs: inputs, output: output))
        return output
    }

    /// Finishes the graph with `output` as its result.
    public func build(output: ValueID) throws -> Graph {
        guard output >= 0 && output < values.count else { throw IRError.malformed("output value \(output) is undefined") }
        return Graph(values: values, nodes: nodes, input: input, output: output)
    }
}

/// Output shape of `operation` applied to operands of the given shapes.
public func inferShape(_ operation: GraphOperation, inputs: [[Int]], node: String) throws -> [Int] {
    func fail(_ detail: String) -> IRError {
        .shapeMismatch(node: node, operation: operation.name, detail: detail)
    }
    let expectedOperands: Int
    switch operation {
    case .add, .subtract: expectedOperands = 2
    case .concat: expectedOperands = max(1, inputs.count)
    default: expectedOperands = 1
    }
    guard inputs.count == expectedOperands else { throw fail("expects \(expectedOperands) operand(s), got \(inputs.count)") }
    let x = inputs[0]

    switch operation {
    case .convolution(let conv):
        let w = conv.weight.shape
        guard x.count == 4 else { throw fail("input must be N x C x H x W, got \(x)") }
        guard w.count == 4 else { throw fail("weight must have rank 4, got \(w)") }
        guard conv.group >= 1, x[1] == w[1] * conv.group, w[0] % conv.group == 0 else {
            throw fail("input has \(x[1]) channels but weight \(w) with group \(conv.group) expects \(w[1] * conv.group)")
        }
        guard conv.bias.shape == [w[0]] else { throw fail("bias shape \(conv.bias.shape) is not [\(w[0])]") }
        guard conv.window.kernel == (w[2], w[3]) else { throw fail("kernel_shape disagrees with weight \(w)") }
        let out = conv.window.outputSize(height: x[2], width: x[3])
        guard out.height > 0, out.width > 0 else { throw fail("window larger than padded input \(x)") }
        return [x[0], w[0], out.height, out.width]
    case .linear(let lin):
        guard lin.weight.shape.count == 2 else { throw fail("weight must be a matrix, got \(lin.weight.shape)") }
        guard let last = x.last, last == lin.inFeatures else {
            throw fail("input \(x) does not end in \(lin.inFeatures) features")
        }
        guard lin.bias.shape == [lin.outFeatures] else { throw fail("bias shape \(lin.bias.shape) is not [\(lin.outFeatures)]") }
        return Array(x.dropLast()) + [lin.outFeatures]
    case .addConstant(let c), .multiplyConstant(let c):
        guard c.shape == x else { throw fail("constant \(c.shape) does not match input \(x)") }
        return x
    case .divideConstant(let c):
        guard c.shape == x else { throw fail("constant \(c.shape) does not match input \(x)") }
        guard !c.scalars.contains(0) else { throw fail("division by a zero constant") }
        return x
    case .channelAffine(let scale, let shift):
        guard x.count >= 2, x[1] == scale.count, scale.count == shift.count else {
            throw fail("input \(x) does not have \(scale.count) channels on axis 1")
        }
        return x
    case .add, .subtract:
        guard inputs[0] == inputs[1] else { throw fail("operands have different shapes \(inputs[0]) and \(inputs[1])") }
        return x
    case .relu:
        return x
    case .reshape(let target):
        guard target.allSatisfy({ $0 >= 0 }), target.elementCount == x.elementCount else {
            throw fail("cannot reshape \(x) to \(target)")
        }
        return target
    case .transpose(let perm):
        guard perm.sorted() == Array(0..<x.count) else { throw fail("\(perm) is not a permutation of \(x.count) axes") }
        return perm.map { x[$0] }
    case .select(let selection):
        guard selection.shape.allSatisfy({ $0 > 0 }), selection.shape.elementCount == selection.sources.count else {
            throw fail("shape \(selection.shape) does not hold \(selection.sources.count) selected elements")
        }
        let size = x.elementCount
        var seen = [Bool](repeating: false, count: size)
        for s in selection.sources {
            guard s >= 0 && s < size else { throw fail("element \(s) is outside the input \(x)") }
            guard !seen[s] else { throw fail("input element \(s) is selected twice") }
            seen[s] = true
        }
        return selection.shape
    case .concat(let axis):
        guard axis >= 0 && axis < x.count else { throw fail("axis \(axis) out of range for rank \(x.count)") }
        var out = x
        for other in inputs.dropFirst() {
            guard other.count == x.count,
                  zip(other, x).enumerated().allSatisfy({ $0.offset == axis || $0.element.0 == $0.element.1 }) else {
                throw fail("operand \(other) does not match \(x) outside axis \(axis)")
            }
            out[axis] += other[axis]
        }
        return out
    case .pad(let pads):
        guard pads.count == 2 * x.count, pads.allSatisfy({ $0 >= 0 }) else {
            throw fail("pads \(pads) must be \(2 * x.count) non-negative numbers")
        }
        return x.enumerated().map { $0.element + pads[$0.offset] + pads[x.count + $0.offset] }
    case .averagePool(let window, _), .maxPool(let window):
        guard x.count == 4 else { throw fail("input must be N x C x H x W, got \(x)") }
        let out = window.outputSize(height: x[2], width: x[3])
        guard out.height > 0, out.width > 0 else { throw fail("window larger than padded input \(x)") }
        return [x[0], x[1], out.height, out.width]
    case .globalAveragePool:
        guard x.count == 4 else { throw fail("input must be N x C x H x W, got \(x)") }
        return [x[0], x[1], 1, 1]
    }
}
