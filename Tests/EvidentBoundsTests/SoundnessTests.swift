import Testing
import EvidentIR
import EvidentEval
@testable import EvidentBounds
import EvidentTestSupport

/// Samples points of each box (corners half of the time, uniform inside otherwise) and checks
/// that every value of the graph and every specification row stays within the computed bounds.
func checkContainment(_ graph: Graph, seed: UInt64, boxes: Int = 2, samples: Int = 10_000,
                              nested: Bool = false, options: BoundOptions) throws {
    var rng = SeededGenerator(seed: seed)
    let evaluator = Evaluator(graph: graph)
    let n = evaluator.inputCount, m = evaluator.outputCount
    var lower = [Double](), upper = [Double]()
    for b in 0..<boxes {
        if nested && b > 0 {
            // A sub-box of box 0 differing in at most an eighth of the coordinates (a
            // "patch"): those fixed at a point of box 0 or shrunk.
            let changed = Set((0..<n).shuffled(using: &rng).prefix(max(1, n / 8)))
            for i in 0..<n {
                let (l, u) = (lower[i], upper[i])
                switch changed.contains(i) ? Int.random(in: 0..<2, using: &rng) : 2 {
                case 0:
                    let x = rng.uniform(l...u)
                    lower.append(x)
                    upper.append(x)
                case 1:
                    let x = rng.uniform(l...u)
                    lower.append(x)
                    upper.append(rng.uniform(x...u))
                default:
                    lower.append(l)
                    upper.append(u)
                }
            }
            continue
        }
        let radius = rng.uniform(0.01...0.3)
        let centre = rng.uniforms(n)
        lower += centre.map { $0 - radius * rng.uniform(0.2...1) }
        upper += centre.map { $0 + radius * rng.uniform(0.2...1) }
    }
    let spec = LinearSpecification(rows: 3, coefficients: rng.uniforms(3 * m))
    let propagator = BoundPropagator(graph: graph)
    if nested {
        // The sub-boxes do reuse box 0's rows.
        let parents = propagator.containingBoxes(IntervalBounds(lower: lower, upper: upper), batch: boxes)
        #expect(parents == [nil] + Array(repeating: 0, count: boxes - 1))
    }
    let result = propagator.bounds(of: spec, lower: lower, upper: upper, batch: boxes, options: options)
    let perBox = samples / boxes
    for b in 0..<boxes {
        var points = [Double]()
        points.reserveCapacity(perBox * n)
        for s in 0..<perBox {
            for i in 0..<n {
                let (l, u) = (lower[b * n + i], upper[b * n + i])
                points.append(s % 2 == 0 ? (Bool.random(using: &rng) ? l : u) : rng.uniform(l...u))
            }
        }
        let values = try evaluator.evaluateAll(points, batch: perBox)
        var violations = 0
        for (v, bounds) in result.intermediate.enumerated() {
            guard let bounds else { continue }
            let size = graph.values[v].count
            let slack = options.precision == .float32 ? 1e-5 : 1e-9
            for s in 0..<perBox {
                for j in 0..<size {
                    let x = values[v][s * size + j]
                    if x < bounds.lower[b * size + j] - slack * max(1, abs(x)) || x > bounds.upper[b * size + j] + slack * max(1, abs(x)) {
                        violations += 1
                    }
                }
            }
        }
        #expect(violations == 0, "\(violations) sampled values outside intermediate bounds (box \(b))")
        var specViolations = 0
        let y = values[graph.output]
        for s in 0..<perBox {
            for r in 0..<spec.rows {
                var value = 0.0
                for j in 0..<m { value += spec.coefficients[r * m + j] * y[s * m + j] }
                let slack = options.precision == .float32 ? 1e-5 : 1e-9
                if value < result.lower[b * spec.rows + r] - slack * max(1, abs(value)) { specViolations += 1 }
            }
        }
        #expect(specViolations == 0, "\(specViolations) sampled specification values below the bound (box \(b))")
    }
}

@Suite("Bound soundness on random networks")
struct SoundnessTests {
    static let methods: [BoundOptions] = [BoundOptions(method: .ibp), BoundOptions(method: .crown),
                                          BoundOptions(method: .alphaCrown, iterations: 5),
                                          BoundOptions(method: .alphaCrown, iterations: 5, alphaScope: .final)]

    @Test("dense networks", arguments: 0..<4, 0..<4)
    func dense(seed: Int, method: Int) throws {
        let graph = try RandomNetworks.dense(seed: UInt64(seed), inputs: 5, hidden: [12, 10, 8], outputs: 4)
        try checkContainment(graph, seed: UInt64(100 + seed), options: Self.methods[method])
    }

    /// Boxes inside another box of the batch reuse its CROWN rows (re-concretised).
    @Test("nested boxes in one batch", arguments: 0..<3)
    func nestedBoxes(seed: Int) throws {
        let dense = try RandomNetworks.dense(seed: UInt64(seed), inputs: 16, hidden: [12, 10, 8], outputs: 4)
        try checkContainment(dense, seed: UInt64(300 + seed), boxes: 4, nested: true, options: BoundOptions(method: .crown))
        let conv = try RandomNetworks.convolutional(seed: UInt64(seed))
        try checkContainment(conv, seed: UInt64(400 + seed), boxes: 4, nested: true, options: BoundOptions(method: .crown))
    }

    @Test("convolutional residual networks", arguments: 0..<3, 0..<4)
    func convolutional(seed: Int, method: Int) throws {
        let graph = try RandomNetworks.convolutional(seed: UInt64(seed))
        try checkContainment(graph, seed: UInt64(200 + seed), options: Self.methods[method])
    }

    /// Float32 coefficient matrices: the same containment up to float32 rounding (1e-5 relative).
    @Test("Float32 passes", arguments: 0..<3, [BoundMethod.crown, .alphaCrown])
    func float32(seed: Int, method: BoundMethod) throws {
        let options = BoundOptions(method: method, iterations: 5, precision: .float32)
        let dense = try RandomNetworks.dense(seed: UInt64(seed), inputs: 5, hidden: [12, 10, 8], outputs: 4)
        try checkContainment(dense, seed: UInt64(500 + seed), options: options)
        let conv = try RandomNetworks.convolutional(seed: UInt64(seed))
        try checkContainment(conv, seed: UInt64(600 + seed), options: options)
    }
}
