import EvidentIR

/// Transposed linear maps of the affine operations, on coefficient matrices stored
/// element-major: a matrix for a value of `size` elements and `columns` independent
/// coefficient vectors is `size × columns`, row-major, so the coefficients of one
/// element for all vectors are contiguous. This is the layout of backward bound
/// propagation (many specification rows at once) and of batched gradients: every
/// elementwise step is a contiguous vector operation, and a convolution's transpose is
/// one GEMM per input position with the vectors as the long dimension.
extension Kernels {
    /// `Jᵀ Λ` for an affine operation with Jacobian `J` (constant offsets play no part):
    /// maps `columns` coefficient vectors on the output (`outputSize × columns`) to one
    /// matrix per operand (`operandSize × columns`). Returns `nil` for ReLU and MaxPool.
    /// Computed in the precision of `S` (weights rounded to it).
    /// `nonzero`, when given, says which output elements have a non-zero coefficient in some
    /// vector (``rowIsNonzero(_:count:)`` per element); convolutions use it to skip the rest.
    @inlinable
    public static func transpose<S: BLASScalar>(_ operation: GraphOperation, columns a: [S], count n: Int,
                                                shapes: [[Int]], outputShape: [Int], nonzero: [Bool]? = nil) -> [[S]]? {
        let shape = shapes[0]
        switch operation {
        case .relu, .maxPool:
            return nil
        case .convolution(let conv):
            return [ConvolutionKernels.transpose(conv, columns: a, count: n, inputShape: shape, nonzero: nonzero)]
        case .linear(let lin):
            // Each item holds `groups` feature vectors on the last axis.
            let groups = shape.elementCount / lin.inFeatures
            var out = [S](repeating: 0, count: groups * lin.inFeatures * n)
            let weight: [S] = converted(lin.weight.scalars)
            a.withUnsafeBufferPointer { pa in
                weight.withUnsafeBufferPointer { w in
                    out.withUnsafeMutableBufferPointer { po in
                        for g in 0..<groups {
                            // [in × n] = Wᵀ [in × out] · Λ [out × n]
                            BLAS.gemm(.transposed, .none, m: lin.inFeatures, n: n, k: lin.outFeatures,
                                      a: w.baseAddress!, lda: lin.inFeatures,
                                      b: pa.baseAddress! + g * lin.outFeatures * n,
                                      c: po.baseAddress! + g * lin.inFeatures * n)
                        }
                    }
                }
            }
            return [out]
        case .addConstant, .reshape:
            return [a]
        case .multiplyConstant(let c):
            return [scaleElements(a, n) { S(c.scalars[$0]) }]
        case .divideConstant(let c):
            return [scaleElements(a, n) { S(1 / c.scalars[$0]) }]
        case .channelAffine(let scale, _):
            let inner = shape[2...].elementCount, channels = shape[1]
            return [scaleElements(a, n) { S(scale[($0 / inner) % channels]) }]
        case .add:
            return [a, a]
        case .subtract:
            return [a, a.map { -$0 }]
        case .transpose(let permutation):
            // Output element e comes from input element source(e): move each column block back.
            let sources = permutationSources(shape: shape, permutation: permutation)
            var out = [S](repeating: 0, count: a.count)
            for (e, s) in sources.enumerated() { copyBlock(from: a, e, to: &out, s, n) }
            return [out]
        case .select(let selection):
            // Unselected input elements get zero coefficients.
            var out = [S](repeating: 0, count: shape.elementCount * n)
            for (e, s) in selection.sources.enumerated() { copyBlock(from: a, e, to: &out, s, n) }
            return [out]
        case .concat(let axis):
            let outer = shape[..<axis].elementCount
            let blocks = shapes.map { $0[axis...].elementCount }
            var results = blocks.map { [S](repeating: 0, count: outer * $0 * n) }
            var cursor = 0
            for o in 0..<outer {
                for k in blocks.indices {
                    let length = blocks[k] * n
                    results[k].withUnsafeMutableBufferPointer { r in
                        a.withUnsafeBufferPointer { pa in
                            (r.baseAddress! + o * length).update(from: pa.baseAddress! + cursor, count: length)
                        }
                    }
                    cursor += length
                }
            }
            return results
        case .pad(let pads):
            let mapping = padMapping(shape: shape, pads: pads, outputShape: outputShape)
            var out = [S](repeating: 0, count: shape.elementCount * n)
            for (i, target) in mapping.enumerated() { copyBlock(from: a, target, to: &out, i, n) }
            return [out]
        case .averagePool(let window, let includePadding):
            var out = [S](repeating: 0, count: shape.elementCount * n)
            forEachWindow(shape: shape, window: window, batch: 1) { o, cells, full in
                let w = 1 / S(includePadding ? full : cells.count)
                for c in cells { addScaledBlock(from: a, o, to: &out, c, n, scale: w) }
            }
            return [out]
        case .globalAveragePool:
            let inner = shape[2] * shape[3], planes = shape[0] * shape[1]
            var out = [S](repeating: 0, count: planes * inner * n)
            for p in 0..<planes {
                for i in 0..<inner { addScaledBlock(from: a, p, to: &out, p * inner + i, n, scale: 1 / S(inner)) }
            }
            return [out]
        }
    }

    /// `x` in the precision of `S` (no copy when `S` is `Double`).
    @inlinable
    public static func converted<S: BLASScalar>(_ x: [Double]) -> [S] {
        if S.self == Double.self { return unsafeBitCast(x, to: [S].self) }
        return x.map { S($0) }
    }

    /// `x` in Float64 (no copy when `S` is `Double`).
    @inlinable
    public static func doubles<S: BLASScalar>(_ x: [S]) -> [Double] {
        if S.self == Double.self { return unsafeBitCast(x, to: [Double].self) }
        return x.map { Double($0) }
    }

    /// Multiplies the block of element `e` by `factor(e)`.
    @inlinable
    static func scaleElements<S: BLASScalar>(_ a: [S], _ n: Int, _ factor: (Int) -> S) -> [S] {
        var out = a
        out.withUnsafeMutableBufferPointer { o in
            for e in 0..<(a.count / max(n, 1)) {
                let f = factor(e)
                for j in (e * n)..<((e + 1) * n) { o[j] *= f }
            }
        }
        return out
    }

    /// Copies the block (all `n` columns) of element `source` to element `target`.
    @inlinable
    static func copyBlock<S>(from a: [S], _ source: Int, to out: inout [S], _ target: Int, _ n: Int) {
        a.withUnsafeBufferPointer { pa in
            out.withUnsafeMutableBufferPointer { po in
                (po.baseAddress! + target * n).update(from: pa.baseAddress! + source * n, count: n)
            }
        }
    }

    @inlinable
    static func addScaledBlock<S: BLASScalar>(from a: [S], _ source: Int, to out: inout [S], _ target: Int, _ n: Int, scale: S) {
        a.withUnsafeBufferPointer { pa in
            out.withUnsafeMutableBufferPointer { po in
                for j in 0..<n { po[target * n + j] += scale * pa[source * n + j] }
            }
        }
    }

    /// For a transpose with `permutation`, the input element each output element reads.
    @usableFromInline
    static func permutationSources(shape: [Int], permutation: [Int]) -> [Int] {
        permute((0..<shape.elementCount).map(Double.init), shape: shape, permutation: permutation).map { Int($0) }
    }

    /// For zero padding, the output index of every input element.
    @usableFromInline
    static func padMapping(shape: [Int], pads: [Int], outputShape: [Int]) -> [Int] {
        let rank = shape.count
        let inStrides = shape.rowMajorStrides, outStrides = outputShape.rowMajorStrides
        var offset = 0
        for axis in 0..<rank { offset += pads[axis] * outStrides[axis] }
        return (0..<shape.elementCount).map { flat in
            var rest = flat, target = offset
            for axis in 0..<rank {
                let index = rest / inStrides[axis]
                rest -= index * inStrides[axis]
                target += index * outStrides[axis]
            }
            return target
        }
    }
}

extension ConvolutionKernels {
    /// The transposed convolution on element-major coefficients (`M·OH·OW × n` to `C·H·W × n`).
    ///
    /// For every input position `q`, the output elements that read it through some kernel
    /// offset are gathered into one block and multiplied by the matching slice of the
    /// weights in one GEMM (`C/g × depth` times `depth × n`), so the long dimension is the
    /// number of coefficient vectors and nothing is materialised beyond one gathered block.
    /// Output elements whose coefficients are all zero (typically behind inactive ReLUs in
    /// bound propagation) are left out of the block, which shrinks `depth`. Computed in the
    /// precision of `S` (weights rounded to it).
    /// `nonzero` (per output element, whether any of its `n` coefficients is non-zero) is
    /// computed here when not given.
    @inlinable
    public static func transpose<S: BLASScalar>(_ conv: Convolution, columns a: [S], count n: Int, inputShape: [Int],
                                                nonzero known: [Bool]? = nil) -> [S] {
        let geo = Geometry(conv, images: inputShape[0], inputShape: inputShape)
        let images = inputShape[0]
        let (c, h, w) = (geo.channels, geo.height, geo.width)
        let (m, oh, ow) = (geo.outChannels, geo.outHeight, geo.outWidth)
        let (cg, mg) = (geo.groupInChannels, geo.groupOutChannels)
        let (kh, kw, sh, sw, dh, dw, pt, pl) = geo.windowParameters
        let inPlane = h * w, outPlane = oh * ow
        precondition(a.count == images * m * outPlane * n, "ConvolutionKernels.transpose: coefficient size mismatch")
        // Every (image, group, input position) block of the result is written exactly once:
        // by its GEMM (beta 0), or zero-filled where no non-zero coefficient reaches it. So
        // the result starts uninitialised rather than zeroed first.
        return [S](unsafeUninitializedCapacity: images * c * inPlane * n) { po, initialized in
        func zeroFill(image: Int, group g: Int, position q: Int) {
            for ci in 0..<cg { (po.baseAddress! + ((image * c + g * cg + ci) * inPlane + q) * n).initialize(repeating: 0, count: n) }
        }
        // Which output elements carry any non-zero coefficient.
        let nonzero: [Bool] = known ?? a.withUnsafeBufferPointer { pa in
            (0..<(images * m * outPlane)).map { Kernels.rowIsNonzero(pa.baseAddress! + $0 * n, count: n) }
        }
        precondition(nonzero.count == images * m * outPlane, "ConvolutionKernels.transpose: mask size mismatch")
        // Weights by (group, kernel offset, output channel), each a contiguous run over the
        // group's input channels, so a gathered element's weights are one copy.
        var byOffset = [S](repeating: 0, count: geo.group * kh * kw * mg * cg)
        for g in 0..<geo.group {
            for offset in 0..<(kh * kw) {
                for mi in 0..<mg {
                    for ci in 0..<cg {
                        byOffset[(((g * kh * kw + offset) * mg + mi) * cg) + ci] =
                            S(conv.weight.scalars[((g * mg + mi) * cg + ci) * kh * kw + offset])
                    }
                }
            }
        }
        let maxDepth = kh * kw * mg
        var gathered = [S](repeating: 0, count: maxDepth * n)
        var weights = [S](repeating: 0, count: maxDepth * cg)  // [depth × Cg]
        var sources = [(offset: Int, position: Int)]()
        sources.reserveCapacity(kh * kw)
        for y in 0..<h {
            for x in 0..<w {
                // Output positions reading input (y, x), with their kernel offsets.
                sources.removeAll(keepingCapacity: true)
                for ky in 0..<kh {
                    let ty = y + pt - ky * dh
                    guard ty >= 0, ty % sh == 0, ty / sh < oh else { continue }
                    for kx in 0..<kw {
                        let tx = x + pl - kx * dw
                        guard tx >= 0, tx % sw == 0, tx / sw < ow else { continue }
                        sources.append((ky * kw + kx, (ty / sh) * ow + tx / sw))
                    }
                }
                let q = y * w + x
                if sources.isEmpty {
                    for image in 0..<images { for g in 0..<geo.group { zeroFill(image: image, group: g, position: q) } }
                    continue
                }
                for image in 0..<images {
                    for g in 0..<geo.group {
                        // Gather the non-zero output elements (offset, mi) and their weight rows.
                        var depth = 0
                        a.withUnsafeBufferPointer { pa in
                            gathered.withUnsafeMutableBufferPointer { gb in
                                weights.withUnsafeMutableBufferPointer { wb in
                                    byOffset.withUnsafeBufferPointer { wsrc in
                                        for source in sources {
                                            for mi in 0..<mg {
                                                let element = (image * m + g * mg + mi) * outPlane + source.position
                                                guard nonzero[element] else { continue }
                                                (gb.baseAddress! + depth * n).update(from: pa.baseAddress! + element * n, count: n)
                                                (wb.baseAddress! + depth * cg).update(
                                                    from: wsrc.baseAddress! + ((g * kh * kw + source.offset) * mg + mi) * cg, count: cg)
                                                depth += 1
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        if depth == 0 {
                            zeroFill(image: image, group: g, position: q)
                            continue
                        }
                        weights.withUnsafeBufferPointer { pw in
                            gathered.withUnsafeBufferPointer { gb in
                                // [Cg × n] (rows strided by a plane) = weightsᵀ [Cg × depth] · gathered [depth × n]
                                BLAS.gemm(.transposed, .none, m: cg, n: n, k: depth,
                                          a: pw.baseAddress!, lda: cg,
                                          b: gb.baseAddress!, ldb: n,
                                          c: po.baseAddress! + ((image * c + g * cg) * inPlane + q) * n, ldc: inPlane * n)
                            }
                        }
                    }
                }
            }
        }
        initialized = images * c * inPlane * n
        }
    }
}

extension Kernels {
    /// Whether any of the `n` values at `row` is non-zero (NaN counts as non-zero, `-0` as
    /// zero). The bit patterns are OR-ed in blocks, which vectorises, instead of comparing
    /// value by value: coefficient rows behind inactive ReLUs are long runs of zeros.
    @inlinable
    public static func rowIsNonzero<S: BLASScalar>(_ row: UnsafePointer<S>, count n: Int) -> Bool {
        if MemoryLayout<S>.size == 8 {
            return UnsafeRawPointer(row).withMemoryRebound(to: UInt64.self, capacity: n) { anyBits($0, n, mask: ~(1 << 63)) }
        }
        precondition(MemoryLayout<S>.size == 4, "Kernels.rowIsNonzero: unsupported scalar size")
        return UnsafeRawPointer(row).withMemoryRebound(to: UInt32.self, capacity: n) { anyBits($0, n, mask: ~(1 << 31)) }
    }

    /// Whether `(word[0] | … | word[n-1]) & mask` is non-zero, stopping at the first block
    /// of 32 words that has a bit.
    @inlinable
    static func anyBits<W: FixedWidthInteger & UnsignedInteger>(_ words: UnsafePointer<W>, _ n: Int, mask: W) -> Bool {
        var start = 0
        while start < n {
            let end = Swift.min(n, start + 32)
            var bits: W = 0
            for i in start..<end { bits |= words[i] }
            if bits & mask != 0 { return true }
            start = end
        }
        return false
    }
}
