import EvidentIR
import EvidentSoundArithmetic

// `Resize` (opsets 10 to 21) and `Upsample` (7 to 9) in modes `nearest` and `linear`: a
// separable linear map, one interpolation matrix per resized axis, applied as a `linear`
// on that axis. Source coordinates are computed in exact rational arithmetic from the
// scale (the FLOAT value, or output / input size), so the nearest index and the linear
// weights are the specification's real-number ones; a weight that is not a double is held
// rounded to nearest with its rounding bound as the node's constant radius.

/// An exact fraction `p / q` with `q > 0`, kept in lowest terms; arithmetic that would
/// overflow 128 bits returns `nil`.
struct Fraction: Equatable {
    var p: Int128
    var q: Int128

    init(_ p: Int128, _ q: Int128 = 1) {
        let g = Fraction.gcd(p.magnitude, q.magnitude)
        let sign: Int128 = q < 0 ? -1 : 1
        self.p = sign * p / Int128(g)
        self.q = sign * q / Int128(g)
    }

    init(_ value: Int) { self.init(Int128(value)) }

    /// The exact value of a finite double, or `nil` when it needs more than 120 bits.
    init?(exactly value: Double) {
        guard value.isFinite else { return nil }
        if value == 0 { self.init(0); return }
        let significand = Int128(value.significandBitPattern | (value.isNormal ? 1 << 52 : 0))
        let exponent = Int(value.exponent) - 52 + (value.isNormal ? 0 : 1)
        guard exponent > -120 && exponent < 60 else { return nil }
        let signed = value < 0 ? -significand : significand
        self.init(exponent >= 0 ? signed << exponent : signed, exponent >= 0 ? 1 : Int128(1) << -exponent)
    }

    static func gcd(_ a: UInt128, _ b: UInt128) -> UInt128 {
        var (a, b) = (a, b)
        while b != 0 { (a, b) = (b, a % b) }
        return a == 0 ? 1 : a
    }

    private static func checked(_ a: Int128, _ b: Int128, _ op: (Int128, Int128) -> (Int128, Bool)) -> Int128? {
        let (value, overflow) = op(a, b)
        return overflow ? nil : value
    }

    static func + (a: Fraction, b: Fraction) -> Fraction? {
        guard let x = checked(a.p, b.q, { $0.multipliedReportingOverflow(by: $1) }),
              let y = checked(b.p, a.q, { $0.multipliedReportingOverflow(by: $1) }),
              let n = checked(x, y, { $0.addingReportingOverflow($1) }),
              let d = checked(a.q, b.q, { $0.multipliedReportingOverflow(by: $1) }) else { return nil }
        return Fraction(n, d)
    }

    static prefix func - (a: Fraction) -> Fraction { Fraction(-a.p, a.q) }

    static func - (a: Fraction, b: Fraction) -> Fraction? { a + (-b) }

    static func * (a: Fraction, b: Fraction) -> Fraction? {
        guard let n = checked(a.p, b.p, { $0.multipliedReportingOverflow(by: $1) }),
              let d = checked(a.q, b.q, { $0.multipliedReportingOverflow(by: $1) }) else { return nil }
        return Fraction(n, d)
    }

    static func / (a: Fraction, b: Fraction) -> Fraction? {
        b.p == 0 ? nil : a * Fraction(b.q, b.p)
    }

    /// The largest integer `≤ self`.
    var floor: Int128 { p >= 0 ? p / q : -((-p + q - 1) / q) }
    var ceil: Int128 { -(-self).floor }
    var isInteger: Bool { q == 1 }
    static func < (a: Fraction, b: Fraction) -> Bool { ((b - a)?.p ?? 0) > 0 }
}

extension GraphConverter {
    /// `Resize` and `Upsample` of an activation.
    mutating func convertResize(_ call: NodeCall, _ attributes: inout NodeAttributes) throws -> ValueID {
        let context = call.context, isUpsample = context.op == "Upsample"
        let x = try call.activation(0, "X")
        let xs = shape(x), rank = xs.count
        let mode = try attributes.string("mode") ?? "nearest"
        guard mode == "nearest" || mode == "linear" else {
            throw context.unsupportedAttribute("mode", "mode '\(mode)'; only 'nearest' and 'linear' are supported")
        }
        // Opsets before 11 (and Upsample) use asymmetric coordinates and, for nearest,
        // onnxruntime's rounding: down when enlarging, up when shrinking.
        let modern = !isUpsample && opset >= 11
        let transformation = modern ? try attributes.string("coordinate_transformation_mode") ?? "half_pixel" : "asymmetric"
        let nearestMode = modern ? try attributes.string("nearest_mode") ?? "round_prefer_floor" : "simple"
        if modern {
            attributes.ignore("cubic_coeff_a", "exclude_outside", "extrapolation_value")
        }
        if opset >= 18 && !isUpsample {
            if try attributes.int("antialias", default: 0) != 0 {
                throw context.unsupportedAttribute("antialias", "antialiasing is not supported")
            }
            let policy = try attributes.string("keep_aspect_ratio_policy") ?? "stretch"
            guard policy == "stretch" else { throw context.unsupportedAttribute("keep_aspect_ratio_policy", "policy '\(policy)'; only 'stretch' is supported") }
        }
        let supportedTransformations = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn",
                                        "half_pixel_symmetric"]
        guard supportedTransformations.contains(transformation) else {
            throw context.unsupportedAttribute("coordinate_transformation_mode", "mode '\(transformation)' is not supported")
        }
        guard ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple"].contains(nearestMode) else {
            throw context.unsupportedAttribute("nearest_mode", "mode '\(nearestMode)' is not supported")
        }

        // Scales or sizes, for the axes given (all of them before opset 18).
        let axes: [Int]
        if opset >= 18, !isUpsample, let given = try attributes.ints("axes") {
            axes = try given.map { try normalizeAxis($0, rank: rank, context, attribute: "axes") }
            guard Set(axes).count == axes.count else { throw context.invalid("axes \(given) repeat an axis") }
        } else {
            axes = Array(0..<rank)
        }
        var scales: [Double]?, sizes: [Int]?
        if isUpsample && opset < 9 {
            try call.requireInputs(1...1)
            scales = try attributes.floats("scales")
            guard scales != nil else { throw context.invalid("the scales attribute is missing") }
        } else if isUpsample || opset == 10 {
            try call.requireInputs(2...2)
            scales = try call.realConstant(1, "scales").doubles
        } else {
            try call.requireInputs(1...4)
            if let given = try call.optionalConstant(2, "scales"), given.count > 0 {
                guard !given.elementType.isInteger else { throw context.invalid("scales must be FLOAT") }
                scales = given.doubles
            }
            if call.operand(3) != nil, !(try call.constant(3, "sizes").shape.contains(0)) {
                sizes = try call.integers(3, "sizes")
            }
            guard (scales == nil) != (sizes == nil) else {
                throw context.invalid("exactly one of scales and sizes must be given")
            }
        }
        let given = scales?.count ?? sizes!.count
        guard given == axes.count else { throw context.invalid("\(given) scales or sizes for \(axes.count) axes") }

        var outShape = xs
        var scale = [Fraction](repeating: Fraction(1), count: rank)
        for (k, axis) in axes.enumerated() {
            if let scales {
                guard scales[k] > 0, let s = Fraction(exactly: scales[k]) else { throw context.invalid("scale \(scales[k]) must be positive and finite") }
                guard let scaled = Fraction(xs[axis]) * s, scaled.floor >= 1, scaled.floor <= Int128(maximumElementCount) else {
                    throw context.invalid("scale \(scales[k]) gives an empty or too large axis \(axis) of size \(xs[axis])")
                }
                (scale[axis], outShape[axis]) = (s, Int(scaled.floor))
            } else {
                let size = sizes![k]
                guard size >= 1, size <= maximumElementCount else { throw context.invalid("size \(size) of axis \(axis) must be positive") }
                (scale[axis], outShape[axis]) = (Fraction(Int128(size), Int128(xs[axis])), size)
            }
        }
        try requireBounded(outShape, context)

        var value = x
        let resized = (0..<rank).filter { outShape[$0] != xs[$0] || scale[$0] != Fraction(1) }
        for (n, axis) in resized.enumerated() {
            guard let matrix = interpolation(input: xs[axis], output: outShape[axis], scale: scale[axis], mode: mode,
                                             transformation: transformation, nearestMode: nearestMode) else {
                throw context.unsupported("the source coordinates of axis \(axis) need more than 128-bit fractions")
            }
            if matrix.isIdentity { continue }
            let last = n == resized.count - 1
            let perm = Array(0..<axis) + Array((axis + 1)..<rank) + [axis]
            var inverse = [Int](repeating: 0, count: rank)
            for (i, p) in perm.enumerated() { inverse[p] = i }
            let moves = axis != rank - 1
            if moves { value = try emit(.transpose(perm), [value], call, step: "axis\(axis)/last") }
            let linear = Linear(weight: Tensor(shape: [outShape[axis], xs[axis]], scalars: matrix.weights), bias: nil)
            value = try emit(.linear(linear), [value], call, step: last && !moves ? nil : "axis\(axis)/interpolate")
            if matrix.radii.contains(where: { $0 > 0 }) {
                constantRadii[value] = ConstantRadius(coefficients: matrix.radii, offsets: [Double](repeating: 0, count: outShape[axis]))
            }
            if moves { value = try emit(.transpose(inverse), [value], call, step: last ? nil : "axis\(axis)/back") }
        }
        return value
    }

    /// The `[output, input]` interpolation matrix of one axis (row-major), with a bound on
    /// the rounding of each held weight; `nil` when a coordinate overflows 128-bit fractions.
    private func interpolation(input: Int, output: Int, scale: Fraction, mode: String, transformation: String,
                               nearestMode: String) -> (weights: [Double], radii: [Double], isIdentity: Bool)? {
        var weights = [Double](repeating: 0, count: output * input), radii = weights
        let half = Fraction(1, 2), last = Fraction(input - 1)
        for o in 0..<output {
            let position = Fraction(o)
            var coordinate: Fraction?
            switch transformation {
            case "half_pixel":
                coordinate = ((position + half).flatMap { $0 / scale }).flatMap { $0 - half }
            case "pytorch_half_pixel":
                coordinate = output > 1 ? ((position + half).flatMap { $0 / scale }).flatMap { $0 - half } : Fraction(0)
            case "align_corners":
                coordinate = output > 1 ? position * Fraction(Int128(input - 1), Int128(output - 1)) : Fraction(0)
            case "tf_half_pixel_for_nn":
                coordinate = (position + half).flatMap { $0 / scale }
            case "half_pixel_symmetric":
                // offset = (input / 2) · (1 − output / (input · scale)).
                let adjustment = (Fraction(input) * scale).flatMap { Fraction(output) / $0 }
                let offset = adjustment.flatMap { Fraction(1) - $0 }.flatMap { Fraction(Int128(input), 2) * $0 }
                let base = ((position + half).flatMap { $0 / scale }).flatMap { $0 - half }
                coordinate = offset.flatMap { o in base.flatMap { o + $0 } }
            default:
                coordinate = position / scale
            }
            guard let c = coordinate else { return nil }
            let row = o * input
            if mode == "nearest" {
                var index: Int128
                switch nearestMode {
                case "floor": index = c.floor
                case "ceil": index = c.ceil
                case "simple": index = scale < Fraction(1) ? c.ceil : c.floor
                default:
                    guard let shifted = c + half else { return nil }
                    index = shifted.floor
                    if shifted.isInteger && nearestMode == "round_prefer_floor" { index -= 1 }
                }
                weights[row + Int(Swift.min(Swift.max(index, 0), Int128(input - 1)))] = 1
                continue
            }
            let clamped = c < Fraction(0) ? Fraction(0) : (last < c ? last : c)
            let low = Int(clamped.floor), high = Swift.min(low + 1, input - 1)
            guard let fraction = clamped - Fraction(Int128(low)) else { return nil }
            for (index, weight) in [(low, Fraction(1) - fraction), (high, fraction)] {
                guard let weight, weight.p != 0 else { continue }
                guard weight.p.magnitude <= 1 << 53, weight.q <= 1 << 53 else { return nil }
                let (n, d) = (Double(weight.p), Double(weight.q))
                let held = n / d
                weights[row + index] += held
                let exact = Interval(lo: roundedQuotient(n, d, upward: false), hi: roundedQuotient(n, d, upward: true))
                radii[row + index] += DerivedConstants.radius(of: exact, held: held)
            }
        }
        let identity = output == input && (0..<output).allSatisfy { o in
            (0..<input).allSatisfy { weights[o * input + $0] == (o == $0 ? 1 : 0) }
        }
        return (weights, radii, identity)
    }
}
