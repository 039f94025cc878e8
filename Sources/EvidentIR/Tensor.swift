/// A dense, row-major tensor of `Double` values with an explicit shape.
///
/// Evident stores every weight in Float64. Weights read from float32 files
/// convert exactly (every float32 is a float64), so the IR holds the stored
/// weights without rounding. Derived constants (for example folded
/// BatchNormalization scales) are computed in Float64 and document their
/// rounding where they are made.
public struct Tensor: Equatable, Sendable {
    /// Dimensions, outermost first. A scalar has shape `[]` and one element.
    public var shape: [Int]
    /// Elements in row-major order; `scalars.count == shape.elementCount`.
    public var scalars: [Double]

    /// Creates a tensor; the element count must match the shape.
    public init(shape: [Int], scalars: [Double]) {
        precondition(shape.allSatisfy { $0 >= 0 } && shape.elementCount == scalars.count,
                     "Tensor: \(scalars.count) elements do not fill shape \(shape)")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor filled with one value.
    public init(shape: [Int], repeating value: Double) {
        self.init(shape: shape, scalars: Array(repeating: value, count: shape.elementCount))
    }

    /// Number of elements.
    public var count: Int { scalars.count }

    /// The same elements viewed with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, scalars: scalars)
    }
}

extension Collection where Element == Int {
    /// Product of the dimensions (1 for a scalar shape `[]`).
    public var elementCount: Int { reduce(1, *) }
}

extension Array where Element == Int {

    /// Row-major strides of a shape.
    public var rowMajorStrides: [Int] {
        var strides = Array(repeating: 1, count: count)
        var running = 1
        for axis in stride(from: count - 1, through: 0, by: -1) {
            strides[axis] = running
            running *= self[axis]
        }
        return strides
    }
}

/// Multidirectional (NumPy-style) broadcasting of two shapes, or `nil` when
/// they are incompatible.
public func broadcastShapes(_ a: [Int], _ b: [Int]) -> [Int]? {
    let rank = Swift.max(a.count, b.count)
    var result = [Int]()
    result.reserveCapacity(rank)
    for i in 0..<rank {
        let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        if da == db || db == 1 { result.append(da) } else if da == 1 { result.append(db) } else { return nil }
    }
    return result
}

extension Tensor {
    /// This tensor broadcast (NumPy rules) to `target`, materialised.
    /// Returns `nil` when the shapes are not broadcast-compatible towards `target`.
    public func broadcast(to target: [Int]) -> Tensor? {
        guard shape.count <= target.count else { return nil }
        let padded = Array(repeating: 1, count: target.count - shape.count) + shape
        for (d, t) in zip(padded, target) where d != t && d != 1 { return nil }
        if padded == target { return Tensor(shape: target, scalars: scalars) }
        let sourceStrides = padded.rowMajorStrides
        let effective = zip(padded, sourceStrides).map { $0.0 == 1 ? 0 : $0.1 }
        let targetStrides = target.rowMajorStrides
        let total = target.elementCount
        var out = [Double](repeating: 0, count: total)
        for flat in 0..<total {
            var rest = flat
            var source = 0
            for axis in 0..<target.count {
                let index = rest / targetStrides[axis]
                rest -= index * targetStrides[axis]
                source += index * effective[axis]
            }
            out[flat] = scalars[source]
        }
        return Tensor(shape: target, scalars: out)
    }

    /// The tensor with its axes permuted: output axis `i` is input axis `permutation[i]`.
    public func transposed(_ permutation: [Int]) -> Tensor {
        let outShape = permutation.map { shape[$0] }
        return Tensor(shape: outShape, scalars: permute(scalars, shape: shape, permutation: permutation))
    }
}

/// Permutes the axes of a row-major buffer: output axis `i` is input axis `permutation[i]`.
public func permute(_ values: [Double], shape: [Int], permutation: [Int]) -> [Double] {
    precondition(permutation.sorted() == Array(0..<shape.count), "permute: \(permutation) is not a permutation")
    let inStrides = shape.rowMajorStrides
    let outShape = permutation.map { shape[$0] }
    let outStrides = outShape.rowMajorStrides
    let total = shape.elementCount
    var out = [Double](repeating: 0, count: total)
    let mapped = permutation.map { inStrides[$0] }
    for flat in 0..<total {
        var rest = flat
        var source = 0
        for axis in 0..<outShape.count {
            let index = rest / outStrides[axis]
            rest -= index * outStrides[axis]
            source += index * mapped[axis]
        }
        out[flat] = values[source]
    }
    return out
}
