import EvidentIR

/// A small, fast, seeded generator (SplitMix64) so tests are reproducible.
public struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A uniform double in `range`.
    public mutating func uniform(_ range: ClosedRange<Double> = -1...1) -> Double {
        Double.random(in: range, using: &self)
    }
    /// `count` uniform doubles in `range`.
    public mutating func uniforms(_ count: Int, _ range: ClosedRange<Double> = -1...1) -> [Double] {
        (0..<count).map { _ in uniform(range) }
    }
    /// A tensor of uniform entries.
    public mutating func tensor(_ shape: [Int], _ range: ClosedRange<Double> = -1...1) -> Tensor {
        Tensor(shape: shape, scalars: uniforms(shape.elementCount, range))
    }
}

/// Seeded random networks covering the operator set: dense, convolutional and residual.
public enum RandomNetworks {
    /// A dense ReLU network `inputs -> hidden... -> outputs` on shape `[1, n]`.
    public static func dense(seed: UInt64, inputs: Int = 4, hidden: [Int] = [8, 8], outputs: Int = 3) throws -> Graph {
        var rng = SeededGenerator(seed: seed)
        var b = GraphBuilder(inputName: "x", inputShape: [1, inputs])
        var v = b.inputValue
        var width = inputs
        for (i, h) in (hidden + [outputs]).enumerated() {
            let scale = 1 / Double(width).squareRoot()
            v = try b.add(.linear(Linear(weight: rng.tensor([h, width], -scale...scale), bias: rng.tensor([h], -0.5...0.5))),
                          inputs: [v], name: "fc\(i)")
            if i < hidden.count { v = try b.add(.relu, inputs: [v], name: "relu\(i)") }
            width = h
        }
        return try b.build(output: v)
    }

    /// A convolutional network exercising padding, strides, dilations, depthwise groups,
    /// BatchNormalization, pooling, padding, concatenation, transposition and a residual block.
    public static func convolutional(seed: UInt64, channels: Int = 2, size: Int = 8, outputs: Int = 3) throws -> Graph {
        var rng = SeededGenerator(seed: seed)
        var b = GraphBuilder(inputName: "image", inputShape: [1, channels, size, size])
        func conv(_ inCh: Int, _ outCh: Int, k: Int, group: Int = 1, _ window: Window2D) -> GraphOperation {
            let scale = 1 / Double(inCh / group * k * k).squareRoot()
            return .convolution(Convolution(weight: rng.tensor([outCh, inCh / group, k, k], -scale...scale),
                                            bias: rng.tensor([outCh], -0.2...0.2), window: window, group: group))
        }
        var v = try b.add(.multiplyConstant(rng.tensor([1, channels, size, size], 0.5...1.5)), inputs: [b.inputValue], name: "scale")
        v = try b.add(conv(channels, 4, k: 3, Window2D(kernel: (3, 3), pads: (1, 0, 1, 2))), inputs: [v], name: "conv0")
        v = try b.add(.channelAffine(scale: rng.uniforms(4, 0.5...1.5), shift: rng.uniforms(4)), inputs: [v], name: "bn0")
        v = try b.add(.relu, inputs: [v], name: "relu0")
        let s = b.shape(of: v)
        // Residual block: depthwise conv with dilation, then pointwise conv, added to the input.
        var r = try b.add(conv(4, 4, k: 3, group: 4, Window2D(kernel: (3, 3), dilations: (2, 2), pads: (2, 2, 2, 2))), inputs: [v], name: "dw")
        r = try b.add(.relu, inputs: [r], name: "relu1")
        r = try b.add(conv(4, 4, k: 1, Window2D(kernel: (1, 1))), inputs: [r], name: "pw")
        v = try b.add(.add, inputs: [v, r], name: "residual")
        v = try b.add(.relu, inputs: [v], name: "relu2")
        let strided = try b.add(conv(4, 3, k: 2, Window2D(kernel: (2, 2), strides: (2, 2))), inputs: [v], name: "down")
        let pooled = try b.add(.averagePool(Window2D(kernel: (2, 2), strides: (2, 2)), countIncludesPadding: false), inputs: [v], name: "avg")
        let maxed = try b.add(.maxPool(Window2D(kernel: (3, 3), strides: (2, 2), pads: (1, 1, 0, 0))), inputs: [v], name: "max")
        _ = s
        var cat = try b.add(.concat(axis: 1), inputs: [strided, pooled], name: "cat")
        let maxShape = b.shape(of: maxed), catShape = b.shape(of: cat)
        if maxShape[2] == catShape[2] && maxShape[3] == catShape[3] {
            cat = try b.add(.concat(axis: 1), inputs: [cat, maxed], name: "cat2")
        }
        v = try b.add(.pad([0, 0, 1, 0, 0, 0, 0, 1]), inputs: [cat], name: "pad")
        v = try b.add(.subtract, inputs: [v, try b.add(.relu, inputs: [v], name: "relu3")], name: "neg_part")
        v = try b.add(.transpose([0, 1, 3, 2]), inputs: [v], name: "transpose")
        let g = try b.add(.globalAveragePool, inputs: [v], name: "gap")
        let flat = try b.add(.reshape([1, b.shape(of: v).elementCount]), inputs: [v], name: "flatten")
        let features = b.shape(of: flat)[1]
        var y = try b.add(.linear(Linear(weight: rng.tensor([6, features], -0.3...0.3), bias: rng.tensor([6]))), inputs: [flat], name: "fc0")
        y = try b.add(.relu, inputs: [y], name: "relu4")
        y = try b.add(.linear(Linear(weight: rng.tensor([outputs, 6]), bias: rng.tensor([outputs]))), inputs: [y], name: "fc1")
        let gFlat = try b.add(.reshape([1, b.shape(of: g).elementCount]), inputs: [g], name: "gap_flat")
        let gOut = try b.add(.linear(Linear(weight: rng.tensor([outputs, b.shape(of: gFlat)[1]]), bias: nil)), inputs: [gFlat], name: "fc_gap")
        y = try b.add(.add, inputs: [y, gOut], name: "sum")
        y = try b.add(.divideConstant(rng.tensor([1, outputs], 1...2)), inputs: [y], name: "div")
        y = try b.add(.addConstant(rng.tensor([1, outputs])), inputs: [y], name: "shift")
        return try b.build(output: y)
    }

    /// A small residual ReLU CNN shaped like resnet_2b (convolutions with padding and
    /// strides, a residual addition with a 1x1 projection, a dense head) and nothing with
    /// an approximate α gradient (no MaxPool).
    public static func residual(seed: UInt64, channels: Int = 2, size: Int = 6, outputs: Int = 3) throws -> Graph {
        var rng = SeededGenerator(seed: seed)
        var b = GraphBuilder(inputName: "image", inputShape: [1, channels, size, size])
        func conv(_ inCh: Int, _ outCh: Int, k: Int, _ window: Window2D) -> GraphOperation {
            let scale = 1.5 / Double(inCh * k * k).squareRoot()
            return .convolution(Convolution(weight: rng.tensor([outCh, inCh, k, k], -scale...scale),
                                            bias: rng.tensor([outCh], -0.2...0.2), window: window, group: 1))
        }
        let first = try b.add(conv(channels, 3, k: 3, Window2D(kernel: (3, 3), pads: (1, 1, 1, 1))), inputs: [b.inputValue], name: "conv0")
        let x = try b.add(.relu, inputs: [first], name: "relu0")
        var r = try b.add(conv(3, 4, k: 3, Window2D(kernel: (3, 3), strides: (2, 2), pads: (1, 1, 1, 1))), inputs: [x], name: "conv1")
        r = try b.add(.relu, inputs: [r], name: "relu1")
        r = try b.add(conv(4, 4, k: 3, Window2D(kernel: (3, 3), pads: (1, 1, 1, 1))), inputs: [r], name: "conv2")
        let projection = try b.add(conv(3, 4, k: 1, Window2D(kernel: (1, 1), strides: (2, 2))), inputs: [x], name: "proj")
        var v = try b.add(.add, inputs: [r, projection], name: "residual")
        v = try b.add(.relu, inputs: [v], name: "relu2")
        let flat = try b.add(.reshape([1, b.shape(of: v).elementCount]), inputs: [v], name: "flatten")
        let features = b.shape(of: flat)[1]
        var y = try b.add(.linear(Linear(weight: rng.tensor([8, features], -0.4...0.4), bias: rng.tensor([8], -0.2...0.2))),
                          inputs: [flat], name: "fc0")
        y = try b.add(.relu, inputs: [y], name: "relu3")
        y = try b.add(.linear(Linear(weight: rng.tensor([outputs, 8]), bias: rng.tensor([outputs]))), inputs: [y], name: "fc1")
        return try b.build(output: y)
    }
}
