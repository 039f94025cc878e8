import Testing
import EvidentIR
import EvidentEval
import EvidentTestSupport

/// Central finite differences of `cᵀ f` along each input coordinate, compared with the
/// reverse-mode gradient. Points where a ReLU or MaxPool switches within the step would
/// make finite differences meaningless; the step is small enough that random points avoid them.
func checkGradientAgainstFiniteDifferences(_ graph: Graph, seed: UInt64, points: Int = 3,
                                           inputRange: ClosedRange<Double> = -1...1,
                                           coordinates: Int = 40) throws {
    let evaluator = Evaluator(graph: graph)
    var rng = SeededGenerator(seed: seed)
    for _ in 0..<points {
        let x = rng.uniforms(evaluator.inputCount, inputRange)
        let c = rng.uniforms(evaluator.outputCount)
        let (_, gradient) = try evaluator.gradient(of: c, at: x)
        let h = 1e-6 * max(1, inputRange.upperBound - inputRange.lowerBound)
        let step = max(1, evaluator.inputCount / coordinates)
        for i in stride(from: 0, to: evaluator.inputCount, by: step) {
            var up = x, down = x
            up[i] += h
            down[i] -= h
            let fu = try evaluator.evaluate(up), fd = try evaluator.evaluate(down)
            let difference = zip(c, zip(fu, fd)).reduce(0) { $0 + $1.0 * ($1.1.0 - $1.1.1) } / (2 * h)
            #expect(abs(difference - gradient[i]) <= 1e-5 * max(1, abs(gradient[i])),
                    "coordinate \(i): finite difference \(difference), gradient \(gradient[i])")
        }
    }
}

@Suite("Gradients")
struct GradientTests {
    @Test("dense networks", arguments: 0..<5)
    func dense(seed: Int) throws {
        try checkGradientAgainstFiniteDifferences(try RandomNetworks.dense(seed: UInt64(seed)), seed: UInt64(seed))
    }

    @Test("convolutional residual networks", arguments: 0..<5)
    func convolutional(seed: Int) throws {
        try checkGradientAgainstFiniteDifferences(try RandomNetworks.convolutional(seed: UInt64(seed)), seed: UInt64(seed))
    }

    @Test("batched gradients equal one-by-one gradients")
    func batched() throws {
        let graph = try RandomNetworks.convolutional(seed: 11)
        let evaluator = Evaluator(graph: graph)
        var rng = SeededGenerator(seed: 12)
        let xs = (0..<4).map { _ in rng.uniforms(evaluator.inputCount) }
        let c = rng.uniforms(evaluator.outputCount)
        let (outputs, gradients) = try evaluator.gradient(of: c, at: Array(xs.joined()), batch: 4)
        for (k, x) in xs.enumerated() {
            let (o, g) = try evaluator.gradient(of: c, at: x)
            #expect(zip(o, outputs[(k * o.count)..<((k + 1) * o.count)]).allSatisfy { abs($0 - $1) <= 1e-12 * max(1, abs($0)) })
            #expect(zip(g, gradients[(k * g.count)..<((k + 1) * g.count)]).allSatisfy { abs($0 - $1) <= 1e-12 * max(1, abs($0)) })
        }
    }

    @Test("wrong input and coefficient sizes are errors")
    func sizeErrors() throws {
        let evaluator = Evaluator(graph: try RandomNetworks.dense(seed: 1))
        #expect(throws: EvaluationError.inputSize(expected: 4, batch: 1, got: 3)) { try evaluator.evaluate([1, 2, 3]) }
        #expect(throws: EvaluationError.self) { try evaluator.gradient(of: [1], at: [1, 2, 3, 4]) }
    }
}
