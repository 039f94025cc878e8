import BigInt

/// An exact dyadic rational `m · 2^e`: every finite binary64 number is one, and sums and
/// products of them stay dyadic, so tests can compute exact results of float operations.
struct Dyadic: Comparable, CustomStringConvertible {
    var m: BigInt
    var e: Int

    init(m: BigInt, e: Int) {
        self.m = m
        self.e = e
    }

    init(_ d: Double) {
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

    static func + (a: Dyadic, b: Dyadic) -> Dyadic {
        if a.m == 0 { return b }
        if b.m == 0 { return a }
        let e = min(a.e, b.e)
        return Dyadic(m: (a.m << (a.e - e)) + (b.m << (b.e - e)), e: e)
    }
    static prefix func - (a: Dyadic) -> Dyadic { Dyadic(m: -a.m, e: a.e) }
    static func - (a: Dyadic, b: Dyadic) -> Dyadic { a + (-b) }
    static func * (a: Dyadic, b: Dyadic) -> Dyadic { a.m == 0 || b.m == 0 ? .zero : Dyadic(m: a.m * b.m, e: a.e + b.e) }
    var magnitude: Dyadic { Dyadic(m: m < 0 ? -m : m, e: e) }
    var signum: Int { m > 0 ? 1 : (m < 0 ? -1 : 0) }
    static func < (a: Dyadic, b: Dyadic) -> Bool { (a - b).signum < 0 }
    static func == (a: Dyadic, b: Dyadic) -> Bool { (a - b).signum == 0 }
    static let zero = Dyadic(m: 0, e: 0)
    var description: String { "\(m)·2^\(e)" }
}

/// Doubles of many magnitudes for edge-case testing: subnormals, huge, tiny, ±0, ±1.
struct NumberSource {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func double(maxExponent: Int = 1023) -> Double {
        let r = next()
        let sign: Double = r & 1 == 0 ? 1 : -1
        switch (r >> 1) % 16 {
        case 0: return 0 * sign
        case 1: return sign * Double(bitPattern: next() % (1 << 52))  // subnormal
        case 2: return sign * Double.leastNonzeroMagnitude * Double(next() % 8 + 1)
        case 3: return sign * 1
        case 4: return sign * Double.greatestFiniteMagnitude / Double(next() % 4 + 1)
        case 5, 6, 7: return sign * Double(bitPattern: (next() % (1 << 52)) | (UInt64(1023 + Int(next() % 11) - 5) << 52))
        default:
            let exponent = Int(next() % UInt64(1023 + maxExponent)) + 1
            return sign * Double(bitPattern: (next() % (1 << 52)) | (UInt64(exponent) << 52))
        }
    }
}
