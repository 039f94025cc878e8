/// Graph normalisation passes. Each returns a new graph computing the same
/// function in real arithmetic.
///
/// Floating point: passes that merge constants (folding a BatchNormalization
/// scale into convolution weights, adding a constant into a bias) round the
/// merged constants once (relative error at most 2⁻⁵³ per operation), so the
/// normalised graph's real-valued function can differ from the stored
/// network's by that much. Verdicts that must hold for the stored weights
/// exactly should be checked on the unnormalised graph (see Docs/Soundness.md).
public enum Passes {
    /// All passes in a sensible order: constant folding, BatchNormalization folding,
    /// reshape simplification, dead-node removal.
    public static func normalize(_ graph: Graph) throws -> Graph {
        var g = try foldConstants(graph)
        g = try foldBatchNormalization(g)
        g = try foldConstants(g)
        g = try simplifyReshapes(g)
        return try removeDeadNodes(g)
    }

    /// Folds `channelAffine` (inference BatchNormalization) into a preceding convolution, or
    /// into a preceding linear layer whose features sit on axis 1 of a rank-2 value, when the
    /// preceding node's output has no other use.
    public static func foldBatchNormalization(_ graph: Graph) throws -> Graph {
        var rewrite = Rewrite(graph)
        let producers = graph.producers, consumers = graph.consumers
        for (index, node) in graph.nodes.enumerated() {
            guard case let .channelAffine(scale, shift) = node.operation,
                  let p = producers[node.inputs[0]], rewrite.isSingleUse(node.inputs[0], consumers) else { continue }
            switch rewrite.nodes[p].operation {
            case .convolution(var conv):
                let perChannel = conv.weight.count / conv.outputChannels
                for m in 0..<conv.outputChannels {
                    for i in (m * perChannel)..<((m + 1) * perChannel) { conv.weight.scalars[i] *= scale[m] }
                    conv.bias.scalars[m] = conv.bias.scalars[m] * scale[m] + shift[m]
                }
                rewrite.nodes[p].operation = .convolution(conv)
            case .linear(var lin) where graph.values[node.inputs[0]].shape.count == 2:
                for n in 0..<lin.outFeatures {
                    for k in 0..<lin.inFeatures { lin.weight.scalars[n * lin.inFeatures + k] *= scale[n] }
                    lin.bias.scalars[n] = lin.bias.scalars[n] * scale[n] + shift[n]
                }
                rewrite.nodes[p].operation = .linear(lin)
            default:
                continue
            }
            rewrite.remove(index)
        }
        return try rewrite.build()
    }

    /// Removes constant operations that do nothing (adding zero, multiplying or dividing by
    /// one, as in ACAS Xu's subtraction of an all-zero constant) and folds a constant added
    /// after a linear layer or convolution into its bias when it is the same for every row
    /// or spatial position.
    public static func foldConstants(_ graph: Graph) throws -> Graph {
        var rewrite = Rewrite(graph)
        let producers = graph.producers, consumers = graph.consumers
        for (index, node) in graph.nodes.enumerated() {
            switch node.operation {
            case .addConstant(let c) where c.scalars.allSatisfy({ $0 == 0 }):
                rewrite.remove(index)
            case .multiplyConstant(let c) where c.scalars.allSatisfy({ $0 == 1 }),
                 .divideConstant(let c) where c.scalars.allSatisfy({ $0 == 1 }):
                rewrite.remove(index)
            case .addConstant(let c):
                guard let p = producers[node.inputs[0]], rewrite.isSingleUse(node.inputs[0], consumers) else { continue }
                switch rewrite.nodes[p].operation {
                case .linear(var lin):
                    let n = lin.outFeatures
                    guard (0..<c.count).allSatisfy({ c.scalars[$0] == c.scalars[$0 % n] }) else { continue }
                    for j in 0..<n { lin.bias.scalars[j] += c.scalars[j] }
                    rewrite.nodes[p].operation = .linear(lin)
                case .convolution(var conv):
                    let shape = graph.values[node.inputs[0]].shape
                    let plane = shape[2] * shape[3], channels = shape[1]
                    let perChannel = (0..<c.count).allSatisfy { c.scalars[$0] == c.scalars[($0 / plane % channels) * plane] }
                    guard perChannel else { continue }
                    for m in 0..<channels { conv.bias.scalars[m] += c.scalars[m * plane] }
                    rewrite.nodes[p].operation = .convolution(conv)
                default:
                    continue
                }
                rewrite.remove(index)
            default:
                continue
            }
        }
        return try rewrite.build()
    }

    /// Removes reshapes to the same shape and merges chains of reshapes. Reshapes are
    /// views (evaluation never copies for them), so this only shortens the graph.
    public static func simplifyReshapes(_ graph: Graph) throws -> Graph {
        // Merging a chain can leave an identity reshape behind: repeat until nothing changes.
        var current = graph
        while true {
            let next = try simplifyReshapesOnce(current)
            if next.nodes.count == current.nodes.count { return next }
            current = next
        }
    }

    private static func simplifyReshapesOnce(_ graph: Graph) throws -> Graph {
        var rewrite = Rewrite(graph)
        let producers = graph.producers, consumers = graph.consumers
        for (index, node) in graph.nodes.enumerated() {
            guard case .reshape(let target) = node.operation else { continue }
            let source = node.inputs[0]
            if graph.values[rewrite.resolve(source)].shape == target {
                rewrite.remove(index)
            } else if let p = producers[source], case .reshape = rewrite.nodes[p].operation,
                      rewrite.isSingleUse(source, consumers) {
                rewrite.nodes[p].operation = .reshape(target)
                rewrite.remove(index)
            }
        }
        return try rewrite.build()
    }

    /// Removes nodes whose results never reach the output.
    public static func removeDeadNodes(_ graph: Graph) throws -> Graph {
        var live = Set([graph.output])
        var rewrite = Rewrite(graph)
        for (index, node) in graph.nodes.enumerated().reversed() {
            if live.contains(node.output) { live.formUnion(node.inputs) } else { rewrite.dropped.insert(index) }
        }
        return try rewrite.build()
    }
}

/// A graph under rewriting: nodes may be replaced in place or removed, a removed node's
/// output becoming an alias of its first operand.
private struct Rewrite {
    let graph: Graph
    var nodes: [Graph.Node]
    /// Removed nodes whose output aliases their first operand.
    var removed = Set<Int>()
    /// Removed nodes with no replacement (dead).
    var dropped = Set<Int>()
    var alias: [ValueID: ValueID] = [:]

    init(_ graph: Graph) {
        self.graph = graph
        nodes = graph.nodes
    }

    func resolve(_ value: ValueID) -> ValueID {
        var v = value
        while let next = alias[v] { v = next }
        return v
    }

    /// True when `value` is used by exactly one node and is not the graph output, so the
    /// producer may be changed without affecting anybody else.
    func isSingleUse(_ value: ValueID, _ consumers: [[Int]]) -> Bool {
        consumers[value].count == 1 && value != graph.output
    }

    /// Removes node `index`; its output becomes its first operand.
    mutating func remove(_ index: Int) {
        removed.insert(index)
        alias[nodes[index].output] = nodes[index].inputs[0]
    }

    func build() throws -> Graph {
        // A removed node's output becomes its operand; where the shapes differ, a reshape
        // keeps the shape the rest of the graph expects.
        var builder = GraphBuilder(inputName: graph.values[graph.input].name, inputShape: graph.inputShape)
        var map: [ValueID: ValueID] = [graph.input: builder.inputValue]
        // Nodes are in topological order, so every operand is mapped before it is used.
        func mapped(_ v: ValueID) -> ValueID { map[v]! }
        for (index, node) in nodes.enumerated() where !dropped.contains(index) {
            if removed.contains(index) {
                let source = mapped(node.inputs[0])
                let shape = graph.values[node.output].shape
                if builder.shape(of: source) == shape {
                    map[node.output] = source
                } else {
                    map[node.output] = try builder.add(.reshape(shape), inputs: [source], name: node.name,
                                                       outputName: graph.values[node.output].name)
                }
                continue
            }
            map[node.output] = try builder.add(node.operation, inputs: node.inputs.map(mapped), name: node.name,
                                               outputName: graph.values[node.output].name)
        }
        return try builder.build(output: mapped(graph.output))
    }
}
