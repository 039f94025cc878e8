import EvidentIR
import EvidentSoundArithmetic

/// Builds the rows of affine nodes of a ``NetworkLP``: for every output element `k` the row
/// `s_k y_k − Σ_e J_{k,e} x_e ∈ [lo_k, hi_k]`, with the operation's exact coefficients (copies
/// of its constants; nothing is computed but the index maps and, for ranged rows, the radii).
struct RowBuilder {
    let columnStart: [Int]
    private var columns = [Int]()
    private var coefficients = [Double]()

    init(columnStart: [Int]) {
        self.columnStart = columnStart
    }

    /// Appends the rows of affine node `index` to `program`.
    mutating func addAffineRows(_ graph: Graph, node index: Int, radius: ConstantRadius?, lower: [[Double]],
                                upper: [[Double]], to program: inout LinearProgram) throws {
        let node = graph.nodes[index]
        let out = node.output, outSize = graph.values[out].count
        let x = node.inputs[0]
        let inShape = graph.values[x].shape, outShape = graph.values[out].shape
        let repeatsOperand = Set(node.inputs).count < node.inputs.count
        let outStart = columnStart[out]

        /// Starts row `k` with `scale · y_k`.
        func begin(_ k: Int, scale: Double = 1) {
            columns.removeAll(keepingCapacity: true)
            coefficients.removeAll(keepingCapacity: true)
            columns.append(outStart + k)
            coefficients.append(scale)
        }
        /// Adds `−coefficient · value[element]` (the row holds `−J` on the operands).
        func subtract(_ value: ValueID, _ element: Int, _ coefficient: Double) {
            guard coefficient != 0 else { return }
            columns.append(columnStart[value] + element)
            coefficients.append(-coefficient)
        }
        /// Finishes the row with `lo = hi = offset`.
        func end(_ offset: Double = 0) throws {
            try finish(LPBounds.fixed(offset))
        }
        func finish(_ bounds: LPBounds) throws {
            if repeatsOperand { mergeDuplicates() }
            try program.addRow(columns: columns, coefficients: coefficients, bounds: bounds)
        }

        switch node.operation {
        case .convolution(let conv):
            let (channels, height, width) = (inShape[1], inShape[2], inShape[3])
            let (m, oh, ow) = (outShape[1], outShape[2], outShape[3])
            let (kh, kw) = (conv.window.kernel.height, conv.window.kernel.width)
            let cg = channels / conv.group, mg = m / conv.group
            let w = conv.window
            for e in 0..<outSize {
                let image = e / (m * oh * ow), channel = (e / (oh * ow)) % m
                let oy = (e / ow) % oh, ox = e % ow
                let g = channel / mg
                begin(e)
                for ci in 0..<cg {
                    for ky in 0..<kh {
                        let iy = oy * w.strides.height - w.pads.top + ky * w.dilations.height
                        guard iy >= 0 && iy < height else { continue }
                        for kx in 0..<kw {
                            let ix = ox * w.strides.width - w.pads.left + kx * w.dilations.width
                            guard ix >= 0 && ix < width else { continue }
                            let input = ((image * channels + g * cg + ci) * height + iy) * width + ix
                            subtract(x, input, conv.weight.scalars[((channel * cg + ci) * kh + ky) * kw + kx])
                        }
                    }
                }
                try end(conv.bias.scalars[channel])
            }
        case .linear(let lin):
            let (inFeatures, outFeatures) = (lin.inFeatures, lin.outFeatures)
            let rho = radius.map { _ in magnitudes(lower[x], upper[x]) }
            for e in 0..<outSize {
                let group = e / outFeatures, feature = e % outFeatures
                begin(e)
                for k in 0..<inFeatures {
                    subtract(x, group * inFeatures + k, lin.weight.scalars[feature * inFeatures + k])
                }
                let b = lin.bias.scalars[feature]
                if let radius, let rho {
                    var sum = 0.0
                    for k in 0..<inFeatures { sum += radius.coefficients[feature * inFeatures + k] * rho[group * inFeatures + k] }
                    let spread = roundedSum(RoundingError.sumUpperBound(sum, terms: inFeatures), radius.offsets[feature],
                                            upward: true)
                    try finish(ranged(b, spread))
                } else {
                    try end(b)
                }
            }
        case .addConstant(let c):
            for e in 0..<outSize {
                begin(e)
                subtract(x, e, 1)
                try end(c.scalars[e])
            }
        case .multiplyConstant(let c):
            for e in 0..<outSize {
                begin(e)
                subtract(x, e, c.scalars[e])
                try end()
            }
        case .divideConstant(let c):
            // y = x / c is scaled to c·y − x = 0, which keeps every coefficient exact.
            for e in 0..<outSize {
                begin(e, scale: c.scalars[e])
                subtract(x, e, 1)
                try end()
            }
        case let .channelAffine(scale, shift):
            let inner = inShape[2...].reduce(1, *), channels = inShape[1]
            let rho = radius.map { _ in magnitudes(lower[x], upper[x]) }
            for e in 0..<outSize {
                let ch = (e / inner) % channels
                begin(e)
                subtract(x, e, scale[ch])
                if let radius, let rho {
                    let spread = roundedSum(roundedProduct(radius.coefficients[ch], rho[e], upward: true),
                                            radius.offsets[ch], upward: true)
                    try finish(ranged(shift[ch], spread))
                } else {
                    try end(shift[ch])
                }
            }
        case .add, .subtract:
            let other = node.inputs[1]
            let sign: Double = node.operation == .add ? 1 : -1
            for e in 0..<outSize {
                begin(e)
                subtract(x, e, 1)
                subtract(other, e, sign)
                try end()
            }
        case .reshape:
            for e in 0..<outSize {
                begin(e)
                subtract(x, e, 1)
                try end()
            }
        case .transpose(let permutation):
            for (e, source) in Self.transposeSources(shape: inShape, permutation: permutation).enumerated() {
                begin(e)
                subtract(x, source, 1)
                try end()
            }
        case .select(let selection):
            for (e, source) in selection.sources.enumerated() {
                begin(e)
                subtract(x, source, 1)
                try end()
            }
        case .concat(let axis):
            let sources = Self.concatSources(shapes: node.inputs.map { graph.values[$0].shape }, axis: axis)
            for (e, source) in sources.enumerated() {
                begin(e)
                subtract(node.inputs[source.operand], source.element, 1)
                try end()
            }
        case .pad(let pads):
            for (e, source) in Self.padSources(shape: inShape, pads: pads, outputShape: outShape).enumerated() {
                begin(e)
                if let source { subtract(x, source, 1) }
                try end()
            }
        case let .averagePool(window, includePadding):
            let windows = try Self.poolWindows(window, shape: inShape, includePadding: includePadding, node: node.name)
            for e in 0..<outSize {
                // y = Σ x / m is scaled to m·y − Σ x = 0.
                begin(e, scale: windows.divisor[e])
                for cell in windows.cells[e] { subtract(x, cell, 1) }
                try end()
            }
        case .globalAveragePool:
            let inner = graph.values[x].count / Swift.max(outSize, 1)
            for e in 0..<outSize {
                begin(e, scale: Double(inner))
                for i in (e * inner)..<((e + 1) * inner) { subtract(x, i, 1) }
                try end()
            }
        case .relu, .maxPool:
            throw LPError.unsupportedNetwork(node: node.name, detail: "\(node.operation.name) is not affine")
        }
    }

    /// Sums coefficients of repeated columns (an `add` of a value to itself); drops zeros.
    private mutating func mergeDuplicates() {
        var merged = [Int: Double]()
        var order = [Int]()
        for (c, a) in zip(columns, coefficients) {
            if merged[c] == nil { order.append(c) }
            merged[c, default: 0] += a
        }
        columns = order.filter { merged[$0] != 0 || $0 == order.first }
        coefficients = columns.map { merged[$0] ?? 0 }
    }

    private func magnitudes(_ l: [Double], _ u: [Double]) -> [Double] {
        zip(l, u).map { Swift.max(Swift.abs($0), Swift.abs($1)) }
    }

    /// `[down(b − r), up(b + r)]`.
    private func ranged(_ b: Double, _ r: Double) -> LPBounds {
        LPBounds.double(roundedSum(b, -r, upward: false), roundedSum(b, r, upward: true))
    }

    // MARK: Index maps (exact; output elements in row-major order)

    /// For each output element of a transposition, the input element it copies.
    static func transposeSources(shape: [Int], permutation: [Int]) -> [Int] {
        let rank = shape.count
        var strides = [Int](repeating: 1, count: rank)
        if rank > 1 { for a in stride(from: rank - 2, through: 0, by: -1) { strides[a] = strides[a + 1] * shape[a + 1] } }
        let outShape = permutation.map { shape[$0] }
        let total = shape.reduce(1, *)
        var result = [Int](repeating: 0, count: total)
        var index = [Int](repeating: 0, count: rank)
        for e in 0..<total {
            var source = 0
            for k in 0..<rank { source += index[k] * strides[permutation[k]] }
            result[e] = source
            var k = rank - 1
            while k >= 0 {
                index[k] += 1
                if index[k] < outShape[k] { break }
                index[k] = 0
                k -= 1
            }
        }
        return result
    }

    /// For each output element of a concatenation, the operand and element it copies.
    static func concatSources(shapes: [[Int]], axis: Int) -> [(operand: Int, element: Int)] {
        guard let first = shapes.first else { return [] }
        let outer = first[..<axis].reduce(1, *), inner = first[(axis + 1)...].reduce(1, *)
        var result = [(operand: Int, element: Int)]()
        for o in 0..<outer {
            for (k, shape) in shapes.enumerated() {
                let length = shape[axis]
                for a in 0..<length {
                    for i in 0..<inner { result.append((k, (o * length + a) * inner + i)) }
                }
            }
        }
        return result
    }

    /// For each output element of a zero padding, the input element it copies (`nil` for a
    /// padded zero).
    static func padSources(shape: [Int], pads: [Int], outputShape: [Int]) -> [Int?] {
        let rank = shape.count
        let total = outputShape.reduce(1, *)
        var result = [Int?](repeating: nil, count: total)
        var index = [Int](repeating: 0, count: rank)
        for e in 0..<total {
            var source = 0, inside = true
            for a in 0..<rank {
                let i = index[a] - pads[a]
                if i < 0 || i >= shape[a] { inside = false; break }
                source = source * shape[a] + i
            }
            if inside { result[e] = source }
            var a = rank - 1
            while a >= 0 {
                index[a] += 1
                if index[a] < outputShape[a] { break }
                index[a] = 0
                a -= 1
            }
        }
        return result
    }

    /// The in-image cells and the divisor of every output of an average pool (ONNX
    /// `count_include_pad`: with it, cells of the padded image count in the divisor, cells
    /// beyond the padding never do; without it, only in-image cells count).
    static func poolWindows(_ window: Window2D, shape: [Int], includePadding: Bool,
                            node: String) throws -> (cells: [[Int]], divisor: [Double]) {
        let planes = shape[0] * shape[1], h = shape[2], w = shape[3]
        let out = window.outputSize(height: h, width: w)
        var cells = [[Int]](), divisor = [Double]()
        for plane in 0..<planes {
            for oy in 0..<out.height {
                for ox in 0..<out.width {
                    var full = 0, inside = [Int]()
                    for ky in 0..<window.kernel.height {
                        let y = oy * window.strides.height - window.pads.top + ky * window.dilations.height
                        for kx in 0..<window.kernel.width {
                            let x = ox * window.strides.width - window.pads.left + kx * window.dilations.width
                            if y < h + window.pads.bottom && x < w + window.pads.right { full += 1 }
                            if y >= 0 && y < h && x >= 0 && x < w { inside.append((plane * h + y) * w + x) }
                        }
                    }
                    guard !inside.isEmpty else {
                        throw LPError.unsupportedNetwork(node: node, detail: "an average-pooling window has no cell "
                                                         + "inside the image")
                    }
                    divisor.append(Double(includePadding ? full : inside.count))
                    cells.append(inside)
                }
            }
        }
        return (cells, divisor)
    }
}
