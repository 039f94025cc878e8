import EvidentIR

/// Evaluates, at load time, a node whose operands are all constants (and `Shape`, whose
/// result only depends on the operand's known shape). Exporters such as PyTorch compute
/// `Reshape` targets this way (`Shape -> Gather -> Unsqueeze -> Concat -> Reshape`).
///
/// Arithmetic follows ONNX semantics exactly: FLOAT results are rounded to float32 after
/// each operation (computing in Double and rounding once is the correctly rounded float32
/// result for `+ - * /`), integer division truncates towards zero, and integer overflow
/// or division by zero is an error rather than a wrapped value.
///
/// **No constant radius.** A folded result is, by definition, the value the ONNX model holds:
/// ONNX specifies that a FLOAT `Div` of two constants produces the float32-rounded quotient,
/// exactly as a runtime computes it, so the folded tensor is exact for the model as specified
/// and needs no entry in ``Network/constantRadii`` (unlike BatchNormalization's scale and
/// shift or Gemm's `alpha · B`, which the loader derives in Double where ONNX specifies the
/// exact real formula; see `DerivedConstants` in OperatorConversion.swift). The same holds
/// for `Cast` (rounding to float32 or truncation to integers is the operator's semantics).
struct ConstantFolder {
    let call: NodeCall
    let opset: Int
    /// Shapes of activations (for `Shape`).
    let shapeOf: (ValueID) -> [Int]

    private var context: NodeContext { call.context }

    func fold(_ attributes: inout NodeAttributes) throws -> [ConstantTensor] {
        switch context.op {
        case "Constant":
            try call.requireInputs(0...0)
            return [try constantValue(&attributes)]
        case "Identity":
            try call.requireInputs(1...1)
            return [try call.constant(0, "input")]
        case "Dropout":
            try call.requireInputs(1...3)
            try call.requireUnused(output: 1, "mask")
            attributes.ignore("seed", "ratio")
            if let training = try call.optionalConstant(2, "training_mode"), training.doubles.contains(where: { $0 != 0 }) {
                throw context.unsupported("training_mode is true")
            }
            return [try call.constant(0, "input")]
        case "Add", "Sub", "Mul", "Div":
            try call.requireInputs(2...2)
            return [try binary(try call.constant(0, "A"), try call.constant(1, "B"))]
        case "Neg":
            try call.requireInputs(1...1)
            let x = try call.constant(0, "input")
            switch x.elements {
            case .real(let v): return [ConstantTensor(real: v.map { -$0 }, shape: x.shape, type: x.elementType)]
            case .integer(let v):
                guard !v.contains(Int64.min) else { throw context.invalid("integer overflow in Neg") }
                return [ConstantTensor(elementType: x.elementType, shape: x.shape, elements: .integer(v.map { -$0 }))]
            }
        case "Relu":
            try call.requireInputs(1...1)
            let x = try call.constant(0, "input")
            switch x.elements {
            case .real(let v): return [ConstantTensor(real: v.map { Swift.max($0, 0) }, shape: x.shape, type: x.elementType)]
            case .integer(let v): return [ConstantTensor(elementType: x.elementType, shape: x.shape, elements: .integer(v.map { Swift.max($0, 0) }))]
            }
        case "Reshape":
            try call.requireInputs(2...2)
            let x = try call.constant(0, "data")
            let allowZero = opset >= 14 ? try attributes.int("allowzero", default: 0) != 0 : false
            return [x.reshaped(try reshapeShape(x.shape, spec: try call.integers(1, "shape"), allowZero: allowZero, context))]
        case "Flatten":
            try call.requireInputs(1...1)
            let x = try call.constant(0, "input")
            return [x.reshaped(try flattenShape(x.shape, axis: try attributes.int("axis", default: 1), context))]
        case "Squeeze":
            try call.requireInputs(1...2)
            let x = try call.constant(0, "data")
            return [x.reshaped(try squeezeShape(x.shape, axes: try call.squeezeAxes(&attributes, opset: opset), context))]
        case "Unsqueeze":
            try call.requireInputs(1...2)
            let x = try call.constant(0, "data")
            guard let axes = try call.squeezeAxes(&attributes, opset: opset) else { throw context.invalid("axes are missing") }
            return [x.reshaped(try unsqueezeShape(x.shape, axes: axes, context))]
        case "Transpose":
            try call.requireInputs(1...1)
            let x = try call.constant(0, "data")
            let perm = try transposePermutation(try attributes.ints("perm"), rank: x.shape.count, context)
            let order = permute((0..<x.count).map { Double($0) }, shape: x.shape, permutation: perm).map { Int($0) }
            return [x.gathering(order, shape: perm.map { x.shape[$0] })]
        case "Concat":
            return [try concat(&attributes)]
        case "Gather":
            return [try gather(&attributes)]
        case "Slice":
            let data = try call.constant(0, "data")
            let map = try call.sliceMap(shape: data.shape, &attributes, opset: opset, allowEmpty: true)
            return [data.gathering(map.sources, shape: map.shape)]
        case "Split":
            let data = try call.constant(0, "input")
            return try call.splitMaps(shape: data.shape, &attributes, opset: opset).map { data.gathering($0.sources, shape: $0.shape) }
        case "Cast":
            return [try cast(&attributes)]
        case "Shape":
            return [try shape(&attributes)]
        case "ConstantOfShape":
            return [try constantOfShape(&attributes)]
        case "Expand":
            try call.requireInputs(2...2)
            let x = try call.constant(0, "input")
            let requested = try call.integers(1, "shape")
            guard let target = broadcastShapes(x.shape, requested) else {
                throw context.invalid("the input shape \(x.shape) does not broadcast with \(requested)")
            }
            try requireBounded(target, context)
            return [x.gathering(broadcastSourceIndices(from: x.shape, to: target), shape: target)]
        case "Range":
            return [try range()]
        case "MatMul":
            return [try matmul()]
        case "Max", "Min":
            return [try extremum()]
        case "Conv", "Gemm", "BatchNormalization", "AveragePool", "GlobalAveragePool", "MaxPool", "Pad", "Clip", "LeakyRelu",
             "PRelu", "ReduceSum", "ReduceMean", "Resize", "Upsample", "ConvTranspose", "Sum":
            throw context.unsupported("\(context.op) with only constant operands is not evaluated at load time")
        default:
            throw context.unsupportedOperator
        }
    }

    // MARK: Constant

    private func constantValue(_ attributes: inout NodeAttributes) throws -> ConstantTensor {
        let supported = ["value", "value_float", "value_floats", "value_int", "value_ints"]
        for other in ["sparse_value", "value_string", "value_strings"] where attributes.has(other) {
            throw context.unsupportedAttribute(other, "only numeric constants are supported")
        }
        let present = supported.filter { attributes.has($0) }
        guard present.count == 1 else {
            throw context.invalid("a Constant needs exactly one value attribute, found \(present.isEmpty ? "none" : present.joined(separator: ", "))")
        }
        switch present[0] {
        case "value":
            guard let proto = try attributes.tensor("value") else { throw context.invalid("value is missing") }
            let name = proto.name.isEmpty ? call.outputName : proto.name
            return try ConstantTensor(proto: proto, name: name, source: context.source)
        case "value_float":
            return ConstantTensor(real: [try attributes.float("value_float") ?? 0], shape: [])
        case "value_floats":
            let values = try attributes.floats("value_floats") ?? []
            return ConstantTensor(real: values, shape: [values.count])
        case "value_int":
            return ConstantTensor(int64: [Int64(try attributes.int("value_int") ?? 0)], shape: [])
        default:
            let values = (try attributes.ints("value_ints") ?? []).map { Int64($0) }
            return ConstantTensor(int64: values, shape: [values.count])
        }
    }

    // MARK: Arithmetic

    private func binary(_ a: ConstantTensor, _ b: ConstantTensor) throws -> ConstantTensor {
        guard let shape = broadcastShapes(a.shape, b.shape) else {
            throw context.invalid("shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        try requireBounded(shape, context)
        let ia = broadcastSourceIndices(from: a.shape, to: shape)
        let ib = broadcastSourceIndices(from: b.shape, to: shape)
        switch (a.elements, b.elements) {
        case let (.integer(x), .integer(y)):
            var out = [Int64]()
            out.reserveCapacity(ia.count)
            for (i, j) in zip(ia, ib) {
                let (value, overflow): (Int64, Bool)
                switch context.op {
                case "Add": (value, overflow) = x[i].addingReportingOverflow(y[j])
                case "Sub": (value, overflow) = x[i].subtractingReportingOverflow(y[j])
                case "Mul": (value, overflow) = x[i].multipliedReportingOverflow(by: y[j])
                default:
                    guard y[j] != 0 else { throw context.invalid("integer division by zero") }
                    (value, overflow) = x[i].dividedReportingOverflow(by: y[j])  // truncates towards zero
                }
                guard !overflow else { throw context.invalid("integer overflow") }
                out.append(value)
            }
            return ConstantTensor(elementType: a.elementType, shape: shape, elements: .integer(out))
        case let (.real(x), .real(y)):
            let roundToFloat = a.elementType == .float || b.elementType == .float
            var out = [Double]()
            out.reserveCapacity(ia.count)
            for (i, j) in zip(ia, ib) {
                var value: Double
                switch context.op {
                case "Add": value = x[i] + y[j]
                case "Sub": value = x[i] - y[j]
                case "Mul": value = x[i] * y[j]
                default: value = x[i] / y[j]
                }
                if roundToFloat { value = Double(Float(value)) }
                out.append(value)
            }
            return ConstantTensor(real: out, shape: shape, type: a.elementType)
        default:
            throw context.invalid("operands have different element types \(a.elementType.onnxName) and \(b.elementType.onnxName)")
        }
    }

    // MARK: Data movement

    private func concat(_ attributes: inout NodeAttributes) throws -> ConstantTensor {
        guard !call.operands.isEmpty else { throw context.invalid("expects at least one input") }
        let parts = try call.operands.indices.map { try call.constant($0, "input") }
        guard let axisAttribute = try attributes.int("axis") else { throw context.invalid("the axis attribute is missing") }
        let first = parts[0]
        let axis = try normalizeAxis(axisAttribute, rank: first.shape.count, context)
        var shape = first.shape
        shape[axis] = 0
        for part in parts {
            guard part.shape.count == first.shape.count,
                  part.shape.indices.allSatisfy({ $0 == axis || part.shape[$0] == first.shape[$0] }) else {
                throw context.invalid("input shapes \(parts.map(\.shape)) do not match outside axis \(axis)")
            }
            guard part.elementType.isInteger == first.elementType.isInteger else {
                throw context.invalid("inputs mix element types \(first.elementType.onnxName) and \(part.elementType.onnxName)")
            }
            shape[axis] += part.shape[axis]
        }
        let outer = first.shape[..<axis].elementCount
        let inner = first.shape[(axis + 1)...].elementCount
        switch first.elements {
        case .real:
            var out = [Double]()
            out.reserveCapacity(shape.elementCount)
            let sources = parts.map(\.doubles)
            for o in 0..<outer {
                for (part, values) in zip(parts, sources) {
                    let block = part.shape[axis] * inner
                    out.append(contentsOf: values[(o * block)..<((o + 1) * block)])
                }
            }
            return ConstantTensor(real: out, shape: shape, type: first.elementType)
        case .integer:
            var out = [Int64]()
            out.reserveCapacity(shape.elementCount)
            let sources = parts.map { $0.integers ?? [] }
            for o in 0..<outer {
                for (part, values) in zip(parts, sources) {
                    let block = part.shape[axis] * inner
                    out.append(contentsOf: values[(o * block)..<((o + 1) * block)])
                }
            }
            return ConstantTensor(elementType: first.elementType, shape: shape, elements: .integer(out))
        }
    }

    private func gather(_ attributes: inout NodeAttributes) throws -> ConstantTensor {
        let data = try call.constant(0, "data")
        let map = try call.gatherMap(shape: data.shape, &attributes)
        return data.gathering(map.sources, shape: map.shape)
    }

    private func cast(_ attributes: inout NodeAttributes) throws -> ConstantTensor {
        try call.requireInputs(1...1)
        let x = try call.constant(0, "input")
        guard let code = try attributes.int("to") else { throw context.invalid("the attribute 'to' is missing") }
        if opset >= 19 { attributes.ignore("saturate") }  // only for float8 targets
        guard let target = ConstantTensor.ElementType(onnxCode: code) else {
            throw context.unsupportedAttribute("to", "casting to \(onnxDataTypeName(code)) is not supported")
        }
        switch (x.elements, target.isInteger) {
        case let (.real(v), false):
            return ConstantTensor(real: target == .float ? v.map { Double(Float($0)) } : v, shape: x.shape, type: target)
        case let (.integer(v), false):
            return ConstantTensor(real: v.map { target == .float ? Double(Float($0)) : Double($0) }, shape: x.shape, type: target)
        case let (.real(v), true):
            let converted = try v.map { value -> Int64 in
                let truncated = value.rounded(.towardZero)
                guard truncated.isFinite, truncated >= -9.223372036854775808e18, truncated < 9.223372036854775808e18 else {
                    throw context.invalid("cannot cast \(value) to \(target.onnxName)")
                }
                let integer = Int64(truncated)
                return target == .int32 ? Int64(Int32(truncatingIfNeeded: integer)) : integer
            }
            return ConstantTensor(elementType: target, shape: x.shape, elements: .integer(converted))
        case let (.integer(v), true):
            let converted = target == .int32 ? v.map { Int64(Int32(truncatingIfNeeded: $0)) } : v
            return ConstantTensor(elementType: target, shape: x.shape, elements: .integer(converted))
        }
    }

    private func shape(_ attributes: inout NodeAttributes) throws -> ConstantTensor {
        try call.requireInputs(1...1)
        let shape: [Int]
        switch call.operand(0) {
        case .constant(let tensor)?: shape = tensor.shape
        case .activation(let value)?: shape = shapeOf(value)
        case nil: throw context.invalid("the input is missing")
        }
        var start = 0
        var end = shape.count
        if opset >= 15 {
            // Negative bounds count from the end; both are clamped to [0, rank].
            func clamp(_ bound: Int) -> Int { Swift.min(Swift.max(bound < 0 ? bound + shape.count : bound, 0), shape.count) }
            start = clamp(try attributes.int("start", default: 0))
            end = clamp(try attributes.int("end", default: shape.count))
        }
        let dims = start < end ? Array(shape[start..<end]) : []
        return ConstantTensor(int64: dims.map { Int64($0) }, shape: [dims.count])
    }

    private func constantOfShape(_ attributes: inout NodeAttributes) throws -> ConstantTensor {
        try call.requireInputs(1...1)
        let dims = try call.integers(0, "shape")
        try requireBounded(dims, context)
        var fill = ConstantTensor(real: [0], shape: [1])
        if let proto = try attributes.tensor("value") {
            fill = try ConstantTensor(proto: proto, name: proto.name.isEmpty ? call.outputName : proto.name, source: context.source)
            guard fill.count == 1 else { throw context.invalid("value must hold one element, got \(fill.count)") }
        }
        return fill.gathering(Array(repeating: 0, count: dims.elementCount), shape: dims)
    }

    // MARK: Range, MatMul, Max and Min

    /// `Range(start, limit, delta)`: `max(ceil((limit − start) / delta), 0)` elements
    /// `start + i · delta` (integers exactly; FLOAT rounded to float32 as ONNX computes them).
    private func range() throws -> ConstantTensor {
        try call.requireInputs(3...3)
        let parts = try (0..<3).map { try call.constant($0, ["start", "limit", "delta"][$0]) }
        guard parts.allSatisfy({ $0.count == 1 }), parts.allSatisfy({ $0.elementType == parts[0].elementType }) else {
            throw context.invalid("start, limit and delta must be scalars of one element type")
        }
        if let values = parts.map({ $0.integers?[0] }) as? [Int64] {
            let (start, limit, delta) = (values[0], values[1], values[2])
            guard delta != 0 else { throw context.invalid("delta is 0") }
            let span = Double(limit) - Double(start)
            let count = Swift.max(0, Int((span / Double(delta)).rounded(.up)))
            try requireBounded([count], context)
            return ConstantTensor(elementType: parts[0].elementType, shape: [count],
                                  elements: .integer((0..<count).map { start + Int64($0) * delta }))
        }
        let (start, limit, delta) = (parts[0].doubles[0], parts[1].doubles[0], parts[2].doubles[0])
        guard delta != 0, start.isFinite, limit.isFinite, delta.isFinite else { throw context.invalid("delta is 0 or a value is not finite") }
        let count = Swift.max(0, Int(((limit - start) / delta).rounded(.up)))
        try requireBounded([count], context)
        let isFloat = parts[0].elementType == .float
        var values = [Double](), current = start
        for _ in 0..<count {
            values.append(current)
            current = isFloat ? Double(Float(current + delta)) : current + delta
        }
        return ConstantTensor(real: values, shape: [count], type: parts[0].elementType)
    }

    /// `MatMul` of two floating-point constants with NumPy semantics, each entry summed in
    /// Double and, for FLOAT, rounded once to float32 (ONNX leaves the order of the sum open).
    private func matmul() throws -> ConstantTensor {
        try call.requireInputs(2...2)
        let a = try call.constant(0, "A"), b = try call.constant(1, "B")
        guard !a.elementType.isInteger, a.elementType == b.elementType else {
            throw context.unsupported("MatMul of constants of types \(a.elementType.onnxName) and \(b.elementType.onnxName); only equal floating-point types are evaluated")
        }
        guard !a.shape.isEmpty, !b.shape.isEmpty else { throw context.invalid("MatMul operands must have rank 1 or more") }
        let aShape = a.shape.count == 1 ? [1] + a.shape : a.shape, bShape = b.shape.count == 1 ? b.shape + [1] : b.shape
        let (m, k, n) = (aShape[aShape.count - 2], aShape[aShape.count - 1], bShape[bShape.count - 1])
        guard bShape[bShape.count - 2] == k, let batch = broadcastShapes(Array(aShape.dropLast(2)), Array(bShape.dropLast(2))) else {
            throw context.invalid("shapes \(a.shape) and \(b.shape) do not multiply")
        }
        try requireBounded(batch + [m, n], context)
        let aBatch = broadcastSourceIndices(from: Array(aShape.dropLast(2)), to: batch)
        let bBatch = broadcastSourceIndices(from: Array(bShape.dropLast(2)), to: batch)
        let (x, y) = (a.doubles, b.doubles)
        var out = [Double](repeating: 0, count: batch.elementCount * m * n)
        for t in 0..<batch.elementCount {
            let (ao, bo, oo) = (aBatch[t] * m * k, bBatch[t] * k * n, t * m * n)
            for i in 0..<m {
                for j in 0..<n {
                    var sum = 0.0
                    for r in 0..<k { sum += x[ao + i * k + r] * y[bo + r * n + j] }
                    out[oo + i * n + j] = a.elementType == .float ? Double(Float(sum)) : sum
                }
            }
        }
        var shape = batch
        if a.shape.count > 1 { shape.append(m) }
        if b.shape.count > 1 { shape.append(n) }
        return ConstantTensor(real: out, shape: shape, type: a.elementType)
    }

    /// Elementwise `Max` or `Min` of constants with NumPy broadcasting (exact).
    private func extremum() throws -> ConstantTensor {
        guard !call.operands.isEmpty else { throw context.invalid("expects at least one input") }
        let parts = try call.operands.indices.map { try call.constant($0, "input") }
        guard parts.allSatisfy({ !$0.elementType.isInteger && $0.elementType == parts[0].elementType }) else {
            throw context.unsupported("\(context.op) of integer or mixed-type constants is not evaluated at load time")
        }
        var shape = parts[0].shape
        for part in parts.dropFirst() {
            guard let s = broadcastShapes(shape, part.shape) else { throw context.invalid("shapes \(parts.map(\.shape)) do not broadcast") }
            shape = s
        }
        try requireBounded(shape, context)
        var result = [Double]()
        for part in parts {
            let values = part.doubles, sources = broadcastSourceIndices(from: part.shape, to: shape)
            if result.isEmpty {
                result = sources.map { values[$0] }
            } else {
                for (e, s) in sources.enumerated() {
                    result[e] = context.op == "Max" ? Swift.max(result[e], values[s]) : Swift.min(result[e], values[s])
                }
            }
        }
        return ConstantTensor(real: result, shape: shape, type: parts[0].elementType)
    }
}
