import Evident
import EvidentTestSupport
import Foundation
import Testing

/// Branch and cut, on plain programs (against brute-force enumeration of the integer points)
/// and on small ReLU networks (against brute force over their linear pieces).
struct MILPTests {
    @Test func integerProgramMatchesEnumeration() throws {
        // maximise 5a + 4b + 3c  s.t.  2a + 3b + c ≤ 5,  4a + b + 2c ≤ 11,  3a + 4b + 2c ≤ 8,
        // a, b, c integers in [0, 3].
        let objective: [Double] = [5, 4, 3]
        let rows: [([Double], Double)] = [([2, 3, 1], 5), ([4, 1, 2], 11), ([3, 4, 2], 8)]
        var lp = LinearProgram(sense: .maximise)
        for c in objective {
            let j = try lp.addColumn(bounds: .double(0, 3), objective: c)
            try lp.setInteger(column: j)
        }
        for (a, b) in rows { try lp.addRow(columns: [0, 1, 2], coefficients: a, bounds: .upper(b)) }
        var best = -Double.infinity
        var bestPoint = [Double]()
        for a in 0...3 { for b in 0...3 { for c in 0...3 {
            let x = [Double(a), Double(b), Double(c)]
            guard rows.allSatisfy({ zip($0.0, x).map(*).reduce(0, +) <= $0.1 }) else { continue }
            let value = zip(objective, x).map(*).reduce(0, +)
            if value > best { best = value; bestPoint = x }
        } } }
        let solution = try lp.solveInteger()
        #expect(solution.status == .optimal)
        let incumbent = try #require(solution.incumbent)
        #expect(close(incumbent.objectiveValue, best))
        #expect(close(incumbent.columnValues, bestPoint))
        #expect(close(solution.bestBound, best))
        // The LP relaxation is at least as good (maximising), and fractional here.
        let relaxation = try lp.solve()
        #expect(relaxation.objectiveValue >= best - 1e-9)
    }

    @Test func infeasibleAndInvalidIntegerPrograms() throws {
        var lp = LinearProgram()
        try lp.addColumn(bounds: .double(0, 1), objective: 1)
        try lp.setInteger(column: 0)
        try lp.addRow(columns: [0], coefficients: [2], bounds: .fixed(1))  // 2x = 1 has no integer solution
        let solution = try lp.solveInteger()
        #expect(solution.status == .infeasible)
        #expect(solution.incumbent == nil)
        #expect(solution.bestBound == .infinity)

        var fractional = LinearProgram()
        try fractional.addColumn(bounds: .double(0, 1.5))
        try fractional.setInteger(column: 0)
        #expect(throws: LPError.fractionalIntegerBounds(column: 0, lower: 0, upper: 1.5)) { try fractional.solveInteger() }
        #expect(throws: LPError.self) { try lp.solveInteger(timeLimit: .zero) }
        #expect(throws: LPError.self) { try lp.solveInteger(relativeGap: -1) }
        #expect(throws: LPError.self) { try lp.setInteger(column: 3) }
    }

    /// `inputs → hidden (ReLU) → 1` on `[1, inputs]`, seeded.
    static func reluNetwork(seed: UInt64, inputs: Int, hidden: [Int]) throws -> Graph {
        var rng = SeededGenerator(seed: seed)
        var b = GraphBuilder(inputName: "x", inputShape: [1, inputs])
        var v = b.inputValue, width = inputs
        for (i, h) in (hidden + [1]).enumerated() {
            v = try b.add(.linear(Linear(weight: rng.tensor([h, width]), bias: rng.tensor([h], -0.5...0.5))),
                          inputs: [v], name: "fc\(i)")
            if i < hidden.count { v = try b.add(.relu, inputs: [v], name: "relu\(i)") }
            width = h
        }
        return try b.build(output: v)
    }

    /// The minimum of a one-hidden-layer network of two inputs over `[-1, 1]²`: the function is
    /// affine on every cell of the arrangement of the hidden neurons' lines, so its minimum is
    /// attained at a vertex of some cell: a corner of the box, a line meeting an edge, or two
    /// lines meeting inside the box.
    static func vertexMinimum(_ graph: Graph, sign: Double) throws -> Double {
        guard case .linear(let first) = graph.nodes[0].operation else { return .nan }
        let w = first.weight.scalars, b = first.bias.scalars
        var candidates: [[Double]] = [[-1, -1], [-1, 1], [1, -1], [1, 1]]
        let h = first.outFeatures
        for i in 0..<h {
            let (a1, a2, c) = (w[2 * i], w[2 * i + 1], b[i])
            for edge in [-1.0, 1.0] {
                if a2 != 0 { candidates.append([edge, -(c + a1 * edge) / a2]) }
                if a1 != 0 { candidates.append([-(c + a2 * edge) / a1, edge]) }
            }
            for k in (i + 1)..<h {
                let (d1, d2, e) = (w[2 * k], w[2 * k + 1], b[k])
                let det = a1 * d2 - a2 * d1
                if det != 0 { candidates.append([(-c * d2 + a2 * e) / det, (-a1 * e + c * d1) / det]) }
            }
        }
        let inside = candidates.filter { $0.allSatisfy { abs($0) <= 1 + 1e-12 } }.map { $0.map { min(1, max(-1, $0)) } }
        let values = try Evaluator(graph: graph).evaluate(inside.flatMap { $0 }, batch: inside.count)
        return values.map { sign * $0 }.min()!
    }

    /// The minimum of a network with ReLU layers over a box, by enumerating every activation
    /// pattern: on the set of inputs with a given pattern, the network is affine, and the set
    /// is a polytope (each neuron's pre-activation, affine in the input given the earlier
    /// pattern, has the pattern's sign); one small LP per pattern gives its minimum.
    static func patternMinimum(_ graph: Graph, lower: [Double], upper: [Double], sign: Double) throws -> Double {
        let layers = graph.nodes.compactMap { node -> Linear? in
            if case .linear(let l) = node.operation { return l } else { return nil }
        }
        let n = lower.count
        let hiddenCounts = layers.dropLast().map(\.outFeatures)
        let total = hiddenCounts.reduce(0, +)
        var best = Double.infinity
        for pattern in 0..<(1 << total) {
            var lp = LinearProgram()
            for i in 0..<n { try lp.addColumn(bounds: .double(lower[i], upper[i])) }
            // Affine expressions (coefficients over x, constant) of the current layer's inputs.
            var expressions = (0..<n).map { i -> ([Double], Double) in
                var a = [Double](repeating: 0, count: n); a[i] = 1; return (a, 0)
            }
            var bit = 0
            for (index, layer) in layers.enumerated() {
                var next = [([Double], Double)]()
                for o in 0..<layer.outFeatures {
                    var a = [Double](repeating: 0, count: n), c = layer.bias.scalars[o]
                    for k in 0..<layer.inFeatures {
                        let weight = layer.weight.scalars[o * layer.inFeatures + k]
                        for i in 0..<n { a[i] += weight * expressions[k].0[i] }
                        c += weight * expressions[k].1
                    }
                    next.append((a, c))
                }
                if index == layers.count - 1 {
                    for i in 0..<n { try lp.setObjective(column: i, coefficient: sign * next[0].0[i]) }
                    try lp.setObjectiveConstant(sign * next[0].1)
                    break
                }
                for o in 0..<next.count {
                    let active = (pattern >> bit) & 1 == 1
                    bit += 1
                    try lp.addRow(columns: Array(0..<n), coefficients: next[o].0,
                                  bounds: active ? .lower(-next[o].1) : .upper(-next[o].1))
                    if !active { next[o] = ([Double](repeating: 0, count: n), 0) }
                }
                expressions = next
            }
            let solution = try lp.solve()
            if solution.status == .optimal { best = min(best, solution.objectiveValue) }
        }
        return best
    }

    /// The worst of several constraints (a VNN-LIB clause): with `y ≤ d₁` and `−y ≤ d₂` on a
    /// one-output network whose range over the (connected) box is `[m, M]`, the minimum of
    /// `max(y − d₁, −y − d₂)` is attained at `y = clip((d₁ − d₂)/2, m, M)`.
    @Test func worstConstraintMatchesClosedForm() throws {
        let lower = [Double](repeating: -1, count: 3), upper = [Double](repeating: 1, count: 3)
        for seed in UInt64(0)..<4 {
            let graph = try Self.reluNetwork(seed: 40 + seed, inputs: 3, hidden: [4, 3])
            let m = try Self.patternMinimum(graph, lower: lower, upper: upper, sign: 1)
            let big = -(try Self.patternMinimum(graph, lower: lower, upper: upper, sign: -1))
            let bounded = BoundedNetwork(network: network(graph), lower: lower, upper: upper)
            let lp = try NetworkLP(network: bounded.network, bounds: bounded.bounds)
            for target in [m - 1, m + 0.4 * (big - m), big + 1] {
                let (d1, d2) = (target + 0.5, -target + 0.5)
                let t = min(big, max(m, target))
                let exact = max(t - d1, -t - d2)
                let result = try lp.milp(minimisingWorstOf: [(coefficients: [1], bound: d1), (coefficients: [-1], bound: d2)])
                #expect(result.status == .optimal)
                let objective = try #require(result.objective)
                #expect(abs(objective - exact) <= 1e-6 * max(1, abs(exact)), "seed \(seed): MILP \(objective), closed form \(exact)")
                let input = zip(try #require(result.input), zip(lower, upper)).map { min($1.1, max($1.0, $0)) }
                let y = try Evaluator(graph: graph).evaluate(input)[0]
                #expect(abs(max(y - d1, -y - d2) - exact) <= 1e-6 * max(1, abs(exact)))
            }
        }
    }

    func checkMILP(_ graph: Graph, lower: [Double], upper: [Double], reference: (Double) throws -> Double) throws {
        let bounded = BoundedNetwork(network: network(graph), lower: lower, upper: upper)
        let lp = try NetworkLP(network: bounded.network, bounds: bounded.bounds)
        let evaluator = Evaluator(graph: graph)
        for sign in [1.0, -1.0] {
            let exact = try reference(sign)
            let result = try lp.milp(minimising: [sign])
            #expect(result.status == .optimal)
            let objective = try #require(result.objective)
            #expect(abs(objective - exact) <= 1e-6 * max(1, abs(exact)), "MILP \(objective), brute force \(exact)")
            #expect(result.bestBound <= objective + 1e-9 && result.bestBound >= exact - 1e-6)
            // The incumbent is a real input: in the box, and the network's value there is the optimum.
            let input = try #require(result.input)
            #expect(zip(input, zip(lower, upper)).allSatisfy { $0 >= $1.0 - 1e-7 && $0 <= $1.1 + 1e-7 })
            let clipped = zip(input, zip(lower, upper)).map { min($1.1, max($1.0, $0)) }
            let value = sign * (try evaluator.evaluate(clipped))[0]
            #expect(abs(value - exact) <= 1e-6 * max(1, abs(exact)), "f(incumbent) = \(value), minimum \(exact)")
            // The LP relaxation bounds the minimum from below.
            let relaxed = try #require(try lp.solveMinimum(of: [sign]).dualBound)
            #expect(relaxed <= exact + 1e-9)
            let unstable = graph.nodes.filter { $0.operation == .relu }.map { node -> Int in
                let (l, u) = bounded.bounds[node.inputs[0]]
                return l.indices.filter { l[$0] < 0 && u[$0] > 0 }.count
            }.reduce(0, +)
            #expect(result.binaryCount == unstable)
        }
    }

    @Test("one hidden layer: the MILP minimum is the minimum over the arrangement's vertices", arguments: 1...4)
    func oneHiddenLayer(_ seed: Int) throws {
        let graph = try Self.reluNetwork(seed: UInt64(seed), inputs: 2, hidden: [6])
        try checkMILP(graph, lower: [-1, -1], upper: [1, 1]) { try Self.vertexMinimum(graph, sign: $0) }
    }

    @Test("two hidden layers: the MILP minimum is the minimum over every activation pattern", arguments: 1...3)
    func twoHiddenLayers(_ seed: Int) throws {
        let graph = try Self.reluNetwork(seed: UInt64(100 + seed), inputs: 2, hidden: [4, 3])
        let lower = [-1.0, -0.5], upper = [0.5, 1.0]
        try checkMILP(graph, lower: lower, upper: upper) { try Self.patternMinimum(graph, lower: lower, upper: upper, sign: $0) }
    }
}
