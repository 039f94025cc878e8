import Testing
import EvidentIR
import EvidentEval
import EvidentBounds
import EvidentTestSupport

@Suite("Bounds with closed forms")
struct ClosedFormTests {
    /// For an affine network the lower bound of `c·y` over a box is exactly
    /// `c·b + Σ_i min(w_i l_i, w_i u_i)` with `w = Wᵀ c`: CROWN must attain it.
    @Test("CROWN is exact on affine networks", arguments: 0..<5)
    func affineExact(seed: Int) throws {
        var rng = SeededGenerator(seed: UInt64(seed))
        var b = GraphBuilder(inputName: "x", inputShape: [1, 4])
        let w1 = rng.tensor([6, 4]), b1 = rng.tensor([6]), w2 = rng.tensor([3, 6]), b2 = rng.tensor([3])
        var v = try b.add(.linear(Linear(weight: w1, bias: b1)), inputs: [b.inputValue], name: "fc1")
        v = try b.add(.linear(Linear(weight: w2, bias: b2)), inputs: [v], name: "fc2")
        let graph = try b.build(output: v)
        let lower = rng.uniforms(4, -1...0), upper = lower.map { $0 + rng.uniform(0...1) }
        let c = rng.uniforms(3)
        let result = BoundPropagator(graph: graph).bounds(of: LinearSpecification(rows: 1, coefficients: c),
                                                          lower: lower, upper: upper, batch: 1)
        // Closed form: total weight W2 W1, total bias W2 b1 + b2.
        var expected = 0.0
        for i in 0..<3 { expected += c[i] * b2.scalars[i] }
        for k in 0..<6 {
            let back = (0..<3).reduce(0.0) { $0 + c[$1] * w2.scalars[$1 * 6 + k] }
            expected += back * b1.scalars[k]
        }
        for i in 0..<4 {
            let w = (0..<6).reduce(0.0) { acc, k in acc + (0..<3).reduce(0.0) { $0 + c[$1] * w2.scalars[$1 * 6 + k] } * w1.scalars[k * 4 + i] }
            expected += min(w * lower[i], w * upper[i])
        }
        #expect(abs(result.lower[0] - expected) <= 1e-12 * max(1, abs(expected)))
    }

    /// One ReLU `y = relu(x)` on `[l, u]` with `l < 0 < u`: the upper bound is the chord
    /// value at `u`, i.e. `u`, and the CROWN lower bound with the adaptive slope is
    /// `min(α l, α u)` with `α = 1` if `u > −l` else 0.
    @Test("single ReLU neuron", arguments: [(-1.0, 2.0), (-2.0, 1.0), (0.5, 3.0), (-3.0, -1.0)])
    func singleNeuron(l: Double, u: Double) throws {
        var b = GraphBuilder(inputName: "x", inputShape: [1])
        let y = try b.add(.relu, inputs: [b.inputValue], name: "relu")
        let graph = try b.build(output: y)
        let p = BoundPropagator(graph: graph)
        let low = p.bounds(of: .identity(outputs: 1), lower: [l], upper: [u], batch: 1).lower[0]
        let high = -p.bounds(of: LinearSpecification.identity(outputs: 1).negated, lower: [l], upper: [u], batch: 1).lower[0]
        let alpha = u > -l ? 1.0 : 0.0
        let expectedLow = l >= 0 ? l : (u <= 0 ? 0 : min(alpha * l, alpha * u))
        #expect(abs(low - expectedLow) <= 1e-15)
        #expect(abs(high - max(u, 0)) <= 1e-15)
    }

    @Test("α-CROWN never loosens CROWN and reaches the optimum on a one-neuron network")
    func alphaImproves() throws {
        // y = relu(x) - 0.5 x on [-1, 2]: min is at x = ... ; with α = 1 CROWN gives 0.5·(-1) = -0.5 vs true -? 
        var b = GraphBuilder(inputName: "x", inputShape: [1, 1])
        let r = try b.add(.relu, inputs: [b.inputValue], name: "relu")
        let y = try b.add(.linear(Linear(weight: Tensor(shape: [1, 1], scalars: [1]), bias: nil)), inputs: [r], name: "id")
        let graph = try b.build(output: y)
        let p = BoundPropagator(graph: graph)
        // Box [-2, 1]: the adaptive slope is 0 (u < -l), giving bound 0 = the true minimum.
        let crown = p.bounds(of: .identity(outputs: 1), lower: [-2], upper: [1], batch: 1).lower[0]
        let alpha = p.bounds(of: .identity(outputs: 1), lower: [-2], upper: [1], batch: 1,
                             options: BoundOptions(method: .alphaCrown, iterations: 10)).lower[0]
        #expect(crown == 0)
        #expect(alpha >= crown)
        // Box [-1, 2]: the adaptive slope is 1, bound -1; α-CROWN moves α to 0 and reaches 0.
        let crown2 = p.bounds(of: .identity(outputs: 1), lower: [-1], upper: [2], batch: 1).lower[0]
        let alpha2 = p.bounds(of: .identity(outputs: 1), lower: [-1], upper: [2], batch: 1,
                              options: BoundOptions(method: .alphaCrown, iterations: 20, learningRate: 0.2)).lower[0]
        #expect(abs(crown2 - -1) <= 1e-15)
        #expect(alpha2 > -1e-9 && alpha2 <= 1e-12)
    }

    @Test("batched boxes give the same bounds as boxes one by one")
    func batchingIsTransparent() throws {
        let graph = try RandomNetworks.convolutional(seed: 5)
        let p = BoundPropagator(graph: graph)
        var rng = SeededGenerator(seed: 9)
        let n = graph.values[graph.input].count
        let lows = (0..<3).map { _ in rng.uniforms(n, -1...0) }
        let ups = lows.map { $0.map { $0 + rng.uniform(0...0.2) } }
        let spec = LinearSpecification.identity(outputs: graph.values[graph.output].count)
        let batched = p.bounds(of: spec, lower: Array(lows.joined()), upper: Array(ups.joined()), batch: 3)
        for k in 0..<3 {
            let single = p.bounds(of: spec, lower: lows[k], upper: ups[k], batch: 1)
            for r in 0..<spec.rows {
                #expect(abs(single.lower[r] - batched.lower[k * spec.rows + r]) <= 1e-9 * max(1, abs(single.lower[r])))
            }
        }
    }
}
