import EvidentIR
import EvidentSoundArithmetic

// ONNX operators the loader writes as several IR operations, so that evaluation, every
// bound method and the certificate checker handle them through operations they already
// know, with no new relaxation to get wrong:
//
// - piecewise-linear activations through ReLU: `Clip`, `LeakyRelu`, `PRelu`, and `Max`/`Min`
//   of two activations (`max(a, b) = b + relu(a − b)`);
// - linear maps through `linear`, `select`, `pad` and `convolution`: `ReduceSum`/`ReduceMean`,
//   `Resize`/`Upsample` (per-axis interpolation matrices), `ConvTranspose` (a convolution
//   over the zero-interleaved input), `Expand`, and `Pad` in every mode.
//
// The identities are exact in real arithmetic; evaluation rounds each step.

extension GraphConverter {
    // MARK: Piecewise-linear activations

    /// `Clip(x, min, max) = min(max, max(min, x))`, written `lo + relu(x − lo)` and then
    /// `hi − relu(hi − y)` (``extremumSteps(max:_:label:)``). A bound of magnitude at least FLT_MAX (what exporters write for
    /// "no bound") or an infinite one is no bound.
    mutating func convertClip(_ call: NodeCall, _ attributes: inout NodeAttributes) throws -> ValueID {
        let x = try call.activation(0, "input")
        var low: Double?, high: Double?
        if opset < 11 {
            try call.requireInputs(1...1)
            (low, high) = (try attributes.float("min"), try attributes.float("max"))
        } else {
            try call.requireInputs(1...3)
            func scalar(_ index: Int, _ role: String) throws -> Double? {
                guard let tensor = try call.optionalConstant(index, role) else { return nil }
                guard tensor.count == 1 else { throw call.context.invalid("\(role) must hold one element, got shape \(tensor.shape)") }
                return tensor.doubles[0]
            }
            (low, high) = (try scalar(1, "min"), try scalar(2, "max"))
        }
        let limit = Double(Float.greatestFiniteMagnitude)
        if let l = low, l.magnitude >= limit { low = nil }
        if let h = high, h.magnitude >= limit { high = nil }
        guard low?.isNaN != true, high?.isNaN != true else { throw call.context.invalid("a bound is NaN") }
        // min > max makes every element max, which the chain below gives too.
        let xs = shape(x)
        var steps: [(label: String, operation: GraphOperation)] = []
        if let low { steps += Self.extremumSteps(max: true, Tensor(shape: xs, repeating: low), label: "min") }
        if let high { steps += Self.extremumSteps(max: false, Tensor(shape: xs, repeating: high), label: "max") }
        return steps.isEmpty ? x : try emitChain(x, steps, call)
    }

    /// The steps of `max(x, c) = c + relu(x − c)` or `min(x, c) = c − relu(c − x)` for a
    /// constant `c` of the activation's shape.
    static func extremumSteps(max: Bool, _ c: Tensor, label: String) -> [(label: String, operation: GraphOperation)] {
        let minusOne = Tensor(shape: c.shape, repeating: -1)
        return max
            ? [("\(label)/difference", .addConstant(Tensor(shape: c.shape, scalars: c.scalars.map { -$0 }))),
               ("\(label)/relu", .relu), ("\(label)/result", .addConstant(c))]
            : [("\(label)/negate", .multiplyConstant(minusOne)), ("\(label)/difference", .addConstant(c)),
               ("\(label)/relu", .relu), ("\(label)/negateBack", .multiplyConstant(minusOne)), ("\(label)/result", .addConstant(c))]
    }

    /// `LeakyRelu` (one slope) and `PRelu` (a slope tensor broadcast to the input):
    /// `s·x + (1 − s)·relu(x)`, whose ReLU relaxation is exactly the best one of the leaky
    /// ReLU (its chord and every lower slope in `[s, 1]`). `1 − s` must be exact in Double
    /// (it is for every FLOAT slope of magnitude above 2^-29).
    mutating func convertLeakyRelu(_ call: NodeCall, _ attributes: inout NodeAttributes) throws -> ValueID {
        let x = try call.activation(0, "X")
        let xs = shape(x)
        let slope: Tensor
        if call.context.op == "LeakyRelu" {
            try call.requireInputs(1...1)
            slope = Tensor(shape: xs, repeating: try attributes.float("alpha", default: Double(Float(0.01))))
        } else {
            try call.requireInputs(2...2)
            let given = try call.realConstant(1, "slope")
            guard let full = given.irTensor.broadcast(to: xs) else {
                throw call.context.invalid("slope of shape \(given.shape) does not broadcast to the input \(xs)")
            }
            slope = full
        }
        let rest = slope.scalars.map { 1 - $0 }
        if let k = rest.indices.first(where: { 1 - rest[$0] != slope.scalars[$0] || !rest[$0].isFinite }) {
            throw call.context.unsupported("1 − slope is not exact in double precision for slope \(slope.scalars[k])")
        }
        let scaled = try emit(.multiplyConstant(slope), [x], call, step: "slope")
        let relu = try emit(.relu, [x], call, step: "relu")
        let kept = try emit(.multiplyConstant(Tensor(shape: xs, scalars: rest)), [relu], call, step: "rest")
        return try emit(.add, [scaled, kept], call)
    }

    /// `Max` and `Min` of one or more operands with NumPy broadcasting, at least one of them
    /// an activation: `max(a, b) = b + relu(a − b)`, `min(a, b) = a − relu(a − b)`; with a
    /// constant `c`, `max(a, c) = c + relu(a − c)` and `min(a, c) = c − relu(c − a)`.
    /// Constants are combined first (exactly).
    mutating func convertMaxMin(_ call: NodeCall) throws -> ValueID {
        let isMax = call.context.op == "Max"
        let (activations, constants, outShape) = try variadicOperands(call)
        // The constants combined first, exactly, broadcast to the output.
        var constant: Tensor?
        for c in constants {
            let values = c.irTensor.broadcast(to: outShape)!.scalars
            let combined = constant.map { zip($0.scalars, values).map { isMax ? Swift.max($0, $1) : Swift.min($0, $1) } } ?? values
            constant = Tensor(shape: outShape, scalars: combined)
        }
        let operands = try activations.enumerated().map { k, v in try expand(v, to: outShape, call, step: "expand\(k)") }
        var result = operands[0]
        for (k, b) in operands.dropFirst().enumerated() {
            let difference = try emit(.subtract, [result, b], call, step: "\(k)/difference")
            let relu = try emit(.relu, [difference], call, step: "\(k)/relu")
            let last = k == operands.count - 2 && constant == nil
            result = try emit(isMax ? .add : .subtract, isMax ? [b, relu] : [result, relu], call, step: last ? nil : "\(k)/result")
        }
        guard let constant else { return result }
        return try emitChain(result, Self.extremumSteps(max: isMax, constant, label: "constant"), call)
    }

    /// The operands of a variadic elementwise node (`Max`, `Min`, `Sum`): its activations (at
    /// least one), its floating-point constants, and the shape all of them broadcast to.
    func variadicOperands(_ call: NodeCall) throws -> (activations: [ValueID], constants: [ConstantTensor], shape: [Int]) {
        guard !call.operands.isEmpty, call.operands.allSatisfy({ $0 != nil }) else {
            throw call.context.invalid("expects one or more inputs, none omitted")
        }
        var activations = [ValueID](), constants = [ConstantTensor]()
        for index in call.operands.indices {
            switch call.operand(index) {
            case .activation(let v)?: activations.append(v)
            case .constant(let c)?:
                guard !c.elementType.isInteger else { throw call.context.invalid("input \(index) is an integer tensor") }
                constants.append(c)
            case nil: break
            }
        }
        var outShape = shape(activations[0])
        for s in activations.map(shape) + constants.map(\.shape) {
            guard let both = broadcastShapes(outShape, s) else { throw call.context.invalid("shapes \(outShape) and \(s) do not broadcast") }
            outShape = both
        }
        try requireBounded(outShape, call.context)
        return (activations, constants, outShape)
    }

    /// `x` broadcast to `target` (NumPy rules): itself when the shapes agree, a reshape when
    /// only leading ones are added, else a selection that repeats elements.
    mutating func expand(_ x: ValueID, to target: [Int], _ call: NodeCall, step: String? = nil) throws -> ValueID {
        let xs = shape(x)
        if xs == target { return x }
        if xs.elementCount == target.elementCount {
            return step == nil ? try emit(.reshape(target), [x], call) : try emit(.reshape(target), [x], call, step: step)
        }
        let map = IndexMap(shape: target, sources: broadcastSourceIndices(from: xs, to: target))
        return try emitSelection(x, map, call, step: step)
    }

    /// `Expand` of an activation to the broadcast of its shape and the constant `shape` input.
    mutating func convertExpand(_ call: NodeCall) throws -> ValueID {
        try call.requireInputs(2...2)
        let x = try call.activation(0, "input")
        let requested = try call.integers(1, "shape")
        guard let target = broadcastShapes(shape(x), requested) else {
            throw call.context.invalid("the input shape \(shape(x)) does not broadcast with \(requested)")
        }
        try requireBounded(target, call.context)
        try call.requireNonEmpty(target)
        return try expand(x, to: target, call)
    }

    /// `Sum` of one or more operands with broadcasting: a chain of `add`s, constants added last.
    mutating func convertSum(_ call: NodeCall) throws -> ValueID {
        let (activations, constants, outShape) = try variadicOperands(call)
        let operands = try activations.enumerated().map { k, v in try expand(v, to: outShape, call, step: "expand\(k)") }
        var result = operands[0]
        for (k, b) in operands.dropFirst().enumerated() {
            let last = k == operands.count - 2 && constants.isEmpty
            result = try emit(.add, [result, b], call, step: last ? nil : "\(k)/sum")
        }
        // Each constant added by its own step: exact in real arithmetic, as ONNX's sum is.
        let steps = constants.enumerated().map { k, c in
            (label: "constant\(k)", operation: GraphOperation.addConstant(c.irTensor.broadcast(to: outShape)!))
        }
        return steps.isEmpty ? result : try emitChain(result, steps, call)
    }

    // MARK: Reductions

    /// `ReduceSum` and `ReduceMean`: the reduced axes moved last and flattened, then a
    /// `linear` with a row of ones (and, for the mean, a `divideConstant` by their count).
    mutating func convertReduce(_ call: NodeCall, _ attributes: inout NodeAttributes) throws -> ValueID {
        let x = try call.activation(0, "data")
        let xs = shape(x), rank = xs.count
        let axesAsInput = call.context.op == "ReduceSum" ? opset >= 13 : opset >= 18
        var given: [Int]?
        var noop = false
        if axesAsInput {
            try call.requireInputs(1...2)
            given = call.operand(1) == nil ? nil : try call.integers(1, "axes")
            noop = try attributes.int("noop_with_empty_axes", default: 0) != 0
        } else {
            try call.requireInputs(1...1)
            given = try attributes.ints("axes")
        }
        let keep = try attributes.int("keepdims", default: 1) != 0
        if given?.isEmpty ?? true {
            if noop { return x }
            given = Array(0..<rank)
        }
        let axes = try Set(given!.map { try normalizeAxis($0, rank: rank, call.context, attribute: "axes") })
        guard axes.count == given!.count else { throw call.context.invalid("axes \(given!) repeat an axis") }
        let kept = (0..<rank).filter { !axes.contains($0) }, reduced = (0..<rank).filter { axes.contains($0) }
        let count = reduced.map { xs[$0] }.elementCount
        let outShape = keep ? xs.indices.map { axes.contains($0) ? 1 : xs[$0] } : kept.map { xs[$0] }
        var steps: [(label: String, operation: GraphOperation)] = []
        if kept + reduced != Array(0..<rank) { steps.append(("moveReduced", .transpose(kept + reduced))) }
        steps.append(("flatten", .reshape(kept.map { xs[$0] } + [count])))
        steps.append(("sum", .linear(Linear(weight: Tensor(shape: [1, count], repeating: 1), bias: nil))))
        if call.context.op == "ReduceMean" { steps.append(("mean", .divideConstant(Tensor(shape: kept.map { xs[$0] } + [1], repeating: Double(count))))) }
        steps.append(("shape", .reshape(outShape)))
        return try emitChain(x, steps, call)
    }

    // MARK: Padding

    /// `Pad` in every mode (`constant`, `reflect`, `edge`, `wrap`), negative pads cropping.
    /// Pads come from attributes before opset 11, from inputs after; `axes` (opset 18)
    /// restricts them to some axes.
    mutating func convertPad(_ call: NodeCall, _ attributes: inout NodeAttributes) throws -> ValueID {
        let mode = try attributes.string("mode") ?? "constant"
        let x = try call.activation(0, "data")
        let xs = shape(x), rank = xs.count
        var pads: [Int], value = 0.0
        if opset < 11 {
            try call.requireInputs(1...1)
            guard let given = try attributes.ints("pads") else { throw call.context.invalid("pads is missing") }
            pads = given
            value = try attributes.float("value", default: 0)
        } else {
            try call.requireInputs(2...4)
            pads = try call.integers(1, "pads")
            if let constant = try call.optionalConstant(2, "constant_value") {
                guard constant.count == 1 else { throw call.context.invalid("constant_value must hold one element") }
                value = constant.doubles[0]
            }
            if call.operand(3) != nil {
                let axes = try call.integers(3, "axes").map { try normalizeAxis($0, rank: rank, call.context, attribute: "axes") }
                guard Set(axes).count == axes.count, pads.count == 2 * axes.count else {
                    throw call.context.invalid("pads \(pads) must have two entries per axis of \(axes), each axis once")
                }
                var full = [Int](repeating: 0, count: 2 * rank)
                for (k, axis) in axes.enumerated() { (full[axis], full[rank + axis]) = (pads[k], pads[axes.count + k]) }
                pads = full
            }
        }
        guard pads.count == 2 * rank else { throw call.context.invalid("pads \(pads) must have \(2 * rank) entries for rank \(rank)") }
        guard pads.allSatisfy({ $0.magnitude <= UInt(maximumElementCount) }) else { throw call.context.invalid("pads \(pads) are too large") }
        let outShape = xs.indices.map { xs[$0] + pads[$0] + pads[rank + $0] }
        guard outShape.allSatisfy({ $0 > 0 }) else { throw call.context.invalid("pads \(pads) crop the input \(xs) to nothing") }
        try requireBounded(outShape, call.context)
        switch mode {
        case "constant":
            // Crop, pad with zeros, then add the value on the padding.
            let positive = pads.map { Swift.max(0, $0) }, growing = positive.contains { $0 > 0 }
            var padded = x
            if pads.contains(where: { $0 < 0 }) {
                let perAxis = xs.indices.map { a in Array(Swift.max(0, -pads[a])..<(xs[a] - Swift.max(0, -pads[a + rank]))) }
                padded = try emitSelection(x, sliceMap(shape: xs, perAxis: perAxis), call, step: growing ? "crop" : nil)
            }
            guard growing else { return padded }
            padded = try emit(.pad(positive), [padded], call, step: value == 0 ? nil : "zeros")
            guard value != 0 else { return padded }
            var fill = [Double](repeating: value, count: outShape.elementCount)
            let inner = xs.indices.map { a in Array(positive[a]..<(outShape[a] - positive[a + rank])) }
            for s in sliceMap(shape: outShape, perAxis: inner).sources { fill[s] = 0 }
            return try emit(.addConstant(Tensor(shape: outShape, scalars: fill)), [padded], call)
        case "reflect", "edge", "wrap":
            guard mode != "wrap" || opset >= 19 else { throw call.context.unsupportedAttribute("mode", "mode 'wrap' needs opset 19") }
            let perAxis = try xs.indices.map { a -> [Int] in
                let d = xs[a], before = pads[a]
                return try (0..<outShape[a]).map { o -> Int in
                    let i = o - before
                    if i >= 0 && i < d { return i }
                    switch mode {
                    case "edge": return Swift.min(Swift.max(i, 0), d - 1)
                    case "wrap": return ((i % d) + d) % d
                    default:
                        guard d > 1 else { throw call.context.invalid("reflect padding of axis \(a) needs at least 2 elements, it has \(d)") }
                        let period = 2 * (d - 1)
                        let r = ((i % period) + period) % period
                        return r < d ? r : period - r
                    }
                }
            }
            return try emitSelection(x, sliceMap(shape: xs, perAxis: perAxis), call)
        default:
            throw call.context.unsupportedAttribute("mode", "mode '\(mode)' is not one of constant, reflect, edge, wrap")
        }
    }

    // MARK: Transposed convolution

    /// 2-D `ConvTranspose` as a stride-1 convolution over the input with `stride − 1` zeros
    /// between neighbours (a reshape, a zero pad and a crop), padded by `dilation·(k − 1) − pad`
    /// on each side (negative: cropped) plus `output_padding` after, with the kernel flipped
    /// and its channel axes exchanged. Groups become a block-diagonal dense kernel.
    mutating func convertConvTranspose(_ call: NodeCall, _ attributes: inout NodeAttributes) throws -> ValueID {
        try call.requireInputs(2...3)
        let x = try call.activation(0, "X")
        let xs = shape(x)
        guard xs.count == 4 else {
            throw call.context.unsupported("only 2-D transposed convolutions (input of rank 4) are supported; the input has shape \(xs)")
        }
        let weight = try call.realConstant(1, "weight W")
        let ws = weight.shape
        let group = try attributes.int("group", default: 1)
        guard ws.count == 4, group >= 1, xs[1] == ws[0], ws[0] % group == 0 else {
            throw call.context.invalid("weight shape \(ws) with group \(group) does not match \(xs[1]) input channels")
        }
        let (inPerGroup, outPerGroup) = (ws[0] / group, ws[1]), outChannels = ws[1] * group
        let bias = call.operand(2) == nil ? nil : try call.realConstant(2, "bias B")
        if let bias, bias.shape != [outChannels] { throw call.context.invalid("bias shape \(bias.shape) is not [\(outChannels)]") }
        let kernel = [ws[2], ws[3]]
        if let declared = try attributes.ints("kernel_shape"), declared != kernel {
            throw call.context.invalid("kernel_shape \(declared) disagrees with the weight shape \(ws)")
        }
        func pair(_ name: String, _ fallback: Int) throws -> [Int] {
            let v = try attributes.ints(name) ?? [fallback, fallback]
            guard v.count == 2, v.allSatisfy({ $0 >= 0 && $0 <= maximumWindowAttribute }) else {
                throw call.context.invalid("\(name) \(v) must be two non-negative numbers")
            }
            return v
        }
        let strides = try pair("strides", 1), dilations = try pair("dilations", 1), outputPadding = try pair("output_padding", 0)
        guard strides.allSatisfy({ $0 > 0 }), dilations.allSatisfy({ $0 > 0 }) else {
            throw call.context.invalid("strides \(strides) and dilations \(dilations) must be positive")
        }
        let extent = (0..<2).map { dilations[$0] * (kernel[$0] - 1) + 1 }
        let natural: [Int] = (0..<2).map { a -> Int in
            let span: Int = strides[a] * (xs[2 + a] - 1)
            return span + outputPadding[a] + extent[a]
        }
        var begin = [0, 0], end = [0, 0]
        /// A total padding split as the specification does: the odd cell at the end for
        /// SAME_UPPER, at the start otherwise.
        func split(_ total: Int, upper: Bool) -> (Int, Int) {
            let small = total / 2
            return upper ? (small, total - small) : (total - small, small)
        }
        let autoPad = try attributes.string("auto_pad") ?? "NOTSET"
        if let outputShape = try attributes.ints("output_shape") {
            let spatial = Array(outputShape.suffix(2))
            guard spatial.count == 2, spatial.allSatisfy({ $0 > 0 }) else { throw call.context.invalid("output_shape \(outputShape) must end in two positive sizes") }
            for a in 0..<2 {
                let total = natural[a] - spatial[a]
                guard total >= 0 else { throw call.context.unsupported("output_shape \(outputShape) is larger than the full transposed convolution") }
                (begin[a], end[a]) = split(total, upper: autoPad == "SAME_UPPER")
            }
            attributes.ignore("pads")
        } else {
            switch autoPad {
            case "NOTSET":
                let pads = try attributes.ints("pads") ?? [0, 0, 0, 0]
                guard pads.count == 4, pads.allSatisfy({ $0 >= 0 && $0 <= maximumWindowAttribute }) else {
                    throw call.context.invalid("pads \(pads) must be four non-negative numbers")
                }
                (begin, end) = ([pads[0], pads[1]], [pads[2], pads[3]])
            case "VALID":
                break
            case "SAME_UPPER", "SAME_LOWER":
                for a in 0..<2 {
                    let total = Swift.max(0, natural[a] - xs[2 + a] * strides[a])
                    (begin[a], end[a]) = split(total, upper: autoPad == "SAME_UPPER")
                }
            default:
                throw call.context.unsupportedAttribute("auto_pad", "value '\(autoPad)' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER")
            }
        }
        let outSize = (0..<2).map { natural[$0] - begin[$0] - end[$0] }
        guard outSize.allSatisfy({ $0 > 0 }) else { throw call.context.invalid("pads crop the output to nothing") }
        try requireBounded([xs[0], outChannels, outSize[0], outSize[1]], call.context)

        // Zeros between neighbours: [N, C, H, 1, W, 1] padded to [N, C, H, sH, W, sW], then the
        // trailing zeros cropped together with any negative border.
        var value = x
        let (n, c, h, w) = (xs[0], xs[1], xs[2], xs[3])
        let spread = [(h - 1) * strides[0] + 1, (w - 1) * strides[1] + 1]
        if strides != [1, 1] {
            value = try emit(.reshape([n, c, h, 1, w, 1]), [value], call, step: "spread")
            value = try emit(.pad([0, 0, 0, 0, 0, 0, 0, 0, 0, strides[0] - 1, 0, strides[1] - 1]), [value], call, step: "zeros")
            value = try emit(.reshape([n, c, h * strides[0], w * strides[1]]), [value], call, step: "interleaved")
        }
        let border: [(before: Int, after: Int)] = (0..<2).map { a in
            let reach: Int = extent[a] - 1
            return (reach - begin[a], reach - end[a] + outputPadding[a])
        }
        let current = shape(value)
        let keep = (0..<2).map { a in Array(Swift.max(0, -border[a].before)..<(spread[a] - Swift.max(0, -border[a].after))) }
        if current[2] != keep[0].count || current[3] != keep[1].count {
            guard !keep[0].isEmpty, !keep[1].isEmpty else { throw call.context.invalid("pads crop the output to nothing") }
            value = try emitSelection(value, sliceMap(shape: current, perAxis: [Array(0..<n), Array(0..<c), keep[0], keep[1]]), call, step: "crop")
        }
        // The flipped kernel [outChannels, inChannels, kH, kW], zero outside each group's block.
        let (kh, kw) = (kernel[0], kernel[1])
        var flipped = [Double](repeating: 0, count: outChannels * xs[1] * kh * kw)
        let stored = weight.doubles
        for g in 0..<group {
            for i in 0..<inPerGroup {
                for o in 0..<outPerGroup {
                    let (input, output) = (g * inPerGroup + i, g * outPerGroup + o)
                    for a in 0..<kh {
                        for b in 0..<kw {
                            flipped[((output * xs[1] + input) * kh + a) * kw + b] = stored[((input * outPerGroup + o) * kh + kh - 1 - a) * kw + kw - 1 - b]
                        }
                    }
                }
            }
        }
        let window = Window2D(kernel: (kh, kw), strides: (1, 1), dilations: (dilations[0], dilations[1]),
                              pads: (Swift.max(0, border[0].before), Swift.max(0, border[1].before),
                                     Swift.max(0, border[0].after), Swift.max(0, border[1].after)))
        let convolution = Convolution(weight: Tensor(shape: [outChannels, xs[1], kh, kw], scalars: flipped),
                                      bias: bias?.irTensor, window: window, group: 1)
        return try emit(.convolution(convolution), [value], call)
    }
}
