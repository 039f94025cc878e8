import EvidentIR
import EvidentSoundArithmetic

// Conversion of ONNX nodes with at least one activation operand into EvidentIR operations.
// Each conversion reproduces the operator's ONNX inference semantics exactly; where an
// operator maps onto several IR operations (for example a MatMul whose constant comes
// first), the intermediate nodes are named `<node>/<step>` and the last one carries the
// node's own name and output.

extension GraphConverter {
    func shape(_ value: ValueID) -> [Int] { builder.shape(of: value) }

    /// Appends one IR node for `call`. `step` names an intermediate node; `nil` is the node's
    /// result, ONNX output `position` (nodes with several outputs name the others `<node>:<k>`).
    mutating func emit(_ operation: GraphOperation, _ inputs: [ValueID], _ call: NodeCall, step: String? = nil,
                       position: Int = 0) throws -> ValueID {
        let node = position == 0 ? call.context.name : "\(call.context.name):\(position)"
        let name = step.map { "\(node)/\($0)" } ?? node
        let output = step.map { "\(call.outputs[position])/\($0)" } ?? call.outputs[position]
        do {
            return try builder.add(operation, inputs: inputs, name: name, outputName: output)
        } catch let error as IRError {
            throw call.context.invalid(error.description)
        }
    }

    /// Appends a chain of single-operand operations; the last one is the node's result.
    /// `radius`, when given, bounds the rounding of the constants of the step labelled
    /// `radiusStep` and is recorded for the node that step becomes (``Network/constantRadii``).
    mutating func emitChain(_ input: ValueID, _ steps: [(label: String, operation: GraphOperation)], _ call: NodeCall,
                            radius: ConstantRadius? = nil, radiusStep: String = "") throws -> ValueID {
        var value = input
        for (index, step) in steps.enumerated() {
            value = try emit(step.operation, [value], call, step: index == steps.count - 1 ? nil : step.label)
            if let radius, step.label == radiusStep { constantRadii[value] = radius }
        }
        return value
    }

    /// Converts a node that has at least one activation operand.
    mutating func convertOperator(_ call: NodeCall, _ attributes: inout NodeAttributes) throws -> Slot {
        let op = call.context.op
        switch op {
        case "Conv":
            return .activation(try convertConv(call, &attributes))
        case "Gemm":
            return .activation(try convertGemm(call, &attributes))
        case "MatMul":
            try call.requireInputs(2...2)
            return .activation(try convertMatMul(call))
        case "Add", "Sub", "Mul", "Div":
            try call.requireInputs(2...2)
            return .activation(try convertElementwise(call))
        case "Relu":
            try call.requireInputs(1...1)
            return .activation(try emit(.relu, [try call.activation(0, "input")], call))
        case "BatchNormalization":
            return .activation(try convertBatchNormalization(call, &attributes))
        case "Flatten":
            try call.requireInputs(1...1)
            let x = try call.activation(0, "input")
            let target = try flattenShape(shape(x), axis: try attributes.int("axis", default: 1), call.context)
            return .activation(try emit(.reshape(target), [x], call))
        case "Reshape":
            try call.requireInputs(2...2)
            let x = try call.activation(0, "data")
            let allowZero = opset >= 14 ? try attributes.int("allowzero", default: 0) != 0 : false
            let target = try reshapeShape(shape(x), spec: try call.integers(1, "shape"), allowZero: allowZero, call.context)
            return .activation(try emit(.reshape(target), [x], call))
        case "Squeeze", "Unsqueeze":
            let x = try call.activation(0, "data")
            let axes = try call.squeezeAxes(&attributes, opset: opset)
            let target: [Int]
            if op == "Squeeze" {
                target = try squeezeShape(shape(x), axes: axes, call.context)
            } else {
                guard let axes else { throw call.context.invalid("axes are missing") }
                target = try unsqueezeShape(shape(x), axes: axes, call.context)
            }
            return .activation(try emit(.reshape(target), [x], call))
        case "Identity":
            try call.requireInputs(1...1)
            return .activation(try call.activation(0, "input"))
        case "Dropout":
            // Inference: the identity. Only the mask output would differ.
            try call.requireInputs(1...3)
            try call.requireUnused(output: 1, "mask")
            attributes.ignore("seed", "ratio")
            if case .activation? = call.operand(2) {
                throw call.context.unsupported("training_mode depends on the network input")
            }
            if let training = try call.optionalConstant(2, "training_mode"), training.doubles.contains(where: { $0 != 0 }) {
                throw call.context.unsupported("training_mode is true")
            }
            return .activation(try call.activation(0, "data"))
        case "Transpose":
            try call.requireInputs(1...1)
            let x = try call.activation(0, "data")
            let perm = try transposePermutation(try attributes.ints("perm"), rank: shape(x).count, call.context)
            return .activation(try emit(.transpose(perm), [x], call))
        case "Concat":
            guard !call.operands.isEmpty else { throw call.context.invalid("expects at least one input") }
            let inputs = try call.operands.indices.map { try call.activation($0, "input") }
            guard let axis = try attributes.int("axis") else { throw call.context.invalid("the axis attribute is missing") }
            let normalized = try normalizeAxis(axis, rank: shape(inputs[0]).count, call.context)
            return .activation(try emit(.concat(axis: normalized), inputs, call))
        case "AveragePool", "MaxPool":
            return .activation(try convertPool(call, &attributes))
        case "GlobalAveragePool":
            try call.requireInputs(1...1)
            let x = try call.activation(0, "X")
            let xs = shape(x)
            guard xs.count == 4 || xs.count == 3 else {
                throw call.context.unsupported("only 1-D and 2-D pooling (input of rank 3 or 4) is supported; the input has shape \(xs)")
            }
            guard xs.count == 3 else { return .activation(try emit(.globalAveragePool, [x], call)) }
            let lifted = try emit(.reshape([xs[0], xs[1], 1, xs[2]]), [x], call, step: "as2d")
            let pooled = try emit(.globalAveragePool, [lifted], call, step: "pool")
            return .activation(try emit(.reshape([xs[0], xs[1], 1]), [pooled], call))
        case "Pad":
            return .activation(try convertPad(call, &attributes))
        case "Slice":
            let x = try call.activation(0, "data")
            return .activation(try emitSelection(x, try call.sliceMap(shape: shape(x), &attributes, opset: opset), call))
        case "Gather":
            let x = try call.activation(0, "data")
            let map = try call.gatherMap(shape: shape(x), &attributes)
            try call.requireNonEmpty(map.shape)
            return .activation(try emitSelection(x, map, call))
        case "Neg":
            try call.requireInputs(1...1)
            let x = try call.activation(0, "X")
            return .activation(try emit(.multiplyConstant(Tensor(shape: shape(x), repeating: -1)), [x], call))
        case "Clip":
            return .activation(try convertClip(call, &attributes))
        case "LeakyRelu", "PRelu":
            return .activation(try convertLeakyRelu(call, &attributes))
        case "Max", "Min":
            return .activation(try convertMaxMin(call))
        case "Expand":
            return .activation(try convertExpand(call))
        case "ReduceSum", "ReduceMean":
            return .activation(try convertReduce(call, &attributes))
        case "Resize", "Upsample":
            return .activation(try convertResize(call, &attributes))
        case "ConvTranspose":
            return .activation(try convertConvTranspose(call, &attributes))
        case "Sum":
            return .activation(try convertSum(call))
        case "Cast":
            // The IR computes in real arithmetic: a cast between floating-point types only
            // changes the rounding, which a real-number model does not have.
            try call.requireInputs(1...1)
            let target = try attributes.int("to") ?? -1
            if opset >= 19 { attributes.ignore("saturate") }
            guard target == 1 || target == 11 else {
                throw call.context.unsupportedAttribute("to", "casting an activation to \(onnxDataTypeName(target)); only FLOAT and DOUBLE are supported")
            }
            return .activation(try call.activation(0, "input"))
        case "ConstantOfShape":
            throw call.context.unsupported("ConstantOfShape is only converted when its operand is a constant (it is then evaluated at load time)")
        default:
            throw call.context.unsupportedOperator
        }
    }

    /// `Split` of an activation: one selection per output; outputs nothing reads are left out.
    mutating func convertSplit(_ call: NodeCall, _ attributes: inout NodeAttributes) throws -> [Slot?] {
        let x = try call.activation(0, "input")
        let maps = try call.splitMaps(shape: shape(x), &attributes, opset: opset)
        return try maps.indices.map { k in
            call.outputUsed(k) ? .activation(try emitSelection(x, maps[k], call, position: k)) : nil
        }
    }

    /// The nodes copying `map`'s elements of `x`: nothing when it keeps every element in
    /// order (a reshape at most), one `select` when no element repeats, and otherwise a
    /// `concat` of as many copies of `x` as the most repeated element needs, then a `select`
    /// taking each repetition from its own copy.
    mutating func emitSelection(_ x: ValueID, _ map: IndexMap, _ call: NodeCall, step: String? = nil,
                                position: Int = 0) throws -> ValueID {
        let inShape = shape(x), size = inShape.elementCount
        if map.sources == Array(0..<size) {
            return map.shape == inShape ? x : try emit(.reshape(map.shape), [x], call, step: step, position: position)
        }
        var uses = [Int](repeating: 0, count: size), sources = map.sources
        for (e, s) in map.sources.enumerated() {
            sources[e] = uses[s] * size + s
            uses[s] += 1
        }
        let copies = uses.max() ?? 1
        var operand = x
        if copies > 1 {
            guard !inShape.isEmpty else { throw call.context.invalid("a scalar cannot be gathered more than once") }
            try requireBounded([copies * size], call.context)
            operand = try emit(.concat(axis: 0), Array(repeating: x, count: copies), call,
                               step: step.map { "\($0)/copies" } ?? "copies", position: position)
        }
        return try emit(.select(Selection(shape: map.shape, sources: sources)), [operand], call, step: step, position: position)
    }

    // MARK: Convolution and pooling

    /// The window of a 2-D Conv or pooling node: strides, dilations and explicit pads,
    /// resolving `auto_pad` as ONNX specifies (SAME: output size `ceil(in / stride)`, the
    /// odd padding cell after the image for SAME_UPPER, before it for SAME_LOWER).
    ///
    /// A 1-D node (input `N × C × L`) is read as 2-D over `N × C × 1 × L`: its attributes,
    /// one entry per axis, gain a height entry (stride and dilation 1, no padding); `kernel`
    /// is already the 2-D one.
    private func window(_ call: NodeCall, _ attributes: inout NodeAttributes, input given: [Int],
                        kernel: [Int], dilationsAllowed: Bool) throws -> Window2D {
        let context = call.context
        let oneD = given.count == 3
        let input = oneD ? [given[0], given[1], 1, given[2]] : given
        func read(_ name: String) throws -> [Int]? {
            guard oneD, let values = try attributes.ints(name) else { return try attributes.ints(name) }
            guard values.count == (name == "pads" ? 2 : 1) else { throw context.invalid("\(name) \(values) do not fit a 1-D window") }
            return name == "pads" ? [0, values[0], 0, values[1]] : [1] + values
        }
        let strides = try read("strides") ?? [1, 1]
        guard strides.count == 2, strides.allSatisfy({ $0 > 0 }) else { throw context.invalid("strides \(strides) must be two positive numbers") }
        let dilations = dilationsAllowed ? try read("dilations") ?? [1, 1] : [1, 1]
        guard dilations.count == 2, dilations.allSatisfy({ $0 > 0 }) else { throw context.invalid("dilations \(dilations) must be two positive numbers") }
        guard kernel.count == 2, kernel.allSatisfy({ $0 > 0 }) else { throw context.invalid("kernel shape \(kernel) must be two positive numbers") }
        for (name, values) in [("strides", strides), ("dilations", dilations), ("kernel_shape", kernel)]
        where values.contains(where: { $0 > maximumWindowAttribute }) {
            throw context.invalid("\(name) \(values) are implausibly large")
        }

        let autoPad = try attributes.string("auto_pad") ?? "NOTSET"
        let explicit = try read("pads")
        var pads = [0, 0, 0, 0]
        switch autoPad {
        case "NOTSET":
            if let explicit {
                guard explicit.count == 4 else { throw context.invalid("pads \(explicit) must have 4 entries for 2-D") }
                guard explicit.allSatisfy({ $0 >= 0 }) else { throw context.unsupportedAttribute("pads", "negative pads \(explicit) are not supported") }
                guard explicit.allSatisfy({ $0 <= maximumWindowAttribute }) else { throw context.invalid("pads \(explicit) are implausibly large") }
                pads = explicit
            }
        case "VALID", "SAME_UPPER", "SAME_LOWER":
            if let explicit, explicit.contains(where: { $0 != 0 }) {
                throw context.invalid("pads \(explicit) cannot be combined with auto_pad \(autoPad)")
            }
            if autoPad != "VALID" {
                for axis in 0..<2 {
                    let size = input[2 + axis]
                    let output = (size + strides[axis] - 1) / strides[axis]
                    let extent = dilations[axis] * (kernel[axis] - 1) + 1
                    let total = Swift.max(0, (output - 1) * strides[axis] + extent - size)
                    let small = total / 2
                    pads[axis] = autoPad == "SAME_UPPER" ? small : total - small
                    pads[axis + 2] = total - pads[axis]
                }
            }
        default:
            throw context.unsupportedAttribute("auto_pad", "value '\(autoPad)' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER")
        }
        return Window2D(kernel: (kernel[0], kernel[1]), strides: (strides[0], strides[1]),
                        dilations: (dilations[0], dilations[1]), pads: (pads[0], pads[1], pads[2], pads[3]))
    }

    private mutating func convertConv(_ call: NodeCall, _ attributes: inout NodeAttributes) throws -> ValueID {
        try call.requireInputs(2...3)
        let input = try call.activation(0, "input X")
        let given = shape(input)
        guard given.count == 4 || given.count == 3 else {
            throw call.context.unsupported("only 1-D and 2-D convolutions (input of rank 3 or 4) are supported; the input has shape \(given)")
        }
        var weight = try call.realConstant(1, "weight W")
        guard weight.shape.count == given.count else {
            throw call.context.invalid("weight shape \(weight.shape) is not [M, C/group, \(given.count == 4 ? "kH, kW" : "k")]")
        }
        let bias = call.operand(2) == nil ? nil : try call.realConstant(2, "bias B")
        if let declared = try attributes.ints("kernel_shape"), declared != Array(weight.shape[2...]) {
            throw call.context.invalid("kernel_shape \(declared) disagrees with the weight shape \(weight.shape)")
        }
        // 1-D: the same convolution over a height of 1.
        let oneD = given.count == 3
        let x = oneD ? try emit(.reshape([given[0], given[1], 1, given[2]]), [input], call, step: "as2d") : input
        let xs = shape(x)
        if oneD { weight = weight.reshaped([weight.shape[0], weight.shape[1], 1, weight.shape[2]]) }
        let kernel = Array(weight.shape[2...])
        let group = try attributes.int("group", default: 1)
        let channels = xs[1]
        let outChannels = weight.shape[0]
        guard group >= 1, channels % group == 0, outChannels % group == 0, weight.shape[1] == channels / group else {
            throw call.context.invalid("group \(group) does not divide \(channels) input channels into the weight's \(weight.shape[1]) per group "
                                       + "(and \(outChannels) output channels)")
        }
        let window = try window(call, &attributes, input: given, kernel: kernel, dilationsAllowed: true)
        /// The convolution, then for 1-D the height of 1 removed.
        func finish(_ convolution: Convolution) throws -> ValueID {
            let y = try emit(.convolution(convolution), [x], call, step: oneD ? "conv" : nil)
            guard oneD else { return y }
            let ys = shape(y)
            return try emit(.reshape([ys[0], ys[1], ys[3]]), [y], call)
        }
        if group == 1 || (group == channels && weight.shape[1] == 1) {
            return try finish(Convolution(weight: weight.irTensor, bias: bias?.irTensor, window: window, group: group))
        }
        // Other groups: one dense kernel, zero outside each group's block of channels.
        let (inPerGroup, outPerGroup, area) = (channels / group, outChannels / group, kernel[0] * kernel[1])
        try requireBounded([outChannels, channels, area], call.context, "dense kernel")
        var dense = [Double](repeating: 0, count: outChannels * channels * area)
        let stored = weight.doubles
        for o in 0..<outChannels {
            let g = o / outPerGroup
            for i in 0..<inPerGroup {
                let from = (o * inPerGroup + i) * area, to = (o * channels + g * inPerGroup + i) * area
                dense[to..<(to + area)] = stored[from..<(from + area)]
            }
        }
        return try finish(Convolution(weight: Tensor(shape: [outChannels, channels, kernel[0], kernel[1]], scalars: dense),
                                      bias: bias?.irTensor, window: window, group: 1))
    }

    private mutating func convertPool(_ call: NodeCall, _ attributes: inout NodeAttributes) throws -> ValueID {
        let isMax = call.context.op == "MaxPool"
        try call.requireInputs(1...1)
        let input = try call.activation(0, "X")
        let given = shape(input)
        guard let declared = try attributes.ints("kernel_shape") else { throw call.context.invalid("kernel_shape is missing") }
        guard (given.count == 4 && declared.count == 2) || (given.count == 3 && declared.count == 1) else {
            throw call.context.unsupported("only 1-D and 2-D pooling (input of rank 3 or 4) is supported; the input has shape \(given)")
        }
        // 1-D: the same pooling over a height of 1.
        let oneD = given.count == 3
        let x = oneD ? try emit(.reshape([given[0], given[1], 1, given[2]]), [input], call, step: "as2d") : input
        let xs = shape(x), kernel = oneD ? [1] + declared : declared
        func finish(_ operation: GraphOperation) throws -> ValueID {
            let y = try emit(operation, [x], call, step: oneD ? "pool" : nil)
            guard oneD else { return y }
            let ys = shape(y)
            return try emit(.reshape([ys[0], ys[1], ys[3]]), [y], call)
        }
        if isMax {
            try call.requireUnused(output: 1, "Indices")
            attributes.ignore("storage_order")  // only affects Indices
        }
        let window = try window(call, &attributes, input: given, kernel: kernel, dilationsAllowed: isMax && opset >= 10)
        // As onnxruntime: a pad as wide as the kernel allows windows that hold padding only,
        // where MaxPool has no value and AveragePool divides by zero.
        let padsPerAxis = [(window.pads.top, window.pads.bottom), (window.pads.left, window.pads.right)]
        for axis in 0..<2 where max(padsPerAxis[axis].0, padsPerAxis[axis].1) >= kernel[axis] {
            throw call.context.invalid("pads (\(padsPerAxis[axis].0), \(padsPerAxis[axis].1)) on spatial axis \(axis) must be smaller than the kernel (\(kernel[axis]))")
        }
        let ceilMode = opset >= 10 ? try attributes.int("ceil_mode", default: 0) : 0
        if ceilMode != 0 {
            // Rounding up only changes the output size when the last window does not end
            // exactly on the padded input's edge.
            let pads = [window.pads.top + window.pads.bottom, window.pads.left + window.pads.right]
            let strides = [window.strides.height, window.strides.width]
            let extents = [window.dilations.height * (kernel[0] - 1) + 1, window.dilations.width * (kernel[1] - 1) + 1]
            for axis in 0..<2 where (xs[2 + axis] + pads[axis] - extents[axis]) % strides[axis] != 0 {
                throw call.context.unsupportedAttribute("ceil_mode", "ceil_mode = 1 gives a larger output than floor rounding for input \(xs); only floor rounding is supported")
            }
        }
        if isMax { return try finish(.maxPool(window)) }
        let countPadding = try attributes.int("count_include_pad", default: 0) != 0
        return try finish(.averagePool(window, countIncludesPadding: countPadding))
    }

    // MARK: Affine maps

    private mutating func convertBatchNormalization(_ call: NodeCall, _ attributes: inout NodeAttributes) throws -> ValueID {
        try call.requireInputs(5...5)
        let x = try call.activation(0, "X")
        let xs = shape(x)
        guard xs.count >= 2 else { throw call.context.invalid("input shape \(xs) has no channel axis") }
        let channels = xs[1]
        let roles = ["scale", "B", "input_mean", "input_var"]
        let parameters = try (1...4).map { index -> [Double] in
            let tensor = try call.realConstant(index, roles[index - 1])
            guard tensor.shape == [channels] else {
                throw call.context.invalid("\(roles[index - 1]) has shape \(tensor.shape), expected [\(channels)]")
            }
            return tensor.doubles
        }
        // The default epsilon is the float32 1e-5 that runtimes use. epsilon is a float
        // attribute: a float32 value, so the Double holds it exactly.
        let epsilon = try attributes.float("epsilon") ?? Double(Float(1e-5))
        attributes.ignore("momentum")
        if opset < 9, try attributes.int("spatial", default: 1) != 1 {
            throw call.context.unsupportedAttribute("spatial", "spatial = 0 (per-activation statistics) is not supported")
        }
        if opset >= 14, try attributes.int("training_mode", default: 0) != 0 {
            throw call.context.unsupportedAttribute("training_mode", "training mode is not supported")
        }
        for position in 1..<5 { try call.requireUnused(output: position, "training statistics") }
        // y = (x - mean) / sqrt(var + eps) * gamma + beta = x * scale + shift, in Double
        // (round-to-nearest). Beside each held constant, an enclosure of the exact value
        // gives a bound on its rounding error, recorded as the node's constant radius.
        let (gamma, beta, mean, variance) = (parameters[0], parameters[1], parameters[2], parameters[3])
        var scale = [Double](repeating: 0, count: channels)
        var shift = [Double](repeating: 0, count: channels)
        var scaleRadius = [Double](repeating: 0, count: channels)
        var shiftRadius = [Double](repeating: 0, count: channels)
        for c in 0..<channels {
            scale[c] = gamma[c] / (variance[c] + epsilon).squareRoot()
            shift[c] = beta[c] - mean[c] * scale[c]
            guard let exact = DerivedConstants.batchNormalization(gamma: gamma[c], beta: beta[c], mean: mean[c],
                                                                  variance: variance[c], epsilon: epsilon),
                  scale[c].isFinite, shift[c].isFinite else {
                throw call.context.invalid("channel \(c): input_var + epsilon (\(variance[c]) + \(epsilon)) is not positive, "
                                           + "or the derived scale or shift is not finite")
            }
            scaleRadius[c] = DerivedConstants.radius(of: exact.scale, held: scale[c])
            shiftRadius[c] = DerivedConstants.radius(of: exact.shift, held: shift[c])
        }
        let output = try emit(.channelAffine(scale: scale, shift: shift), [x], call)
        constantRadii[output] = ConstantRadius(coefficients: scaleRadius, offsets: shiftRadius)
        return output
    }

    /// `Gemm`: `Y = alpha · A' · B' + beta · C` with `A' = transA ? Aᵀ : A` (and so for B).
    /// The constant operand becomes a `.linear`; C becomes its bias when it is constant
    /// along the axis the linear map produces, else an `addConstant`.
    ///
    /// alpha and beta are folded into the weight and the bias (products rounded to nearest);
    /// when either is not 1, the bound on each product's rounding error is recorded as the
    /// linear node's constant radius. (A FLOAT operand times a float attribute is exact in
    /// Double, 24 + 24 bits, so the radii are zero unless the operands are DOUBLE or the
    /// products underflow.) `beta · C` added by an `addConstant` cannot carry a radius, so it
    /// must be exact there, else the node is rejected.
    private mutating func convertGemm(_ call: NodeCall, _ attributes: inout NodeAttributes) throws -> ValueID {
        try call.requireInputs(2...3)
        let alpha = try attributes.float("alpha", default: 1)
        let beta = try attributes.float("beta", default: 1)
        let transA = try attributes.int("transA", default: 0) != 0
        let transB = try attributes.int("transB", default: 0) != 0
        let context = call.context
        if case .activation? = call.operand(2) {
            throw context.unsupported("C depends on the network input; only a constant C is supported")
        }
        let c = call.operand(2) == nil ? nil : try call.realConstant(2, "C")

        func scaled(_ t: Tensor, _ factor: Double) -> Tensor {
            factor == 1 ? t : Tensor(shape: t.shape, scalars: t.scalars.map { factor * $0 })
        }
        /// Bounds on the rounding of `factor · t` elementwise (zeros when `factor` is 1).
        func productRadii(_ t: Tensor, _ factor: Double) -> [Double] {
            factor == 1 ? [Double](repeating: 0, count: t.scalars.count)
                : t.scalars.map { DerivedConstants.productRadius(factor, $0) }
        }
        /// The radius of a linear step with weight `factor · t` and optional bias radii.
        func linearRadius(_ t: Tensor, outFeatures: Int, bias: [Double]?) -> ConstantRadius? {
            guard alpha != 1 || (bias != nil && beta != 1) else { return nil }
            return ConstantRadius(coefficients: productRadii(t, alpha),
                                  offsets: bias ?? [Double](repeating: 0, count: outFeatures))
        }
        /// beta · C added as an activation-shaped constant must be exact.
        func requireExact(_ full: Tensor) throws {
            guard beta != 1, let c, let original = c.irTensor.broadcast(to: full.shape) else { return }
            if let k = original.scalars.indices.first(where: { DerivedConstants.productRadius(beta, original.scalars[$0]) != 0 }) {
                throw context.unsupported("beta · C is not exactly representable (beta = \(beta), C element \(k) = \(original.scalars[k])) "
                                          + "for a C that varies along the rows, so its rounding cannot be accounted for")
            }
        }
        func matrix(_ tensor: ConstantTensor, _ role: String) throws -> Tensor {
            guard tensor.shape.count == 2, !tensor.elementType.isInteger else {
                throw context.invalid("\(role) must be a FLOAT or DOUBLE matrix, got \(tensor.elementType.onnxName) of shape \(tensor.shape)")
            }
            return tensor.irTensor
        }
        /// beta · C broadcast to [M, N], and C's shape padded to rank 2.
        func broadcastC(_ m: Int, _ n: Int) throws -> (Tensor, [Int])? {
            guard let c else { return nil }
            guard c.shape.count <= 2, let full = c.irTensor.broadcast(to: [m, n]) else {
                throw context.invalid("C of shape \(c.shape) does not broadcast to [\(m), \(n)]")
            }
            return (scaled(full, beta), Array(repeating: 1, count: 2 - c.shape.count) + c.shape)
        }
        /// C (not scaled) broadcast to [M, N]; only called after ``broadcastC`` succeeded.
        func broadcastStoredC(_ m: Int, _ n: Int) throws -> Tensor {
            guard let c, let full = c.irTensor.broadcast(to: [m, n]) else {
                throw context.invalid("C does not broadcast to [\(m), \(n)]")
            }
            return full
        }

        switch (call.operand(0), call.operand(1)) {
        case (.activation(let a)?, .constant(let bConstant)?):
            guard shape(a).count == 2 else { throw context.invalid("A must be a matrix, got shape \(shape(a))") }
            let b = try matrix(bConstant, "B")
            var steps: [(label: String, operation: GraphOperation)] = []
            var (m, k) = (shape(a)[0], shape(a)[1])
            if transA {
                steps.append(("transposeA", .transpose([1, 0])))
                (m, k) = (k, m)
            }
            // Linear weight [N, K] = B'ᵀ.
            let stored = transB ? b : b.transposed([1, 0])
            let weight = scaled(stored, alpha)
            guard weight.shape[1] == k else {
                throw context.invalid("A' is \(m) x \(k) but B' is \(weight.shape[1]) x \(weight.shape[0])")
            }
            let n = weight.shape[0]
            var radius = linearRadius(stored, outFeatures: n, bias: nil)
            if let (full, padded) = try broadcastC(m, n) {
                if padded[0] == 1 || m == 1 {
                    steps.append(("linear", .linear(Linear(weight: weight, bias: Tensor(shape: [n], scalars: Array(full.scalars[0..<n]))))))
                    let storedBias = Array(try broadcastStoredC(m, n).scalars[0..<n])
                    radius = linearRadius(stored, outFeatures: n, bias: storedBias.map { DerivedConstants.productRadius(beta, $0) })
                } else {
                    try requireExact(full)
                    steps.append(("linear", .linear(Linear(weight: weight, bias: nil))))
                    steps.append(("addC", .addConstant(full)))
                }
            } else {
                steps.append(("linear", .linear(Linear(weight: weight, bias: nil))))
            }
            return try emitChain(a, steps, call, radius: radius, radiusStep: "linear")

        case (.constant(let aConstant)?, .activation(let b)?):
            // Yᵀ = B'ᵀ · A'ᵀ: a linear map with weight alpha · A' on the rows of B'ᵀ, then a transpose.
            guard shape(b).count == 2 else { throw context.invalid("B must be a matrix, got shape \(shape(b))") }
            let a = try matrix(aConstant, "A")
            let stored = transA ? a.transposed([1, 0]) : a
            let weight = scaled(stored, alpha)  // [M, K]
            var steps: [(label: String, operation: GraphOperation)] = []
            var (k, n) = (shape(b)[0], shape(b)[1])
            if transB {
                (k, n) = (n, k)  // B'ᵀ is B itself
            } else {
                steps.append(("transposeB", .transpose([1, 0])))
            }
            guard weight.shape[1] == k else {
                throw context.invalid("A' is \(weight.shape[0]) x \(weight.shape[1]) but B' is \(k) x \(n)")
            }
            let m = weight.shape[0]
            var radius = linearRadius(stored, outFeatures: m, bias: nil)
            if let (full, padded) = try broadcastC(m, n) {
                if padded[1] == 1 || n == 1 {
                    let column = (0..<m).map { full.scalars[$0 * n] }
                    steps.append(("linear", .linear(Linear(weight: weight, bias: Tensor(shape: [m], scalars: column)))))
                    steps.append(("transposeY", .transpose([1, 0])))
                    let storedC = try broadcastStoredC(m, n)
                    radius = linearRadius(stored, outFeatures: m,
                                          bias: (0..<m).map { DerivedConstants.productRadius(beta, storedC.scalars[$0 * n]) })
                } else {
                    try requireExact(full)
                    steps.append(("linear", .linear(Linear(weight: weight, bias: nil))))
                    steps.append(("transposeY", .transpose([1, 0])))
                    steps.append(("addC", .addConstant(full)))
                }
            } else {
                steps.append(("linear", .linear(Linear(weight: weight, bias: nil))))
                steps.append(("transposeY", .transpose([1, 0])))
            }
            return try emitChain(b, steps, call, radius: radius, radiusStep: "linear")

        case (.activation?, .activation?):
            throw context.unsupported("both A and B depend on the network input (their product is not affine)")
        default:
            throw context.invalid("A or B is missing")
        }
    }

    /// `MatMul` with NumPy semantics (1-D operands are promoted and the added axis removed
    /// again) and one constant operand, whose batch dimensions must all be 1.
    private mutating func convertMatMul(_ call: NodeCall) throws -> ValueID {
        let context = call.context
        func swapLast(_ rank: Int) -> [Int] { Array(0..<(rank - 2)) + [rank - 1, rank - 2] }

        switch (call.operand(0), call.operand(1)) {
        case (.activation(let x)?, .constant(let w)?):
            let xs = shape(x)
            let expected = try matmulShape(xs, w.shape, constant: w.shape, context)
            var steps: [(label: String, operation: GraphOperation)] = []
            let weight: Tensor
            if w.shape.count == 1 {
                weight = Tensor(shape: [1, w.count], scalars: w.doubles)  // x · w = Σ_k x[..., k] w[k]
            } else {
                let (k, n) = (w.shape[w.shape.count - 2], w.shape[w.shape.count - 1])
                weight = w.irTensor.reshaped([k, n]).transposed([1, 0])
            }
            steps.append(("linear", .linear(Linear(weight: weight, bias: nil))))
            let produced = Array(xs.dropLast()) + [weight.shape[0]]
            if produced != expected { steps.append(("reshape", .reshape(expected))) }
            return try emitChain(x, steps, call)

        case (.constant(let w)?, .activation(let x)?):
            // W · X: a linear map with weight W on the columns of X (rows of Xᵀ).
            let xs = shape(x)
            let expected = try matmulShape(w.shape, xs, constant: w.shape, context)
            var steps: [(label: String, operation: GraphOperation)] = []
            let weight: Tensor
            if w.shape.count == 1 {
                weight = Tensor(shape: [1, w.count], scalars: w.doubles)
            } else {
                let (m, k) = (w.shape[w.shape.count - 2], w.shape[w.shape.count - 1])
                weight = w.irTensor.reshaped([m, k])
            }
            var produced: [Int]
            if xs.count == 1 {
                produced = [weight.shape[0]]
                steps.append(("linear", .linear(Linear(weight: weight, bias: nil))))
            } else {
                steps.append(("transposeX", .transpose(swapLast(xs.count))))
                steps.append(("linear", .linear(Linear(weight: weight, bias: nil))))
                steps.append(("transposeY", .transpose(swapLast(xs.count))))
                produced = Array(xs.dropLast(2)) + [weight.shape[0], xs[xs.count - 1]]
            }
            if produced != expected { steps.append(("reshape", .reshape(expected))) }
            return try emitChain(x, steps, call)

        case (.activation?, .activation?):
            throw context.unsupported("both operands depend on the network input (their product is not affine)")
        default:
            throw context.invalid("an operand is missing")
        }
    }

    /// NumPy `matmul` output shape for operand shapes `a` and `b`, one of which is a
    /// constant whose batch dimensions must all be 1.
    private func matmulShape(_ a: [Int], _ b: [Int], constant: [Int], _ context: NodeContext) throws -> [Int] {
        guard !a.isEmpty, !b.isEmpty else { throw context.invalid("MatMul operands must have rank 1 or more, got \(a) and \(b)") }
        let aMatrix = a.count == 1 ? [1] + a : a
        let bMatrix = b.count == 1 ? b + [1] : b
        guard aMatrix[aMatrix.count - 1] == bMatrix[bMatrix.count - 2] else {
            throw context.invalid("inner dimensions of \(a) and \(b) differ")
        }
        guard let batch = broadcastShapes(Array(aMatrix.dropLast(2)), Array(bMatrix.dropLast(2))) else {
            throw context.invalid("batch dimensions of \(a) and \(b) do not broadcast")
        }
        guard constant.dropLast(2).allSatisfy({ $0 == 1 }) else {
            throw context.unsupported("a constant operand with batch dimensions other than 1 (shapes \(a) and \(b))")
        }
        var result = batch
        if a.count > 1 { result.append(aMatrix[aMatrix.count - 2]) }
        if b.count > 1 { result.append(bMatrix[bMatrix.count - 1]) }
        return result
    }

    // MARK: Elementwise

    /// Add/Sub/Mul/Div with one constant operand (broadcast to the output shape), or
    /// Add/Sub of two activations of equal shape.
    private mutating func convertElementwise(_ call: NodeCall) throws -> ValueID {
        let context = call.context
        let op = context.op
        switch (call.operand(0), call.operand(1)) {
        case (.activation(let a)?, .activation(let b)?):
            guard op == "Add" || op == "Sub" else {
                throw context.unsupported("both operands depend on the network input (\(op) of two activations is not affine)")
            }
            guard let both = broadcastShapes(shape(a), shape(b)) else {
                throw context.invalid("shapes \(shape(a)) and \(shape(b)) do not broadcast")
            }
            try requireBounded(both, context)
            let (left, right) = (try expand(a, to: both, call, step: "expandA"), try expand(b, to: both, call, step: "expandB"))
            return try emit(op == "Add" ? .add : .subtract, [left, right], call)

        case (.activation(let x)?, .constant(let c)?), (.constant(let c)?, .activation(let x)?):
            let activationFirst: Bool
            if case .activation? = call.operand(0) { activationFirst = true } else { activationFirst = false }
            guard !c.elementType.isInteger else {
                throw context.invalid("the constant operand is \(c.elementType.onnxName), but the activation is floating point")
            }
            let xs = shape(x)
            guard let output = broadcastShapes(xs, c.shape) else {
                throw context.invalid("shapes \(xs) and \(c.shape) do not broadcast")
            }
            try requireBounded(output, context)
            var steps: [(label: String, operation: GraphOperation)] = []
            if output != xs {
                let added = output.count - xs.count
                guard added > 0, Array(output.suffix(xs.count)) == xs, output.prefix(added).allSatisfy({ $0 == 1 }) else {
                    throw context.unsupported("broadcasting with the constant of shape \(c.shape) would grow the activation \(xs) to \(output)")
                }
                steps.append(("broadcast", .reshape(output)))
            }
            guard let full = c.irTensor.broadcast(to: output) else {
                throw context.invalid("the constant of shape \(c.shape) does not broadcast to \(output)")
            }
            switch op {
            case "Add":
                steps.append(("add", .addConstant(full)))
            case "Sub" where activationFirst:
                steps.append(("sub", .addConstant(Tensor(shape: output, scalars: full.scalars.map { -$0 }))))
            case "Sub":
                // c - x = (-1) · x + c
                steps.append(("negate", .multiplyConstant(Tensor(shape: output, repeating: -1))))
                steps.append(("add", .addConstant(full)))
            case "Mul":
                steps.append(("mul", .multiplyConstant(full)))
            default:
                guard activationFirst else {
                    throw context.unsupported("a constant divided by an activation (c / x)")
                }
                guard !full.scalars.contains(0) else {
                    throw context.unsupported("division by a constant that contains zero")
                }
                steps.append(("div", .divideConstant(full)))
            }
            return try emitChain(x, steps, call)

        default:
            throw context.invalid("an operand is missing")
        }
    }
}

// MARK: - Enclosures of derived constants

/// Exact-value enclosures of constants the loader computes from stored parameters, and the
/// resulting bounds on the rounding error of the held (round-to-nearest) constants.
///
/// Each function returns an ``Interval`` that contains the exact real value of the formula
/// applied to the stored numbers (directed rounding from EvidentSoundArithmetic, square
/// roots checked with fused multiply-add residuals), so a radius derived from it bounds
/// `|exact − held|` whatever order or precision produced the held value.
enum DerivedConstants {
    /// Below this an FMA residual may underflow: the square root then steps outward unconditionally.
    static let residualThreshold = 0x1p-960

    /// `√x` rounded down (`upward == false`) or up, for finite `x ≥ 0`: `r ≤ √x` or `r ≥ √x`.
    /// The rounded-to-nearest root `r` is checked by the sign of `r·r − x`, computed exactly by a
    /// fused multiply-add (the residual of a correctly rounded square root is representable).
    static func squareRoot(_ x: Double, upward: Bool) -> Double {
        let r = x.squareRoot()
        guard x > 0, r.isFinite else { return r }
        if x < residualThreshold { return upward ? r.nextUp : r.nextDown }
        let residual = (-x).addingProduct(r, r)  // r·r − x, exact
        if upward { return residual < 0 ? r.nextUp : r }
        return residual > 0 ? r.nextDown : r
    }

    /// Enclosures of `scale = γ / √(σ² + ε)` and `shift = β − μ · scale` for stored `γ, β, μ, σ²`
    /// and `ε`, or `nil` when `σ² + ε` is not certainly positive or an end is not finite.
    static func batchNormalization(gamma: Double, beta: Double, mean: Double, variance: Double,
                                   epsilon: Double) -> (scale: Interval, shift: Interval)? {
        let sumLow = roundedSum(variance, epsilon, upward: false), sumHigh = roundedSum(variance, epsilon, upward: true)
        guard sumLow > 0, sumHigh.isFinite else { return nil }
        let rootLow = squareRoot(sumLow, upward: false), rootHigh = squareRoot(sumHigh, upward: true)
        guard rootLow > 0, rootHigh.isFinite else { return nil }
        // γ / r over r ∈ [rootLow, rootHigh] (positive): decreasing in r for γ ≥ 0, increasing for γ < 0.
        let scale = gamma >= 0
            ? Interval(lo: roundedQuotient(gamma, rootHigh, upward: false), hi: roundedQuotient(gamma, rootLow, upward: true))
            : Interval(lo: roundedQuotient(gamma, rootLow, upward: false), hi: roundedQuotient(gamma, rootHigh, upward: true))
        let shift = Interval.point(beta) - Interval.point(mean) * scale
        guard scale.isFinite, shift.isFinite else { return nil }
        return (scale, shift)
    }

    /// A number `≥ |e − held|` for every `e` in `exact`: `max(hi − held, held − lo)` rounded up.
    static func radius(of exact: Interval, held: Double) -> Double {
        Swift.max(0, roundedSum(exact.hi, -held, upward: true), roundedSum(held, -exact.lo, upward: true))
    }

    /// A bound on the rounding error of the product `a · b` rounded to nearest (0 when exact).
    static func productRadius(_ a: Double, _ b: Double) -> Double {
        let exact = Interval(lo: roundedProduct(a, b, upward: false), hi: roundedProduct(a, b, upward: true))
        return radius(of: exact, held: a * b)
    }
}
