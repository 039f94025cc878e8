import EvidentIR
import EvidentVNNLib

/// A named tensor shape, as reported by `evident info`.
public struct TensorSummary: Codable, Equatable, Sendable {
    public var name: String
    public var shape: [Int]
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
        inputs = [TensorSummary(name: network.inputName, shape: g.inputShape)]
        outputs = [TensorSummary(name: network.outputName, shape: g.outputShape)]
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
