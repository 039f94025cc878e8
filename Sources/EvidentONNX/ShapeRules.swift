import EvidentIR

// Shape rules shared by the activation conversions and by constant folding, each
// following the ONNX operator specification (opsets 7 to 21).

/// The node's inputs and outputs as the converter sees them.
struct NodeCall {
    let context: NodeContext
    /// One entry per ONNX input; `nil` for an omitted optional input (empty name).
    let operands: [Slot?]
    /// The ONNX output names (empty for omitted optional outputs).
    let outputs: [String]
    /// Every value name read by some node or by the graph output.
    let usedNames: Set<String>

    /// The first output's name.
    var outputName: String { outputs[0] }

    /// The operand at `index`, or `nil` when absent.
    func operand(_ index: Int) -> Slot? { index < operands.count ? operands[index] : nil }

    /// True when output `position` exists and something reads it.
    func outputUsed(_ position: Int) -> Bool {
        position < outputs.count && !outputs[position].isEmpty && usedNames.contains(outputs[position])
    }

    /// Checks the number of inputs given (omitted trailing inputs included).
    func requireInputs(_ range: ClosedRange<Int>) throws {
        guard range.contains(operands.count) else {
            let expected = range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound) to \(range.upperBound)"
            throw context.invalid("expects \(expected) inputs, got \(operands.count)")
        }
    }

    /// Throws when output `position` (a training-only or auxiliary output) is read by anything.
    func requireUnused(output position: Int, _ what: String) throws {
        if outputUsed(position) {
            throw context.unsupported("the \(what) output '\(outputs[position])' is used")
        }
    }

    /// A required constant operand (for example a weight).
    func constant(_ index: Int, _ role: String) throws -> ConstantTensor {
        switch operand(index) {
        case .constant(let tensor)?: return tensor
        case .activation?: throw context.unsupported("the \(role) (input \(index)) must be a constant, but it depends on the network input")
        case nil: throw context.invalid("the \(role) (input \(index)) is missing")
        }
    }

    /// An optional constant operand.
    func optionalConstant(_ index: Int, _ role: String) throws -> ConstantTensor? {
        operand(index) == nil ? nil : try constant(index, role)
    }

    /// A required integer constant operand, as `Int`s (shapes, axes, pads).
    func integers(_ index: Int, _ role: String) throws -> [Int] {
        let tensor = try constant(index, role)
        guard let values = tensor.integers else {
            throw context.invalid("the \(role) (input \(index)) must be an integer tensor, got \(tensor.elementType.onnxName)")
        }
        return values.map { Int($0) }
    }

    /// A required floating-point constant operand.
    func realConstant(_ index: Int, _ role: String) throws -> ConstantTensor {
        let tensor = try constant(index, role)
        guard !tensor.elementType.isInteger else {
            throw context.invalid("the \(role) (input \(index)) must be FLOAT or DOUBLE, got \(tensor.elementType.onnxName)")
        }
        return tensor
    }

    /// Axes of Squeeze/Unsqueeze: an attribute before opset 13, the optional second input from 13.
    func squeezeAxes(_ attributes: inout NodeAttributes, opset: Int) throws -> [Int]? {
        if opset < 13 {
            try requireInputs(1...1)
            return try attributes.ints("axes")
        }
        try requireInputs(1...2)
        return operand(1) == nil ? nil : try integers(1, "axes")
    }

    /// A required activation operand.
    func activation(_ index: Int, _ role: String) throws -> ValueID {
        switch operand(index) {
        case .activation(let value)?: return value
        case .constant?: throw context.unsupported("the \(role) (input \(index)) is a constant where an activation is expected")
        case nil: throw context.invalid("the \(role) (input \(index)) is missing")
        }
    }
}

/// The largest element count the loader accepts for any tensor (2^31 - 1): larger shapes
/// in a file are an error, not an arithmetic overflow or an attempt to allocate them.
let maximumElementCount = Int(Int32.max)

/// Attribute values (strides, dilations, pads) above this are rejected as implausible,
/// which keeps all window arithmetic far from overflow.
let maximumWindowAttribute = 1 << 24

/// The element count of `shape`, or `nil` when a dimension is negative or the count exceeds
/// ``maximumElementCount``.
func boundedElementCount<Dims: Collection>(_ shape: Dims) -> Int? where Dims.Element == Int {
    var count = 1
    for dim in shape {
        guard dim >= 0, dim <= maximumElementCount else { return nil }
        count *= dim  // both factors ≤ 2^31, so no overflow
        guard count <= maximumElementCount else { return nil }
    }
    return count
}

/// Throws unless `shape` has non-negative dimensions and at most ``maximumElementCount`` elements.
func requireBounded(_ shape: [Int], _ context: NodeContext, _ what: String = "result") throws {
    guard boundedElementCount(shape) != nil else {
        throw context.invalid("the \(what) shape \(shape) is negative or too large")
    }
}

/// `axis` made non-negative for a tensor of `rank` axes (`-rank ... rank - 1`, or up to
/// `rank` when `inclusiveEnd`).
func normalizeAxis(_ axis: Int, rank: Int, inclusiveEnd: Bool = false, _ context: NodeContext, attribute: String = "axis") throws -> Int {
    let upper = inclusiveEnd ? rank : rank - 1
    guard axis >= -rank && axis <= upper else {
        throw context.invalid("\(attribute) \(axis) is out of range for rank \(rank)")
    }
    return axis < 0 ? axis + rank : axis
}

/// Output shape of `Flatten` with `axis` (`0 ... rank`, negative counts from the end).
func flattenShape(_ input: [Int], axis: Int, _ context: NodeContext) throws -> [Int] {
    let axis = try normalizeAxis(axis, rank: input.count, inclusiveEnd: true, context)
    return [input[..<axis].elementCount, input[axis...].elementCount]
}

/// Output shape of `Reshape`: `0` copies the input dimension (unless `allowZero`), `-1` is inferred.
func reshapeShape(_ input: [Int], spec: [Int], allowZero: Bool, _ context: NodeContext) throws -> [Int] {
    var output = [Int]()
    var inferred: Int? = nil
    guard spec.allSatisfy({ $0 <= maximumElementCount }) else { throw context.invalid("shape \(spec) is too large") }
    for (axis, dim) in spec.enumerated() {
        switch dim {
        case -1:
            guard inferred == nil else { throw context.invalid("shape \(spec) has more than one -1") }
            inferred = axis
            output.append(1)
        case 0 where !allowZero:
            guard axis < input.count else { throw context.invalid("shape \(spec) copies dimension \(axis), but the input \(input) has rank \(input.count)") }
            output.append(input[axis])
        case let d where d >= 0:
            output.append(d)
        default:
            throw context.invalid("shape \(spec) has the invalid dimension \(dim)")
        }
    }
    let total = input.elementCount
    if let inferred {
        guard let known = boundedElementCount(output) else { throw context.invalid("shape \(spec) is too large") }
        guard known > 0, total % known == 0 else {
            throw context.invalid("cannot reshape \(input) to \(spec): \(total) elements do not divide into \(known)")
        }
        output[inferred] = total / known
    }
    guard boundedElementCount(output) == total else {
        throw context.invalid("cannot reshape \(input) (\(total) elements) to \(spec)")
    }
    return output
}

/// Output shape of `Squeeze`: the listed axes (which must have size 1) removed, or every
/// size-1 axis when `axes` is `nil`.
func squeezeShape(_ input: [Int], axes: [Int]?, _ context: NodeContext) throws -> [Int] {
    guard let axes else { return input.filter { $0 != 1 } }
    let normalized = Set(try axes.map { try normalizeAxis($0, rank: input.count, context, attribute: "axes entry") })
    guard normalized.count == axes.count else { throw context.invalid("axes \(axes) repeat an axis") }
    for axis in normalized where input[axis] != 1 {
        throw context.invalid("cannot squeeze axis \(axis) of size \(input[axis]) in shape \(input)")
    }
    return input.enumerated().filter { !normalized.contains($0.offset) }.map(\.element)
}

/// Output shape of `Unsqueeze`: size-1 axes inserted at `axes` (positions in the output).
func unsqueezeShape(_ input: [Int], axes: [Int], _ context: NodeContext) throws -> [Int] {
    let rank = input.count + axes.count
    let normalized = Set(try axes.map { try normalizeAxis($0, rank: rank, context, attribute: "axes entry") })
    guard normalized.count == axes.count else { throw context.invalid("axes \(axes) repeat an axis") }
    var rest = input.makeIterator()
    return (0..<rank).map { normalized.contains($0) ? 1 : (rest.next() ?? 1) }
}

/// The `perm` of `Transpose`, defaulting to the reversed axes.
func transposePermutation(_ perm: [Int]?, rank: Int, _ context: NodeContext) throws -> [Int] {
    guard let perm else { return Array((0..<rank).reversed()) }
    guard perm.sorted() == Array(0..<rank) else {
        throw context.invalid("perm \(perm) is not a permutation of \(rank) axes")
    }
    return perm
}

/// For each element of `target` (row-major), the flat index of the element of a tensor
/// of shape `shape` that NumPy broadcasting maps onto it. `shape` must broadcast to `target`.
func broadcastSourceIndices(from shape: [Int], to target: [Int]) -> [Int] {
    let padded = Array(repeating: 1, count: target.count - shape.count) + shape
    let strides = padded.rowMajorStrides
    let effective = zip(padded, strides).map { $0.0 == 1 ? 0 : $0.1 }
    let total = target.elementCount
    var result = [Int](repeating: 0, count: total)
    var index = [Int](repeating: 0, count: target.count)
    var source = 0
    for flat in 0..<total {
        result[flat] = source
        // Advance the multi-index like an odometer, keeping `source` in step.
        var axis = target.count - 1
        while axis >= 0 {
            index[axis] += 1
            source += effective[axis]
            if index[axis] < target[axis] { break }
            source -= effective[axis] * index[axis]
            index[axis] = 0
            axis -= 1
        }
    }
    return result
}
