import EvidentIR
import EvidentVNNLib

/// A named tensor shape, as reported by `evident info`.
public struct TensorSummary: Codable, Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    /// Flat index of the tensor's first element among the property's variables (`X_i` or
    /// `Y_j`): several inputs or outputs are concatenated in file order.
    public var first: Int

    /// The variables the tensor is, e.g. `X_0..X_11`.
    public func variables(_ letter: String) -> String {
        "\(letter)_\(first)..\(letter)_\(first + shape.reduce(1, *) - 1)"
    }
}

/// What `evident info MODEL` reports.
public struct NetworkSummary: Codable, Equatable, Sendable {
    public var inputs: [TensorSummary]
    public var outputs: [TensorSummary]
    /// Operator name -> count, on the file as loaded.
    public var operators: [String: Int]
    public var parameters: Int
    public var reluNeurons: Int

    public init(_ network: Network) {
        let g = network.graph
        inputs = network.inputParts.map { TensorSummary(name: $0.name, shape: $0.shape, first: $0.offset) }
        outputs = network.outputParts.map { TensorSummary(name: $0.name, shape: $0.shape, first: $0.offset) }
        operators = network.sourceOperatorCounts
        parameters = network.parameterCount
        reluNeurons = g.reluNeuronCount
    }
}

/// What `evident info PROPERTY` reports.
public struct PropertySummary: Codable, Equatable, Sendable {
    /// Number of declared input variables `X_i`.
    public var inputs: Int
    /// Number of declared output variables `Y_j`.
    public var outputs: Int
    /// Number of input boxes.
    public var inputRegions: Int
    /// Number of output clauses (conjunctions describing the unsafe set), over all regions.
    public var outputClauses: Int

    public init(_ property: Property) {
        inputs = property.inputCount
        outputs = property.outputCount
        inputRegions = property.regions.count
        outputClauses = property.outputClauseCount
    }
}
