import EvidentIR
import EvidentEval

/// Elementwise lower and upper bounds of one value for a batch of input boxes:
/// `lower` and `upper` hold `batch × size` numbers, box by box.
///
/// Guarantee: sound for the real-valued network up to floating-point rounding
/// of the bound computation itself (round-to-nearest Float64, no outward
/// rounding); the certificate checker, not this type, gives the rounding-sound
/// statement.
public struct IntervalBounds: Sendable, Equatable {
    public var lower: [Double]
    public var upper: [Double]

    public init(lower: [Double], upper: [Double]) {
        precondition(lower.count == upper.count, "IntervalBounds: \(lower.count) lower vs \(upper.count) upper")
        self.lower = lower
        self.upper = upper
    }

    /// Number of elements over all boxes.
    public var count: Int { lower.count }

    /// Elementwise intersection with other sound bounds of the same value.
    public func intersected(with other: IntervalBounds) -> IntervalBounds {
        IntervalBounds(lower: zip(lower, other.lower).map { Swift.max($0, $1) },
                       upper: zip(upper, other.upper).map { Swift.min($0, $1) })
    }
}

/// Interval bound propagation (IBP) of single operations.
enum IntervalArithmetic {
    /// The operation with every coefficient replaced by its absolute value and every
    /// constant offset removed, so that `|J| r` is one forward call. `nil` when the
    /// operation's coefficients are all non-negative and bounds map monotonically.
    static func absoluteLinearPart(_ operation: GraphOperation) -> GraphOperation? {
        switch operation {
        case .convolution(var conv):
            conv.weight.scalars = conv.weight.scalars.map(abs)
            conv.bias.scalars = conv.bias.scalars.map { _ in 0 }
            return .convolution(conv)
        case .linear(var lin):
            lin.weight.scalars = lin.weight.scalars.map(abs)
            lin.bias.scalars = lin.bias.scalars.map { _ in 0 }
            return .linear(lin)
        case .multiplyConstant(var c):
            c.scalars = c.scalars.map(abs)
            return .multiplyConstant(c)
        case .divideConstant(var c):
            c.scalars = c.scalars.map(abs)
            return .divideConstant(c)
        case .channelAffine(let scale, let shift):
            return .channelAffine(scale: scale.map(abs), shift: shift.map { _ in 0 })
        case .subtract:
            return .add
        case .addConstant, .add, .relu, .reshape, .transpose, .select, .concat, .pad, .averagePool, .maxPool, .globalAveragePool:
            return nil
        }
    }

    /// Bounds of `operation`'s output from bounds of its operands.
    ///
    /// Affine operations with mixed-sign coefficients use the centre-radius form
    /// `J c ± |J| r`, exact in real arithmetic for a single affine map; monotone
    /// operations (ReLU, pooling, reshaping, addition of a constant) map the
    /// endpoints directly.
    static func propagate(_ operation: GraphOperation, absolute: GraphOperation?, operands: [IntervalBounds],
                          shapes: [[Int]], outputShape: [Int], batch: Int) -> IntervalBounds {
        func forward(_ op: GraphOperation, _ values: [[Double]]) -> [Double] {
            Kernels.forward(op, operands: values, shapes: shapes, outputShape: outputShape, batch: batch)
        }
        switch operation {
        case .relu:
            return IntervalBounds(lower: operands[0].lower.map { Swift.max($0, 0) },
                                  upper: operands[0].upper.map { Swift.max($0, 0) })
        case .subtract:
            return IntervalBounds(lower: zip(operands[0].lower, operands[1].upper).map { $0 - $1 },
                                  upper: zip(operands[0].upper, operands[1].lower).map { $0 - $1 })
        default:
            guard let absolute else {
                // Non-negative coefficients: lower maps to lower, upper to upper.
                return IntervalBounds(lower: forward(operation, operands.map(\.lower)),
                                      upper: forward(operation, operands.map(\.upper)))
            }
            let centres = operands.map { zip($0.lower, $0.upper).map { ($0 + $1) / 2 } }
            let radii = operands.map { zip($0.lower, $0.upper).map { ($1 - $0) / 2 } }
            let c = forward(operation, centres), r = forward(absolute, radii)
            return IntervalBounds(lower: zip(c, r).map { $0 - $1 }, upper: zip(c, r).map { $0 + $1 })
        }
    }
}

/// ReLU neurons whose pre-activation bounds strictly straddle 0 (unstable), and all ReLU
/// neurons with bounds, over every box of `bounds` (indexed by value, as bound results are).
public func unstableReluNeurons(_ graph: Graph, _ bounds: [IntervalBounds?]) -> (unstable: Int, total: Int) {
    var unstable = 0, total = 0
    for node in graph.nodes where node.operation == .relu {
        guard let b = bounds[node.inputs[0]] else { continue }
        total += b.lower.count
        for (l, u) in zip(b.lower, b.upper) where l < 0 && u > 0 { unstable += 1 }
    }
    return (unstable, total)
}
