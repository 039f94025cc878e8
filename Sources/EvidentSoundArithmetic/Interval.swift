// Sound arithmetic shared by the property parser and the certificate checker: directed
// rounding of single operations without changing the hardware rounding mode (error-free
// transformations: TwoSum, FMA residuals), and closed intervals built on them.
//
// Every function here computes in binary64 with round-to-nearest (the mode is never changed)
// and then moves the result by at most one ulp to the side where the exact value lies. The
// guarantees hold for all finite operands, including subnormals, signed zeros and results
// that overflow; non-finite operands give non-finite or NaN results, which callers must
// treat as "no bound".

/// A closed interval of reals containing an exact value; a point when every operation so
/// far was exact. Each operation rounds to nearest and then widens by one ulp on the side
/// where the error term (TwoSum for sums, FMA for products) shows the exact value lies.
public struct Interval: Equatable, Sendable {
    public var lo: Double
    public var hi: Double

    public init(lo: Double, hi: Double) {
        self.lo = lo
        self.hi = hi
    }

    public static func point(_ value: Double) -> Interval { Interval(lo: value, hi: value) }
    public static let zero = Interval.point(0)
    public static let one = Interval.point(1)

    /// Whether the interval is a single number.
    public var isPoint: Bool { lo == hi }

    /// Whether both ends are finite numbers (not NaN, not infinite).
    public var isFinite: Bool { lo.isFinite && hi.isFinite }

    public static prefix func - (a: Interval) -> Interval { Interval(lo: -a.hi, hi: -a.lo) }

    /// Contains the exact sum of any two reals of `a` and `b` (finite ends).
    public static func + (a: Interval, b: Interval) -> Interval {
        Interval(lo: roundedSum(a.lo, b.lo, upward: false), hi: roundedSum(a.hi, b.hi, upward: true))
    }

    public static func - (a: Interval, b: Interval) -> Interval { a + (-b) }

    /// Contains the exact product of any two reals of `a` and `b` (finite ends; an infinite
    /// end times zero gives NaN, which callers must reject).
    public static func * (a: Interval, b: Interval) -> Interval {
        if a.lo == a.hi && b.lo == b.hi {
            return Interval(lo: roundedProduct(a.lo, b.lo, upward: false), hi: roundedProduct(a.lo, b.lo, upward: true))
        }
        let p1 = (a.lo, b.lo), p2 = (a.lo, b.hi), p3 = (a.hi, b.lo), p4 = (a.hi, b.hi)
        var lo = Double.infinity, hi = -Double.infinity
        for (x, y) in [p1, p2, p3, p4] {
            let down = roundedProduct(x, y, upward: false), up = roundedProduct(x, y, upward: true)
            if down.isNaN || up.isNaN { return Interval(lo: .nan, hi: .nan) }
            lo = Swift.min(lo, down)
            hi = Swift.max(hi, up)
        }
        return Interval(lo: lo, hi: hi)
    }
}

/// Below this magnitude an FMA residual may itself underflow, so the functions below step
/// outward without trusting it (the exact error of a product is representable when the
/// product's exponent is at least `emin + p − 1 = −1022 + 52`).
@usableFromInline
let residualTrustThreshold = 0x1p-960

/// `a + b` rounded up or down: the result `r` satisfies `r ≥ a + b` (upward) or `r ≤ a + b`
/// (downward) exactly, for all finite `a`, `b`. A sum that overflows gives the largest
/// finite number on the side that still bounds the exact sum (`±.greatestFiniteMagnitude`),
/// and infinity on the other. Exact error term by Knuth's TwoSum (an addition's error is
/// always representable, subnormal results included); where an intermediate of TwoSum
/// overflows, the result steps one ulp outward unconditionally.
public func roundedSum(_ a: Double, _ b: Double, upward: Bool) -> Double {
    let sum = a + b
    guard sum.isFinite else {
        if a.isFinite && b.isFinite {
            // Overflow of a finite exact sum.
            if sum == .infinity && !upward { return .greatestFiniteMagnitude }
            if sum == -.infinity && upward { return -.greatestFiniteMagnitude }
        }
        return sum
    }
    let bVirtual = sum - a
    let aVirtual = sum - bVirtual
    let error = (a - aVirtual) + (b - bVirtual)  // exact: a + b = sum + error
    guard error.isFinite else { return upward ? sum.nextUp : sum.nextDown }
    if upward { return error > 0 ? sum.nextUp : sum }
    return error < 0 ? sum.nextDown : sum
}

/// `a · b` rounded up or down: `r ≥ a·b` (upward) or `r ≤ a·b` (downward) exactly, for all
/// finite `a`, `b`, subnormal and overflowing products included (an overflowing product
/// gives `±.greatestFiniteMagnitude` on the side that still bounds it). Error term by fused
/// multiply-add where it is exact; for tiny products (below 2⁻⁹⁶⁰) the result steps one ulp
/// outward unconditionally.
public func roundedProduct(_ a: Double, _ b: Double, upward: Bool) -> Double {
    let product = a * b
    guard product.isFinite else {
        if a.isFinite && b.isFinite {
            if product == .infinity && !upward { return .greatestFiniteMagnitude }
            if product == -.infinity && upward { return -.greatestFiniteMagnitude }
        }
        return product
    }
    if a == 0 || b == 0 { return product }
    if Swift.abs(product) < residualTrustThreshold { return upward ? product.nextUp : product.nextDown }
    let error = a.multipliedFullWidthError(b, product)  // exact: a · b = product + error
    if upward { return error > 0 ? product.nextUp : product }
    return error < 0 ? product.nextDown : product
}

/// `n / d` rounded up or down (`d ≠ 0`): `r ≥ n/d` (upward) or `r ≤ n/d` (downward) exactly
/// for finite `n` and finite non-zero `d`; overflow is handled as in ``roundedProduct``.
/// The residual `q·d − n`, computed by fused multiply-add, tells on which side of the exact
/// quotient `q` lies; where it could underflow (tiny `q` or `n`) the result steps outward.
public func roundedQuotient(_ n: Double, _ d: Double, upward: Bool) -> Double {
    let quotient = n / d
    guard quotient.isFinite else {
        if n.isFinite && d.isFinite && d != 0 {
            if quotient == .infinity && !upward { return .greatestFiniteMagnitude }
            if quotient == -.infinity && upward { return -.greatestFiniteMagnitude }
        }
        return quotient
    }
    if n == 0 { return quotient }
    if Swift.abs(quotient) < residualTrustThreshold || Swift.abs(n) < residualTrustThreshold {
        return upward ? quotient.nextUp : quotient.nextDown
    }
    let residual = quotient.multipliedFullWidthError(d, n)
    if residual == 0 { return quotient }
    let quotientAbove = (residual > 0) == (d > 0)
    if upward { return quotientAbove ? quotient : quotient.nextUp }
    return quotientAbove ? quotient.nextDown : quotient
}

extension Double {
    /// `self · other - reference`, with a single rounding (fused multiply-add).
    @inline(__always)
    public func multipliedFullWidthError(_ other: Double, _ reference: Double) -> Double {
        (-reference).addingProduct(self, other)
    }
}
