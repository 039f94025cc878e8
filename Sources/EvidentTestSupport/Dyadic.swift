import BigInt

/// An exact dyadic rational `m · 2^e`: every finite binary64 number is one, and sums and
/// products of them stay dyadic, so tests can compute exact results of float operations.
public struct Dyadic: Comparable, CustomStringConvertible {
    public var m: BigInt
    public var e: Int

    public init(m: BigInt, e: Int) {
        self.m = m
        self.e = e
    }

    public init(_ d: Double) {
        precondition(d.isFinite, "Dyadic: \(d) is not finite")
        if d == 0 {
            m = 0
            e = 0
            return
        }
        let significand = BigInt(d.significandBitPattern)
        let exponent = Int(d.exponentBitPattern)
        if exponent == 0 {
            m = significand
            e = -1074
        } else {
            m = significand + (BigInt(1) << 52)
            e = exponent - 1075
        }
        if d < 0 { m = -m }
    }

    public static func + (a: Dyadic, b: Dyadic) -> Dyadic {
        if a.m == 0 { return b }
        if b.m == 0 { return a }
        let e = min(a.e, b.e)
        return Dyadic(m: (a.m << (a.e - e)) + (b.m << (b.e - e)), e: e)
    }
    public static prefix func - (a: Dyadic) -> Dyadic { Dyadic(m: -a.m, e: a.e) }
    public static func - (a: Dyadic, b: Dyadic) -> Dyadic { a + (-b) }
    public static func * (a: Dyadic, b: Dyadic) -> Dyadic { a.m == 0 || b.m == 0 ? .zero : Dyadic(m: a.m * b.m, e: a.e + b.e) }
    public var magnitude: Dyadic { Dyadic(m: m < 0 ? -m : m, e: e) }
    public var signum: Int { m > 0 ? 1 : (m < 0 ? -1 : 0) }
    public static func < (a: Dyadic, b: Dyadic) -> Bool { (a - b).signum < 0 }
    public static func == (a: Dyadic, b: Dyadic) -> Bool { (a - b).signum == 0 }
    public static let zero = Dyadic(m: 0, e: 0)
    public var description: String { "\(m)·2^\(e)" }
}
