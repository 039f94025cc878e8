import Foundation
import EvidentIR
import EvidentEval

/// α-CROWN (Xu et al., "Fast and Complete", ICLR 2021): the lower-line slope of every
/// unstable ReLU neuron, one per neuron and per specification row, is optimised by
/// projected gradient ascent (Adam) on the bound, starting from CROWN's adaptive slopes.
/// Intermediate bounds stay those of CROWN.
///
/// Gradient. For fixed line choices the bound of row `r` is `L = const + Λ_x · x*`, where
/// `x*` is the box corner minimising the final linear function. Differentiating the
/// backward pass gives a forward pass: evaluating the relaxed network (each ReLU replaced
/// by the line the backward pass used for that row) at `x*` yields the value `ξ_v` of
/// every pre-activation, and `∂L/∂α_j = Λ_j · ξ_j` for a neuron whose coefficient `Λ_j`
/// on the ReLU output is non-negative (0 otherwise). As a consistency check, `L` equals
/// the specification applied to the relaxed network's output at `x*`.
///
/// Every iterate is a valid bound (any α in [0, 1] is), so the best bound seen per row is
/// returned together with the slopes that produced it.
extension BoundPropagator {
    func optimiseSlopes(initial: [Double], rowBox: [Int], box: IntervalBounds, relaxations: [ValueID: NodeRelaxation],
                        intermediate: [IntervalBounds?], options: BoundOptions) -> (lower: [Double], slopes: [ValueID: [Double]]) {
        let rows = rowBox.count
        var alphas = [ValueID: [Double]]()
        for (v, relaxation) in relaxations {
            guard case .relu(let relu) = relaxation else { continue }
            let size = graph.values[v].count
            var a = [Double](repeating: 0, count: rows * size)
            for j in 0..<size {
                for r in 0..<rows { a[j * rows + r] = relu.lowerSlope[rowBox[r] * size + j] }
            }
            alphas[v] = a
        }
        var best = [Double](repeating: -.infinity, count: rows)
        var bestSlopes = alphas
        var firstMoment = alphas.mapValues { [Double](repeating: 0, count: $0.count) }
        var secondMoment = firstMoment
        let (beta1, beta2, epsilon) = (0.9, 0.999, 1e-8)

        for iteration in 0...max(0, options.iterations) {
            var pass = BackwardPass(propagator: self, target: graph.output, rowBox: rowBox, relaxations: relaxations)
            pass.slopes = alphas
            pass.recordsReluCoefficients = true
            let out = pass.run(initial: initial, box: box)
            for r in 0..<rows where out.bounds[r] > best[r] {
                best[r] = out.bounds[r]
                for (v, a) in alphas {
                    for i in stride(from: r, to: a.count, by: rows) { bestSlopes[v]![i] = a[i] }
                }
            }
            if iteration == options.iterations { break }
            let gradients = slopeGradients(out, rowBox: rowBox, box: box, relaxations: relaxations, alphas: alphas)
            let step = Double(iteration + 1)
            for (v, g) in gradients {
                var a = alphas[v]!, m = firstMoment[v]!, s = secondMoment[v]!
                let correction1 = 1 - pow(beta1, step), correction2 = 1 - pow(beta2, step)
                for i in 0..<g.count where g[i] != 0 || m[i] != 0 {
                    m[i] = beta1 * m[i] + (1 - beta1) * g[i]
                    s[i] = beta2 * s[i] + (1 - beta2) * g[i] * g[i]
                    let update = options.learningRate * (m[i] / correction1) / ((s[i] / correction2).squareRoot() + epsilon)
                    a[i] = min(1, max(0, a[i] + update))
                }
                alphas[v] = a
                firstMoment[v] = m
                secondMoment[v] = s
            }
        }
        return (best, bestSlopes)
    }

    /// `∂L_r/∂α` for every ReLU node reached by the backward pass (see the type comment).
    func slopeGradients(_ out: BackwardPass.Output, rowBox: [Int], box: IntervalBounds,
                        relaxations: [ValueID: NodeRelaxation], alphas: [ValueID: [Double]]) -> [ValueID: [Double]] {
        let rows = rowBox.count
        let n = inputSize
        // x*: the corner of each row's box minimising its final linear function.
        var xi = [[Double]?](repeating: nil, count: graph.values.count)
        var corner = [Double](repeating: 0, count: rows * n)
        for r in 0..<rows {
            let base = rowBox[r] * n
            for i in 0..<n {
                corner[r * n + i] = out.inputCoefficients[i * rows + r] >= 0 ? box.lower[base + i] : box.upper[base + i]
            }
        }
        xi[graph.input] = corner
        var gradients = [ValueID: [Double]]()
        for node in graph.nodes {
            guard node.inputs.allSatisfy({ xi[$0] != nil }) else { continue }
            let shapes = node.inputs.map { graph.values[$0].shape }
            let outShape = graph.values[node.output].shape
            let size = outShape.elementCount
            switch node.operation {
            case .relu:
                guard let a = out.reluCoefficients[node.output], case .relu(let relu)? = relaxations[node.output] else { continue }
                let pre = xi[node.inputs[0]]!
                let alpha = alphas[node.output]!
                var post = [Double](repeating: 0, count: rows * size)
                var g = [Double](repeating: 0, count: rows * size)
                for r in 0..<rows {
                    let base = rowBox[r] * size
                    for j in 0..<size {
                        // xi and post are item-major (rows × size); a, alpha and g element-major.
                        let i = r * size + j, k = base + j, e = j * rows + r
                        if !relu.unstable[k] {
                            post[i] = relu.lowerSlope[k] * pre[i]
                        } else if a[e] >= 0 {
                            post[i] = alpha[e] * pre[i]
                            g[e] = a[e] * pre[i]
                        } else {
                            post[i] = relu.upperSlope[k] * pre[i] + relu.upperIntercept[k]
                        }
                    }
                }
                xi[node.output] = post
                gradients[node.output] = g
            case .maxPool:
                guard case .maxPool(let relaxation)? = relaxations[node.output] else { continue }
                let pre = xi[node.inputs[0]]!
                let inSize = shapes[0].elementCount
                var post = [Double](repeating: 0, count: rows * size)
                // Without recorded coefficients, use the lower line (exact where dominated).
                for r in 0..<rows {
                    for o in 0..<size {
                        let k = rowBox[r] * size + o
                        post[r * size + o] = pre[r * inSize + relaxation.winner[k]]
                    }
                }
                xi[node.output] = post
            default:
                xi[node.output] = Kernels.forward(node.operation, operands: node.inputs.map { xi[$0]! },
                                                  shapes: shapes, outputShape: outShape, batch: rows)
            }
        }
        return gradients
    }
}
