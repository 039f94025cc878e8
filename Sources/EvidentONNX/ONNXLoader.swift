import EvidentIO
import EvidentIR
import Foundation
import SwiftProtobuf

/// Reads ONNX models into the EvidentIR.
///
/// Supported: IR version 3 and later, default-domain opsets 7 to 21, non-constant graph
/// inputs (FLOAT or DOUBLE) and outputs; several inputs are read as one flattened input,
/// their concatenation in graph order, and several outputs as one (VNN-COMP's convention;
/// ``Network/inputParts`` records the layout). Initializers (also when listed as
/// graph inputs) and `Constant` nodes are constants; every node whose operands are all
/// constants is evaluated at load time, and `Shape` of an activation is a constant too,
/// since every shape is known. The remaining nodes become EvidentIR operations with the
/// operator's exact ONNX inference semantics (several operations for some; the table of
/// operators and forms is `Docs/Operators.md`).
///
/// Anything else (operator, attribute value, data type) throws an ``ONNXError`` that names
/// the file and, where one is involved, the node, its operator and the opset. The loader
/// never guesses.
///
/// **Dynamic shapes.** A symbolic (named or unset) first dimension of an input of rank 2 or
/// more is the batch dimension and is taken as 1: the graph is built for one example, and
/// evaluation adds its own batch dimension in front. Any other symbolic dimension is an error.
///
/// **Hidden outputs.** `load(path:hiddenOutputs:)` also exposes named intermediate tensors
/// (VNN-LIB 2.0's `declare-hidden`): the graph's flattened output is the graph outputs as
/// without them, followed by each named tensor, flattened row-major, in the order given;
/// ``Network/outputParts`` has one part per graph output, then one per hidden tensor (named
/// after the ONNX tensor, a name asked for twice gets two parts). A hidden tensor's shape is
/// the one the loader computes for one example, with the convention of the inputs: where the
/// model's shape has a symbolic batch dimension, the part has a 1 there (a `value_info` shape
/// `[N, 128]` gives the part `[1, 128]`). A graph input is a valid hidden tensor (its output
/// part is a copy of the input); an initializer, or a tensor computed from constants at load
/// time, is not: it throws. A hidden tensor is read by the graph output, so the IR passes
/// (``Passes``) keep it and its meaning: no BatchNormalization is folded into the
/// convolution whose output is hidden, for example.
///
/// **Element types.** ``TensorPart/elementType`` names (VNN-LIB 2.0's "float32", "float64",
/// ...) the declared type of each graph input and output; for a hidden tensor its `value_info`
/// type when the model has one, else the type that flows there: a node's output has the type
/// of its first activation operand (ONNX operators constrain their operands and outputs to
/// one type `T`), a `Cast`'s output its target type. Where neither is known (a graph output
/// without a type), the first graph input's type.
public enum ONNXLoader {
    /// The default-domain opsets the loader converts.
    public static let supportedOpsets: ClosedRange<Int> = 7...21

    /// The default-domain operators the loader reads (some only in certain forms; see
    /// `Docs/Operators.md`), sorted.
    public static var operators: [String] { GraphConverter.knownOperators.sorted() }

    /// Loads the ONNX model at `path`, plain or gzip-compressed (`x.onnx.gz`: content
    /// starting with the gzip magic is decompressed, see ``InputFile/read(path:limit:)``),
    /// with the tensors named in `hiddenOutputs` appended to the output (see "Hidden outputs"
    /// above).
    /// - Throws: ``ONNXError`` (naming `path`) when the file cannot be read (corrupt or
    ///   truncated gzip data included) or converted; ``ONNXError/unknownTensor(source:name:suggestions:)``
    ///   and ``ONNXError/constantTensor(source:name:initializer:)`` for a hidden output that
    ///   is no activation of the model.
    public static func load(path: String, hiddenOutputs: [String] = []) throws -> Network {
        let data: Data
        do {
            data = try InputFile.readData(path: path)
        } catch let error as InputFileError {
            throw ONNXError.unreadableFile(source: path, reason: error.reason)
        }
        return try load(data: data, source: path, hiddenOutputs: hiddenOutputs)
    }

    /// Loads an ONNX model from its serialized bytes; `source` names it in errors and in
    /// ``Network/source``. `hiddenOutputs` as for ``load(path:hiddenOutputs:)``.
    /// - Throws: ``ONNXError`` when the bytes are not a model the loader can convert.
    public static func load(data: Data, source: String, hiddenOutputs: [String] = []) throws -> Network {
        let model: Onnx_ModelProto
        do {
            model = try Onnx_ModelProto(serializedBytes: data)
        } catch {
            throw ONNXError.malformedModel(source: source, detail: "protobuf decoding failed (\(error))")
        }
        guard model.hasIrVersion, model.hasGraph else {
            throw ONNXError.malformedModel(source: source, detail: data.isEmpty ? "the file is empty" : "no ir_version or graph field")
        }
        guard model.irVersion >= 3 else {
            throw ONNXError.unsupportedIRVersion(source: source, version: Int(model.irVersion))
        }
        let opset = try defaultOpset(of: model, source: source)
        return try GraphConverter.convert(model.graph, source: source, opset: opset, hiddenOutputs: hiddenOutputs)
    }

    /// The version of the default-domain (`""` or `"ai.onnx"`) opset the model imports.
    private static func defaultOpset(of model: Onnx_ModelProto, source: String) throws -> Int {
        let imports = model.opsetImport.filter { $0.domain.isEmpty || $0.domain == "ai.onnx" }
        guard let first = imports.first else {
            throw ONNXError.invalidGraph(source: source, detail: "the model imports no default-domain (ai.onnx) opset")
        }
        guard imports.allSatisfy({ $0.version == first.version }) else {
            throw ONNXError.invalidGraph(source: source,
                                         detail: "the model imports the default domain with several versions \(imports.map(\.version))")
        }
        let version = Int(first.version)
        guard supportedOpsets.contains(version) else {
            throw ONNXError.unsupportedOpset(source: source, domain: "", version: version)
        }
        return version
    }
}

/// A value of the ONNX graph during conversion: known at load time, or an activation of the IR graph.
enum Slot {
    case constant(ConstantTensor)
    case activation(ValueID)
}

/// Converts one ONNX graph, node by node, into a ``GraphBuilder``.
struct GraphConverter {
    let source: String
    let opset: Int
    var builder: GraphBuilder
    /// ONNX value name -> what it holds.
    var slots: [String: Slot] = [:]
    /// Every value name some node or the graph output reads.
    let usedNames: Set<String>
    var parameterCount = 0
    /// Rounding bounds of derived constants, keyed by the output value of the IR node that
    /// holds them (turned into node indices for ``Network/constantRadii`` after building).
    var constantRadii: [ValueID: ConstantRadius] = [:]
    /// ONNX value name -> `TensorProto.DataType` code of each activation, as it flows from
    /// the graph inputs (see "Element types" in ``ONNXLoader``).
    var activationTypes: [String: Int] = [:]

    init(source: String, opset: Int, builder: GraphBuilder, usedNames: Set<String>) {
        self.source = source
        self.opset = opset
        self.builder = builder
        self.usedNames = usedNames
    }

    static func convert(_ graph: Onnx_GraphProto, source: String, opset: Int, hiddenOutputs: [String] = []) throws -> Network {
        func invalidGraph(_ detail: String) -> ONNXError { .invalidGraph(source: source, detail: detail) }
        guard graph.sparseInitializer.isEmpty else {
            throw invalidGraph("sparse initializers are not supported")
        }

        // Initializers are constants, also when the graph lists them as inputs too.
        var constants = [String: ConstantTensor]()
        var parameters = 0
        for initializer in graph.initializer {
            guard !initializer.name.isEmpty else { throw invalidGraph("an initializer has no name") }
            guard constants[initializer.name] == nil else { throw invalidGraph("initializer '\(initializer.name)' is defined twice") }
            let tensor = try ConstantTensor(proto: initializer, name: initializer.name, source: source)
            if !tensor.elementType.isInteger { parameters += tensor.count }
            constants[initializer.name] = tensor
        }

        let activationInputs = graph.input.filter { constants[$0.name] == nil }
        let initializerInputs = graph.input.map(\.name).filter { constants[$0] != nil }
        guard !activationInputs.isEmpty else { throw invalidGraph("the graph has no non-constant input") }
        guard !graph.output.isEmpty else { throw invalidGraph("the graph has no output") }
        for (names, what) in [(activationInputs.map(\.name), "input"), (graph.output.map(\.name), "output")] {
            var seen = Set<String>()
            if let twice = names.first(where: { !seen.insert($0).inserted }) {
                throw invalidGraph("graph \(what) '\(twice)' is listed twice")
            }
        }
        // Several inputs: one flattened input holding their concatenation in graph order,
        // each taken back out by a selection of its elements.
        let inputShapes = try activationInputs.map { try Self.inputShape(of: $0, source: source) }
        var inputParts = [TensorPart](), offset = 0
        for (input, shape) in zip(activationInputs, inputShapes) {
            inputParts.append(TensorPart(name: input.name, shape: shape, offset: offset))
            offset += shape.elementCount
        }
        let single = activationInputs.count == 1
        let inputName = activationInputs.map(\.name).joined(separator: ",")

        try Self.requireTensors(hiddenOutputs, of: graph, constants: constants, source: source)
        var used = Set(graph.node.flatMap(\.input))
        for output in graph.output { used.insert(output.name) }
        used.formUnion(hiddenOutputs)
        var converter = GraphConverter(source: source, opset: opset,
                                       builder: GraphBuilder(inputName: inputName, inputShape: single ? inputShapes[0] : [offset]),
                                       usedNames: used)
        converter.parameterCount = parameters
        for (name, tensor) in constants { converter.slots[name] = .constant(tensor) }
        for part in inputParts {
            var value = converter.builder.inputValue
            if !single {
                let selection = Selection(shape: part.shape, sources: Array(part.offset..<(part.offset + part.shape.elementCount)))
                do {
                    value = try converter.builder.add(.select(selection), inputs: [value], name: "input:\(part.name)", outputName: part.name)
                } catch {
                    throw invalidGraph("graph input '\(part.name)': \(error)")
                }
            }
            converter.slots[part.name] = .activation(value)
        }
        for input in activationInputs {
            if case .tensorType(let type)? = input.type.value { converter.activationTypes[input.name] = Int(type.elemType) }
        }
        let inputType = converter.activationTypes[activationInputs[0].name] ?? 1
        for (k, part) in inputParts.enumerated() {
            inputParts[k].elementType = elementTypeName(converter.activationTypes[part.name] ?? inputType)
        }

        try Self.requireKnownOperators(graph.node, source: source, opset: opset)
        var operatorCounts = [String: Int]()
        for index in try executionOrder(graph.node, source: source) {
            let node = graph.node[index]
            operatorCounts[node.opType, default: 0] += 1
            try converter.convert(node, index: index)
        }

        // Several outputs: their flattened concatenation in graph order, then the hidden
        // tensors in the order asked for.
        var outputValues = [ValueID](), outputParts = [TensorPart]()
        offset = 0
        for output in graph.output {
            guard let result = converter.slots[output.name] else {
                throw invalidGraph("graph output '\(output.name)' is not produced by any node")
            }
            guard case .activation(let value) = result else {
                throw invalidGraph("graph output '\(output.name)' is a constant that does not depend on the input")
            }
            let shape = converter.builder.shape(of: value)
            try Self.checkDeclaredShape(of: output, computed: shape, source: source)
            var type = converter.activationTypes[output.name] ?? inputType
            if case .tensorType(let declared)? = output.type.value, declared.elemType != 0 { type = Int(declared.elemType) }
            outputValues.append(value)
            outputParts.append(TensorPart(name: output.name, shape: shape, offset: offset, elementType: elementTypeName(type)))
            offset += shape.elementCount
        }
        let valueInfo = hiddenOutputs.isEmpty ? [:] : Dictionary(graph.valueInfo.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for name in hiddenOutputs {
            guard let result = converter.slots[name] else {
                throw invalidGraph("tensor '\(name)' (asked for as a hidden output) is an output the loader does not compute "
                    + "(an optional or training-only output of its node)")
            }
            guard case .activation(let value) = result else {
                throw ONNXError.constantTensor(source: source, name: name, initializer: false)
            }
            let shape = converter.builder.shape(of: value)
            var type = converter.activationTypes[name] ?? inputType
            if let info = valueInfo[name] {
                try Self.checkDeclaredShape(of: info, computed: shape, source: source, role: "value_info")
                if case .tensorType(let declared)? = info.type.value, declared.elemType != 0 { type = Int(declared.elemType) }
            }
            outputValues.append(value)
            outputParts.append(TensorPart(name: name, shape: shape, offset: offset, elementType: elementTypeName(type)))
            offset += shape.elementCount
        }
        var outputValue = outputValues[0]
        let built: Graph
        do {
            if outputValues.count > 1 {
                var seen = [String: Int]()
                let flat = try zip(outputParts, outputValues).enumerated().map { position, pair in
                    let (part, value) = pair
                    // Graph outputs have distinct names; a hidden tensor may be a graph output
                    // too, or be asked for twice: its copies get names of their own.
                    let hidden = position >= graph.output.count
                    let repeats = seen[part.name, default: 0]
                    seen[part.name] = repeats + 1
                    let suffix = repeats == 0 ? "" : "#\(repeats)"
                    return try converter.builder.add(.reshape([part.shape.elementCount]), inputs: [value],
                                                     name: "\(hidden ? "hidden" : "output"):\(part.name)\(suffix)",
                                                     outputName: "\(part.name)/\(hidden ? "hidden" : "flat")\(suffix)")
                }
                outputValue = try converter.builder.add(.concat(axis: 0), inputs: flat, name: "outputs",
                                                        outputName: outputParts.map(\.name).joined(separator: ","))
            }
            built = try converter.builder.build(output: outputValue)
        } catch {
            throw invalidGraph("\(error)")
        }
        var network = Network(graph: built, source: source, format: "onnx", sourceOperatorCounts: operatorCounts,
                              parameterCount: converter.parameterCount, inputName: inputName,
                              outputName: graph.output.map(\.name).joined(separator: ","))
        network.inputParts = inputParts
        network.outputParts = outputParts
        network.initializerInputs = initializerInputs
        let producers = built.producers
        for (value, radius) in converter.constantRadii {
            if let node = producers[value] { network.constantRadii[node] = radius }
        }
        return network
    }

    /// Every default-domain operator the loader converts or folds (some only in certain
    /// forms, which their conversion checks).
    static let knownOperators: Set<String> = [
        "Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Constant", "ConstantOfShape", "Conv",
        "ConvTranspose", "Div", "Dropout", "Expand", "Flatten", "Gather", "Gemm", "GlobalAveragePool", "Identity",
        "LeakyRelu", "MatMul", "Max", "MaxPool", "Min", "Mul", "Neg", "Pad", "PRelu", "Range", "ReduceMean", "ReduceSum",
        "Relu", "Reshape", "Resize", "Shape", "Slice", "Split", "Squeeze", "Sub", "Sum", "Transpose", "Unsqueeze", "Upsample",
    ]

    /// Throws one error listing every operator of the graph the loader does not know, each
    /// with its nodes (unnamed ones as `<op_type>#<index>`), before converting anything.
    static func requireKnownOperators(_ nodes: [Onnx_NodeProto], source: String, opset: Int) throws {
        var unknown = [UnsupportedOperator]()
        for (index, node) in nodes.enumerated() {
            let defaultDomain = node.domain.isEmpty || node.domain == "ai.onnx"
            guard !defaultDomain || !knownOperators.contains(node.opType) else { continue }
            let op = defaultDomain ? node.opType : "\(node.domain).\(node.opType)"
            let name = node.name.isEmpty ? "\(node.opType)#\(index)" : node.name
            if let k = unknown.firstIndex(where: { $0.op == op }) { unknown[k].nodes.append(name) } else {
                unknown.append(UnsupportedOperator(op: op, nodes: [name]))
            }
        }
        guard unknown.isEmpty else { throw ONNXError.unsupportedOperators(source: source, opset: opset, operators: unknown) }
    }

    /// The node indices in an order where every node comes after the producers of its
    /// operands: the file's order when it is already one (as ONNX requires), else a
    /// topological sort of it.
    /// - Throws: ``ONNXError/invalidGraph(source:detail:)`` naming the values of a cycle.
    static func executionOrder(_ nodes: [Onnx_NodeProto], source: String) throws -> [Int] {
        var producer = [String: Int]()
        for (index, node) in nodes.enumerated() {
            for name in node.output where !name.isEmpty && producer[name] == nil { producer[name] = index }
        }
        // The producers each node waits for (a node reading its own output waits forever).
        let waitsFor = nodes.map { Set($0.input.compactMap { producer[$0] }) }
        if waitsFor.enumerated().allSatisfy({ index, producers in producers.allSatisfy { $0 < index } }) {
            return Array(nodes.indices)
        }
        var pending = waitsFor.map(\.count)
        var dependents = [[Int]](repeating: [], count: nodes.count)
        for (index, producers) in waitsFor.enumerated() {
            for p in producers { dependents[p].append(index) }
        }
        var order = nodes.indices.filter { pending[$0] == 0 }
        var next = 0
        while next < order.count {
            for d in dependents[order[next]] {
                pending[d] -= 1
                if pending[d] == 0 { order.append(d) }
            }
            next += 1
        }
        guard order.count < nodes.count else { return order }
        // Every node left waits for another one left: walk back through producers until a
        // node repeats; the walk from there on is a cycle.
        var walk = [nodes.indices.first { pending[$0] > 0 }!]
        var seen = [walk[0]: 0]
        while true {
            let node = walk[walk.count - 1]
            let previous = waitsFor[node].first { pending[$0] > 0 }!
            if let start = seen[previous] {
                let cycle = Array(walk[start...].reversed())
                let values = cycle.map { index -> String in
                    let produced = nodes[index].output.first { !$0.isEmpty && producer[$0] == index } ?? ""
                    return "'\(produced)'"
                }
                throw ONNXError.invalidGraph(source: source, detail: "the graph has a cycle: "
                    + (values + [values[0]]).joined(separator: " -> ") + " (each value is computed from the one before)")
            }
            seen[previous] = walk.count
            walk.append(previous)
        }
    }

    /// The shape of the graph input, with a symbolic batch dimension taken as 1.
    private static func inputShape(of input: Onnx_ValueInfoProto, source: String) throws -> [Int] {
        func invalid(_ detail: String) -> ONNXError {
            .invalidGraph(source: source, detail: "graph input '\(input.name)': \(detail)")
        }
        guard case .tensorType(let tensorType)? = input.type.value else {
            throw invalid("only tensor inputs are supported")
        }
        let elementType = Int(tensorType.elemType)
        guard elementType == 1 || elementType == 11 else {
            throw ONNXError.unsupportedDataType(source: source, tensor: input.name, dataType: onnxDataTypeName(elementType))
        }
        guard tensorType.hasShape else { throw invalid("the input has no shape") }
        let dims = tensorType.shape.dim
        var shape = [Int]()
        for (axis, dim) in dims.enumerated() {
            if case .dimValue(let value)? = dim.value, value > 0 {
                guard value <= maximumElementCount else { throw invalid("dimension \(axis) (\(value)) is too large") }
                shape.append(Int(value))
            } else if axis == 0 && dims.count >= 2 {
                shape.append(1)  // symbolic batch dimension
            } else {
                let label: String
                if case .dimParam(let name)? = dim.value { label = "'\(name)'" } else { label = "without a size" }
                throw invalid("dimension \(axis) is symbolic (\(label)); only a symbolic leading batch dimension is supported")
            }
        }
        guard boundedElementCount(shape) != nil else { throw invalid("shape \(shape) is too large") }
        return shape
    }

    /// Throws unless every name in `hiddenOutputs` is a tensor of the graph (a graph input,
    /// or a node output) that is not an initializer. Constants computed at load time are
    /// only known after conversion (see `convert`).
    static func requireTensors(_ hiddenOutputs: [String], of graph: Onnx_GraphProto,
                               constants: [String: ConstantTensor], source: String) throws {
        guard !hiddenOutputs.isEmpty else { return }
        var names = Set(graph.input.map(\.name))
        names.formUnion(constants.keys)
        for node in graph.node { names.formUnion(node.output.filter { !$0.isEmpty }) }
        for name in hiddenOutputs {
            guard names.contains(name) else {
                throw ONNXError.unknownTensor(source: source, name: name, suggestions: closeNames(to: name, among: names))
            }
            if constants[name] != nil { throw ONNXError.constantTensor(source: source, name: name, initializer: true) }
        }
    }

    /// Up to three of `names` closest to `name`, closest first, then alphabetically: by edit
    /// distance ignoring case, either at most a third of the name's length (at least 2; 1 for
    /// names shorter than 4) or with `name` contained in the candidate (`bn` suggests `bn_out`).
    static func closeNames(to name: String, among names: Set<String>) -> [String] {
        let lowered = name.lowercased(), target = Array(lowered)
        let limit = target.count < 4 ? 1 : max(2, target.count / 3)
        func distance(_ other: [Character]) -> Int {
            var previous = Array(0...other.count), current = previous
            for (i, a) in target.enumerated() {
                current[0] = i + 1
                for (j, b) in other.enumerated() {
                    current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (a == b ? 0 : 1))
                }
                swap(&previous, &current)
            }
            return previous[other.count]
        }
        let scored = names.compactMap { candidate -> (Int, String)? in
            let lower = candidate.lowercased()
            if !lowered.isEmpty && lower.contains(lowered) { return (distance(Array(lower)), candidate) }
            // Lengths further apart than the limit cannot be close (and need no distance).
            guard abs(lower.count - target.count) <= limit else { return nil }
            let d = distance(Array(lower))
            return d <= limit ? (d, candidate) : nil
        }
        return scored.sorted { $0 < $1 }.prefix(3).map(\.1)
    }

    /// Throws when a graph output (or a `value_info` entry, `role`) declares a shape that
    /// disagrees with the computed one (symbolic and unset dimensions match anything): a cheap
    /// check that the conversion reproduced the exporter's shapes.
    private static func checkDeclaredShape(of output: Onnx_ValueInfoProto, computed: [Int], source: String,
                                           role: String = "graph output") throws {
        guard case .tensorType(let tensorType)? = output.type.value, tensorType.hasShape else { return }
        let declared = tensorType.shape.dim
        let agrees = declared.count == computed.count && zip(declared, computed).allSatisfy { dim, size in
            if case .dimValue(let value)? = dim.value, value > 0 { return Int(value) == size }
            return true
        }
        guard !agrees else { return }
        let text = declared.map { dim -> String in
            switch dim.value {
            case .dimValue(let value)?: "\(value)"
            case .dimParam(let name)?: name
            case nil: "?"
            }
        }
        throw ONNXError.invalidGraph(source: source, detail: "\(role) '\(output.name)' is declared with shape [\(text.joined(separator: ", "))], but the loaded graph computes \(computed)")
    }

    // MARK: Nodes

    /// Converts one node (of the default domain: ``requireKnownOperators(_:source:opset:)`` has
    /// refused the others): folds it when all operands are constants, else emits IR operations.
    mutating func convert(_ node: Onnx_NodeProto, index: Int) throws {
        let name = node.name.isEmpty ? "\(node.opType)#\(index)" : node.name
        let context = NodeContext(source: source, name: name, op: node.opType, opset: opset)
        var operands = [Slot?]()
        for inputName in node.input {
            if inputName.isEmpty {
                operands.append(nil)
            } else if let slot = slots[inputName] {
                operands.append(slot)
            } else {
                throw context.invalid("input '\(inputName)' is not defined before this node")
            }
        }
        for outputName in node.output where !outputName.isEmpty && slots[outputName] != nil {
            throw context.invalid("output '\(outputName)' is already defined")
        }
        guard let firstOutput = node.output.first, !firstOutput.isEmpty else {
            throw context.invalid("the node has no output")
        }
        var attributes = try NodeAttributes(node, context: context)
        let call = NodeCall(context: context, operands: operands, outputs: node.output, usedNames: usedNames)
        let allConstant = operands.allSatisfy { slot in
            if case .activation? = slot { return false }
            return true
        }

        let results: [Slot?]
        if allConstant || node.opType == "Shape" {
            let folder = ConstantFolder(call: call, opset: opset, shapeOf: { [builder] in builder.shape(of: $0) })
            let values = try folder.fold(&attributes)
            if node.opType == "Constant", let value = values.first, !value.elementType.isInteger {
                parameterCount += value.count
            }
            results = values.map { .constant($0) }
        } else if node.opType == "Split" {
            results = try convertSplit(call, &attributes)
        } else {
            results = [try convertOperator(call, &attributes)]
        }
        try attributes.finish()
        // The element type of activation results: a Cast's target, else the type of the
        // first activation operand (ONNX constrains operands and outputs to one type `T`).
        let castTarget = node.opType == "Cast" ? node.attribute.first(where: { $0.name == "to" }).map { Int($0.i) } : nil
        var operandType: Int? = nil
        for (inputName, slot) in zip(node.input, operands) {
            if case .activation? = slot { operandType = activationTypes[inputName]; break }
        }
        for (position, result) in results.enumerated() where position < node.output.count && !node.output[position].isEmpty {
            if let result { slots[node.output[position]] = result }
            if case .activation? = result, let type = castTarget ?? operandType { activationTypes[node.output[position]] = type }
        }
    }
}
