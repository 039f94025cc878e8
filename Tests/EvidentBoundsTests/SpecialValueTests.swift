import EvidentBounds
import EvidentEval
import EvidentIR
import EvidentTestSupport
import Testing

/// Bounds on boxes and weights with the floating-point special values: ±0, subnormals, ±∞
/// and NaN. The loaders refuse non-finite weights and bounds, so these reach the engine only
/// through the library; even then no bound may exclude a value the network takes by more
/// than rounding (the engine rounds to nearest; the checker is what charges every rounding,
/// see Docs/Soundness.md), here a relative 1e-12 plus a few subnormal steps. A NaN bound says
/// nothing (every comparison with it is false, so it proves nothing), and the checks below
/// treat it so: a bound excludes y only when `low > y + slack` or `high < y - slack`.
@Suite("Bounds with special values")
struct SpecialValueTests {
    static let methods: [BoundMethod] = [.ibp, .crown, .alphaCrown]

    /// x (2) -> Linear(3x2) -> ReLU -> Linear(2x3) -> y, with the given first-layer weights.
    static func network(_ w1: [Double], second w2: [Double] = [1, -1, 0.5, -0.25, 2, 1]) throws -> Graph {
        var b = GraphBuilder(inputName: "x", inputShape: [2])
        var v = try b.add(.linear(Linear(weight: Tensor(shape: [3, 2], scalars: w1), bias: Tensor(shape: [3], scalars: [0, -0.0, 0.1]))),
                          inputs: [b.inputValue], name: "fc1")
        v = try b.add(.relu, inputs: [v], name: "relu")
        v = try b.add(.linear(Linear(weight: Tensor(shape: [2, 3], scalars: w2), bias: nil)), inputs: [v], name: "fc2")
        return try b.build(output: v)
    }

    /// Lower and upper bounds of both outputs with `method`.
    static func bounds(_ graph: Graph, _ lower: [Double], _ upper: [Double], _ method: BoundMethod) -> (low: [Double], high: [Double]) {
        let p = BoundPropagator(graph: graph)
        var options = BoundOptions()
        options.method = method
        options.iterations = 5
        let low = p.bounds(of: .identity(outputs: 2), lower: lower, upper: upper, batch: 1, options: options).lower
        let high = p.bounds(of: LinearSpecification.identity(outputs: 2).negated, lower: lower, upper: upper, batch: 1,
                            options: options).lower.map { -$0 }
        return (low, high)
    }

    /// Points of the box (its corners, centre and random points; infinite ends replaced by
    /// large finite values) and the network's outputs there.
    static func samples(_ graph: Graph, _ lower: [Double], _ upper: [Double]) throws -> [[Double]] {
        func finite(_ v: Double) -> Double { v.isFinite ? v : (v > 0 ? 1e300 : -1e300) }
        let l = lower.map(finite), u = upper.map(finite)
        var points = [l, u, [l[0], u[1]], [u[0], l[1]], zip(l, u).map { $0 / 2 + $1 / 2 }]
        var rng = SeededGenerator(seed: 11)
        for _ in 0..<200 { points.append(zip(l, u).map { $0 + ($1 - $0) * rng.uniform(0...1) }) }
        let evaluator = Evaluator(graph: graph)
        return try points.filter { !$0.contains { $0.isNaN } }.map { try evaluator.evaluate($0) }
    }

    func expectNothingExcluded(_ graph: Graph, _ lower: [Double], _ upper: [Double],
                               sourceLocation: SourceLocation = #_sourceLocation) throws {
        let outputs = try Self.samples(graph, lower, upper)
        for method in Self.methods {
            let (low, high) = Self.bounds(graph, lower, upper, method)
            for y in outputs {
                for i in 0..<2 where !y[i].isNaN {
                    let slack = 1e-12 * (abs(y[i]) + abs(low[i]) + abs(high[i])) + 8 * Double.leastNonzeroMagnitude
                    #expect(!(low[i] > y[i] + slack) && !(high[i] < y[i] - slack),
                            "\(method): [\(low[i]), \(high[i])] excludes y\(i) = \(y[i]) on [\(lower), \(upper)]",
                            sourceLocation: sourceLocation)
                }
            }
        }
    }

    static let subnormal = Double.leastNonzeroMagnitude, subnormalLarge = Double.leastNormalMagnitude / 3

    @Test("±0 and subnormal weights", arguments: 0..<4)
    func signedZerosAndSubnormalWeights(_ variant: Int) throws {
        let weights: [[Double]] = [
            [0, -0.0, Self.subnormal, -Self.subnormal, 1, -1],
            [Self.subnormalLarge, -Self.subnormalLarge, -0.0, 0, Self.subnormal, 3],
            [1e-310, 1e308, -1e308, 1e-320, 0, 0],
            [-0.0, -0.0, -0.0, -0.0, -0.0, -0.0],
        ]
        try expectNothingExcluded(try Self.network(weights[variant]), [-1, -2], [1, 0.5])
    }

    @Test func subnormalSecondLayer() throws {
        let graph = try Self.network([1, -1, 0.5, 2, -1, 1], second: [Self.subnormal, -Self.subnormal, 0, -0.0, Self.subnormalLarge, 1])
        try expectNothingExcluded(graph, [-1, -1], [1, 1])
    }

    @Test("boxes with ±0, subnormal and degenerate ends")
    func specialBoxes() throws {
        let graph = try Self.network([1, -1, 0.5, 2, -1, 1])
        for (lower, upper) in [([-0.0, 0], [0.0, -0.0]), ([-Self.subnormal, 0], [Self.subnormal, Self.subnormalLarge]),
                               ([-0.0, -0.0], [-0.0, -0.0]), ([1e-300, -1e-300], [2e-300, 1e-300])] {
            try expectNothingExcluded(graph, lower, upper)
        }
        // A point box gives the point itself, exactly for an affine-then-ReLU network with
        // representable products.
        let (low, high) = Self.bounds(graph, [0.5, -0.25], [0.5, -0.25], .crown)
        let y = try Evaluator(graph: graph).evaluate([0.5, -0.25])
        #expect(low == y && high == y, "\(low) \(high) \(y)")
    }

    @Test("infinite box ends give infinite or NaN bounds, never a finite bound that excludes")
    func infiniteBoxes() throws {
        let graph = try Self.network([1, -1, 0.5, 2, -1, 0])
        for (lower, upper) in [([-Double.infinity, -1], [1, 1]), ([-1, -1], [Double.infinity, 1]),
                               ([-Double.infinity, -Double.infinity], [Double.infinity, Double.infinity])] {
            try expectNothingExcluded(graph, lower, upper)
        }
    }

    @Test("a NaN in the box or the weights proves nothing")
    func nanInputsAndWeights() throws {
        let finiteGraph = try Self.network([1, -1, 0.5, 2, -1, 1])
        for method in Self.methods {
            let (low, high) = Self.bounds(finiteGraph, [.nan, -1], [1, 1], method)
            // The only safe answers: NaN or unbounded; a finite number would claim something about an undefined box.
            #expect(low.allSatisfy { $0.isNaN || $0 == -.infinity } && high.allSatisfy { $0.isNaN || $0 == .infinity },
                    "\(method): \(low) \(high)")
        }
        for bad in [Double.nan, .infinity, -.infinity] {
            let graph = try Self.network([1, bad, 0.5, 2, -1, 1])
            try expectNothingExcluded(graph, [-1, -1], [1, 1])
        }
    }
}
