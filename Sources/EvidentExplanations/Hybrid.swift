import Foundation
import EvidentIR
import EvidentEval

/// The hybrid mode of EVA for networks too large to bound from the input (as the paper does
/// for ImageNet ResNets): the values of one layer are bounded *empirically*, by the smallest
/// and largest values that sampled inputs of each box produce there, and the network after
/// that layer is bounded by the engine from those boxes. Sampling can miss the extremes, so
/// the result carries no guarantee: ``EVAResult/certified`` is false and no certificate is
/// written.
public struct HybridSettings: Sendable {
    /// The name of the value (for ONNX, the tensor) where sampling stops: it must cut the
    /// graph, every later node reading only it and values computed after it.
    public var layer: String
    /// Sampled inputs per box (half of them corners of the box, half uniform inside it, and
    /// the centre).
    public var samples: Int
    public var seed: UInt64

    public init(layer: String, samples: Int = 64, seed: UInt64 = 0xE7A) {
        self.layer = layer
        self.samples = samples
        self.seed = seed
    }
}

/// A graph cut at one value: the part up to it and the part after it.
struct GraphCut {
    let prefix: Graph
    let suffix: Graph

    /// The values where a graph can be cut (outputs of nodes before the last node whose later
    /// nodes read nothing computed before them).
    static func cutPoints(_ graph: Graph) -> [String] {
        graph.nodes.indices.dropLast().filter { isCut(graph, at: $0) }.map { graph.values[graph.nodes[$0].output].name }
    }

    static func isCut(_ graph: Graph, at p: Int) -> Bool {
        let v = graph.nodes[p].output
        let later = Set(graph.nodes[(p + 1)...].map(\.output))
        return graph.nodes[(p + 1)...].allSatisfy { $0.inputs.allSatisfy { $0 == v || later.contains($0) } }
    }

    init(_ graph: Graph, at name: String) throws {
        guard let p = graph.nodes.firstIndex(where: { graph.values[$0.output].name == name }), p < graph.nodes.count - 1 else {
            throw EVAError("--hybrid-layer '\(name)' is not a value computed before the last node; cut points: "
                           + GraphCut.cutPoints(graph).prefix(40).joined(separator: ", "))
        }
        guard GraphCut.isCut(graph, at: p) else {
            throw EVAError("--hybrid-layer '\(name)' does not cut the graph (a later node reads an earlier value, e.g. a residual "
                           + "branch); cut points: " + GraphCut.cutPoints(graph).prefix(40).joined(separator: ", "))
        }
        func copy(_ nodes: ArraySlice<Graph.Node>, input: ValueID) throws -> Graph {
            var builder = GraphBuilder(inputName: graph.values[input].name, inputShape: graph.values[input].shape)
            var map = [input: builder.inputValue]
            var last = builder.inputValue
            for node in nodes {
                last = try builder.add(node.operation, inputs: node.inputs.map { map[$0]! }, name: node.name,
                                       outputName: graph.values[node.output].name)
                map[node.output] = last
            }
            return try builder.build(output: last)
        }
        prefix = try copy(graph.nodes[...p], input: graph.input)
        suffix = try copy(graph.nodes[(p + 1)...], input: graph.nodes[p].output)
    }
}

extension Engine {
    /// Empirical boxes at the cut: per box, the elementwise minimum and maximum of the prefix's
    /// values over the box's samples (batched).
    static func sampledBoxes(prefix: Graph, boxes: Int, box: (Int) -> (lower: [Double], upper: [Double]), center: [Double],
                             settings: HybridSettings, progress: (@Sendable (String) -> Void)?) throws
        -> (lower: [Double], upper: [Double]) {
        let evaluator = Evaluator(graph: prefix)
        let size = prefix.values[prefix.output].count
        var lower = [Double](), upper = [Double]()
        lower.reserveCapacity(boxes * size)
        upper.reserveCapacity(boxes * size)
        var rng = SplitMix64(seed: settings.seed)
        let batch = 16
        for b in 0..<boxes {
            let (l, u) = box(b)
            var lo = [Double](repeating: .infinity, count: size), hi = [Double](repeating: -.infinity, count: size)
            var done = 0
            while done < settings.samples + 1 {
                let take = min(batch, settings.samples + 1 - done)
                var inputs = [Double]()
                inputs.reserveCapacity(take * center.count)
                for k in 0..<take {
                    let s = done + k
                    if s == 0 { inputs += center; continue }
                    for i in center.indices {
                        inputs.append(s % 2 == 0 ? (Bool.random(using: &rng) ? l[i] : u[i]) : Double.random(in: l[i]...u[i], using: &rng))
                    }
                }
                let y = try evaluator.evaluate(inputs, batch: take)
                for k in 0..<take {
                    for e in 0..<size {
                        lo[e] = min(lo[e], y[k * size + e])
                        hi[e] = max(hi[e], y[k * size + e])
                    }
                }
                done += take
            }
            lower += lo
            upper += hi
            if b % 8 == 7 || b == boxes - 1 { progress?("hybrid: \(b + 1) of \(boxes) boxes sampled (\(settings.samples + 1) inputs each)") }
        }
        return (lower, upper)
    }
}
