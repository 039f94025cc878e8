extension Network {
    /// One network computing `networks` side by side on one flat input of `inputCount` elements.
    ///
    /// Network `k` reads its flat input element `j` from composed input element
    /// `inputIndices[k][j]`. Indices may repeat, within one network and across networks: that
    /// is how tied inputs are expressed (VNN-LIB 2.0 queries over several networks sharing an
    /// input); a composed element nobody reads is allowed. The composed output is each
    /// network's flat output in order, then the composed input elements listed in
    /// `passthrough`, in that order (so that constraints over inputs can be written as
    /// constraints over outputs).
    ///
    /// The composition uses the IR's existing operations only, so evaluation, every bound
    /// method, the LP and the certificate checker handle it unchanged, and it computes exactly
    /// the networks' own functions (the added operations only move numbers):
    /// - a network reading the whole input in order reads the graph input itself (the first
    ///   such network gives the graph input its shape, so a single network composed with the
    ///   identity gets no extra operation; others get a reshape, a view);
    /// - a network reading distinct elements (a contiguous range, or any injective map) one
    ///   `select`;
    /// - a network reading some element `c` times a `concat` of `c` copies of the input, then
    ///   one `select` taking each repetition from its own copy (`select` is injective, as the
    ///   ONNX loader does for `Gather` with repeated indices).
    /// The outputs are flattened (reshapes) and concatenated, except for a single network
    /// without passthrough, whose output is the composed output as it is.
    ///
    /// The result: ``inputParts`` one part `"input"` of shape `[inputCount]` (its element type
    /// the networks' common input type, else "float64"); ``outputParts`` each network's parts
    /// at their new offsets, names unchanged (callers rename), then one part `"passthrough"`
    /// of shape `[passthrough.count]` when it is not empty. Network `k`'s nodes and values are
    /// named `net<k>/<own name>`, the nodes the composition adds `net<k>:input`,
    /// `net<k>:output`, `passthrough` and `outputs` (no clash); ``constantRadii`` follow their nodes;
    /// operator and parameter counts are summed; ``format`` is "composed";
    /// ``initializerInputs`` is empty (it describes files).
    ///
    /// - Throws: ``IRError/invalidComposition(_:)`` when there is no network, `inputIndices`
    ///   does not hold one list per network, a list's length is not its network's input
    ///   element count, or an index (of `inputIndices` or `passthrough`) is outside
    ///   `0 ..< inputCount`.
    public static func composing(_ networks: [Network], inputIndices: [[Int]], inputCount: Int,
                                 passthrough: [Int], source: String) throws -> Network {
        func fail(_ detail: String) -> IRError { .invalidComposition(detail) }
        guard !networks.isEmpty else { throw fail("there is no network to compose") }
        guard inputIndices.count == networks.count else {
            throw fail("\(networks.count) network(s) but \(inputIndices.count) input index list(s)")
        }
        guard inputCount > 0 else { throw fail("the composed input has \(inputCount) elements; it needs at least one") }
        for (k, (network, indices)) in zip(networks, inputIndices).enumerated() {
            let count = network.graph.values[network.graph.input].count
            guard indices.count == count else {
                throw fail("network \(k) (\(network.source)) reads \(count) input element(s), but inputIndices[\(k)] has \(indices.count)")
            }
            if let j = indices.firstIndex(where: { !(0..<inputCount).contains($0) }) {
                throw fail("network \(k) (\(network.source)): its input element \(j) maps to \(indices[j]), "
                    + "outside the composed input of \(inputCount) element(s)")
            }
        }
        if let j = passthrough.firstIndex(where: { !(0..<inputCount).contains($0) }) {
            throw fail("passthrough element \(j) is \(passthrough[j]), outside the composed input of \(inputCount) element(s)")
        }

        let readsWhole = inputIndices.map { $0.elementsEqual(0..<inputCount) }
        let inputShape = readsWhole.firstIndex(of: true).map { networks[$0].graph.inputShape } ?? [inputCount]
        var builder = GraphBuilder(inputName: "input", inputShape: inputShape)
        let input = builder.inputValue

        /// The composed input elements `indices` as a value of `shape` (see the cases above).
        func gather(_ indices: [Int], whole: Bool, shape: [Int], name: String) throws -> ValueID {
            if whole {
                return shape == inputShape ? input : try builder.add(.reshape(shape), inputs: [input], name: name)
            }
            var uses = [Int](repeating: 0, count: inputCount), sources = indices
            for (e, s) in indices.enumerated() {
                sources[e] = uses[s] * inputCount + s
                uses[s] += 1
            }
            let copies = uses.max() ?? 1
            var operand = input
            if copies > 1 {
                operand = try builder.add(.concat(axis: 0), inputs: Array(repeating: input, count: copies), name: "\(name)/copies")
            }
            return try builder.add(.select(Selection(shape: shape, sources: sources)), inputs: [operand], name: name)
        }

        var outputs = [ValueID](), outputParts = [TensorPart](), offset = 0
        var radii = [(value: ValueID, radius: ConstantRadius)]()
        var operatorCounts = [String: Int](), parameters = 0
        for (k, network) in networks.enumerated() {
            let graph = network.graph, prefix = "net\(k)/"
            var map = [graph.input: try gather(inputIndices[k], whole: readsWhole[k], shape: graph.inputShape, name: "net\(k):input")]
            for node in graph.nodes {
                var operands = [ValueID]()
                for v in node.inputs {
                    guard let mapped = map[v] else { throw fail("network \(k): node '\(node.name)' uses a value defined after it") }
                    operands.append(mapped)
                }
                map[node.output] = try builder.add(node.operation, inputs: operands, name: prefix + node.name,
                                                   outputName: prefix + graph.values[node.output].name)
            }
            for (index, radius) in network.constantRadii where index < graph.nodes.count {
                if let value = map[graph.nodes[index].output] { radii.append((value, radius)) }
            }
            guard let output = map[graph.output] else { throw fail("network \(k): its output value is undefined") }
            outputs.append(output)
            outputParts += network.outputParts.map { part in
                var shifted = part
                shifted.offset += offset
                return shifted
            }
            offset += graph.values[graph.output].count
            operatorCounts.merge(network.sourceOperatorCounts, uniquingKeysWith: +)
            parameters += network.parameterCount
        }

        let inputTypes = Set(networks.flatMap { $0.inputParts.map(\.elementType) })
        let inputType = inputTypes.count == 1 ? inputTypes.first ?? "float64" : "float64"
        if !passthrough.isEmpty {
            outputs.append(try gather(passthrough, whole: passthrough.elementsEqual(0..<inputCount),
                                      shape: [passthrough.count], name: "passthrough"))
            outputParts.append(TensorPart(name: "passthrough", shape: [passthrough.count], offset: offset, elementType: inputType))
        }
        var output = outputs[0]
        if outputs.count > 1 {
            var flat = [ValueID]()
            for (position, value) in outputs.enumerated() {
                let count = builder.shape(of: value).elementCount
                let name = position < networks.count ? "net\(position):output" : "passthrough:output"
                flat.append(builder.shape(of: value) == [count] ? value : try builder.add(.reshape([count]), inputs: [value], name: name))
            }
            output = try builder.add(.concat(axis: 0), inputs: flat, name: "outputs")
        }
        let graph = try builder.build(output: output)

        var composed = Network(graph: graph, source: source, format: "composed", sourceOperatorCounts: operatorCounts,
                               parameterCount: parameters, inputName: "input",
                               outputName: outputParts.map(\.name).joined(separator: ","))
        composed.inputParts = [TensorPart(name: "input", shape: [inputCount], offset: 0, elementType: inputType)]
        composed.outputParts = outputParts
        let producers = graph.producers
        for (value, radius) in radii {
            if let node = producers[value] { composed.constantRadii[node] = radius }
        }
        return composed
    }
}
