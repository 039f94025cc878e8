// Sound arithmetic shared by the property parser and the certificate checker: directed
// rounding of single operations without changing the hardware rounding mode (error-free
// transformations: TwoSum, FMA residuals), and closed intervals built on them.

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

    public static prefix func - (a: Interval) -> Interval { Interval(lo: -a.hi, hi: -a.lo) }

    public static func + (a: Interval, b: Interval) -> Interval {
        Interval(lo: roundedSum(a.lo, b.lo, upward: false), hi: roundedSum(a.hi, b.hi, upward: true))
    }

    public static func - (a: Interval, b: Interval) -> Interval { a + (-b) }

    public static func * (a: Interval, b: Interval) -> Interval {
        if a.lo == a.hi && b.lo == b.hi {
            return Interval(lo: roundedProduct(a.lo, b.lo, upward: false), hi: roundedProduct(a.lo, b.lo, upward: true))
        }
        let pairs = [(a.lo, b.lo), (a.lo, b.hi), (a.hi, b.lo), (a.hi, b.hi)]
        return Interval(lo: pairs.map { roundedProduct($0.0, $0.1, upward: false) }.min() ?? -.infinity,
                        hi: pairs.map { roundedProduct($0.0, $0.1, upward: true) }.max() ?? .infinity)
    }
}

/// `a + b` rounded up or down (exact error term by Knuth's TwoSum).
public func roundedSum(_ a: Double, _ b: Double, upward: Bool) -> Double {
    let sum = a + b
    guard sum.isFinite else { return sum }
    let bVirtual = sum - a
    let aVirtual = sum - bVirtual
    let error = (a - aVirtual) + (b - bVirtual)  // exact: a + b = sum + error
    if upward { return error > 0 ? sum.nextUp : sum }
    return error < 0 ? sum.nextDown : sum
}

/// `a · b` rounded up or down (error term by fused multiply-add).
public func roundedProduct(_ a: Double, _ b: Double, upward: Bool) -> Double {
    let product = a * b
    guard product.isFinite else { return product }
    let error = a.multipliedFullWidthError(b, product)  // exact: a · b = product + error
    if upward { return error > 0 ? product.nextUp : product }
    return error < 0 ? product.nextDown : product
}

/// `n / d` rounded up or down (`d ≠ 0`); the residual `q·d - n` computed by
/// fused multiply-add tells on which side of the exact quotient `q` lies.
public func roundedQuotient(_ n: Double, _ d: Double, upward: Bool) -> Double {
    let quotient = n / d
    guard quotient.isFinite else { return quotient }
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
