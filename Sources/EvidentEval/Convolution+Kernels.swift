import EvidentIR

/// Convolution kernels on batched NCHW buffers: im2col + one OpenBLAS GEMM per
/// group for the forward map; the transpose (the map that gradients and backward
/// bound propagation need) is in `Transpose+Kernels.swift`. Float64, round-to-nearest.
public enum ConvolutionKernels {
    /// Geometry of one convolution applied to `images` images of `channels x height x width`.
    @usableFromInline
    struct Geometry {
        @usableFromInline let images, channels, height, width: Int
        @usableFromInline let outChannels, outHeight, outWidth: Int
        @usableFromInline let group: Int
        @usableFromInline let window: Window2D
        var positions: Int { outHeight * outWidth }
        @usableFromInline var groupInChannels: Int { channels / group }
        @usableFromInline var groupOutChannels: Int { outChannels / group }
        var patchSize: Int { groupInChannels * window.kernel.height * window.kernel.width }
        /// Kernel height and width, strides, dilations, top and left padding.
        @usableFromInline
        var windowParameters: (Int, Int, Int, Int, Int, Int, Int, Int) {
            (window.kernel.height, window.kernel.width, window.strides.height, window.strides.width,
             window.dilations.height, window.dilations.width, window.pads.top, window.pads.left)
        }

        @usableFromInline
        init(_ conv: Convolution, images: Int, inputShape: [Int]) {
            self.images = images
            channels = inputShape[inputShape.count - 3]
            height = inputShape[inputShape.count - 2]
            width = inputShape[inputShape.count - 1]
            outChannels = conv.outputChannels
            window = conv.window
            group = conv.group
            let out = conv.window.outputSize(height: height, width: width)
            outHeight = out.height
            outWidth = out.width
        }
    }

    /// `y = conv(x) + bias` for `images` images stacked in `input` (each of `inputShape`'s
    /// last three dimensions). Returns `images x M x OH x OW` values.
    ///
    /// Per group, the patch matrix is built K-major (`K × images·OH·OW`, one row per
    /// input channel and kernel offset, so each row is filled with contiguous runs) and
    /// multiplied in one GEMM: `[Mg × K] · [K × images·P]`.
    public static func forward(_ conv: Convolution, input: [Double], images: Int, inputShape: [Int]) -> [Double] {
        let geo = Geometry(conv, images: images, inputShape: inputShape)
        let (c, h, w) = (geo.channels, geo.height, geo.width)
        let (oh, ow, p) = (geo.outHeight, geo.outWidth, geo.positions)
        let (kh, kw, sh, sw, dh, dw, pt, pl) = geo.windowParameters
        let k = geo.patchSize, mg = geo.groupOutChannels, cg = geo.groupInChannels, m = geo.outChannels
        let columnsCount = images * p
        var output = [Double](repeating: 0, count: images * m * p)
        var patches = [Double](repeating: 0, count: k * columnsCount)
        var product = [Double](repeating: 0, count: mg * columnsCount)
        // Valid output columns for each kernel column offset: ox with 0 <= ox*sw - pl + kx*dw < w.
        let validX: [(Int, Int)] = (0..<kw).map { kx in
            let shift = kx * dw - pl
            let first = shift >= 0 ? 0 : (-shift + sw - 1) / sw
            let last = min(ow - 1, (w - 1 - shift) >= 0 ? (w - 1 - shift) / sw : -1)
            return (first, last)
        }
        for g in 0..<geo.group {
            input.withUnsafeBufferPointer { x in
                patches.withUnsafeMutableBufferPointer { col in
                    for ci in 0..<cg {
                        for ky in 0..<kh {
                            for kx in 0..<kw {
                                let row = (ci * kh + ky) * kw + kx
                                let (first, last) = validX[kx]
                                for image in 0..<images {
                                    let plane = x.baseAddress! + ((image * c + g * cg + ci) * h) * w
                                    for oy in 0..<oh {
                                        let target = col.baseAddress! + row * columnsCount + (image * oh + oy) * ow
                                        let y = oy * sh - pt + ky * dh
                                        guard y >= 0 && y < h && first <= last else {
                                            target.update(repeating: 0, count: ow)
                                            continue
                                        }
                                        if first > 0 { target.update(repeating: 0, count: first) }
                                        if last < ow - 1 { (target + last + 1).update(repeating: 0, count: ow - 1 - last) }
                                        let source = plane + y * w + kx * dw - pl
                                        if sw == 1 {
                                            (target + first).update(from: source + first, count: last - first + 1)
                                        } else {
                                            for ox in first...last { target[ox] = source[ox * sw] }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            patches.withUnsafeBufferPointer { col in
                conv.weight.scalars.withUnsafeBufferPointer { wt in
                    product.withUnsafeMutableBufferPointer { pr in
                        // [Mg × K] · [K × images·P] -> [Mg × images·P]
                        BLAS.gemm(.none, .none, m: mg, n: columnsCount, k: k, a: wt.baseAddress! + g * mg * k,
                                  b: col.baseAddress!, c: pr.baseAddress!)
                    }
                }
            }
            product.withUnsafeBufferPointer { pr in
                output.withUnsafeMutableBufferPointer { out in
                    for mi in 0..<mg {
                        let channel = g * mg + mi
                        let bias = conv.bias.scalars[channel]
                        for image in 0..<images {
                            let source = pr.baseAddress! + mi * columnsCount + image * p
                            let target = out.baseAddress! + (image * m + channel) * p
                            for j in 0..<p { target[j] = source[j] + bias }
                        }
                    }
                }
            }
        }
        return output
    }
}
