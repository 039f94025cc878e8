import Testing
import EvidentIR
import EvidentEval
import EvidentTestSupport

/// Direct (textbook) convolution, the closed form the im2col/GEMM kernel must reproduce.
private func directConvolution(_ conv: Convolution, _ x: [Double], shape: [Int]) -> [Double] {
    let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
    let m = conv.outputChannels, kh = conv.window.kernel.height, kw = conv.window.kernel.width
    let out = conv.window.outputSize(height: h, width: w)
    let cg = c / conv.group, mg = m / conv.group
    var y = [Double](repeating: 0, count: n * m * out.height * out.width)
    for img in 0..<n { for oc in 0..<m { for oy in 0..<out.height { for ox in 0..<out.width {
        var sum = conv.bias.scalars[oc]
        let g = oc / mg
        for ic in 0..<cg { for ky in 0..<kh { for kx in 0..<kw {
            let iy = oy * conv.window.strides.height - conv.window.pads.top + ky * conv.window.dilations.height
            let ix = ox * conv.window.strides.width - conv.window.pads.left + kx * conv.window.dilations.width
            guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
            sum += conv.weight.scalars[((oc * cg + ic) * kh + ky) * kw + kx] * x[((img * c + g * cg + ic) * h + iy) * w + ix]
        } } }
        y[((img * m + oc) * out.height + oy) * out.width + ox] = sum
    } } } }
    return y
}

/// The transpose of a row-major `rows × columns` matrix.
private func transposed(_ a: [Double], rows: Int, columns: Int) -> [Double] {
    var out = [Double](repeating: 0, count: a.count)
    for i in 0..<rows { for j in 0..<columns { out[j * rows + i] = a[i * columns + j] } }
    return out
}

private func close(_ a: [Double], _ b: [Double], tolerance: Double = 1e-12) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance * max(1, abs($0), abs($1)) }
}

@Suite("Kernels")
struct KernelTests {
    @Test("im2col/GEMM convolution equals the direct sum", arguments: 0..<24)
    func convolutionMatchesDirectSum(seed: Int) throws {
        var rng = SeededGenerator(seed: UInt64(seed))
        let depthwise = seed % 3 == 0
        let channels = depthwise ? 3 : Int.random(in: 1...3, using: &rng)
        let group = depthwise ? channels : 1
        let outChannels = depthwise ? channels * Int.random(in: 1...2, using: &rng) : Int.random(in: 1...4, using: &rng)
        let k = (Int.random(in: 1...3, using: &rng), Int.random(in: 1...3, using: &rng))
        let window = Window2D(kernel: k, strides: (Int.random(in: 1...2, using: &rng), Int.random(in: 1...3, using: &rng)),
                              dilations: (Int.random(in: 1...2, using: &rng), Int.random(in: 1...2, using: &rng)),
                              pads: (Int.random(in: 0...2, using: &rng), Int.random(in: 0...1, using: &rng),
                                     Int.random(in: 0...1, using: &rng), Int.random(in: 0...2, using: &rng)))
        let conv = Convolution(weight: rng.tensor([outChannels, channels / group, k.0, k.1]), bias: rng.tensor([outChannels]),
                               window: window, group: group)
        let shape = [Int.random(in: 1...2, using: &rng), channels, Int.random(in: 5...9, using: &rng), Int.random(in: 5...9, using: &rng)]
        let x = rng.uniforms(shape.elementCount)
        let fast = ConvolutionKernels.forward(conv, input: x, images: shape[0], inputShape: shape)
        #expect(close(fast, directConvolution(conv, x, shape: shape)))
    }

    /// For every affine operation `f(x) = J x + b`, the transpose kernel must satisfy
    /// `⟨J x, y⟩ = ⟨x, Jᵀ y⟩` (the adjoint identity), checked on random vectors.
    @Test("transpose kernels are adjoint to the forward maps", arguments: 0..<6)
    func transposeIsAdjoint(seed: Int) throws {
        let graph = try RandomNetworks.convolutional(seed: UInt64(seed))
        var rng = SeededGenerator(seed: UInt64(1000 + seed))
        var checked = 0
        for node in graph.nodes where node.operation.isAffine {
            let shapes = node.inputs.map { graph.values[$0].shape }
            let outShape = graph.values[node.output].shape
            let xs = shapes.map { rng.uniforms($0.elementCount) }
            let zeros = shapes.map { [Double](repeating: 0, count: $0.elementCount) }
            let fx = Kernels.forward(node.operation, operands: xs, shapes: shapes, outputShape: outShape, batch: 1)
            let f0 = Kernels.forward(node.operation, operands: zeros, shapes: shapes, outputShape: outShape, batch: 1)
            let y = rng.uniforms(outShape.elementCount)
            // Two coefficient vectors (element-major: interleaved) check the batching as well.
            let y2 = rng.uniforms(outShape.elementCount)
            let interleaved = Array(zip(y, y2).map { [$0, $1] }.joined())
            let columns = try #require(Kernels.transpose(node.operation, columns: interleaved, count: 2, shapes: shapes, outputShape: outShape))
            let jt = columns.map { c in stride(from: 0, to: c.count, by: 2).map { c[$0] } + stride(from: 1, to: c.count, by: 2).map { c[$0] } }
            let lhs = zip(zip(fx, f0).map { $0 - $1 }, y).reduce(0) { $0 + $1.0 * $1.1 }
            let rhs = zip(xs, jt).reduce(0.0) { acc, pair in
                acc + zip(pair.0, pair.1.prefix(pair.0.count)).reduce(0) { $0 + $1.0 * $1.1 }
            }
            #expect(abs(lhs - rhs) <= 1e-9 * max(1, abs(lhs)), "\(node.name): \(lhs) vs \(rhs)")
            let lhs2 = zip(zip(fx, f0).map { $0 - $1 }, y2).reduce(0) { $0 + $1.0 * $1.1 }
            let rhs2 = zip(xs, jt).reduce(0.0) { acc, pair in
                acc + zip(pair.0, pair.1.suffix(pair.0.count)).reduce(0) { $0 + $1.0 * $1.1 }
            }
            #expect(abs(lhs2 - rhs2) <= 1e-9 * max(1, abs(lhs2)), "\(node.name) (row 2): \(lhs2) vs \(rhs2)")
            checked += 1
        }
        #expect(checked >= 15)
    }

    /// The element-major forward maps equal the direct convolution and the item-major
    /// maps, for three columns; with a mask, a convolution's flagged outputs are unchanged.
    @Test("element-major forward maps equal the batched ones", arguments: 0..<6)
    func forwardColumnsMatchForward(seed: Int) throws {
        var rng = SeededGenerator(seed: UInt64(2000 + seed))
        var checked = 0
        for graph in [try RandomNetworks.convolutional(seed: UInt64(seed)), try RandomNetworks.residual(seed: UInt64(seed))] {
            for node in graph.nodes {
                let shapes = node.inputs.map { graph.values[$0].shape }
                let outShape = graph.values[node.output].shape
                let n = 3
                let items = shapes.map { rng.uniforms(n * $0.elementCount) }
                let expected = Kernels.forward(node.operation, operands: items, shapes: shapes, outputShape: outShape, batch: n)
                let columns = zip(items, shapes).map { transposed($0, rows: n, columns: $1.elementCount) }
                let result = Kernels.forwardColumns(node.operation, operands: columns, count: n, shapes: shapes, outputShape: outShape)
                #expect(close(transposed(result, rows: outShape.elementCount, columns: n), expected), "\(node.name)")
                if case .convolution(let conv) = node.operation {
                    #expect(close(transposed(result, rows: outShape.elementCount, columns: n),
                                  (0..<n).flatMap { item in
                                      directConvolution(conv, Array(items[0][(item * shapes[0].elementCount)..<((item + 1) * shapes[0].elementCount)]),
                                                        shape: shapes[0])
                                  }), "\(node.name): direct sum")
                    let needed = (0..<outShape.elementCount).map { _ in Double.random(in: 0...1, using: &rng) < 0.3 }
                    let masked = Kernels.forwardColumns(node.operation, operands: columns, count: n, shapes: shapes,
                                                        outputShape: outShape, needed: needed)
                    for e in needed.indices where needed[e] {
                        #expect(masked[(e * n)..<((e + 1) * n)].elementsEqual(result[(e * n)..<((e + 1) * n)]), "\(node.name): element \(e)")
                    }
                    // The flagged outputs read only the input elements of `inputMask`.
                    let reads = ConvolutionKernels.inputMask(conv, outputMask: needed, inputShape: shapes[0])
                    let cropped = columns[0].enumerated().map { reads[$0.offset / n] ? $0.element : 0 }
                    let fromCropped = Kernels.forwardColumns(node.operation, operands: [cropped], count: n, shapes: shapes,
                                                             outputShape: outShape, needed: needed)
                    for e in needed.indices where needed[e] {
                        #expect(fromCropped[(e * n)..<((e + 1) * n)].elementsEqual(result[(e * n)..<((e + 1) * n)]),
                                "\(node.name): element \(e) reads outside the input mask")
                    }
                }
                checked += 1
            }
        }
        #expect(checked >= 30)
    }

    @Test("BLAS product agrees with a naive product")
    func blasMatchesNaive() {
        var rng = SeededGenerator(seed: 7)
        let (m, n, k) = (5, 7, 3)
        let a = rng.uniforms(m * k), b = rng.uniforms(n * k)
        let c = BLAS.multiply(a, .none, b, .transposed, m: m, n: n, k: k)
        for i in 0..<m { for j in 0..<n {
            let expected = (0..<k).reduce(0.0) { $0 + a[i * k + $1] * b[j * k + $1] }
            #expect(abs(c[i * n + j] - expected) <= 1e-14)
        } }
    }

    @Test("a row is non-zero exactly when one of its values is: -0 counts as zero, NaN and denormals as non-zero")
    func rowSupport() {
        func check<S: BLASScalar>(_: S.Type, specials: [S]) {
            for n in [1, 31, 32, 33, 100] {
                let zeros = [S](repeating: 0, count: n)
                #expect(!zeros.withUnsafeBufferPointer { Kernels.rowIsNonzero($0.baseAddress!, count: n) })
                var negative = zeros
                negative[n - 1] = -0.0
                #expect(!negative.withUnsafeBufferPointer { Kernels.rowIsNonzero($0.baseAddress!, count: n) })
                for position in Set([0, n / 2, n - 1]) {
                    for value in specials {
                        var row = zeros
                        row[position] = value
                        #expect(row.withUnsafeBufferPointer { Kernels.rowIsNonzero($0.baseAddress!, count: n) },
                                "\(S.self) row of \(n), \(value) at \(position)")
                    }
                }
            }
        }
        check(Double.self, specials: [1, -1, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .nan, -.infinity,
                                      Double(bitPattern: 1 << 31), Double(bitPattern: 1 << 32)])
        check(Float.self, specials: [1, -1, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .nan, .infinity])
    }
}
