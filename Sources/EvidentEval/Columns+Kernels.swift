import EvidentIR

/// Forward maps on element-major matrices: a value of `size` elements evaluated at `n`
/// independent inputs is held as `size × n` (the layout of `Kernels.transpose`), so that
/// per-element work on all inputs is contiguous. Float64, round-to-nearest.
extension Kernels {
    /// The forward map of `operation` on element-major operands (`size × n` each), giving
    /// `outputSize × n`.
    ///
    /// When `needed` (one flag per output element) is given, only the flagged elements are
    /// guaranteed: a convolution computes only the output positions where some channel is
    /// flagged and leaves the others zero. Other operations compute everything.
    public static func forwardColumns(_ operation: GraphOperation, operands: [[Double]], count n: Int, shapes: [[Int]],
                                      outputShape: [Int], needed: [Bool]? = nil) -> [Double] {
        let x = operands[0]
        switch operation {
        case .convolution(let conv):
            return ConvolutionKernels.forwardColumns(conv, input: x, count: n, inputShape: shapes[0], needed: needed)
        case .linear(let lin):
            let groups = shapes[0].elementCount / lin.inFeatures
            var out = [Double](repeating: 0, count: groups * lin.outFeatures * n)
            out.withUnsafeMutableBufferPointer { po in
                for g in 0..<groups {
                    for o in 0..<lin.outFeatures {
                        (po.baseAddress! + (g * lin.outFeatures + o) * n).update(repeating: lin.bias.scalars[o], count: n)
                    }
                }
                x.withUnsafeBufferPointer { px in
                    lin.weight.scalars.withUnsafeBufferPointer { w in
                        for g in 0..<groups {
                            // [out × n] += W [out × in] · x_g [in × n]
                            BLAS.gemm(.none, .none, m: lin.outFeatures, n: n, k: lin.inFeatures, a: w.baseAddress!,
                                      b: px.baseAddress! + g * lin.inFeatures * n, beta: 1,
                                      c: po.baseAddress! + g * lin.outFeatures * n)
                        }
                    }
                }
            }
            return out
        case .add, .subtract, .relu, .reshape:
            // Elementwise on operands of one size: the layout does not matter.
            return forward(operation, operands: operands, shapes: shapes, outputShape: outputShape, batch: n)
        default:
            // Through the batched (item-major) forward map.
            let items = zip(operands, shapes).map { transposed($0, rows: $1.elementCount, columns: n) }
            let y = forward(operation, operands: items, shapes: shapes, outputShape: outputShape, batch: n)
            return transposed(y, rows: n, columns: outputShape.elementCount)
        }
    }

    /// The transpose of a row-major `rows × columns` matrix.
    static func transposed(_ a: [Double], rows: Int, columns: Int) -> [Double] {
        var out = [Double](repeating: 0, count: a.count)
        a.withUnsafeBufferPointer { pa in
            out.withUnsafeMutableBufferPointer { po in
                for i in 0..<rows {
                    for j in 0..<columns { po[j * rows + i] = pa[i * columns + j] }
                }
            }
        }
        return out
    }
}

extension ConvolutionKernels {
    /// `conv(x) + bias` on element-major columns (`C·H·W × n` to `M·OH·OW × n`): for every
    /// output position, the input window (all channels of the group, every kernel offset) is
    /// gathered into a `depth × n` block and multiplied by the group's weights in one GEMM.
    /// With `needed` (one flag per output element), positions where no channel is flagged
    /// are skipped and left zero.
    public static func forwardColumns(_ conv: Convolution, input x: [Double], count n: Int, inputShape: [Int],
                                      needed: [Bool]? = nil) -> [Double] {
        let geo = Geometry(conv, images: inputShape[0], inputShape: inputShape)
        let images = inputShape[0]
        let (c, h, w) = (geo.channels, geo.height, geo.width)
        let (m, oh, ow) = (geo.outChannels, geo.outHeight, geo.outWidth)
        let (cg, mg) = (geo.groupInChannels, geo.groupOutChannels)
        let (kh, kw, sh, sw, dh, dw, pt, pl) = geo.windowParameters
        let inPlane = h * w, outPlane = oh * ow, depth = cg * kh * kw
        precondition(x.count == images * c * inPlane * n, "ConvolutionKernels.forwardColumns: input size mismatch")
        precondition(needed.map { $0.count == images * m * outPlane } ?? true, "ConvolutionKernels.forwardColumns: mask size mismatch")
        var out = [Double](repeating: 0, count: images * m * outPlane * n)
        var patch = [Double](repeating: 0, count: depth * n)
        x.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer { po in
                patch.withUnsafeMutableBufferPointer { pp in
                    conv.weight.scalars.withUnsafeBufferPointer { wt in
                        for image in 0..<images {
                            for oy in 0..<oh {
                                for ox in 0..<ow {
                                    let p = oy * ow + ox
                                    if let needed, !(0..<m).contains(where: { needed[(image * m + $0) * outPlane + p] }) { continue }
                                    for g in 0..<geo.group {
                                        // Patch rows in the weights' (ci, ky, kx) order.
                                        for ci in 0..<cg {
                                            let plane = px.baseAddress! + ((image * c + g * cg + ci) * inPlane) * n
                                            for ky in 0..<kh {
                                                let y = oy * sh - pt + ky * dh
                                                for kx in 0..<kw {
                                                    let xx = ox * sw - pl + kx * dw
                                                    let target = pp.baseAddress! + ((ci * kh + ky) * kw + kx) * n
                                                    if y >= 0 && y < h && xx >= 0 && xx < w {
                                                        target.update(from: plane + (y * w + xx) * n, count: n)
                                                    } else {
                                                        target.update(repeating: 0, count: n)
                                                    }
                                                }
                                            }
                                        }
                                        // [Mg × n] (rows strided by a plane) = W_g [Mg × depth] · patch [depth × n]
                                        let first = ((image * m + g * mg) * outPlane + p) * n
                                        BLAS.gemm(.none, .none, m: mg, n: n, k: depth, a: wt.baseAddress! + g * mg * depth,
                                                  b: UnsafePointer(pp.baseAddress!), c: po.baseAddress! + first, ldc: outPlane * n)
                                        for mi in 0..<mg {
                                            let bias = conv.bias.scalars[g * mg + mi]
                                            let block = po.baseAddress! + first + mi * outPlane * n
                                            for r in 0..<n { block[r] += bias }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// The input elements a convolution reads for the outputs flagged in `outputMask`: all
    /// channels of every position in the window of a flagged output position.
    public static func inputMask(_ conv: Convolution, outputMask: [Bool], inputShape: [Int]) -> [Bool] {
        let geo = Geometry(conv, images: inputShape[0], inputShape: inputShape)
        let (images, c, h, w) = (geo.images, geo.channels, geo.height, geo.width)
        let (m, oh, ow) = (geo.outChannels, geo.outHeight, geo.outWidth)
        let (kh, kw, sh, sw, dh, dw, pt, pl) = geo.windowParameters
        precondition(outputMask.count == images * m * oh * ow, "ConvolutionKernels.inputMask: mask size mismatch")
        var positions = [Bool](repeating: false, count: images * h * w)
        for image in 0..<images {
            for oy in 0..<oh {
                for ox in 0..<ow where (0..<m).contains(where: { outputMask[((image * m + $0) * oh + oy) * ow + ox] }) {
                    for ky in 0..<kh {
                        let y = oy * sh - pt + ky * dh
                        guard y >= 0 && y < h else { continue }
                        for kx in 0..<kw {
                            let x = ox * sw - pl + kx * dw
                            if x >= 0 && x < w { positions[(image * h + y) * w + x] = true }
                        }
                    }
                }
            }
        }
        var mask = [Bool](repeating: false, count: images * c * h * w)
        for image in 0..<images {
            for channel in 0..<c {
                for q in 0..<(h * w) where positions[image * h * w + q] { mask[(image * c + channel) * h * w + q] = true }
            }
        }
        return mask
    }
}
