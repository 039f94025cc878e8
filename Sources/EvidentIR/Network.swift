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
    /// Names of the graph input and output in the source file (of several, joined by commas).
    public var inputName: String
    public var outputName: String
    /// The source file's inputs (and outputs) in the graph's one flattened input (output):
    /// with several, their concatenation in file order, VNN-COMP's convention. One part
    /// covering everything when the file has one. Hidden tensors an ONNX model was loaded
    /// with (`ONNXLoader.load(path:hiddenOutputs:)`) follow the outputs, one part each.
    public var inputParts: [TensorPart]
    public var outputParts: [TensorPart]
    /// For nodes whose constants the loader computed (and rounded) from stored parameters,
    /// keyed by node index: bounds on each constant's rounding error. Empty when every
    /// constant of the graph is a stored number (or a constant subgraph ONNX itself
    /// evaluates in float). The certificate checker charges these errors.
    public var constantRadii: [Int: ConstantRadius] = [:]
    /// Entries of the source file's graph inputs that are really constants: ONNX files (ACAS
    /// Xu's, older exporters') may list weight initializers among `graph.input`. Their names
    /// in file order; they are constants of the graph and take no part of ``inputParts``, so a
    /// query binder must not map declared inputs to them. Empty for other formats.
    public var initializerInputs: [String] = []

    public init(graph: Graph, source: String, format: String, sourceOperatorCounts: [String: Int],
                parameterCount: Int, inputName: String? = nil, outputName: String? = nil) {
        self.graph = graph
        self.source = source
        self.format = format
        self.sourceOperatorCounts = sourceOperatorCounts
        self.parameterCount = parameterCount
        self.inputName = inputName ?? graph.values[graph.input].name
        self.outputName = outputName ?? graph.values[graph.output].name
        inputParts = [TensorPart(name: self.inputName, shape: graph.inputShape, offset: 0)]
        outputParts = [TensorPart(name: self.outputName, shape: graph.outputShape, offset: 0)]
    }
}

/// One tensor of a source file inside the graph's flattened input or output: elements
/// `offset ..< offset + shape.elementCount`, row-major.
public struct TensorPart: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var offset: Int
    /// The element type the source file gives the tensor, with VNN-LIB 2.0's (and the ONNX
    /// IR's lower-case) names: "float32", "float64", "float16", "bfloat16", "int8" ... "int64",
    /// "uint8" ... "uint64", "bool". The graph itself computes in real arithmetic (evaluated in
    /// `Double`); the type tells a query binder what the declared tensor must be.
    ///
    /// The default, "float64", is what networks built in code and NNet files hold: an NNet
    /// file declares no type, its weights are decimal text that `NNetLoader` and the
    /// format's reference readers parse to binary64.
    public var elementType: String

    public init(name: String, shape: [Int], offset: Int, elementType: String = "float64") {
        self.name = name
        self.shape = shape
        self.offset = offset
        self.elementType = elementType
    }
}

/// Bounds on the rounding error of the constants of one node's operation, each `≥ 0`, in the
/// layout of the constants they bound: for ``GraphOperation/channelAffine(scale:shift:)`` one
/// entry per channel in `coefficients` (scale) and `offsets` (shift); for
/// ``GraphOperation/linear(_:)`` one per weight (row-major, like `weight`) and one per bias.
/// The exact constant `c` of the stored network satisfies `|c − held| ≤ radius` elementwise.
public struct ConstantRadius: Sendable, Equatable {
    public var coefficients: [Double]
    public var offsets: [Double]

    public init(coefficients: [Double], offsets: [Double]) {
        self.coefficients = coefficients
        self.offsets = offsets
    }
}
