import Foundation
import EvidentIR
import EvidentEval

// Baseline attribution methods ("explainers") to compare EVA maps with: gradient methods
// (saliency, gradient × input, integrated gradients, SmoothGrad) and black-box perturbation
// methods (occlusion, RISE, Sobol total indices). None of these scores is certified: they
// are floating-point evaluations of the network through ``Evaluator`` (Float64, OpenBLAS),
// and the sampling methods are Monte Carlo or quasi-Monte Carlo estimates whose values
// depend on the seed.
//
// Conventions shared by every method:
// - The explained quantity is the raw output (logit) `f_t` of the target class `t`.
// - Scores come one per feature, in ``FeatureMap`` order; higher means more important.
// - Features cover every channel of their pixel positions (``FeatureMap/inputIndices``).
//   Gradient methods and occlusion give a score per input element that is *summed* over
//   the feature's input indices; RISE scores pixel positions and *averages* them over the
//   feature's positions; Sobol perturbs whole features and scores them directly.
// - The reference input `x0` ("baseline", the value of a removed or masked input) is the
//   per-channel mean of the explained input unless ``BaselineSettings/baseline`` gives a
//   constant (see ``Baselines/referenceInput(_:shape:baseline:)``).
// - Network inputs are evaluated in batches of ``BaselineSettings/batchSize``, never one at
//   a time.

/// The attribution methods Evident can compute; the raw values are the command-line names.
public enum ExplainerKind: String, CaseIterable, Sendable {
    /// `|∂f_t/∂x|` (Simonyan et al. 2014).
    case saliency
    /// `x ⊙ ∂f_t/∂x` (Shrikumar et al. 2016).
    case gradxinput = "gradxinput"
    /// `(x − x0) ⊙` the path-averaged gradient (Sundararajan et al. 2017).
    case integratedGradients = "integrated-gradients"
    /// Saliency averaged over noisy copies of the input (Smilkov et al. 2017).
    case smoothgrad
    /// The drop of `f_t` when a feature is replaced by the baseline (Zeiler and Fergus 2014).
    case occlusion
    /// Randomized Input Sampling for Explanation (Petsiuk et al. 2018).
    case rise
    /// Total Sobol indices of the features (Fel et al. 2021).
    case sobol
    /// EVA (Fel et al. 2023), with certified bounds: computed by ``EVA``, not by ``Baselines``.
    case eva
}

/// Settings of the baseline explainers. Each method reads only the fields it names.
public struct BaselineSettings: Sendable {
    /// Integrated gradients: the number of points of the midpoint Riemann sum (≥ 1).
    public var steps: Int
    /// SmoothGrad: noisy copies; RISE: random masks; Sobol: base quasi-Monte Carlo designs `N`
    /// (the method evaluates `N · (d + 2)` inputs for `d` features). `nil` takes the method's
    /// default, ``defaultSamples(for:)``: 32, 512 and 32.
    public var samples: Int?
    /// SmoothGrad: the noise's standard deviation as a fraction of the input's range,
    /// `σ = noise · (max x − min x)` (Smilkov et al. find 10–20 % works well).
    public var noise: Double
    /// The value of a removed or masked input element (integrated gradients' starting point,
    /// occlusion's fill, RISE's and Sobol's masked value), in network units; `nil` means the
    /// per-channel mean of the explained input.
    public var baseline: Double?
    /// Seed of SmoothGrad's noise, RISE's masks and the scrambling of Sobol's design.
    public var seed: UInt64
    /// RISE: the coarse mask grid has `min(riseCells, H) × min(riseCells, W)` cells.
    public var riseCells: Int
    /// RISE: the probability that a grid cell is kept (`p` of the paper).
    public var riseKeepProbability: Double
    /// The largest number of inputs per evaluator call.
    public var batchSize: Int

    public init(steps: Int = 32, samples: Int? = nil, noise: Double = 0.15, baseline: Double? = nil, seed: UInt64 = 0,
                riseCells: Int = 7, riseKeepProbability: Double = 0.5, batchSize: Int = 64) {
        self.steps = steps
        self.samples = samples
        self.noise = noise
        self.baseline = baseline
        self.seed = seed
        self.riseCells = riseCells
        self.riseKeepProbability = riseKeepProbability
        self.batchSize = batchSize
    }

    /// The sample count a method uses when ``samples`` is `nil`: 32 noisy copies for
    /// SmoothGrad, 512 masks for RISE, 32 base designs for Sobol (Fel et al.'s default), and
    /// 0 for the deterministic methods.
    public static func defaultSamples(for kind: ExplainerKind) -> Int {
        switch kind {
        case .smoothgrad: 32
        case .rise: 512
        case .sobol: 32
        default: 0
        }
    }

    /// The sample count `kind` uses with these settings.
    public func samples(for kind: ExplainerKind) -> Int { samples ?? Self.defaultSamples(for: kind) }
}

/// Why a baseline explanation could not be computed.
public enum BaselineError: Error, LocalizedError, Equatable, Sendable {
    /// The input does not have the network's input size.
    case inputSize(expected: Int, got: Int)
    /// The features are made for an image of another size than the network's input.
    case featureShape(featureInputs: Int, networkInputs: Int)
    /// The target class is not one of the network's outputs.
    case targetOutOfRange(target: Int, outputs: Int)
    /// An input element is NaN or infinite.
    case nonFiniteInput(index: Int)
    /// A setting is outside its range.
    case invalidSetting(name: String, value: String, requirement: String)
    /// The method is not a baseline explainer (EVA is computed by ``EVA/explain(network:problem:settings:propagator:)``).
    case notABaseline(ExplainerKind)

    public var errorDescription: String? {
        switch self {
        case let .inputSize(expected, got):
            "the input has \(got) numbers; the network takes \(expected)"
        case let .featureShape(featureInputs, networkInputs):
            "the features cover an image of \(featureInputs) numbers; the network takes \(networkInputs)"
        case let .targetOutOfRange(target, outputs):
            "target class \(target) is not one of the network's outputs 0..<\(outputs)"
        case let .nonFiniteInput(index):
            "input \(index) is not a finite number"
        case let .invalidSetting(name, value, requirement):
            "\(name) is \(value); it must be \(requirement)"
        case let .notABaseline(kind):
            "\(kind.rawValue) is not a baseline explainer: EVA maps are computed by EVA.explain"
        }
    }
}

/// Baseline attribution maps: one score per feature for the logit `f_t` of a target class.
public enum Baselines {
    /// One score per feature (``FeatureMap`` order) for class `target` (the logit `f_t`);
    /// higher means more important. See each method's `case` below for its definition and cost.
    ///
    /// - Parameters:
    ///   - x: one flattened network input (channel-major `C × H × W` for an image).
    ///   - features: features made for the network's input shape (`features.shape.count == x.count`).
    /// - Throws: ``BaselineError`` for inconsistent arguments or settings and for `.eva`;
    ///   ``EvaluationError`` from the evaluator.
    public static func explain(_ kind: ExplainerKind, network: Network, input x: [Double], target: Int, features: FeatureMap,
                               settings: BaselineSettings = BaselineSettings()) throws -> [Double] {
        let problem = try Problem(network: network, input: x, target: target, features: features, settings: settings)
        switch kind {
        case .saliency: return try problem.saliency()
        case .gradxinput: return try problem.gradientTimesInput()
        case .integratedGradients: return try problem.integratedGradients()
        case .smoothgrad: return try problem.smoothGrad()
        case .occlusion: return try problem.occlusion()
        case .rise: return try problem.rise()
        case .sobol: return try problem.sobol()
        case .eva: throw BaselineError.notABaseline(.eva)
        }
    }

    /// The reference input `x0` of the methods that remove or mask inputs: every element
    /// equals `baseline` when given, otherwise the mean of its channel over the image
    /// (`x0[c·HW + p] = (1/HW) Σ_q x[c·HW + q]`). The channel mean is the default because it
    /// does not depend on how the network normalises its input: the mean of a normalised
    /// image is the normalised mean, whereas a constant 0 means black for raw pixels and the
    /// data set's mean for normalised ones.
    public static func referenceInput(_ x: [Double], shape: ImageShape, baseline: Double?) -> [Double] {
        if let baseline { return [Double](repeating: baseline, count: x.count) }
        let plane = shape.plane
        guard plane > 0, x.count == shape.count else { return x }
        var x0 = x
        for c in 0..<shape.channels {
            let range = (c * plane)..<((c + 1) * plane)
            let mean = x[range].reduce(0, +) / Double(plane)
            for i in range { x0[i] = mean }
        }
        return x0
    }
}

// MARK: - The methods

/// One explanation problem, checked: the input, its reference input, the target and the
/// features, with the evaluation helpers every method shares.
private struct Problem {
    let evaluator: Evaluator
    let x: [Double]
    let x0: [Double]
    let target: Int
    let features: FeatureMap
    /// The feature of every input element: `label[i mod HW]`.
    let featureOfInput: [Int]
    let settings: BaselineSettings
    var n: Int { x.count }
    var outputs: Int { evaluator.outputCount }

    init(network: Network, input x: [Double], target: Int, features: FeatureMap, settings: BaselineSettings) throws {
        let evaluator = Evaluator(graph: network.graph)
        guard x.count == evaluator.inputCount else { throw BaselineError.inputSize(expected: evaluator.inputCount, got: x.count) }
        guard features.shape.count == x.count, features.label.count == features.shape.plane else {
            throw BaselineError.featureShape(featureInputs: features.shape.count, networkInputs: x.count)
        }
        guard target >= 0, target < evaluator.outputCount else {
            throw BaselineError.targetOutOfRange(target: target, outputs: evaluator.outputCount)
        }
        if let bad = x.firstIndex(where: { !$0.isFinite }) { throw BaselineError.nonFiniteInput(index: bad) }
        try Self.check(settings)
        self.evaluator = evaluator
        self.x = x
        self.x0 = Baselines.referenceInput(x, shape: features.shape, baseline: settings.baseline)
        self.target = target
        self.features = features
        let plane = features.shape.plane
        self.featureOfInput = (0..<x.count).map { features.label[$0 % plane] }
        self.settings = settings
    }

    static func check(_ s: BaselineSettings) throws {
        func invalid(_ name: String, _ value: Any, _ requirement: String) -> BaselineError {
            .invalidSetting(name: name, value: "\(value)", requirement: requirement)
        }
        guard s.steps >= 1 else { throw invalid("steps", s.steps, "at least 1") }
        if let samples = s.samples, !(1...(1 << 30)).contains(samples) { throw invalid("samples", samples, "between 1 and 2^30") }
        guard s.noise >= 0, s.noise.isFinite else { throw invalid("noise", s.noise, "a finite number ≥ 0") }
        if let b = s.baseline, !b.isFinite { throw invalid("baseline", b, "a finite number") }
        guard s.riseCells >= 1 else { throw invalid("RISE cells", s.riseCells, "at least 1") }
        guard s.riseKeepProbability > 0, s.riseKeepProbability <= 1 else {
            throw invalid("RISE keep probability", s.riseKeepProbability, "in (0, 1]")
        }
        guard s.batchSize >= 1 else { throw invalid("batch size", s.batchSize, "at least 1") }
    }

    // MARK: Shared helpers

    /// Sums per-element scores over each feature's input elements.
    func sumPerFeature(_ elementScores: [Double]) -> [Double] {
        var scores = [Double](repeating: 0, count: features.count)
        for i in 0..<n { scores[featureOfInput[i]] += elementScores[i] }
        return scores
    }

    /// `f_t` at `count` inputs, `makeInput(k)` being input `k`; evaluated in batches of
    /// ``BaselineSettings/batchSize``, inputs made in order `k = 0, 1, …` (so a generator
    /// that `makeInput` draws from gives the same inputs whatever the batch size).
    func targetOutputs(count: Int, _ makeInput: (Int) -> [Double]) throws -> [Double] {
        var result = [Double]()
        result.reserveCapacity(count)
        var start = 0
        while start < count {
            let batch = min(settings.batchSize, count - start)
            var inputs = [Double]()
            inputs.reserveCapacity(batch * n)
            for k in start..<(start + batch) { inputs.append(contentsOf: makeInput(k)) }
            let y = try evaluator.evaluate(inputs, batch: batch)
            for b in 0..<batch { result.append(y[b * outputs + target]) }
            start += batch
        }
        return result
    }

    /// The sum over `k < count` of `transform(∂f_t/∂x at makeInput(k))`, element by element;
    /// gradients are computed in batches, inputs made in order.
    func summedGradients(count: Int, _ makeInput: (Int) -> [Double], transform: (Double) -> Double = { $0 }) throws -> [Double] {
        var coefficients = [Double](repeating: 0, count: outputs)
        coefficients[target] = 1
        var sum = [Double](repeating: 0, count: n)
        var start = 0
        while start < count {
            let batch = min(settings.batchSize, count - start)
            var inputs = [Double]()
            inputs.reserveCapacity(batch * n)
            for k in start..<(start + batch) { inputs.append(contentsOf: makeInput(k)) }
            let g = try evaluator.gradient(of: coefficients, at: inputs, batch: batch).gradients
            for b in 0..<batch {
                for i in 0..<n { sum[i] += transform(g[b * n + i]) }
            }
            start += batch
        }
        return sum
    }

    /// `x0 + m ⊙ (x − x0)` for a mask `m` over the features (`m[u]` for every element of `u`).
    func maskedByFeature(_ m: ArraySlice<Double>) -> [Double] {
        let base = m.startIndex
        return (0..<n).map { i in x0[i] + m[base + featureOfInput[i]] * (x[i] - x0[i]) }
    }

    // MARK: Gradient methods

    /// Saliency: `score_u = Σ_{i∈u} |∂f_t/∂x_i (x)|`. Cost: one forward and backward pass.
    func saliency() throws -> [Double] {
        sumPerFeature(try summedGradients(count: 1, { _ in x }, transform: abs))
    }

    /// Gradient × input: `score_u = Σ_{i∈u} x_i ∂f_t/∂x_i (x)`, signed. Cost: one forward
    /// and backward pass. On an affine network this is `Σ_{i∈u} x_i w_ti`.
    func gradientTimesInput() throws -> [Double] {
        let g = try summedGradients(count: 1) { _ in x }
        return sumPerFeature((0..<n).map { x[$0] * g[$0] })
    }

    /// Integrated gradients (Sundararajan, Taly and Yan, "Axiomatic Attribution for Deep
    /// Networks", ICML 2017: the definition and its Riemann-sum approximation, here with
    /// midpoints): `score_u = Σ_{i∈u} (x_i − x0_i) · ḡ_i` where
    /// `ḡ = (1/S) Σ_{k<S} ∇f_t(x0 + α_k (x − x0))` at the midpoints `α_k = (k + ½)/S`,
    /// `S = steps`. Completeness: `Σ_u score_u = f_t(x) − f_t(x0)` up to the quadrature error,
    /// which is zero on an affine network and at most `TV/S` on a piecewise-linear one, `TV`
    /// being the total variation of `α ↦ ∇f_t(x0 + α(x − x0)) · (x − x0)`. Cost: `S` forward
    /// and backward passes, batched.
    func integratedGradients() throws -> [Double] {
        let steps = settings.steps
        let delta = (0..<n).map { x[$0] - x0[$0] }
        let sum = try summedGradients(count: steps) { k in
            let alpha = (Double(k) + 0.5) / Double(steps)
            return (0..<n).map { x0[$0] + alpha * delta[$0] }
        }
        return sumPerFeature((0..<n).map { delta[$0] * sum[$0] / Double(steps) })
    }

    /// SmoothGrad (Smilkov, Thorat, Kim, Viégas and Wattenberg, "SmoothGrad: removing noise
    /// by adding noise", 2017) applied to saliency: `score_u = Σ_{i∈u} (1/N) Σ_{k<N} |∂f_t/∂x_i (x + ε_k)|` with
    /// `ε_k ~ N(0, σ² I)`, `σ = noise · (max x − min x)`. The mean is taken of the absolute
    /// gradients (not the absolute value of the mean gradient), so noise of either sign
    /// cannot cancel, and `noise = 0` gives saliency exactly. Cost: `N` forward and backward
    /// passes, batched; the noise comes from a SplitMix64 stream of `seed`, drawn in order.
    func smoothGrad() throws -> [Double] {
        let samples = settings.samples(for: .smoothgrad)
        let sigma = settings.noise * ((x.max() ?? 0) - (x.min() ?? 0))
        var rng = SplitMix64(seed: settings.seed)
        let sum = try summedGradients(count: samples, { _ in x.map { $0 + sigma * rng.normal() } }, transform: abs)
        return sumPerFeature(sum.map { $0 / Double(samples) })
    }

    // MARK: Perturbation methods

    /// Occlusion (Zeiler and Fergus, ECCV 2014, occlusion sensitivity, with the features as the occluding
    /// patches): `score_u = f_t(x) − f_t(x with the elements of u set to x0)`, signed. On an
    /// affine network this is `Σ_{i∈u} w_ti (x_i − x0_i)`. Cost: `d + 1` forward passes, batched.
    func occlusion() throws -> [Double] {
        let positions = features.inputIndices
        let y = try targetOutputs(count: features.count + 1) { k in
            guard k > 0 else { return x }
            var occluded = x
            for i in positions[k - 1] { occluded[i] = x0[i] }
            return occluded
        }
        return (0..<features.count).map { y[0] - y[$0 + 1] }
    }

    /// RISE (Petsiuk, Das and Saenko, "RISE: Randomized Input Sampling for Explanation of
    /// Black-box Models", BMVC 2018): `N` masks `m_k` over the pixel
    /// positions (shared by the channels), each the bilinear upsampling of a random binary
    /// grid of `s_h × s_w` cells (`s = min(riseCells, side)`, each cell kept with probability
    /// `p`), made as the paper's mask generation does: with cell size `c = ⌈side / s⌉` the grid is upsampled to
    /// `(s + 1) · c` pixels (cell centres at pixel-centre coordinates, values clamped beyond
    /// the outer centres, as scikit-image's `resize(order=1)` of the authors' code does) and
    /// the image's window is cropped at a random shift in `[0, c)` along each side. Masked
    /// input: `x0 + m ⊙ (x − x0)` (`x · m + baseline · (1 − m)`). Pixel importance (the paper's Monte Carlo estimate):
    /// `S(p) = Σ_k f_t(masked_k) m_k(p) / (N · p)`; a feature's score is the *mean* of `S`
    /// over its positions, so that large features are not favoured. Signed. Cost: `N` forward
    /// passes, batched; the masks come from a SplitMix64 stream of `seed`.
    func rise() throws -> [Double] {
        let samples = settings.samples(for: .rise), p = settings.riseKeepProbability
        let (h, w, plane) = (features.shape.height, features.shape.width, features.shape.plane)
        let (sh, sw) = (min(settings.riseCells, h), min(settings.riseCells, w))
        let (ch, cw) = ((h + sh - 1) / sh, (w + sw - 1) / sw)
        // Bilinear weights along one side: pixel `u` of the upsampled side reads grid cells
        // `a0`, `a1` with weight `1 − t`, `t`.
        func interpolation(cells s: Int, cellSize c: Int) -> [(a0: Int, a1: Int, t: Double)] {
            let up = (s + 1) * c
            return (0..<up).map { u in
                let coordinate = min(max((Double(u) + 0.5) * Double(s) / Double(up) - 0.5, 0), Double(s - 1))
                let a0 = Int(coordinate.rounded(.down))
                return (a0, min(a0 + 1, s - 1), coordinate - Double(a0))
            }
        }
        let rows = interpolation(cells: sh, cellSize: ch), columns = interpolation(cells: sw, cellSize: cw)
        var rng = SplitMix64(seed: settings.seed)
        var importance = [Double](repeating: 0, count: plane)
        var done = 0
        while done < samples {
            let batch = min(settings.batchSize, samples - done)
            var masks = [[Double]]()
            for _ in 0..<batch {
                let grid = (0..<(sh * sw)).map { _ in rng.uniform() < p ? 1.0 : 0.0 }
                let (dy, dx) = (rng.index(ch), rng.index(cw))
                masks.append((0..<plane).map { q in
                    let r = rows[q / w + dy], c = columns[q % w + dx]
                    let top = grid[r.a0 * sw + c.a0] * (1 - c.t) + grid[r.a0 * sw + c.a1] * c.t
                    let bottom = grid[r.a1 * sw + c.a0] * (1 - c.t) + grid[r.a1 * sw + c.a1] * c.t
                    return top * (1 - r.t) + bottom * r.t
                })
            }
            let y = try targetOutputs(count: batch) { k in
                (0..<n).map { i in x0[i] + masks[k][i % plane] * (x[i] - x0[i]) }
            }
            for k in 0..<batch {
                for q in 0..<plane { importance[q] += y[k] * masks[k][q] }
            }
            done += batch
        }
        var scores = [Double](repeating: 0, count: features.count), sizes = scores
        for q in 0..<plane {
            scores[features.label[q]] += importance[q] / (Double(samples) * p)
            sizes[features.label[q]] += 1
        }
        return zip(scores, sizes).map { $1 > 0 ? $0 / $1 : 0 }
    }

    /// Total Sobol indices of the features (Fel, Cadène, Chalvidal, Cord, Vigouroux and
    /// Serre, "Look at the variance! Efficient black-box explanations with Sobol-based
    /// sensitivity analysis", NeurIPS 2021). The mask has one value `m_u ∈ [0, 1]` per
    /// feature and the masked input is `x0 + m ⊙ (x − x0)` (a feature at 0 takes the baseline).
    /// The design follows the paper's sampler: `N` points of a scrambled ``SobolSequence`` in
    /// `2d` dimensions give `A` (the first `d` columns) and `B` (the last `d`), and `C_u` is
    /// `A` with column `u` taken from `B`. The Jansen estimator, which the paper uses, gives
    /// `S_Tu = Σ_k (f(A_k) − f(C_u,k))² / (2N) / Var`, `Var` being the (population) variance
    /// of `f_t` over the `2N` rows of `A` and `B`; every index is 0 when `Var = 0`. Unsigned.
    /// On an additive function `f = c0 + Σ_u c_u m_u` the exact index is `c_u² / Σ_v c_v²`.
    /// Accuracy: the numerator of `u` averages `(a − b)²` over the two design columns of `u`;
    /// with the default `N = 32` points, columns whose leading digits are linearly related
    /// (unavoidable for some pairs among `2d` columns of a 32-point digital net, whatever its
    /// direction numbers) can put an index anywhere between about 0 and twice its value,
    /// while the ranking of clearly different features holds; `N = 1024` gives indices within a fraction of a
    /// percent on additive functions. Cost: `N · (d + 2)` forward passes, batched, plus the
    /// design (see ``SobolSequence``).
    func sobol() throws -> [Double] {
        let designs = settings.samples(for: .sobol), d = features.count
        guard 2 * d <= SobolSequence.maximumDimensions else {
            throw BaselineError.invalidSetting(name: "the number of features", value: "\(d)",
                                               requirement: "at most \(SobolSequence.maximumDimensions / 2) for the Sobol design")
        }
        let points = SobolSequence(dimensions: 2 * d, scrambleSeed: settings.seed).points(designs)
        // Row r: A_r for r < N, B_(r−N) for r < 2N, then C_u,k at 2N + u·N + k.
        let y = try targetOutputs(count: designs * (d + 2)) { r in
            if r < 2 * designs {
                let start = (r % designs) * 2 * d + (r < designs ? 0 : d)
                return maskedByFeature(points[start..<(start + d)])
            }
            let (u, k) = ((r - 2 * designs) / designs, (r - 2 * designs) % designs)
            var mask = Array(points[(k * 2 * d)..<(k * 2 * d + d)])
            mask[u] = points[k * 2 * d + d + u]
            return maskedByFeature(mask[...])
        }
        let ab = y[0..<(2 * designs)]
        let mean = ab.reduce(0, +) / Double(ab.count)
        let variance = ab.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(ab.count)
        guard variance > 0 else { return [Double](repeating: 0, count: d) }
        return (0..<d).map { u in
            var sum = 0.0
            for k in 0..<designs {
                let diff = y[k] - y[2 * designs + u * designs + k]
                sum += diff * diff
            }
            return sum / (2 * Double(designs)) / variance
        }
    }
}

// MARK: - Sobol' sequence

/// Points of a Sobol' low-discrepancy sequence in `[0, 1)^s` (Sobol' 1967; Bratley and Fox,
/// ACM TOMS 1988, Algorithm 659), in Gray-code order, on 32-bit binary fractions.
///
/// Construction: dimension 0 is the van der Corput sequence; dimension `j ≥ 1` uses the
/// `j`-th primitive polynomial over GF(2), enumerated by degree and then by value (the
/// order of Joe and Kuo's tables: `x + 1`, `x² + x + 1`, `x³ + x + 1`, `x³ + x² + 1`, …),
/// and the usual recurrence `m_k = 2a_1 m_{k−1} ⊕ … ⊕ 2^{s−1}a_{s−1} m_{k−s+1} ⊕ 2^s m_{k−s} ⊕ m_{k−s}`.
/// **Choice:** the initial direction numbers `m_1 … m_s` (odd, `m_k < 2^k`) are not Joe and
/// Kuo's optimised table, which would take tens of kilobytes for a thousand dimensions; they
/// are drawn once from a fixed SplitMix64 stream, so every run and machine gets the same
/// sequence. Any odd choice gives a genuine Sobol' sequence, a `(t, s)`-sequence in base 2
/// with `t = Σ_j (deg_j − 1)`: each one-dimensional projection is stratified (the first
/// `2^m` points put one point in every interval `[k/2^m, (k+1)/2^m)`), and dimensions 0 and 1
/// together form `(0, m, 2)`-nets. What the optimised table would improve is the uniformity
/// of two-dimensional projections of high dimensions.
///
/// Scrambling (when a seed is given) is Matoušek's random linear matrix scramble followed by
/// a random digital shift, the scheme of SciPy's `qmc.Sobol(scramble=True)` that Fel et al.
/// sample from: each generator matrix is multiplied on the left by a random lower-triangular
/// binary matrix with unit diagonal, and each coordinate is XORed with a random 32-bit
/// fraction. Both keep the net properties above, and every scrambled point is uniformly
/// distributed (on the 2⁻³² grid), so averages over the points are unbiased.
public struct SobolSequence: Sendable {
    /// Dimensions up to 2¹⁶ (primitive polynomials of degree at most 20). Finding the
    /// polynomials costs about `2^deg` primitivity tests for the largest degree `deg` needed,
    /// done at every initialisation: in a debug build about 0.7 s for 2048 dimensions
    /// (degree 15) and 4.5 s for 8192 (degree 17), nothing noticeable below a few hundred.
    public static let maximumDimensions = 1 << 16
    public let dimensions: Int
    /// `directions[j · 32 + k]` is the direction number `V_{k+1}` of dimension `j`, a 32-bit
    /// binary fraction (bit 31 is the first binary digit), after scrambling.
    private let directions: [UInt32]
    /// The digital shift of every dimension (0 when unscrambled).
    private let shifts: [UInt32]

    /// The sequence in `dimensions` dimensions (`1 ≤ dimensions ≤ maximumDimensions`),
    /// scrambled with `scrambleSeed` when it is not `nil`.
    public init(dimensions: Int, scrambleSeed: UInt64?) {
        precondition(dimensions >= 1 && dimensions <= Self.maximumDimensions, "SobolSequence: \(dimensions) dimensions")
        self.dimensions = dimensions
        let polynomials = Self.primitivePolynomials(count: dimensions - 1)
        var initial = SplitMix64(seed: 0x50B0_1D1E_C710_5EED)
        var directions = [UInt32](repeating: 0, count: dimensions * 32)
        for k in 0..<32 { directions[k] = UInt32(1) << (31 - k) }
        for j in 1..<dimensions {
            let (s, poly) = polynomials[j - 1]
            var m = [UInt64](repeating: 0, count: 33)  // m[1...32]
            for k in 1...min(s, 32) { m[k] = (initial.next() % (UInt64(1) << (k - 1))) * 2 + 1 }
            if s < 32 {
                for k in (s + 1)...32 {
                    var v = m[k - s] ^ (m[k - s] << s)
                    for i in 1..<s where (poly >> (s - i)) & 1 == 1 { v ^= m[k - i] << i }
                    m[k] = v
                }
            }
            for k in 1...32 { directions[j * 32 + k - 1] = UInt32(truncatingIfNeeded: m[k] << (32 - k)) }
        }
        var shifts = [UInt32](repeating: 0, count: dimensions)
        if let seed = scrambleSeed {
            var rng = SplitMix64(seed: seed)
            for j in 0..<dimensions {
                // Row r of the lower-triangular matrix, on the digit layout of the direction
                // numbers (digit r at bit 31 − r): the diagonal bit and random earlier digits.
                let rows: [UInt32] = (0..<32).map { r in
                    let earlier: UInt32 = r == 0 ? 0 : ~UInt32(0) << (32 - r)
                    return (UInt32(truncatingIfNeeded: rng.next()) & earlier) | (UInt32(1) << (31 - r))
                }
                for k in 0..<32 {
                    let v = directions[j * 32 + k]
                    var scrambled: UInt32 = 0
                    for r in 0..<32 where (rows[r] & v).nonzeroBitCount & 1 == 1 { scrambled |= UInt32(1) << (31 - r) }
                    directions[j * 32 + k] = scrambled
                }
                shifts[j] = UInt32(truncatingIfNeeded: rng.next())
            }
        }
        self.directions = directions
        self.shifts = shifts
    }

    /// The first `count` points (`0 ≤ count ≤ 2³²`), row-major: point `k`'s coordinate `j` is
    /// at `k · dimensions + j`. Point `k` is point `k − 1` with every coordinate XORed with
    /// its direction number `V_{c+1}`, `c` the number of trailing zeros of `k` (Gray-code
    /// order: the first `2^m` points are the same set as in natural order). Cost: `count · s`.
    public func points(_ count: Int) -> [Double] {
        precondition(count >= 0 && UInt64(count) <= UInt64(1) << 32, "SobolSequence: \(count) points")
        var state = shifts
        var out = [Double]()
        out.reserveCapacity(count * dimensions)
        for k in 0..<count {
            if k > 0 {
                let c = k.trailingZeroBitCount
                for j in 0..<dimensions { state[j] ^= directions[j * 32 + c] }
            }
            for j in 0..<dimensions { out.append(Double(state[j]) * 0x1p-32) }
        }
        return out
    }

    /// The first `count` primitive polynomials over GF(2) of degree ≥ 1, by degree and then
    /// value, as `(degree, bits)` (bit `i` is the coefficient of `x^i`). A polynomial `p` of
    /// degree `s` with constant term 1 is primitive iff `x` has order exactly `2^s − 1` modulo
    /// `p`: `x^(2^s−1) ≡ 1` and `x^((2^s−1)/q) ≢ 1` for every prime `q` dividing `2^s − 1`
    /// (which also makes `p` irreducible, as the residues then hold `2^s − 1` units).
    static func primitivePolynomials(count: Int) -> [(degree: Int, bits: UInt64)] {
        var found = [(degree: Int, bits: UInt64)]()
        var s = 1
        while found.count < count {
            let order = (UInt64(1) << s) - 1
            var primes = [UInt64](), rest = order, q: UInt64 = 3  // 2^s − 1 is odd
            while q * q <= rest {
                if rest % q == 0 { primes.append(q); while rest % q == 0 { rest /= q } }
                q += 2
            }
            if rest > 1 { primes.append(rest) }
            var bits = (UInt64(1) << s) | 1
            while bits < UInt64(1) << (s + 1), found.count < count {
                let one = Self.power(x: 2, order, modulo: bits, degree: s) == 1
                if one && primes.allSatisfy({ Self.power(x: 2, order / $0, modulo: bits, degree: s) != 1 }) {
                    found.append((s, bits))
                }
                bits += 2
            }
            s += 1
        }
        return found
    }

    /// `a^e mod p` in GF(2)[x], `p` of degree `s`, polynomials as bit masks.
    private static func power(x a: UInt64, _ e: UInt64, modulo p: UInt64, degree s: Int) -> UInt64 {
        func reduce(_ v: UInt64) -> UInt64 { v & (UInt64(1) << s) != 0 ? v ^ p : v }
        func multiply(_ a: UInt64, _ b: UInt64) -> UInt64 {
            var (a, b, r) = (a, b, UInt64(0))
            while b != 0 {
                if b & 1 == 1 { r ^= a }
                a = reduce(a << 1)
                b >>= 1
            }
            return r
        }
        var (base, e, result) = (reduce(a), e, UInt64(1))
        while e != 0 {
            if e & 1 == 1 { result = multiply(result, base) }
            base = multiply(base, base)
            e >>= 1
        }
        return result
    }
}

// MARK: - Seeded randomness

/// SplitMix64 (Steele, Lea and Flood, OOPSLA 2014): a small, fast, seeded generator, so
/// that every sampling method of the module (baselines, metrics, the hybrid mode) is
/// reproducible from its seed.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1), on 53 bits.
    mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in `0..<bound` (`bound ≥ 1`).
    mutating func index(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    /// Standard normal, by the Box–Muller transform (one value per pair of uniforms).
    mutating func normal() -> Double {
        let u = 1 - uniform()  // (0, 1]: the logarithm is finite
        return (-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * Double.pi * uniform())
    }
}
