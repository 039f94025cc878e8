import EvidentIR
import EvidentSoundArithmetic

/// The network as the checker uses it: the graph with the tables every sound kernel needs,
/// built once per check. Everything here is exact (copies, absolute values, index maps):
/// no rounding happens while preparing.
final class CheckerModel: @unchecked Sendable {
    let graph: Graph
    /// Element count of every value.
    let sizes: [Int]
    /// The node producing each value (`nil` for the input).
    let producers: [Int?]
    /// How many operand slots over all nodes read each value (a value read twice by one
    /// `add` counts twice): where it exceeds 1, backward passes sum contributions.
    let readCount: [Int]
    /// ReLU output value name -> the ReLU output values of that name (more than one means
    /// the name is ambiguous and cannot be used in a certificate).
    let reluByName: [String: [ValueID]]
    /// ReLU output value -> its node index.
    let reluNode: [ValueID: Int]
    /// Whether each value is the operand of some ReLU or MaxPool node.
    let isPreActivation: [Bool]
    /// Whether each value is the operand of a MaxPool node (CROWN bounds for every element).
    let isMaxPoolOperand: [Bool]
    /// Whether a value gets CROWN bounds at a refresh: the operand of a ReLU or MaxPool,
    /// produced by an affine node, whose interval bounds are not already exact in real
    /// arithmetic (one affine map applied to an elementwise transform of the input, where
    /// the centre-radius bound equals CROWN's). Skipping those is only a saving: CROWN is
    /// an optional refinement that is intersected with sound interval bounds.
    let getsCrownBounds: [Bool]
    /// Per node: the operation's output at zero operands (its constant offset), exact
    /// (a bias or constant copied), or `nil` when zero.
    let offsets: [[Double]?]
    /// Per convolution and linear node: the weights' absolute values.
    let absoluteWeights: [Int: [Double]]
    /// Per convolution node: geometry and transposed-map tables.
    let convolutions: [Int: ConvolutionPlan]
    /// Per node: recorded bounds on the rounding of derived constants (validated).
    let radii: [Int: ConstantRadius]
    /// Per average-pooling node: each window's cells and divisor.
    let pools: [Int: PoolPlan]

    /// Prepares `network`; throws ``ModelProblem`` for what the checker cannot handle.
    init(network: Network) throws {
        let graph = network.graph
        self.graph = graph
        sizes = graph.values.map(\.count)
        producers = graph.producers
        var reads = [Int](repeating: 0, count: graph.values.count)
        var byName = [String: [ValueID]]()
        var reluNode = [ValueID: Int]()
        var pre = [Bool](repeating: false, count: graph.values.count)
        var maxOperand = [Bool](repeating: false, count: graph.values.count)
        for (index, node) in graph.nodes.enumerated() {
            for v in node.inputs { reads[v] += 1 }
            switch node.operation {
            case .relu:
                byName[graph.values[node.output].name, default: []].append(node.output)
                reluNode[node.output] = index
                pre[node.inputs[0]] = true
            case .maxPool:
                pre[node.inputs[0]] = true
                maxOperand[node.inputs[0]] = true
            default: break
            }
        }
        readCount = reads
        reluByName = byName
        self.reluNode = reluNode
        isPreActivation = pre
        isMaxPoolOperand = maxOperand

        // Exactness of interval bounds (see getsCrownBounds).
        var diagonal = [Bool](repeating: false, count: graph.values.count)
        var exact = [Bool](repeating: false, count: graph.values.count)
        diagonal[graph.input] = true
        exact[graph.input] = true
        var crown = [Bool](repeating: false, count: graph.values.count)
        for node in graph.nodes {
            let operand = node.inputs[0]
            switch node.operation {
            case .addConstant, .multiplyConstant, .divideConstant, .channelAffine, .reshape, .transpose, .select, .pad:
                diagonal[node.output] = diagonal[operand]
                exact[node.output] = exact[operand]
            case .convolution, .linear, .averagePool, .globalAveragePool:
                exact[node.output] = diagonal[operand]
            default:
                break
            }
            if node.operation.isAffine { crown[node.output] = pre[node.output] && !exact[node.output] }
        }
        getsCrownBounds = crown

        var offsets = [[Double]?]()
        var absolute = [Int: [Double]]()
        var convolutions = [Int: ConvolutionPlan]()
        var pools = [Int: PoolPlan]()
        for (index, node) in graph.nodes.enumerated() {
            let outShape = graph.values[node.output].shape
            let outSize = outShape.elementCount
            let inShape = graph.values[node.inputs[0]].shape
            var offset: [Double]? = nil
            switch node.operation {
            case .convolution(let conv):
                let plan = try ConvolutionPlan(conv, inputShape: inShape, outputShape: outShape, node: node.name)
                convolutions[index] = plan
                absolute[index] = conv.weight.scalars.map { Swift.abs($0) }
                if conv.bias.scalars.contains(where: { $0 != 0 }) {
                    var o = [Double](repeating: 0, count: outSize)
                    let plane = plan.outHeight * plan.outWidth
                    for e in 0..<outSize { o[e] = conv.bias.scalars[(e / plane) % plan.outChannels] }
                    offset = o
                }
            case .linear(let lin):
                absolute[index] = lin.weight.scalars.map { Swift.abs($0) }
                if lin.bias.scalars.contains(where: { $0 != 0 }) {
                    offset = (0..<outSize).map { lin.bias.scalars[$0 % lin.outFeatures] }
                }
            case .addConstant(let c):
                if c.scalars.contains(where: { $0 != 0 }) { offset = c.scalars }
            case .channelAffine(_, let shift):
                if shift.contains(where: { $0 != 0 }) {
                    let inner = inShape[2...].elementCount, channels = inShape[1]
                    offset = (0..<outSize).map { shift[($0 / inner) % channels] }
                }
            case .averagePool(let window, let includePadding):
                pools[index] = try PoolPlan(window: window, inputShape: inShape, includePadding: includePadding,
                                            node: node.name)
            case .maxPool(let window):
                pools[index] = try PoolPlan(window: window, inputShape: inShape, includePadding: false, node: node.name)
            default:
                break
            }
            offsets.append(offset)
        }
        self.offsets = offsets
        absoluteWeights = absolute
        self.convolutions = convolutions
        self.pools = pools

        // Every constant of the graph must be finite.
        for node in graph.nodes {
            let constants: [Double]
            switch node.operation {
            case .convolution(let c): constants = c.weight.scalars + c.bias.scalars
            case .linear(let l): constants = l.weight.scalars + l.bias.scalars
            case .addConstant(let t), .multiplyConstant(let t), .divideConstant(let t): constants = t.scalars
            case .channelAffine(let s, let b): constants = s + b
            default: constants = []
            }
            if constants.contains(where: { !$0.isFinite }) {
                throw ModelProblem("node '\(node.name)' (\(node.operation.name)) has a non-finite constant")
            }
        }

        // Recorded rounding radii of derived constants.
        var radii = [Int: ConstantRadius]()
        for (index, radius) in network.constantRadii {
            guard index >= 0 && index < graph.nodes.count else {
                throw ModelProblem("constant radii recorded for node \(index), which does not exist")
            }
            let node = graph.nodes[index]
            let all = radius.coefficients + radius.offsets
            guard all.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                throw ModelProblem("node '\(node.name)' has a negative or non-finite constant radius")
            }
            switch node.operation {
            case let .channelAffine(scale, shift):
                guard radius.coefficients.count == scale.count, radius.offsets.count == shift.count else {
                    throw ModelProblem("node '\(node.name)': constant radii do not match its \(scale.count) channels")
                }
            case .linear(let lin):
                guard radius.coefficients.count == lin.weight.count, radius.offsets.count == lin.outFeatures else {
                    throw ModelProblem("node '\(node.name)': constant radii do not match its weights")
                }
            default:
                throw ModelProblem("node '\(node.name)' (\(node.operation.name)) has constant radii, which the checker "
                                   + "does not know how to charge for this operation")
            }
            if all.contains(where: { $0 != 0 }) { radii[index] = radius }
        }
        self.radii = radii
    }

    var input: ValueID { graph.input }
    var output: ValueID { graph.output }
    var inputSize: Int { sizes[graph.input] }
    var outputSize: Int { sizes[graph.output] }

    /// The ReLU output value called `name`, or why there is none.
    func reluValue(named name: String) -> Result<ValueID, CheckFailure> {
        guard let values = reluByName[name] else {
            if graph.values.contains(where: { $0.name == name }) {
                return .failure(CheckFailure("'\(name)' is not the output of a ReLU node"))
            }
            return .failure(CheckFailure("the network has no value named '\(name)'"))
        }
        guard values.count == 1 else {
            return .failure(CheckFailure("ReLU layer name '\(name)' is ambiguous (\(values.count) ReLU outputs have it)"))
        }
        return .success(values[0])
    }

    /// The pre-activation (operand) of a ReLU output value.
    func preActivation(ofRelu value: ValueID) -> ValueID {
        graph.nodes[reluNode[value]!].inputs[0]
    }
}

/// Something in the network the checker refuses (a certificate about it is invalid).
struct ModelProblem: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// Why a check failed, as one sentence a user can act on.
struct CheckFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// Geometry of a convolution and the tables of its transposed map.
struct ConvolutionPlan: Sendable {
    let images, channels, height, width: Int
    let outChannels, outHeight, outWidth: Int
    let group: Int
    let kernelHeight, kernelWidth: Int
    let window: Window2D
    var groupIn: Int { channels / group }
    var groupOut: Int { outChannels / group }
    var kernelArea: Int { kernelHeight * kernelWidth }
    /// Terms of each entry of the forward map (without the bias).
    var forwardTerms: Int { groupIn * kernelArea }
    /// Terms of each entry of the transposed map: at most one per output channel of the
    /// group and kernel offset.
    var transposeTerms: Int { groupOut * kernelArea }
    /// For each input position `q`, the `(kernel offset, output position)` pairs reading it:
    /// `sources[sourceStart[q] ..< sourceStart[q + 1]]`.
    let sourceStart: [Int]
    let sourceOffset: [Int]
    let sourcePosition: [Int]
    /// Weights regrouped as `[group][kernel offset][output channel in group][input channel in
    /// group]`, so the weights of one gathered output element are contiguous.
    let weightsByOffset: [Double]

    init(_ conv: Convolution, inputShape: [Int], outputShape: [Int], node: String) throws {
        guard inputShape.count == 4, outputShape.count == 4 else {
            throw ModelProblem("convolution '\(node)' is not on N x C x H x W values")
        }
        images = inputShape[0]
        channels = inputShape[1]
        height = inputShape[2]
        width = inputShape[3]
        outChannels = outputShape[1]
        outHeight = outputShape[2]
        outWidth = outputShape[3]
        group = conv.group
        window = conv.window
        kernelHeight = conv.window.kernel.height
        kernelWidth = conv.window.kernel.width
        guard group >= 1, channels % group == 0, outChannels % group == 0,
              conv.weight.shape == [outChannels, channels / group, kernelHeight, kernelWidth] else {
            throw ModelProblem("convolution '\(node)' has weights \(conv.weight.shape) that do not fit its operands")
        }
        var start = [0], offsets = [Int](), positions = [Int]()
        let (sh, sw) = (window.strides.height, window.strides.width)
        let (dh, dw) = (window.dilations.height, window.dilations.width)
        for y in 0..<height {
            for x in 0..<width {
                for ky in 0..<kernelHeight {
                    let ty = y + window.pads.top - ky * dh
                    guard ty >= 0, ty % sh == 0, ty / sh < outHeight else { continue }
                    for kx in 0..<kernelWidth {
                        let tx = x + window.pads.left - kx * dw
                        guard tx >= 0, tx % sw == 0, tx / sw < outWidth else { continue }
                        offsets.append(ky * kernelWidth + kx)
                        positions.append((ty / sh) * outWidth + tx / sw)
                    }
                }
                start.append(offsets.count)
            }
        }
        sourceStart = start
        sourceOffset = offsets
        sourcePosition = positions
        let (cg, mg, area) = (channels / group, outChannels / group, kernelHeight * kernelWidth)
        var regrouped = [Double](repeating: 0, count: conv.weight.count)
        for g in 0..<group {
            for offset in 0..<area {
                for mi in 0..<mg {
                    for ci in 0..<cg {
                        regrouped[((g * area + offset) * mg + mi) * cg + ci] =
                            conv.weight.scalars[((g * mg + mi) * cg + ci) * area + offset]
                    }
                }
            }
        }
        weightsByOffset = regrouped
    }
}

/// The windows of a pooling node: in-image cells of each output and the divisor of an
/// average pool (ONNX `count_include_pad` semantics as the evaluator uses them).
struct PoolPlan: Sendable {
    /// Cells of output `o` (per image plane set): `cells[cellStart[o] ..< cellStart[o + 1]]`,
    /// as flat input indices.
    let cellStart: [Int]
    let cells: [Int]
    /// Divisor of each output (average pooling).
    let divisor: [Double]
    /// The largest number of windows containing one input cell.
    let maxWindowsPerCell: Int
    /// The largest window.
    let maxCells: Int

    init(window: Window2D, inputShape: [Int], includePadding: Bool, node: String) throws {
        guard inputShape.count == 4 else { throw ModelProblem("pooling '\(node)' is not on N x C x H x W values") }
        let planes = inputShape[0] * inputShape[1], h = inputShape[2], w = inputShape[3]
        let out = window.outputSize(height: h, width: w)
        var start = [0], cells = [Int](), divisor = [Double]()
        var perCell = [Int](repeating: 0, count: planes * h * w)
        var largest = 0
        for plane in 0..<planes {
            for oy in 0..<out.height {
                for ox in 0..<out.width {
                    var full = 0, count = 0
                    for ky in 0..<window.kernel.height {
                        let y = oy * window.strides.height - window.pads.top + ky * window.dilations.height
                        for kx in 0..<window.kernel.width {
                            let x = ox * window.strides.width - window.pads.left + kx * window.dilations.width
                            if y < h + window.pads.bottom && x < w + window.pads.right { full += 1 }
                            if y >= 0 && y < h && x >= 0 && x < w {
                                let cell = (plane * h + y) * w + x
                                cells.append(cell)
                                perCell[cell] += 1
                                count += 1
                            }
                        }
                    }
                    guard count > 0 else {
                        throw ModelProblem("pooling '\(node)' has a window with no cell inside the image")
                    }
                    largest = max(largest, count)
                    divisor.append(Double(includePadding ? full : count))
                    start.append(cells.count)
                }
            }
        }
        cellStart = start
        self.cells = cells
        self.divisor = divisor
        maxWindowsPerCell = perCell.max() ?? 0
        maxCells = largest
    }
}
