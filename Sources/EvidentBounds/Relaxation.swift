/// Linear relaxation of one ReLU layer for a batch of boxes (CROWN, Zhang et al. 2018, §3.1).
///
/// For a pre-activation `ẑ ∈ [l, u]` and `z = max(ẑ, 0)`:
/// - stable active (`l ≥ 0`): `z = ẑ`;
/// - stable inactive (`u ≤ 0`): `z = 0`;
/// - unstable: upper line `z ≤ s (ẑ − l)` with `s = u / (u − l)` (through `(l, 0)` and
///   `(u, u)`), and lower line `z ≥ α ẑ` for any `α ∈ [0, 1]`.
///
/// Every `α ∈ [0, 1]` gives a valid lower line, which is why α-CROWN's optimiser needs
/// no trust: a checker can recompute a bound from the slopes alone.
public struct ReluRelaxation: Sendable {
    /// Upper-line slope per box and neuron (`batch × size`).
    public var upperSlope: [Double]
    /// Upper-line intercept `−s·l` per box and neuron.
    public var upperIntercept: [Double]
    /// Default lower-line slope per box and neuron: 1 or 0 for stable neurons, and for
    /// unstable ones the adaptive choice `1` if `u > −l` else `0`.
    public var lowerSlope: [Double]
    /// Marks unstable neurons (`l < 0 < u`), per box and neuron.
    public var unstable: [Bool]

    /// The neurons (of a layer of `size`) unstable in at least one box, ascending.
    func unstableNeurons(size: Int) -> [Int] {
        (0..<size).filter { j in stride(from: j, to: unstable.count, by: size).contains { unstable[$0] } }
    }

    /// The relaxation of `max(ẑ, 0)` for pre-activation bounds `bounds`.
    public init(preActivation bounds: IntervalBounds) {
        let n = bounds.count
        upperSlope = [Double](repeating: 0, count: n)
        upperIntercept = [Double](repeating: 0, count: n)
        lowerSlope = [Double](repeating: 0, count: n)
        unstable = [Bool](repeating: false, count: n)
        for i in 0..<n {
            let l = bounds.lower[i], u = bounds.upper[i]
            if l >= 0 {
                upperSlope[i] = 1
                lowerSlope[i] = 1
            } else if u > 0 {
                let s = u / (u - l)
                upperSlope[i] = s
                upperIntercept[i] = -s * l
                lowerSlope[i] = u > -l ? 1 : 0
                unstable[i] = true
            }
        }
    }
}

/// Linear relaxation of max pooling for a batch of boxes.
///
/// For each window, with `k*` the cell of largest lower bound: the lower line is
/// `y ≥ x_{k*}`; the upper line is `y ≤ x_{k*}` when `k*` dominates the window
/// (`l_{k*} ≥ u_i` for every other cell, so `y = x_{k*}`), else the constant
/// `y ≤ max_i u_i`. Both are valid for every point of the box.
public struct MaxPoolRelaxation: Sendable {
    /// Per box and output cell: index (within one item of the pooled input) of `k*`.
    public var winner: [Int]
    /// Per box and output cell: whether `k*` dominates its window.
    public var dominated: [Bool]
    /// Per box and output cell: the constant upper bound `max_i u_i`.
    public var upperConstant: [Double]
}
