// A-priori bounds on the rounding error of floating-point sums and dot products, for code
// that computes in binary64 round-to-nearest (any summation order, with or without fused
// multiply-add, as BLAS does) and charges the error instead of changing the rounding mode.
//
// Model (IEEE 754 binary64, round-to-nearest; Higham, "Accuracy and Stability of Numerical
// Algorithms", 2nd ed., §2.2 and §3.1): with u = 2⁻⁵³ and η = 2⁻¹⁰⁷⁴ (the smallest
// subnormal), every finite result of one operation satisfies
//     fl(x ∘ y) = (x ∘ y)(1 + δ) + ε,   |δ| ≤ u,  |ε| ≤ η/2,
// with ε = 0 for additions and subtractions (a subnormal sum is exact). Hence, for a dot
// product s = Σᵢ xᵢyᵢ of n terms evaluated in ANY order and parenthesisation (each term
// passes through at most n roundings; a fused multiply-add only removes roundings):
//     (A)  |fl(s) − s| ≤ γₙ Σᵢ |xᵢyᵢ| + n·η,          γₙ = n·u / (1 − n·u),
// and for non-negative terms tᵢ = xᵢyᵢ ≥ 0 with T = Σ tᵢ:
//     (B)  fl(T) ≥ (1 − γₙ) T − n·η,  so  T ≤ (1 + ĝₙ)(fl(T) + n·η),   ĝₙ = n·u / (1 − 2n·u),
// since 1/(1 − γₙ) = 1 + γₙ/(1 − γₙ) = 1 + ĝₙ. Combining (A) and (B), when the absolute
// sum Σ|xᵢ||yᵢ| is itself evaluated in floating point (any order) as Ã:
//     (C)  |fl(s) − s| ≤ γₙ (1 + ĝₙ)(Ã + nη) + nη = ĝₙ (Ã + nη) + nη ≤ ĝₙ·Ã + 2n·η   (ĝₙ ≤ 1).
// The functions below evaluate these right-hand sides with directed rounding
// (``roundedSum(_:_:upward:)``, ``roundedProduct(_:_:upward:)``), so the returned numbers
// are upper bounds of the real quantities. They require n ≤ 2⁴⁰ and return +∞ beyond.

/// Constants and bounds of binary64 round-to-nearest arithmetic.
public enum RoundingError {
    /// The unit roundoff `u = 2⁻⁵³` of binary64 with round-to-nearest: every finite normal
    /// result satisfies `|fl(x) − x| ≤ u·|x|` and `|fl(x) − x| ≤ u·|fl(x)|`.
    public static let unitRoundoff = 0x1p-53
    /// `η = 2⁻¹⁰⁷⁴`, the smallest positive subnormal: a product or quotient that underflows
    /// errs by at most `η/2` in absolute terms.
    public static let underflowUnit = Double.leastNonzeroMagnitude
    /// The largest term count the bounds accept.
    public static let maximumTerms = 1 << 40

    /// An upper bound of `ĝₙ = n·u / (1 − 2n·u)` (which is `γₙ / (1 − γₙ)` and is at least
    /// `γₙ = n·u / (1 − n·u)`), rounded up; `+∞` for `n > 2⁴⁰`; 0 for `n ≤ 0`.
    public static func gamma(_ n: Int) -> Double {
        if n <= 0 { return 0 }
        if n > maximumTerms { return .infinity }
        let nu = Double(n) * unitRoundoff  // exact: an integer below 2⁵³ times a power of two
        let denominator = roundedSum(1, -2 * nu, upward: false)  // 2·nu exact
        return roundedQuotient(nu, denominator, upward: true)
    }

    /// `k·η` for a count `k ≥ 0`, exact (a subnormal integer multiple of η) for `k < 2⁵²`.
    public static func underflow(_ k: Int) -> Double {
        if k <= 0 { return 0 }
        if k > maximumTerms { return .infinity }
        return Double(k) * underflowUnit
    }

    /// An upper bound of the rounding error `|fl(Σᵢ xᵢyᵢ) − Σᵢ xᵢyᵢ|` of a dot product of
    /// `terms` products evaluated in any order (bound (C) above), given `absoluteSum`, the
    /// floating-point evaluation (any order) of `Σᵢ |xᵢ|·|yᵢ|`. Returns `+∞` for a non-finite
    /// or negative `absoluteSum` (NaN included) or more than 2⁴⁰ terms.
    public static func dotProductError(terms: Int, absoluteSum: Double) -> Double {
        guard absoluteSum >= 0, absoluteSum.isFinite else { return .infinity }
        if terms <= 0 { return 0 }
        let g = gamma(terms)
        guard g.isFinite else { return .infinity }
        return roundedSum(roundedProduct(g, absoluteSum, upward: true), underflow(2 * terms), upward: true)
    }

    /// An upper bound of the exact sum `T = Σᵢ tᵢ` of `terms` non-negative terms, each term
    /// the exact product of two floating-point numbers (or a floating-point number), given
    /// `computed`, the floating-point evaluation of the sum of the rounded terms in any order
    /// (bound (B) above). Returns `+∞` for a non-finite or negative `computed`.
    public static func sumUpperBound(_ computed: Double, terms: Int) -> Double {
        guard computed >= 0, computed.isFinite else { return .infinity }
        if terms <= 0 { return computed }
        let g = gamma(terms)
        guard g.isFinite else { return .infinity }
        let a = roundedSum(computed, underflow(terms), upward: true)
        return roundedSum(a, roundedProduct(g, a, upward: true), upward: true)
    }

    /// An upper bound of `|fl(x ∘ y) − x ∘ y|` for one multiplication or division whose
    /// rounded result is `result`: `u·|result| + η/2`, rounded up (η is used for η/2).
    @inline(__always)
    public static func singleOperationError(_ result: Double) -> Double {
        roundedSum(roundedProduct(unitRoundoff, Swift.abs(result), upward: true), underflowUnit, upward: true)
    }
}

/// Sums with directed rounding: each addition is rounded in the stated direction by
/// ``roundedSum(_:_:upward:)``, so the result bounds the exact sum of the inputs.
public enum DirectedSum {
    /// A number `≥ Σ values` exactly (finite inputs; `+∞` on overflow, NaN on NaN).
    public static func upper(_ values: [Double]) -> Double {
        var s = 0.0
        for v in values { s = roundedSum(s, v, upward: true) }
        return s
    }

    /// A number `≤ Σ values` exactly (finite inputs).
    public static func lower(_ values: [Double]) -> Double {
        var s = 0.0
        for v in values { s = roundedSum(s, v, upward: false) }
        return s
    }
}

/// Sound bounds of a linear form over a box: `Σᵢ aᵢ xᵢ` for `xᵢ ∈ [lᵢ, uᵢ]`.
///
/// The minimising (maximising) corner is chosen by the sign of each coefficient, the dot
/// product with it is evaluated in round-to-nearest together with its absolute value, and
/// the a-priori error (``RoundingError/dotProductError(terms:absoluteSum:)``) is subtracted
/// (added) with directed rounding. The result is a true bound of the real minimum (maximum)
/// for finite inputs; any non-finite input or intermediate gives NaN or an infinity, which
/// callers must reject.
public enum LinearFormBounds {
    /// A number `≤ min over the box of Σ aᵢxᵢ`.
    public static func lower(coefficients a: [Double], lower l: [Double], upper u: [Double]) -> Double {
        precondition(a.count == l.count && a.count == u.count, "LinearFormBounds: sizes differ")
        var s = 0.0, absolute = 0.0
        for i in a.indices {
            let x = a[i] >= 0 ? l[i] : u[i]
            let t = a[i] * x
            s += t
            absolute += Swift.abs(t)
        }
        guard s.isFinite, absolute.isFinite else { return -.infinity }
        return roundedSum(s, -RoundingError.dotProductError(terms: a.count, absoluteSum: absolute), upward: false)
    }

    /// A number `≥ max over the box of Σ aᵢxᵢ`.
    public static func upper(coefficients a: [Double], lower l: [Double], upper u: [Double]) -> Double {
        -lower(coefficients: a.map { -$0 }, lower: l, upper: u)
    }
}
