// Binding a VNN-LIB 2.0 query to its models: every declaration checked against the model
// (counts, shapes, element types, hidden tensor names), then the networks composed into one
// graph in the query's layout (Query.swift) and the property moved onto that graph's outputs.

import EvidentIR

/// A query bound to its models: one network computing all declared networks side by side,
/// and the query's property over that network's input and output.
public struct BoundQuery: Sendable {
    public var query: VNNLibQuery
    /// The composed network (a declared network's model itself when the query is a plain
    /// 1.0-style property of it).
    public var network: Network
    /// The property over ``network``'s flat input and output.
    public var property: Property
    /// What the binding decided that a user should know (unmapped initializer inputs, …).
    public var notes: [String]
    /// For each composed-output slot of the query (``VNNLibQuery/declaredOutputCount``
    /// declared elements, then the passthrough copies), its index in ``network``'s output.
    public var outputIndex: [Int]

    /// The value of every declared tensor at a point: `input` is ``network``'s input and
    /// `output` its output there. Tensors in declaration order (per network: inputs, hidden
    /// tensors, outputs), elements row-major, as the standard's assignment lists them.
    public func assignment(input: [Double], output: [Double]) -> [(tensor: DeclaredTensor, values: [Double])] {
        var result: [(DeclaredTensor, [Double])] = []
        for network in query.networks {
            for tensor in network.inputs {
                result.append((tensor, (0..<tensor.elementCount).map { input[query.inputClasses[tensor.offset + $0]] }))
            }
            for tensor in network.hidden + network.outputs {
                result.append((tensor, (0..<tensor.elementCount).map { output[outputIndex[tensor.offset + $0]] }))
            }
        }
        return result
    }
}

extension VNNLibQuery {
    /// The declarations that need a model file (`--network NAME=MODEL`): all but `equal-to` ones.
    public var modelNetworkNames: [String] {
        networks.filter { !$0.isEqualToAnother }.map(\.name)
    }

    /// The declaration whose model network `name` uses (itself, or what it is `equal-to`).
    public func modelOwner(of name: String) -> String {
        var current = name
        while let network = networks.first(where: { $0.name == current }), case .equalTo(let target) = network.equivalence {
            current = target
        }
        return current
    }

    /// The ONNX tensor names of the hidden tensors declared for the model of `name` (every
    /// declaration that uses that model, in declaration order, duplicates removed): the model
    /// must be loaded with these as extra outputs.
    public func hiddenTensorNames(ofModel name: String) -> [String] {
        var names: [String] = []
        for network in networks where modelOwner(of: network.name) == name {
            for tensor in network.hidden where !names.contains(tensor.onnxName!) { names.append(tensor.onnxName!) }
        }
        return names
    }

    /// Checks that `arguments` (declared name → model path, as `--network` gives them) name
    /// exactly the declarations that need a model.
    ///
    /// - Throws: ``VNNLibError/networkMismatch(message:location:)``.
    public func checkNetworkArguments(_ arguments: [String]) throws {
        let needed = modelNetworkNames
        let file = VNNLibLocation(file: source, line: 0, column: 0)
        for name in arguments where !needed.contains(name) {
            if let network = networks.first(where: { $0.name == name }) {
                throw VNNLibError.networkMismatch(
                    message: "--network \(name)=… is unnecessary: network '\(name)' is declared equal-to '\(modelOwner(of: name))' and uses its model",
                    location: network.location)
            }
            throw VNNLibError.networkMismatch(
                message: "--network \(name)=… names no network of the query (it declares \(networks.map { "'\($0.name)'" }.joined(separator: ", ")))",
                location: file)
        }
        var seen = Set<String>()
        for name in arguments where !seen.insert(name).inserted {
            throw VNNLibError.networkMismatch(message: "--network \(name)=… is given twice", location: file)
        }
        let missing = needed.filter { !arguments.contains($0) }
        if let first = missing.first, let network = networks.first(where: { $0.name == first }) {
            throw VNNLibError.networkMismatch(
                message: "no model for network '\(first)': give one --network NAME=MODEL per declared network not marked equal-to (missing: \(missing.joined(separator: ", ")))",
                location: network.location)
        }
    }

    /// Binds the query to `models` (declared name → model loaded with
    /// ``hiddenTensorNames(ofModel:)`` as extra outputs, one per ``modelNetworkNames``).
    ///
    /// Declared inputs and outputs map to the model's graph inputs and outputs by order, or
    /// by ONNX name when every input and output of the declaration gives one. Graph inputs
    /// that are initializers (ACAS Xu's files list their weights there) are constants, not
    /// inputs, and are not mapped. A declared shape matches the model's when they are equal
    /// once leading 1s (batch dimensions) are dropped from both. The element type must be
    /// `Real` (the model read as a function of real numbers): an ONNX type asks for the
    /// model's floating-point semantics, which Evident does not analyse, and is refused.
    ///
    /// - Throws: ``VNNLibError/networkMismatch(message:location:)`` naming the declaration.
    public func bind(models: [String: Network]) throws -> BoundQuery {
        try checkNetworkArguments(Array(models.keys))
        var notes: [String] = []
        var composedNetworks: [Network] = []
        var inputIndices: [[Int]] = []
        // Declared output slot -> index in the composed output.
        // A model shared by several declarations (equal-to) carries the hidden tensors of all
        // of them, so the composed output may hold elements no declaration names.
        var outputMap = [Int](repeating: -1, count: declaredOutputCount + passthrough.count)
        var outputBase = 0
        for network in networks {
            let owner = modelOwner(of: network.name)
            let model = models[owner]!
            if case .isomorphicTo(let target) = network.equivalence {
                try checkIsomorphic(model, models[modelOwner(of: target)]!, network, target)
            }
            if !model.initializerInputs.isEmpty && !notes.contains(where: { $0.hasPrefix("\(owner):") }) {
                let names = model.initializerInputs
                let shown = names.prefix(3).map { "'\($0)'" }.joined(separator: ", ") + (names.count > 3 ? ", …" : "")
                notes.append("\(owner): \(names.count) graph input\(names.count == 1 ? " is an initializer" : "s are initializers") (\(shown)), weights rather than inputs; the declared inputs map to the model's other \(model.inputParts.count) (\(model.inputParts.map { "'\($0.name)'" }.joined(separator: ", ")))")
            }
            // Inputs.
            let inputParts = try match(network.inputs, to: model.inputParts, of: network, model: model, what: "input")
            var indices = [Int](repeating: 0, count: model.graph.values[model.graph.input].count)
            for (tensor, part) in inputParts {
                for flat in 0..<tensor.elementCount {
                    indices[part.offset + flat] = inputClasses[tensor.offset + flat]
                }
            }
            inputIndices.append(indices)
            // Outputs, then hidden tensors (loaded as extra outputs after the graph outputs).
            let hiddenNames = hiddenTensorNames(ofModel: owner)
            let graphOutputs = Array(model.outputParts.dropLast(hiddenNames.count))
            let hiddenParts = Array(model.outputParts.suffix(hiddenNames.count))
            let outputParts = try match(network.outputs, to: graphOutputs, of: network, model: model, what: "output")
            var pairs = outputParts
            for tensor in network.hidden {
                guard let k = hiddenNames.firstIndex(of: tensor.onnxName!), k < hiddenParts.count,
                      hiddenParts[k].name == tensor.onnxName! else {
                    throw VNNLibError.networkMismatch(
                        message: "hidden tensor \(tensor.name): the model of '\(owner)' was not loaded with '\(tensor.onnxName!)' as an extra output",
                        location: tensor.location)
                }
                try checkShapeAndType(tensor, hiddenParts[k], of: network, model: model)
                pairs.append((tensor, hiddenParts[k]))
            }
            for (tensor, part) in pairs {
                for flat in 0..<tensor.elementCount { outputMap[tensor.offset + flat] = outputBase + part.offset + flat }
            }
            outputBase += model.graph.values[model.graph.output].count
            composedNetworks.append(model)
        }
        for k in passthrough.indices { outputMap[declaredOutputCount + k] = outputBase + k }
        let composedOutputs = outputBase + passthrough.count
        let identityInputs = inputIndices.count == 1 && inputIndices[0] == Array(0..<property.inputCount)
        let identityOutputs = outputMap == Array(0..<outputMap.count) && composedOutputs == outputMap.count
        let network: Network
        if networks.count == 1 && identityInputs && passthrough.isEmpty {
            network = composedNetworks[0]
        } else {
            do {
                network = try Network.composing(composedNetworks, inputIndices: inputIndices, inputCount: property.inputCount,
                                                passthrough: passthrough, source: source)
            } catch {
                throw VNNLibError.networkMismatch(message: "the networks cannot be composed: \(error)",
                                                  location: VNNLibLocation(file: source, line: 0, column: 0))
            }
        }
        var bound = property
        if !identityOutputs { bound = bound.remappingOutputs(outputMap, outputCount: composedOutputs) }
        bound.outputCount = composedOutputs
        return BoundQuery(query: self, network: network, property: bound, notes: notes, outputIndex: outputMap)
    }

    /// Pairs declared tensors with model parts, by ONNX name when all give one, else by order.
    func match(_ tensors: [DeclaredTensor], to parts: [TensorPart], of network: NetworkDeclaration, model: Network,
               what: String) throws -> [(DeclaredTensor, TensorPart)] {
        let modelNames = parts.map { "'\($0.name)'" }.joined(separator: ", ")
        guard tensors.count == parts.count else {
            throw VNNLibError.networkMismatch(
                message: "network '\(network.name)' declares \(tensors.count) \(what)\(tensors.count == 1 ? "" : "s") but its model \(model.source) has \(parts.count) (\(modelNames))",
                location: tensors.last!.location)
        }
        var pairs: [(DeclaredTensor, TensorPart)] = []
        let byName = tensors.allSatisfy { $0.onnxName != nil }
        for (k, tensor) in tensors.enumerated() {
            let part: TensorPart
            if byName {
                guard let named = parts.first(where: { $0.name == tensor.onnxName! }) else {
                    throw VNNLibError.networkMismatch(
                        message: "\(what) \(tensor.name) names the ONNX tensor '\(tensor.onnxName!)', which is no graph \(what) of \(model.source) (its \(what)s: \(modelNames))",
                        location: tensor.location)
                }
                part = named
            } else {
                part = parts[k]
            }
            try checkShapeAndType(tensor, part, of: network, model: model)
            pairs.append((tensor, part))
        }
        return pairs
    }

    func checkShapeAndType(_ tensor: DeclaredTensor, _ part: TensorPart, of network: NetworkDeclaration, model: Network) throws {
        func trimmed(_ shape: [Int]) -> [Int] { Array(shape.drop(while: { $0 == 1 })) }
        guard trimmed(tensor.shape) == trimmed(part.shape) else {
            throw VNNLibError.networkMismatch(
                message: "\(tensor.kind.rawValue) \(tensor.name) is declared with shape \(tensor.shapeText) but the model's tensor '\(part.name)' of \(model.source) has shape [\(part.shape.map(String.init).joined(separator: ","))]",
                location: tensor.location)
        }
        guard tensor.isReal else {
            if tensor.elementType != part.elementType {
                throw VNNLibError.networkMismatch(
                    message: "\(tensor.kind.rawValue) \(tensor.name) is declared \(tensor.elementType) but the model's tensor '\(part.name)' is \(part.elementType)",
                    location: tensor.location)
            }
            throw VNNLibError.networkMismatch(
                message: "\(tensor.kind.rawValue) \(tensor.name) is declared \(tensor.elementType): that asks for the model's exact \(tensor.elementType) semantics, rounding included, which Evident does not analyse soundly; declare it Real to verify the network as a function of real numbers",
                location: tensor.location)
        }
    }

    /// `isomorphic-to`: the same graph (operations, shapes, connections), other weights.
    func checkIsomorphic(_ model: Network, _ target: Network, _ network: NetworkDeclaration, _ targetName: String) throws {
        let a = model.graph, b = target.graph
        var same = a.nodes.count == b.nodes.count && a.values.map(\.shape) == b.values.map(\.shape)
            && a.input == b.input && a.output == b.output
        if same {
            for (x, y) in zip(a.nodes, b.nodes) where x.operation.name != y.operation.name || x.inputs != y.inputs {
                same = false
                break
            }
        }
        guard same else {
            throw VNNLibError.networkMismatch(
                message: "network '\(network.name)' is declared isomorphic-to '\(targetName)' but its model \(model.source) has another graph than \(target.source)",
                location: network.location)
        }
    }
}

extension Property {
    /// The property with every output index `j` replaced by `map[j]` (terms re-sorted), over
    /// `outputCount` outputs.
    public func remappingOutputs(_ map: [Int], outputCount: Int) -> Property {
        var result = self
        result.outputCount = outputCount
        var cache: [[LinearConstraint.Term]: [LinearConstraint.Term]] = [:]
        for r in result.regions.indices {
            for c in result.regions[r].clauses.indices {
                for k in result.regions[r].clauses[c].constraints.indices {
                    let terms = result.regions[r].clauses[c].constraints[k].terms
                    if let known = cache[terms] {
                        result.regions[r].clauses[c].constraints[k].terms = known
                        continue
                    }
                    let mapped = terms.map { LinearConstraint.Term(output: map[$0.output], coefficient: $0.coefficient) }
                        .sorted { $0.output < $1.output }
                    cache[terms] = mapped
                    result.regions[r].clauses[c].constraints[k].terms = mapped
                }
            }
        }
        result.outputDeclarations = []
        return result
    }
}
