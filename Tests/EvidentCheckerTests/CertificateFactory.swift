import Evident
import EvidentTestSupport
import Foundation
@testable import EvidentChecker

/// Builds certificates the way a verifier would, for tests: the bounds used to decide what a
/// node can refute come from the checker's own kernels (the checker accepting what they
/// produce is not the point of these tests; the tampering, trap and sampling tests are).
enum Factory {
    static let modelDigest = [UInt8](repeating: 0xAB, count: 32)
    static let propertyDigest = [UInt8](repeating: 0xCD, count: 32)

    static func certificate(_ claim: Claim, property: Bool = true) -> Certificate {
        Certificate(model: FileBinding(path: "model.onnx", sha256: modelDigest),
                    property: property ? FileBinding(path: "property.vnnlib", sha256: propertyDigest) : nil,
                    producer: "tests", claim: claim)
    }

    /// In-process check with the factory's digests.
    static func check(_ certificate: Certificate, _ network: Network, _ property: Property?) -> EvidentChecker.CheckReport {
        EvidentChecker.Checker.check(certificate, network: network, modelDigest: modelDigest, property: property,
                      propertyDigest: property == nil ? nil : propertyDigest, progress: nil)
    }

    static func network(_ graph: Graph) -> Network {
        Network(graph: graph, source: "memory", format: "memory", sourceOperatorCounts: [:], parameterCount: 0)
    }

    /// Lower bounds of every constraint of every clause of `region` over `box`, with the
    /// checker's kernels (default slopes, no splits).
    static func constraintBounds(_ network: Network, _ region: InputRegion, box: ValueBounds? = nil,
                                 splits: [SplitConstraint] = []) throws -> [[Double]] {
        let model = try CheckerModel(network: network)
        var work = NodeBounds.Work()
        let b = box ?? ValueBounds(lower: region.lower, upper: region.upper)
        let state = NodeBounds.compute(model, box: b, splits: splits, work: &work)
        if state.empty != nil { return region.clauses.map { $0.constraints.map { _ in Double.infinity } } }
        var rows = [BackwardRow]()
        for clause in region.clauses {
            for c in clause.constraints {
                rows.append(BackwardRow(start: .dense(c.terms.map { ($0.output, $0.coefficient) })))
            }
        }
        let results = BackwardPass(model: model, state: state, target: model.output, boxes: [b]).run(rows)
        var k = 0
        return region.clauses.map { clause in
            clause.constraints.map { _ in
                defer { k += 1 }
                return results[k].lower
            }
        }
    }

    /// For each clause, the index of a constraint whose bound exceeds its threshold.
    static func refutable(_ bounds: [[Double]], _ region: InputRegion) -> [Int?] {
        region.clauses.enumerated().map { c, clause in
            clause.constraints.indices.first { bounds[c][$0] > clause.constraints[$0].bound }
        }
    }

    /// A one-node tree refuting every clause at the root with default slopes, or `nil`.
    static func rootProof(_ network: Network, _ property: Property) throws -> UnsatProof? {
        var regions = [RegionProof]()
        for region in property.regions {
            let choice = refutable(try constraintBounds(network, region), region)
            guard choice.allSatisfy({ $0 != nil }) else { return nil }
            let refutations = choice.enumerated().map { Refutation(clause: UInt32($0.offset), constraint: UInt32($0.element!)) }
            regions.append(RegionProof(trees: [ProofTree(slopeLayers: [], nodes: [ProofNode(refutations: refutations)])]))
        }
        return UnsatProof(regions: regions)
    }

    /// An input-split tree (breadth first, every child refreshed) bisecting the widest
    /// coordinate until each leaf refutes every clause, or `nil` past `maxNodes`.
    static func bisectionTree(_ network: Network, _ region: InputRegion, maxNodes: Int = 4000) throws -> ProofTree? {
        var nodes = [ProofNode]()
        var boxes = [ValueBounds(lower: region.lower, upper: region.upper)]
        var next = 0
        let width = zip(region.lower, region.upper).map { $1 - $0 }
        while next < boxes.count {
            if boxes.count > maxNodes { return nil }
            let box = boxes[next]
            let choice = refutable(try constraintBounds(network, region, box: box), region)
            var node = ProofNode(refresh: next > 0)
            if choice.allSatisfy({ $0 != nil }) {
                node.refutations = choice.enumerated().map { Refutation(clause: UInt32($0.offset), constraint: UInt32($0.element!)) }
            } else {
                let d = (0..<box.lower.count).max { (box.upper[$0] - box.lower[$0]) / max(width[$0], 1e-300)
                    < (box.upper[$1] - box.lower[$1]) / max(width[$1], 1e-300) }!
                let t = box.lower[d] * 0.5 + box.upper[d] * 0.5
                var low = box, high = box
                low.upper[d] = t
                high.lower[d] = t
                node.branch = Branch(split: .input(dimension: UInt32(d), point: t), low: UInt32(boxes.count),
                                     high: UInt32(boxes.count + 1))
                boxes.append(low)
                boxes.append(high)
            }
            nodes.append(node)
            next += 1
        }
        return ProofTree(slopeLayers: [], nodes: nodes)
    }

    /// A chain of linear layers `fc0, fc1, ...` on shape `[1, inputs]` (weights row-major
    /// `out × in`), with a ReLU after every layer but the last when `relu` is set.
    static func linear(_ layers: [(weights: [Double], out: Int, bias: [Double])], inputs: Int, relu: Bool = false) throws -> Network {
        var b = GraphBuilder(inputName: "x", inputShape: [1, inputs])
        var v = b.inputValue
        var width = inputs
        for (k, layer) in layers.enumerated() {
            v = try b.add(.linear(Linear(weight: Tensor(shape: [layer.out, width], scalars: layer.weights),
                                         bias: Tensor(shape: [layer.out], scalars: layer.bias))), inputs: [v], name: "fc\(k)")
            if relu && k < layers.count - 1 { v = try b.add(.relu, inputs: [v], name: "relu\(k)") }
            width = layer.out
        }
        return Factory.network(try b.build(output: v))
    }

    /// A property with one region, built in code.
    static func property(lower: [Double], upper: [Double], clauses: [[(terms: [(Int, Double)], bound: Double)]],
                         outputs: Int) -> Property {
        let region = InputRegion(lower: lower, upper: upper, clauses: clauses.map { clause in
            OutputClause(constraints: clause.map { c in
                LinearConstraint(terms: c.terms.map { LinearConstraint.Term(output: $0.0, coefficient: $0.1) }, bound: c.bound)
            })
        })
        return Property(inputCount: lower.count, outputCount: outputs, regions: [region], source: "memory")
    }
}

extension Certificate {
    /// The unsat proof, for tests that tamper with it.
    var unsatProof: UnsatProof? { if case .unsat(let p) = claim { return p } else { return nil } }
}
