import EvidentIR

/// Forward maps of every IR operation on batched, flattened buffers (their transposed
/// linear maps are in `Transpose+Kernels.swift`). A buffer holds `batch` items back to back, each with the
/// element count of the value's shape.
///
/// All arithmetic is Float64 with round-to-nearest: results are the
/// floating-point evaluation of the operation, not enclosures.
public enum Kernels {
    /// Evaluates `node`'s operation on batched operands. `shapes` are the operand
    /// shapes and `outputShape` the node's output shape (per item).
    public static func forward(_ operation: GraphOperation, operands: [[Double]], shapes: [[Int]],
                               outputShape: [Int], batch: Int) -> [Double] {
        let x = operands[0]
        let shape = shapes[0]
        let size = shape.elementCount
        switch operation {
        case .convolution(let conv):
            return ConvolutionKernels.forward(conv, input: x, images: batch * shape[0], inputShape: shape)
        case .linear(let lin):
            let rows = batch * (size / lin.inFeatures)
            var out = [Double](repeating: 0, count: rows * lin.outFeatures)
            for r in 0..<rows { for n in 0..<lin.outFeatures { out[r * lin.outFeatures + n] = lin.bias.scalars[n] } }
            return BLAS.multiply(x, .none, lin.weight.scalars, .transposed, m: rows, n: lin.outFeatures,
                                 k: lin.inFeatures, accumulate: out)
        case .addConstant(let c):
            return elementwise(x, c.scalars) { $0 + $1 }
        case .multiplyConstant(let c):
            return elementwise(x, c.scalars) { $0 * $1 }
        case .divideConstant(let c):
            return elementwise(x, c.scalars) { $0 / $1 }
        case .channelAffine(let scale, let shift):
            var out = x
            let channels = shape[1], inner = shape[2...].elementCount, outer = batch * shape[0]
            for o in 0..<outer {
                for c in 0..<channels {
                    let base = (o * channels + c) * inner
                    for i in base..<(base + inner) { out[i] = x[i] * scale[c] + shift[c] }
                }
            }
            return out
        case .add:
            return zip(x, operands[1]).map { $0 + $1 }
        case .subtract:
            return zip(x, operands[1]).map { $0 - $1 }
        case .relu:
            return x.map { $0 > 0 ? $0 : 0 }
        case .reshape:
            return x
        case .transpose(let permutation):
            var out = [Double]()
            out.reserveCapacity(x.count)
            for b in 0..<batch { out += permute(Array(x[(b * size)..<((b + 1) * size)]), shape: shape, permutation: permutation) }
            return out
        case .select(let selection):
            let outSize = selection.sources.count
            var out = [Double](repeating: 0, count: batch * outSize)
            for b in 0..<batch { for (e, s) in selection.sources.enumerated() { out[b * outSize + e] = x[b * size + s] } }
            return out
        case .concat(let axis):
            return concat(operands, shapes: shapes, axis: axis, batch: batch)
        case .pad(let pads):
            let mapping = padMapping(shape: shape, pads: pads, outputShape: outputShape)
            let outSize = outputShape.elementCount
            var out = [Double](repeating: 0, count: batch * outSize)
            for b in 0..<batch { for i in 0..<size { out[b * outSize + mapping[i]] = x[b * size + i] } }
            return out
        case .averagePool(let window, let includePadding):
            return pool(x, shape: shape, window: window, batch: batch) { values, windowSize, fullSize in
                values.reduce(0, +) / Double(includePadding ? fullSize : windowSize)
            }
        case .maxPool(let window):
            return pool(x, shape: shape, window: window, batch: batch) { values, _, _ in values.max() ?? 0 }
        case .globalAveragePool:
            let inner = shape[2] * shape[3], outer = batch * shape[0] * shape[1]
            return (0..<outer).map { o in x[(o * inner)..<((o + 1) * inner)].reduce(0, +) / Double(inner) }
        }
    }

    // MARK: - Helpers

    /// Applies `f(x[i], c[i mod c.count])`.
    @inline(__always)
    static func elementwise(_ x: [Double], _ c: [Double], _ f: (Double, Double) -> Double) -> [Double] {
        var out = x
        let n = c.count
        for i in out.indices { out[i] = f(x[i], c[i % n]) }
        return out
    }

    static func concat(_ operands: [[Double]], shapes: [[Int]], axis: Int, batch: Int) -> [Double] {
        // Each item is `outer` blocks; block `o` is the operands' slices of size shape[axis...] in order.
        let outer = shapes[0][..<axis].elementCount
        let blocks = shapes.map { $0[axis...].elementCount }
        let itemSize = blocks.reduce(0, +) * outer
        var out = [Double](repeating: 0, count: batch * itemSize)
        var cursor = 0
        for b in 0..<batch {
            for o in 0..<outer {
                for (k, operand) in operands.enumerated() {
                    let start = (b * outer + o) * blocks[k]
                    for i in 0..<blocks[k] { out[cursor + i] = operand[start + i] }
                    cursor += blocks[k]
                }
            }
        }
        return out
    }

    /// Visits every pooling window: `body(outputIndex, inputIndices, fullWindowSize)`
    /// where `inputIndices` are the in-image cells of the window.
    public static func forEachWindow(shape: [Int], window: Window2D, batch: Int, _ body: (Int, [Int], Int) -> Void) {
        let planes = batch * shape[0] * shape[1], h = shape[2], w = shape[3]
        let out = window.outputSize(height: h, width: w)
        var cells = [Int]()
        cells.reserveCapacity(window.kernel.height * window.kernel.width)
        for plane in 0..<planes {
            for oy in 0..<out.height {
                for ox in 0..<out.width {
                    cells.removeAll(keepingCapacity: true)
                    var full = 0
                    for ky in 0..<window.kernel.height {
                        let y = oy * window.strides.height - window.pads.top + ky * window.dilations.height
                        for kx in 0..<window.kernel.width {
                            let x = ox * window.strides.width - window.pads.left + kx * window.dilations.width
                            // ONNX counts padded cells inside the padded image for count_include_pad.
                            if y < h + window.pads.bottom && x < w + window.pads.right { full += 1 }
                            if y >= 0 && y < h && x >= 0 && x < w { cells.append((plane * h + y) * w + x) }
                        }
                    }
                    body((plane * out.height + oy) * out.width + ox, cells, full)
                }
            }
        }
    }

    static func pool(_ x: [Double], shape: [Int], window: Window2D, batch: Int,
                     reduce: ([Double], Int, Int) -> Double) -> [Double] {
        let out = window.outputSize(height: shape[2], width: shape[3])
        var result = [Double](repeating: 0, count: batch * shape[0] * shape[1] * out.height * out.width)
        var values = [Double]()
        forEachWindow(shape: shape, window: window, batch: batch) { index, cells, full in
            values.removeAll(keepingCapacity: true)
            for c in cells { values.append(x[c]) }
            result[index] = reduce(values, cells.count, full)
        }
        return result
    }

    /// For max pooling: the input index that wins each window (first maximum).
    public static func maxPoolArgmax(_ x: [Double], shape: [Int], window: Window2D, batch: Int) -> [Int] {
        let out = window.outputSize(height: shape[2], width: shape[3])
        var result = [Int](repeating: 0, count: batch * shape[0] * shape[1] * out.height * out.width)
        forEachWindow(shape: shape, window: window, batch: batch) { index, cells, _ in
            var best = cells.first ?? 0
            for c in cells where x[c] > x[best] { best = c }
            result[index] = best
        }
        return result
    }
}
