import Evident
import EvidentTestSupport
import Foundation

/// The networks of the differential runs: small enough that GLPK's MILP decides them in a
/// fraction of a second, varied enough to cover the verifier's operators and search paths.
enum TortureNetworks {
    enum Kind: String, CaseIterable {
        /// `RandomNetworks.dense`: 1–5 inputs, 1–3 hidden layers of 3–10 ReLUs.
        case dense
        /// Convolutions with padding, strides and a depthwise group, a per-channel affine map,
        /// a dense head (no pooling, so the MILP applies and evaluation is exact).
        case convolutional
        /// `RandomNetworks.residual` on a 1×4×4 image: a residual block with a projection.
        case residual
        /// `RandomNetworks.convolutional` on a 1×6×6 image: MaxPool, AveragePool, Pad,
        /// Concat, Transpose, division. No MILP (the LP has no MaxPool): sampling only.
        case pooled
    }

    /// The kind of instance `i` (dense most often: it is the fastest to decide exactly).
    static func kind(_ i: Int) -> Kind {
        switch i % 10 {
        case 0, 1, 2, 3, 4: .dense
        case 5, 6: .convolutional
        case 7, 8: .residual
        default: .pooled
        }
    }

    static func graph(_ kind: Kind, seed: UInt64, rng: inout SeededGenerator) throws -> Graph {
        switch kind {
        case .dense:
            let depth = rng.int(1..<4)
            return try RandomNetworks.dense(seed: seed, inputs: rng.int(1..<6), hidden: (0..<depth).map { _ in rng.int(3..<11) },
                                            outputs: rng.int(2..<5))
        case .convolutional:
            return try smallConvolutional(seed: seed, channels: rng.int(1..<3), size: rng.int(3..<6), outputs: rng.int(2..<5))
        case .residual:
            return try RandomNetworks.residual(seed: seed, channels: 1, size: 4, outputs: rng.int(2..<4))
        case .pooled:
            return try RandomNetworks.convolutional(seed: seed, channels: 1, size: 6, outputs: 3)
        }
    }

    /// A small CNN of operations the LP, the MILP and exact evaluation all support.
    static func smallConvolutional(seed: UInt64, channels: Int, size: Int, outputs: Int) throws -> Graph {
        var rng = SeededGenerator(seed: seed)
        var b = GraphBuilder(inputName: "image", inputShape: [1, channels, size, size])
        func conv(_ inCh: Int, _ outCh: Int, k: Int, group: Int = 1, _ window: Window2D) -> GraphOperation {
            let scale = 1.5 / Double(inCh / group * k * k).squareRoot()
            return .convolution(Convolution(weight: rng.tensor([outCh, inCh / group, k, k], -scale...scale),
                                            bias: rng.tensor([outCh], -0.3...0.3), window: window, group: group))
        }
        var v = try b.add(conv(channels, 2 * channels, k: 3, Window2D(kernel: (3, 3), pads: (1, 1, 1, 1))), inputs: [b.inputValue], name: "conv0")
        v = try b.add(.channelAffine(scale: rng.uniforms(2 * channels, 0.5...1.5), shift: rng.uniforms(2 * channels, -0.2...0.2)),
                      inputs: [v], name: "bn0")
        v = try b.add(.relu, inputs: [v], name: "relu0")
        var r = try b.add(conv(2 * channels, 2 * channels, k: 3, group: 2 * channels, Window2D(kernel: (3, 3), pads: (1, 1, 1, 1))),
                          inputs: [v], name: "depthwise")
        r = try b.add(.relu, inputs: [r], name: "relu1")
        v = try b.add(.add, inputs: [v, r], name: "residual")
        v = try b.add(conv(2 * channels, 3, k: 2, Window2D(kernel: (2, 2), strides: (2, 2), pads: (0, 0, 1, 1))), inputs: [v], name: "down")
        v = try b.add(.relu, inputs: [v], name: "relu2")
        let flat = try b.add(.reshape([1, b.shape(of: v).elementCount]), inputs: [v], name: "flatten")
        let features = b.shape(of: flat)[1]
        var y = try b.add(.linear(Linear(weight: rng.tensor([6, features], -0.6...0.6), bias: rng.tensor([6], -0.3...0.3))),
                          inputs: [flat], name: "fc0")
        y = try b.add(.relu, inputs: [y], name: "relu3")
        y = try b.add(.linear(Linear(weight: rng.tensor([outputs, 6]), bias: rng.tensor([outputs]))), inputs: [y], name: "fc1")
        return try b.build(output: y)
    }

    /// A random input box for `kind`: per-coordinate radii for dense networks (some
    /// coordinates fixed), an L∞ ball around a random image otherwise.
    static func box(_ kind: Kind, inputs n: Int, rng: inout SeededGenerator) -> (lower: [Double], upper: [Double]) {
        var lower = [Double](), upper = [Double]()
        if kind == .dense {
            for _ in 0..<n {
                let c = rng.uniform(-1...1)
                let r = rng.uniform(0...1) < 0.15 ? 0 : rng.logUniform(0.01, 1)
                lower.append(c - r)
                upper.append(c + r)
            }
        } else {
            let eps = rng.logUniform(0.002, 0.06)
            for _ in 0..<n {
                let c = rng.uniform(0...1)
                lower.append(c - eps)
                upper.append(c + eps)
            }
        }
        return (lower, upper)
    }
}
