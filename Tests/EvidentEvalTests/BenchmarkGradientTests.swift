import Evident
import EvidentTestSupport
import Foundation
import Testing

/// Reverse-mode gradients of real networks against central finite differences.
///
/// The networks are piecewise affine (Conv, Gemm, Add, ReLU, ...): between ReLU switches the
/// function is exactly affine, so a central difference that crosses no switch equals the
/// directional derivative in real arithmetic and its only error is the rounding of the two
/// forward evaluations. Each evaluation of `cᵀf` carries an error of roughly
/// `1e-15 · Σ|c_j f_j|` or less (Float64, outputs of magnitude ≤ ~20, a few thousand terms per
/// sum), so with a step `h = 1e-6` the difference quotient is within ~1e-8 of the derivative.
/// The tolerance `1e-6 · max(1, |g_i|)` leaves a hundredfold margin over that, and is still far
/// below what any real gradient bug produces (errors of the order of `|g_i|` itself).
///
/// Rather than hoping no ReLU switches within `±h`, the test checks it: every ReLU input is
/// evaluated at `x ± h e_i` together with the difference, and a coordinate whose activation
/// pattern differs from that at `x` is skipped (and counted; only a few may be skipped).
struct GradientCase: Sendable, CustomTestStringConvertible {
    /// The network, relative to the shared benchmarks or (when `inRepository`) the repository.
    var onnx: String
    /// A property whose first input box holds the points.
    var vnnlib: String
    var inRepository: Bool
    /// How many input coordinates to difference (all when the input is smaller).
    var coordinates: Int
    var seed: UInt64

    func path(_ relative: String) -> String {
        inRepository ? SharedBenchmarks.repositoryRoot.appendingPathComponent(relative).path : SharedBenchmarks.path(relative)
    }

    var testDescription: String { (onnx as NSString).lastPathComponent }

    static let shared = [
        GradientCase(onnx: "cifar10_resnet/onnx/resnet_2b.onnx", vnnlib: "cifar10_resnet/vnnlib/prop_0_eps_0.008.vnnlib",
                     inRepository: false, coordinates: 24, seed: 1),
        GradientCase(onnx: "oval21/onnx/cifar_base_kw.onnx",
                     vnnlib: "oval21/vnnlib/cifar_base_kw-img4549-eps0.00392156862745098.vnnlib",
                     inRepository: false, coordinates: 24, seed: 2),
        GradientCase(onnx: "acasxu/ACASXU_run2a_1_1_batch_2000.onnx", vnnlib: "acasxu/prop_1.vnnlib",
                     inRepository: false, coordinates: 5, seed: 3),
    ]

    static let repository = [
        GradientCase(onnx: "Networks/digits_resnet/digits_resnet.onnx", vnnlib: "Specs/digits_resnet_img2_eps0.05.vnnlib",
                     inRepository: true, coordinates: 64, seed: 4),
    ]
}

@Suite("Gradients of benchmark networks")
struct BenchmarkGradientTests {
    static let points = 3
    static let step = 1e-6

    @Test("shared benchmark networks",
          .enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)),
          arguments: GradientCase.shared)
    func sharedNetwork(_ testCase: GradientCase) throws {
        try check(testCase)
    }

    @Test("repository networks", arguments: GradientCase.repository)
    func repositoryNetwork(_ testCase: GradientCase) throws {
        try check(testCase)
    }

    private func check(_ testCase: GradientCase) throws {
        let network = try loadNetwork(path: testCase.path(testCase.onnx))
        let property = try loadProperty(path: testCase.path(testCase.vnnlib), for: network)
        let region = try #require(property.regions.first)
        let graph = network.graph
        let evaluator = Evaluator(graph: graph)
        let n = evaluator.inputCount, m = evaluator.outputCount
        let reluInputs = graph.nodes.filter { $0.operation == .relu }.map { $0.inputs[0] }
        let h = Self.step
        var rng = SeededGenerator(seed: testCase.seed)
        var checked = 0, skipped = 0, worst = 0.0
        for _ in 0..<Self.points {
            // A point well inside the box, and a random linear function of the outputs.
            let x = (0..<n).map { i in region.lower[i] + (region.upper[i] - region.lower[i]) * rng.uniform(0.1...0.9) }
            let c = rng.uniforms(m)
            let (_, gradient) = try evaluator.gradient(of: c, at: x)
            try #require(gradient.count == n)

            var coordinates = Array(0..<n)
            if testCase.coordinates < n {
                coordinates.shuffle(using: &rng)
                coordinates = Array(coordinates.prefix(testCase.coordinates)).sorted()
            }
            // Batch: x, then x + h e_i and x - h e_i for every chosen coordinate.
            var batch = x
            for i in coordinates {
                var up = x, down = x
                up[i] += h
                down[i] -= h
                batch += up + down
            }
            let count = 1 + 2 * coordinates.count
            let values = try evaluator.evaluateAll(batch, batch: count)
            let outputs = values[graph.output]

            func samePattern(_ item: Int) -> Bool {
                reluInputs.allSatisfy { v in
                    let size = graph.values[v].count, all = values[v]
                    return (0..<size).allSatisfy { (all[$0] > 0) == (all[item * size + $0] > 0) }
                }
            }
            func objective(_ item: Int) -> Double {
                (0..<m).reduce(0) { $0 + c[$1] * outputs[item * m + $1] }
            }
            for (k, i) in coordinates.enumerated() {
                let up = 1 + 2 * k, down = 2 + 2 * k
                guard samePattern(up) && samePattern(down) else {
                    skipped += 1
                    continue
                }
                checked += 1
                let difference = (objective(up) - objective(down)) / (2 * h)
                worst = max(worst, abs(difference - gradient[i]) / max(1, abs(gradient[i])))
                #expect(abs(difference - gradient[i]) <= 1e-6 * max(1, abs(gradient[i])),
                        "\(testCase.testDescription) X_\(i): finite difference \(difference), gradient \(gradient[i])")
            }
        }
        // A ReLU switching within ±1e-6 of a random point is rare: most coordinates must be checked.
        #expect(skipped * 10 <= checked, "\(skipped) coordinates skipped at ReLU switches, \(checked) checked")
        print("gradient check: \(testCase.testDescription): \(checked) coordinates checked, \(skipped) skipped at ReLU switches, worst error \(String(format: "%.1e", worst)) (tolerance 1e-6)")
    }
}
