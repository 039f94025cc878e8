import EvidentIR

// Element selections of the structural operators (Gather, Slice, Split), shared by constant
// folding and by the conversion of activations into `select` nodes: each function gives the
// output shape and, for every output element in row-major order, the flat index of the
// input element it copies.

/// A selection of a tensor's elements: `sources[e]` is the flat input index of output element `e`.
struct IndexMap {
    var shape: [Int]
    var sources: [Int]
}

/// Row-major flat indices of the product of per-axis index lists over a tensor of `shape`.
private func product(of axisIndices: [[Int]], shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    for axis in stride(from: shape.count - 2, through: 0, by: -1) { strides[axis] = strides[axis + 1] * shape[axis + 1] }
    var sources = [0]
    for (axis, indices) in axisIndices.enumerated() {
        var next = [Int]()
        next.reserveCapacity(sources.count * indices.count)
        for base in sources { for i in indices { next.append(base + i * strides[axis]) } }
        sources = next
    }
    return sources
}

/// `Gather` along `axis` with the given (already resolved, non-negative) indices of shape
/// `indexShape`: the output shape is `shape[..<axis] + indexShape + shape[(axis+1)...]`.
func gatherMap(shape: [Int], axis: Int, indices: [Int], indexShape: [Int]) -> IndexMap {
    let size = shape[axis]
    let outer = shape[..<axis].elementCount, inner = shape[(axis + 1)...].elementCount
    var sources = [Int]()
    sources.reserveCapacity(outer * indices.count * inner)
    for o in 0..<outer {
        for index in indices {
            let base = (o * size + index) * inner
            sources.append(contentsOf: base..<(base + inner))
        }
    }
    return IndexMap(shape: Array(shape[..<axis]) + indexShape + Array(shape[(axis + 1)...]), sources: sources)
}

/// The indices one `Slice` axis keeps, by ONNX's rules: negative `start` and `end` count
/// from the end, then both are clamped (to `[0, dim]` for a positive step, to `[0, dim − 1]`
/// and `[−1, dim − 1]` for a negative one), and the indices run from `start` towards `end`,
/// excluded, by `step`.
func sliceIndices(dim: Int, start rawStart: Int, end rawEnd: Int, step: Int) -> [Int] {
    // `Int.min + dim` and `Int.max` ends (exporters write them for "to the end") stay in range.
    var start = rawStart < 0 ? rawStart + dim : rawStart
    var end = rawEnd < 0 ? rawEnd + dim : rawEnd
    if step > 0 {
        start = Swift.min(Swift.max(start, 0), dim)
        end = Swift.min(Swift.max(end, 0), dim)
        return start < end ? Array(stride(from: start, to: end, by: step)) : []
    }
    start = Swift.min(Swift.max(start, 0), dim - 1)
    end = Swift.min(Swift.max(end, -1), dim - 1)
    return start > end ? Array(stride(from: start, to: end, by: step)) : []
}

/// `Slice` of a tensor of `shape`: `perAxis[a]` is the index list of axis `a`.
func sliceMap(shape: [Int], perAxis: [[Int]]) -> IndexMap {
    IndexMap(shape: perAxis.map(\.count), sources: product(of: perAxis, shape: shape))
}

/// The parts of `Split` along `axis` with the given sizes (summing to `shape[axis]`).
func splitMaps(shape: [Int], axis: Int, sizes: [Int]) -> [IndexMap] {
    var start = 0
    return sizes.map { size in
        var perAxis = shape.map { Array(0..<$0) }
        perAxis[axis] = Array(start..<(start + size))
        start += size
        return sliceMap(shape: shape, perAxis: perAxis)
    }
}

// MARK: - Reading the operators' parameters

extension NodeCall {
    /// `Gather`'s selection of a tensor of `shape` (input 0) by the constant indices of input 1.
    func gatherMap(shape: [Int], _ attributes: inout NodeAttributes) throws -> IndexMap {
        try requireInputs(2...2)
        let indexTensor = try constant(1, "indices")
        guard let indices = indexTensor.integers else {
            throw context.invalid("indices must be integers, got \(indexTensor.elementType.onnxName)")
        }
        guard !shape.isEmpty else { throw context.invalid("data must have rank 1 or more") }
        let axis = try normalizeAxis(try attributes.int("axis", default: 0), rank: shape.count, context)
        let size = shape[axis]
        try requireBounded(Array(shape[..<axis]) + indexTensor.shape + Array(shape[(axis + 1)...]), context)
        let resolved = try indices.map { raw -> Int in
            guard raw >= -Int64(size) && raw < Int64(size) else {
                throw context.invalid("index \(raw) is out of range for axis \(axis) of size \(size)")
            }
            return raw < 0 ? Int(raw) + size : Int(raw)
        }
        return EvidentONNX.gatherMap(shape: shape, axis: axis, indices: resolved, indexShape: indexTensor.shape)
    }

    /// `Slice`'s selection of a tensor of `shape`: `starts`, `ends` and `axes` are attributes
    /// before opset 10; from 10 they are inputs 1 to 3, with `steps` as input 4. An empty
    /// slice is refused unless `allowEmpty` (constants may be empty; activations may not).
    func sliceMap(shape: [Int], _ attributes: inout NodeAttributes, opset: Int, allowEmpty: Bool = false) throws -> IndexMap {
        let starts: [Int], ends: [Int], axesGiven: [Int]?, steps: [Int]?
        if opset < 10 {
            try requireInputs(1...1)
            guard let s = try attributes.ints("starts"), let e = try attributes.ints("ends") else {
                throw context.invalid("the starts and ends attributes are required")
            }
            (starts, ends, axesGiven, steps) = (s, e, try attributes.ints("axes"), nil)
        } else {
            try requireInputs(3...5)
            starts = try integers(1, "starts")
            ends = try integers(2, "ends")
            axesGiven = operand(3) == nil ? nil : try integers(3, "axes")
            steps = operand(4) == nil ? nil : try integers(4, "steps")
        }
        let axes = axesGiven ?? Array(0..<starts.count)
        guard ends.count == starts.count, axes.count == starts.count, steps.map({ $0.count == starts.count }) ?? true else {
            throw context.invalid("starts, ends, axes and steps must have one entry per sliced axis (got \(starts.count), "
                + "\(ends.count), \(axes.count), \(steps.map { "\($0.count)" } ?? "none"))")
        }
        var perAxis = shape.map { Array(0..<$0) }
        var sliced = Set<Int>()
        for k in axes.indices {
            let axis = try normalizeAxis(axes[k], rank: shape.count, context, attribute: "axes")
            guard sliced.insert(axis).inserted else { throw context.invalid("axis \(axis) is sliced twice") }
            let step = steps?[k] ?? 1
            guard step != 0 else { throw context.invalid("step 0 on axis \(axis)") }
            perAxis[axis] = sliceIndices(dim: shape[axis], start: starts[k], end: ends[k], step: step)
            if perAxis[axis].isEmpty && !allowEmpty {
                throw context.unsupported("the slice of axis \(axis) (size \(shape[axis])) from \(starts[k]) to \(ends[k]) "
                    + "by \(step) is empty; zero-size dimensions are not supported")
            }
        }
        return EvidentONNX.sliceMap(shape: shape, perAxis: perAxis)
    }

    /// `Split`'s parts of a tensor of `shape`, one per output: sizes from the `split`
    /// attribute (before opset 13) or input 1 (from 13), else equal parts.
    func splitMaps(shape: [Int], _ attributes: inout NodeAttributes, opset: Int) throws -> [IndexMap] {
        guard !shape.isEmpty else { throw context.invalid("the input must have rank 1 or more") }
        let axis = try normalizeAxis(try attributes.int("axis", default: 0), rank: shape.count, context)
        let parts = outputs.count, dim = shape[axis]
        var sizes: [Int]
        if opset < 13 {
            try requireInputs(1...1)
            sizes = try attributes.ints("split") ?? []
        } else {
            try requireInputs(1...2)
            sizes = operand(1) == nil ? [] : try integers(1, "split")
        }
        if sizes.isEmpty, opset >= 18, let count = try attributes.int("num_outputs") {
            // Opset 18: equal parts of ceil(dim / count), the last one smaller.
            guard count == parts, count > 0, count <= dim else {
                throw context.invalid("num_outputs \(count) does not fit \(parts) outputs of an axis of size \(dim)")
            }
            let part = (dim + count - 1) / count
            sizes = (0..<count).map { Swift.min(part, dim - $0 * part) }
        }
        if sizes.isEmpty {
            guard dim % parts == 0 else {
                throw context.invalid("axis \(axis) of size \(dim) does not split into \(parts) equal parts")
            }
            sizes = Array(repeating: dim / parts, count: parts)
        }
        guard sizes.count == parts else { throw context.invalid("\(sizes.count) split sizes for \(parts) outputs") }
        guard sizes.allSatisfy({ $0 > 0 }) else {
            throw context.unsupported("split sizes \(sizes) include zero or negative sizes; zero-size dimensions are not supported")
        }
        guard sizes.reduce(0, +) == dim else {
            throw context.invalid("split sizes \(sizes) do not add up to the size \(dim) of axis \(axis)")
        }
        return EvidentONNX.splitMaps(shape: shape, axis: axis, sizes: sizes)
    }

    /// Refuses a result with a zero-size dimension.
    func requireNonEmpty(_ shape: [Int]) throws {
        guard !shape.contains(0) else {
            throw context.unsupported("the result has shape \(shape); zero-size dimensions are not supported")
        }
    }
}
