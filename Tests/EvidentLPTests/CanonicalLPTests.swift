import Evident
import EvidentTestSupport
import Foundation
import Testing

/// The structure of the canonical LP (Docs/certificates.md, "The canonical LP of a node"),
/// checked against the network itself: the values of every sampled input satisfy every row
/// (so each row is a true equation of the network, with the right coefficients and offsets),
/// rows and columns come in the specified order and number, and LP bounds are valid.
struct CanonicalLPTests {
    /// Every operation the canonical LP supports, in one small graph: convolutions (padding,
    /// strides, dilation, depthwise), channel affine, ReLU, addition of a value to itself,
    /// subtraction, both average-pool divisors, padding, concatenation, transposition,
    /// global average pooling, reshape, linear, and the three constant operations.
    static func everyOperation(seed: UInt64) throws -> Graph {
        var rng = SeededGenerator(seed: seed)
        var b = GraphBuilder(inputName: "image", inputShape: [1, 2, 6, 6])
        func conv(_ inCh: Int, _ outCh: Int, k: Int, group: Int = 1, _ window: Window2D) -> GraphOperation {
            .convolution(Convolution(weight: rng.tensor([outCh, inCh / group, k, k], -0.6...0.6),
                                     bias: rng.tensor([outCh], -0.2...0.2), window: window, group: group))
        }
        var v = try b.add(.multiplyConstant(rng.tensor([1, 2, 6, 6], 0.5...1.5)), inputs: [b.inputValue], name: "scale")
        v = try b.add(conv(2, 4, k: 3, Window2D(kernel: (3, 3), pads: (1, 0, 1, 2))), inputs: [v], name: "conv0")
        v = try b.add(.channelAffine(scale: rng.uniforms(4, 0.5...1.5), shift: rng.uniforms(4)), inputs: [v], name: "bn0")
        v = try b.add(.relu, inputs: [v], name: "relu0")
        var r = try b.add(conv(4, 4, k: 3, group: 4, Window2D(kernel: (3, 3), dilations: (2, 2), pads: (2, 2, 2, 2))),
                          inputs: [v], name: "dw")
        r = try b.add(.relu, inputs: [r], name: "relu1")
        r = try b.add(.add, inputs: [r, r], name: "double")
        v = try b.add(.subtract, inputs: [v, r], name: "residual")
        v = try b.add(.relu, inputs: [v], name: "relu2")
        let down = try b.add(conv(4, 3, k: 2, Window2D(kernel: (2, 2), strides: (2, 2))), inputs: [v], name: "down")
        let average = try b.add(.averagePool(Window2D(kernel: (2, 2), strides: (2, 2)), countIncludesPadding: false),
                                inputs: [v], name: "avg")
        let padded = try b.add(.averagePool(Window2D(kernel: (3, 3), strides: (2, 2), pads: (1, 1, 0, 0)),
                                            countIncludesPadding: true), inputs: [v], name: "avg_pad")
        let excluded = try b.add(.averagePool(Window2D(kernel: (3, 3), strides: (2, 2), pads: (1, 1, 0, 0)),
                                              countIncludesPadding: false), inputs: [v], name: "avg_nopad")
        var cat = try b.add(.concat(axis: 1), inputs: [down, average, padded, excluded, padded], name: "cat")
        cat = try b.add(.pad([0, 0, 1, 0, 0, 0, 0, 1]), inputs: [cat], name: "pad")
        v = try b.add(.transpose([0, 1, 3, 2]), inputs: [cat], name: "transpose")
        let g = try b.add(.globalAveragePool, inputs: [v], name: "gap")
        let flat = try b.add(.reshape([1, b.shape(of: v).elementCount]), inputs: [v], name: "flatten")
        let features = b.shape(of: flat)[1]
        var y = try b.add(.linear(Linear(weight: rng.tensor([6, features], -0.3...0.3), bias: rng.tensor([6]))),
                          inputs: [flat], name: "fc0")
        y = try b.add(.relu, inputs: [y], name: "relu3")
        y = try b.add(.linear(Linear(weight: rng.tensor([3, 6]), bias: rng.tensor([3]))), inputs: [y], name: "fc1")
        let gFlat = try b.add(.reshape([1, b.shape(of: g).elementCount]), inputs: [g], name: "gap_flat")
        let gOut = try b.add(.linear(Linear(weight: rng.tensor([3, b.shape(of: gFlat)[1]]), bias: nil)), inputs: [gFlat],
                             name: "fc_gap")
        y = try b.add(.add, inputs: [y, gOut], name: "sum")
        y = try b.add(.divideConstant(rng.tensor([1, 3], 1...2)), inputs: [y], name: "div")
        y = try b.add(.addConstant(rng.tensor([1, 3])), inputs: [y], name: "shift")
        return try b.build(output: y)
    }

    static func box(_ graph: Graph, seed: UInt64, radius: Double) -> (lower: [Double], upper: [Double]) {
        var rng = SeededGenerator(seed: seed)
        let centre = rng.uniforms(graph.values[graph.input].count)
        return (centre.map { $0 - radius }, centre.map { $0 + radius })
    }

    static let graphs: [(String, () throws -> Graph)] = [
        ("every operation", { try everyOperation(seed: 3) }),
        ("dense", { try RandomNetworks.dense(seed: 4, inputs: 4, hidden: [10, 10], outputs: 3) }),
        ("residual", { try RandomNetworks.residual(seed: 5) }),
    ]

    @Test("sampled values satisfy every row; columns and rows in the specified order", arguments: 0..<graphs.count)
    func rowsHoldOnSamples(_ which: Int) throws {
        let graph = try Self.graphs[which].1()
        let (lower, upper) = Self.box(graph, seed: UInt64(40 + which), radius: 0.3)
        let bounded = BoundedNetwork(network: network(graph), lower: lower, upper: upper)
        let lp = try NetworkLP(network: bounded.network, bounds: bounded.bounds)
        let program = lp.program

        // Columns: input first, then node outputs, elements flat, bounds the given ones.
        var column = 0
        for v in [graph.input] + graph.nodes.map(\.output) {
            #expect(lp.columnStart[v] == column)
            for e in 0..<graph.values[v].count {
                #expect(program.columnBounds[column + e] == LPBounds.double(bounded.bounds[v].lower[e], bounded.bounds[v].upper[e]))
                #expect(try lp.column(value: v, element: e) == column + e)
            }
            column += graph.values[v].count
        }
        #expect(program.columnCount == column)
        // Rows: node by node, one per output element, two per ReLU neuron.
        var row = 0
        for (index, node) in graph.nodes.enumerated() {
            let count = (node.operation == .relu ? 2 : 1) * graph.values[node.output].count
            #expect(lp.rows(ofNode: index) == row..<(row + count))
            if node.operation == .relu {
                for j in 0..<graph.values[node.output].count {
                    let z = lp.columnStart[node.output] + j
                    #expect(program.rowBounds[row + 2 * j] == .lower(0))
                    #expect(program.rowBounds[row + 2 * j + 1].lower == -.infinity)
                    #expect(program.rowColumns[row + 2 * j].contains(z) && program.rowColumns[row + 2 * j + 1].contains(z))
                }
            }
            row += count
        }
        #expect(program.rowCount == row)

        // Every sampled point's values satisfy every row.
        let samples = 300
        let points = bounded.samples(samples, seed: UInt64(50 + which))
        let all = try Evaluator(graph: graph).evaluateAll(points, batch: samples)
        var violations = 0
        for s in 0..<samples {
            var x = [Double](repeating: 0, count: program.columnCount)
            for v in graph.values.indices {
                let size = graph.values[v].count
                for e in 0..<size { x[lp.columnStart[v] + e] = all[v][s * size + e] }
            }
            for i in 0..<program.rowCount {
                var value = 0.0, magnitude = 0.0
                for (j, a) in zip(program.rowColumns[i], program.rowCoefficients[i]) {
                    value += a * x[j]
                    magnitude += abs(a * x[j])
                }
                let slack = 1e-12 * max(1, magnitude, abs(program.rowBounds[i].lower.isFinite ? program.rowBounds[i].lower : 0))
                if value < program.rowBounds[i].lower - slack || value > program.rowBounds[i].upper + slack { violations += 1 }
            }
        }
        #expect(violations == 0, "\(violations) row evaluations violated over \(samples) samples")

        // And so the LP bounds of the outputs hold on the samples and are no looser than CROWN's.
        let outputs = graph.values[graph.output].count
        for k in 0..<outputs {
            let low = try lp.solveBound(of: graph.output, neuron: k, side: .lower)
            let high = try lp.solveBound(of: graph.output, neuron: k, side: .upper)
            let sampled = (0..<samples).map { all[graph.output][$0 * outputs + k] }
            let lowBound = try #require(low.bound), highBound = try #require(high.bound)
            #expect(lowBound <= sampled.min()! + 1e-9 && highBound >= sampled.max()! - 1e-9)
            #expect(lowBound >= bounded.crownLower[k] - 1e-9 && highBound <= bounded.crownUpper[k] + 1e-9)
            #expect(relativelyClose(lowBound, try #require(low.optimum), 1e-7))
        }
    }

    @Test func reluRowsDoNotDependOnStability() throws {
        // One neuron, three pre-activation intervals: unstable, active, inactive.
        var b = GraphBuilder(inputName: "x", inputShape: [1, 1])
        let pre = try b.add(.linear(Linear(weight: Tensor(shape: [1, 1], scalars: [1]), bias: nil)), inputs: [b.inputValue], name: "fc")
        let out = try b.add(.relu, inputs: [pre], name: "relu")
        let graph = try b.build(output: out)
        var programs = [LinearProgram]()
        for (l, u) in [(-1.0, 3.0), (0.5, 3.0), (-2.0, -0.5)] {
            let bounds = [([l], [u]), ([l], [u]), ([max(l, 0)], [max(u, 0)])].map { (lower: $0.0, upper: $0.1) }
            let lp = try NetworkLP(network: network(graph), bounds: bounds)
            programs.append(lp.program)
            let line = try #require(lp.reluLines[1])
            let (s, t) = (line.slope[0], line.intercept[0])
            if l < 0 && u > 0 {
                // The upper line lies above max(ẑ, 0) at both ends: t is raised over −s·l and
                // u − s·u (compared here with the products' exact residuals, from fused
                // multiply-add: s·l = fl(s·l) + residual exactly).
                let sl = s * l, su = s * u
                let slResidual = (-sl).addingProduct(s, l), suResidual = (-su).addingProduct(s, u)
                #expect(t >= -sl && (t > -sl || slResidual >= 0))
                #expect(t + su >= u && (t + su > u || suResidual >= 0))
                #expect(s > 0 && s < 1)
            } else if l >= 0 {
                #expect(s == 1 && t == 0)
            } else {
                #expect(s == 0 && t == 0)
            }
        }
        for p in programs.dropFirst() {
            #expect(p.rowCount == programs[0].rowCount && p.columnCount == programs[0].columnCount)
            for i in 0..<p.rowCount {
                #expect(p.rowBounds[i].lower == programs[0].rowBounds[i].lower)  // same row kinds, same order
                #expect(p.rowColumns[i].first == programs[0].rowColumns[i].first)
            }
        }
    }

    @Test func unsupportedNetworksAndBadBoundsAreErrors() throws {
        let withMaxPool = try RandomNetworks.convolutional(seed: 1)
        let (lower, upper) = Self.box(withMaxPool, seed: 1, radius: 0.1)
        let bounded = BoundedNetwork(network: network(withMaxPool), lower: lower, upper: upper)
        #expect {
            try NetworkLP(network: bounded.network, bounds: bounded.bounds)
        } throws: { error in
            guard case .unsupportedNetwork(let node, let detail)? = error as? LPError else { return false }
            return node == "max" && detail.contains("MaxPool")
        }

        let dense = try RandomNetworks.dense(seed: 2)
        let (l, u) = Self.box(dense, seed: 2, radius: 0.1)
        var bounds = BoundedNetwork(network: network(dense), lower: l, upper: u).bounds
        #expect(throws: LPError.self) { try NetworkLP(network: network(dense), bounds: Array(bounds.dropLast())) }
        let good = bounds
        bounds[2].lower[0] = bounds[2].upper[0] + 1
        #expect(throws: LPError.self) { try NetworkLP(network: network(dense), bounds: bounds) }
        bounds = good
        bounds[1].upper[3] = .infinity
        #expect(throws: LPError.self) { try NetworkLP(network: network(dense), bounds: bounds) }
        bounds = good
        bounds[1].upper.removeLast()
        #expect(throws: LPError.self) { try NetworkLP(network: network(dense), bounds: bounds) }

        let lp = try NetworkLP(network: network(dense), bounds: good)
        #expect(throws: LPError.self) { try lp.column(value: dense.values.count, element: 0) }
        #expect(throws: LPError.self) { try lp.column(value: 0, element: -1) }
        #expect(throws: LPError.self) { try lp.solveBound(of: 1, neuron: 1000, side: .lower) }
        #expect(throws: LPError.self) { try lp.solveMinimum(of: [1]) }
        #expect(throws: LPError.self) { try lp.solveMinimum(of: [.nan, 0, 0]) }
        #expect(throws: LPError.self) { try lp.dualBound(y: [0], objective: .none) }

        // Constant radii only on Linear and ChannelAffine nodes, one radius per constant.
        var wrongNode = network(dense)
        wrongNode.constantRadii[1] = ConstantRadius(coefficients: [], offsets: [])  // node 1 is a ReLU
        #expect(throws: LPError.self) { try NetworkLP(network: wrongNode, bounds: good) }
        var wrongCount = network(dense)
        wrongCount.constantRadii[0] = ConstantRadius(coefficients: [0.1], offsets: [])
        #expect(throws: LPError.self) { try NetworkLP(network: wrongCount, bounds: good) }
    }

    @Test func constantRadiiMakeRangedRows() throws {
        let dense = try RandomNetworks.dense(seed: 6, inputs: 3, hidden: [4], outputs: 2)
        let (lower, upper) = Self.box(dense, seed: 6, radius: 0.5)
        let bounded = BoundedNetwork(network: network(dense), lower: lower, upper: upper)
        guard case .linear(let first) = dense.nodes[0].operation else { Issue.record("node 0 is not linear"); return }
        var withRadii = network(dense)
        let r = 1e-6, rb = 2e-6
        withRadii.constantRadii[0] = ConstantRadius(coefficients: [Double](repeating: r, count: first.weight.count),
                                                    offsets: [Double](repeating: rb, count: first.outFeatures))
        let plain = try NetworkLP(network: bounded.network, bounds: bounded.bounds)
        let ranged = try NetworkLP(network: withRadii, bounds: bounded.bounds)
        let rho = zip(lower, upper).map { max(abs($0), abs($1)) }.reduce(0, +)
        for i in ranged.rows(ofNode: 0) {
            let b = plain.program.rowBounds[i].lower
            #expect(plain.program.rowBounds[i].upper == b)
            let range = ranged.program.rowBounds[i]
            // The row admits at least b ± (r Σρ + r_b), and not much more.
            #expect(range.lower <= b - (r * rho + rb) * (1 - 1e-12))
            #expect(range.upper >= b + (r * rho + rb) * (1 - 1e-12))
            #expect(range.upper - range.lower <= 2 * (r * rho + rb) * (1 + 1e-9))
        }
        // Rows of other nodes are unchanged.
        for i in ranged.rowStart[1]..<ranged.program.rowCount { #expect(ranged.program.rowBounds[i] == plain.program.rowBounds[i]) }
        // The looser LP bounds less tightly.
        let tight = try #require(try plain.solveBound(of: dense.output, neuron: 0, side: .lower).bound)
        let loose = try #require(try ranged.solveBound(of: dense.output, neuron: 0, side: .lower).bound)
        #expect(loose <= tight + 1e-12)
    }
}
