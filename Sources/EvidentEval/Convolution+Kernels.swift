import EvidentIR

/// Convolution kernels on batched NCHW buffers: im2col + one OpenBLAS GEMM per
/// group for the forward map; the transpose (the map that gradients and backward
/// bound propagation need) is in `Transpose+Kernels.swift`. Float64, round-to-nearest.
public enum ConvolutionKernels {
    /// Geometry of one convolution applied to `images` images of `channels x height x width`.
    struct Geometry {
        let images, channels, height, width: Int
        let outChannels, outHeight, outWidth: Int
        let group: Int
        let window: Window2D
        var positions: Int { outHeight * outWidth }
        var groupInChannels: Int { channels / group }
        var groupOutChannels: Int { outChannels / group }
        var patchSize: Int { groupInChannels * window.kernel.height * window.kernel.width }

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

        /// Calls `body(row, column, inputOffset)` for every patch entry that falls inside
        /// the image, where row = image·positions + position and column indexes the patch
        /// of group `g`; out-of-image entries (zero padding) are skipped.
        @inline(__always)
        func forEachPatchEntry(group g: Int, _ body: (Int, Int, Int) -> Void) {
            let kh = window.kernel.height, kw = window.kernel.width
            let cg = groupInChannels
            for image in 0..<images {
                for oy in 0..<outHeight {
                    for ox in 0..<outWidth {
                        let row = (image * outHeight + oy) * outWidth + ox
                        for c in 0..<cg {
                            let channelBase = (image * channels + g * cg + c) * height
                            for ky in 0..<kh {
                                let y = oy * window.strides.height - window.pads.top + ky * window.dilations.height
                                if y < 0 || y >= height { continue }
                                for kx in 0..<kw {
                                    let x = ox * window.strides.width - window.pads.left + kx * window.dilations.width
                                    if x < 0 || x >= width { continue }
                                    body(row, (c * kh + ky) * kw + kx, (channelBase + y) * width + x)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `y = conv(x) + bias` for `images` images stacked in `input` (each of `inputShape`'s
    /// last three dimensions). Returns `images x M x OH x OW` values.
    public static func forward(_ conv: Convolution, input: [Double], images: Int, inputShape: [Int]) -> [Double] {
        let geo = Geometry(conv, images: images, inputShape: inputShape)
        let rows = images * geo.positions
        let k = geo.patchSize, mg = geo.groupOutChannels
        var output = [Double](repeating: 0, count: images * geo.outChannels * geo.positions)
        var columns = [Double](repeating: 0, count: rows * k)
        var product = [Double](repeating: 0, count: rows * mg)
        for g in 0..<geo.group {
            if g > 0 { for i in columns.indices { columns[i] = 0 } }
            input.withUnsafeBufferPointer { x in
                columns.withUnsafeMutableBufferPointer { col in
                    geo.forEachPatchEntry(group: g) { row, column, offset in col[row * k + column] = x[offset] }
                }
            }
            columns.withUnsafeBufferPointer { col in
                conv.weight.scalars.withUnsafeBufferPointer { w in
                    product.withUnsafeMutableBufferPointer { p in
                        // [rows, K] x [Mg, K]^T -> [rows, Mg]
                        BLAS.gemm(.none, .transposed, m: rows, n: mg, k: k, a: col.baseAddress!,
                                  b: w.baseAddress! + g * mg * k, ldb: k, c: p.baseAddress!)
                    }
                }
            }
            let positions = geo.positions
            product.withUnsafeBufferPointer { p in
                output.withUnsafeMutableBufferPointer { out in
                    for image in 0..<images {
                        for m in 0..<mg {
                            let channel = g * mg + m
                            let bias = conv.bias.scalars[channel]
                            let base = (image * geo.outChannels + channel) * positions
                            for position in 0..<positions {
                                out[base + position] = p[(image * positions + position) * mg + m] + bias
                            }
                        }
                    }
                }
            }
        }
        return output
    }
}
