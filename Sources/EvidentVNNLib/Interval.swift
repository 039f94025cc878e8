// Outward-rounded constant arithmetic for the rare files that combine constants
// (`(+ Y_0 0.1 0.2)`, `(* 3 X_0)`): bounds derived from them contain the exact value.

/// A closed interval of reals containing the exact value of a constant
/// expression; a point when every operation so far was exact. Each operation
/// rounds to nearest and then widens by one ulp on the side where the error
/// term (TwoSum for sums, FMA for products) shows the exact value lies.
struct Interval {
    var lo: Double
    var hi: Double

    static func point(_ value: Double) -> Interval { Interval(lo: value, hi: value) }
    static let zero = Interval.point(0)
    static let one = Interval.point(1)

    static prefix func - (a: Interval) -> Interval { Interval(lo: -a.hi, hi: -a.lo) }

    static func + (a: Interval, b: Interval) -> Interval {
        Interval(lo: roundedSum(a.lo, b.lo, upward: false), hi: roundedSum(a.hi, b.hi, upward: true))
    }

    static func * (a: Interval, b: Interval) -> Interval {
        if a.lo == a.hi && b.lo == b.hi {
            return Interval(lo: roundedProduct(a.lo, b.lo, upward: false), hi: roundedProduct(a.lo, b.lo, upward: true))
        }
        let pairs = [(a.lo, b.lo), (a.lo, b.hi), (a.hi, b.lo), (a.hi, b.hi)]
        return Interval(lo: pairs.map { roundedProduct($0.0, $0.1, upward: false) }.min() ?? -.infinity,
                        hi: pairs.map { roundedProduct($0.0, $0.1, upward: true) }.max() ?? .infinity)
    }
}

/// `a + b` rounded up or down (exact error term by Knuth's TwoSum).
func roundedSum(_ a: Double, _ b: Double, upward: Bool) -> Double {
    let sum = a + b
    guard sum.isFinite else { return sum }
    let bVirtual = sum - a
    let aVirtual = sum - bVirtual
    let error = (a - aVirtual) + (b - bVirtual)  // exact: a + b = sum + error
    if upward { return error > 0 ? sum.nextUp : sum }
    return error < 0 ? sum.nextDown : sum
}

/// `a · b` rounded up or down (error term by fused multiply-add).
func roundedProduct(_ a: Double, _ b: Double, upward: Bool) -> Double {
    let product = a * b
    guard product.isFinite else { return product }
    let error = a.multipliedFullWidthError(b, product)  // exact: a · b = product + error
    if upward { return error > 0 ? product.nextUp : product }
    return error < 0 ? product.nextDown : product
}

/// `n / d` rounded up or down (`d ≠ 0`); the residual `q·d - n` computed by
/// fused multiply-add tells on which side of the exact quotient `q` lies.
func roundedQuotient(_ n: Double, _ d: Double, upward: Bool) -> Double {
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
    func multipliedFullWidthError(_ other: Double, _ reference: Double) -> Double {
        (-reference).addingProduct(self, other)
    }
}
