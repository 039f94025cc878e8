/// A loaded network: its graph plus what the loader learned from the file.
public struct Network: Sendable {
    /// The computation, with every shape inferred.
    public var graph: Graph
    /// Where the network came from (a file path, or a description for networks built in code).
    public var source: String
    /// The file format the network was read from ("onnx", "nnet", or "memory").
    public var format: String
    /// Operator name -> count, counted on the file as loaded (before any normalisation),
    /// with the file format's own operator names (ONNX `op_type`s for ONNX).
    public var sourceOperatorCounts: [String: Int]
    /// Number of stored parameters in the file (weights, biases, constants).
    public var parameterCount: Int
    /// Names of the graph input and output in the source file.
    public var inputName: String
    public var outputName: String

    public init(graph: Graph, source: String, format: String, sourceOperatorCounts: [String: Int],
                parameterCount: Int, inputName: String? = nil, outputName: String? = nil) {
        self.graph = graph
        self.source = source
        self.format = format
        self.sourceOperatorCounts = sourceOperatorCounts
        self.parameterCount = parameterCount
        self.inputName = inputName ?? graph.values[graph.input].name
        self.outputName = outputName ?? graph.values[graph.output].name
    }
}
