// Exact enclosures of decimal literals in binary64.
//
// A decimal such as `0.1` is usually not a binary64 number: its nearest double lies above
// or below it. Code that must not shrink a set written with decimals (a property's input
// box, an unsafe threshold) needs the two doubles that bracket the exact value, and needs
// to know when the decimal is exactly a double. This file decides that exactly: it compares
// the decimal `D · 10^E` with a double `M · 2^K` by integer arithmetic (a small unsigned
// big-integer type below: multiply by a small factor, shift, compare), with an exact
// floating-point shortcut (fused multiply-add) for short decimals of moderate exponent.

/// The exact value of a decimal literal, enclosed by binary64 numbers.
///
/// Accepted text: `[+-]? digits* [. digits*] ([eE] [+-]? digits+)?` with at least one
/// significand digit (`12`, `-0.5`, `.5`, `5.`, `1.5e-3`, `-2E+4`), in ASCII. The result is
///
/// - a point `[x, x]` when the decimal is exactly the binary64 number `x` (`0.5`, `1e22`,
///   `9007199254740992`; not `4.9406564584124654e-324`, whose double's exact expansion is
///   longer); `-0` and every zero give the point of a signed zero;
/// - otherwise `[x, x.nextUp]` with `x < v < x.nextUp` for the exact value `v`: the two
///   consecutive doubles around it, one of which is the correctly rounded value. A
///   positive decimal below the smallest subnormal gives `[0, 2⁻¹⁰⁷⁴]` (negative:
///   `[-2⁻¹⁰⁷⁴, -0]`).
///
/// The result is `nil` for malformed text and for decimals whose magnitude exceeds the
/// largest finite double (no finite enclosure exists). Every claim is decided exactly, for
/// any number of digits; the work is bounded because only the first
/// ``maximumSignificantDigits`` significant digits take part in the arithmetic, the rest
/// only in whether the decimal exceeds its truncation (see `compare` for why that is exact).
public enum DecimalEnclosure {
    /// Significant digits kept for the exact comparison; a longer significand contributes
    /// only whether its remaining digits are all zero. Must exceed 767 (the most significant
    /// digits an exact binary64 value has) with room for the argument in `compare`.
    public static let maximumSignificantDigits = 800

    /// The enclosure of the decimal `literal` (see the type's description), or `nil`.
    public static func enclosure(of literal: String) -> Interval? {
        var text = literal
        return text.withUTF8 { enclosure(ofASCII: $0, nearest: nil) }
    }

    /// The enclosure of the decimal written in `bytes`, or `nil`.
    ///
    /// - Parameter nearest: a hint, the caller's conversion of the literal to the nearest
    ///   double (the VNN-LIB lexer has it already). It is only a starting point: the result
    ///   is verified exactly against the decimal, and a wrong hint falls back to the
    ///   standard library's conversion (and gives `nil` should that be wrong too).
    public static func enclosure(ofASCII bytes: UnsafeBufferPointer<UInt8>, nearest: Double? = nil) -> Interval? {
        guard let decimal = ExactDecimal(bytes) else { return nil }
        guard let magnitude = decimal.enclosureOfMagnitude(hint: nearest.map { Swift.abs($0) }) else { return nil }
        if decimal.isNegative { return Interval(lo: -magnitude.hi, hi: -magnitude.lo) }
        return magnitude
    }
}

/// A parsed decimal `±(D + f) · 10^E` with `D` the integer of the kept digits (no trailing
/// zeros), `0 ≤ f < 1`, and `f > 0` exactly when `sticky` (a non-zero digit was dropped).
struct ExactDecimal {
    var isNegative = false
    /// Kept significant digits, most significant first, values 0...9; empty for zero.
    var digits: [UInt8] = []
    /// Exponent of the last kept digit.
    var exponent = 0
    /// Whether a non-zero digit beyond the kept ones was dropped.
    var sticky = false

    /// Parses the accepted grammar, or fails.
    init?(_ bytes: UnsafeBufferPointer<UInt8>) {
        let end = bytes.count
        var i = 0
        guard end > 0 else { return nil }
        if bytes[0] == UInt8(ascii: "-") || bytes[0] == UInt8(ascii: "+") {
            isNegative = bytes[0] == UInt8(ascii: "-")
            i = 1
        }
        func isDigit(_ b: UInt8) -> Bool { b &- UInt8(ascii: "0") < 10 }
        let limit = DecimalEnclosure.maximumSignificantDigits
        var sawDigit = false
        // Position bookkeeping: `scale` is the exponent of the next digit relative to the
        // point, tracked as "digits after the point" (negative exponent) for the fraction.
        var integerDigitsDropped = 0  // integer digits beyond `limit` (each multiplies by 10)
        var fractionDigitsKept = 0
        while i < end, isDigit(bytes[i]) {
            sawDigit = true
            let d = bytes[i] &- UInt8(ascii: "0")
            if digits.isEmpty && d == 0 {
                // leading zero
            } else if digits.count < limit {
                digits.append(d)
            } else {
                integerDigitsDropped += 1
                if d != 0 { sticky = true }
            }
            i += 1
        }
        if i < end, bytes[i] == UInt8(ascii: ".") {
            i += 1
            while i < end, isDigit(bytes[i]) {
                sawDigit = true
                let d = bytes[i] &- UInt8(ascii: "0")
                if digits.isEmpty && d == 0 {
                    fractionDigitsKept += 1  // a leading zero after the point still scales
                } else if digits.count < limit {
                    digits.append(d)
                    fractionDigitsKept += 1
                } else if d != 0 {
                    sticky = true
                }
                i += 1
            }
        }
        guard sawDigit else { return nil }
        var explicit = 0
        if i < end, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            var negativeExponent = false
            if i < end, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") {
                negativeExponent = bytes[i] == UInt8(ascii: "-")
                i += 1
            }
            var sawExponentDigit = false
            while i < end, isDigit(bytes[i]) {
                sawExponentDigit = true
                // Saturate far beyond any exponent that can matter (|E| of a finite,
                // non-negligible value is below 400 plus the digit count).
                if explicit < 1_000_000_000_000 { explicit = explicit * 10 + Int(bytes[i] &- UInt8(ascii: "0")) }
                i += 1
            }
            guard sawExponentDigit else { return nil }
            if negativeExponent { explicit = -explicit }
        }
        guard i == end else { return nil }
        exponent = explicit + integerDigitsDropped - fractionDigitsKept
        if digits.isEmpty { exponent = 0; return }
        // Drop trailing zeros of the kept digits (the value is unchanged).
        while let last = digits.last, last == 0 {
            digits.removeLast()
            exponent += 1
        }
    }

    /// Decimal exponent of the leading digit: `10^lead ≤ |v| < 10^(lead+1)`.
    var lead: Int { exponent + digits.count - 1 }

    /// The enclosure of `|v|` (see ``DecimalEnclosure``), or nil when `|v|` exceeds the
    /// largest finite double or the candidates do not bracket it.
    func enclosureOfMagnitude(hint: Double?) -> Interval? {
        if digits.isEmpty { return .point(0) }  // the caller negates: -0 gives the point -0
        if lead >= 309 { return nil }  // |v| ≥ 1e309 > greatestFiniteMagnitude
        if lead <= -325 {
            // |v| < 10^-324 < 2^-1074: strictly between zero and the smallest subnormal.
            return Interval(lo: 0, hi: .leastNonzeroMagnitude)
        }
        if let hint, let result = bracket(around: hint) { return result }
        return bracket(around: standardConversion())
    }

    /// The correctly rounded magnitude by the standard library (strtod), as a candidate.
    func standardConversion() -> Double {
        let text = String(digits.map { Character(Unicode.Scalar($0 + UInt8(ascii: "0"))) }) + "e\(exponent)"
        return Double(text) ?? .infinity
    }

    /// The enclosure from candidate `x` (≥ 0): the point when `|v| = x` (or a neighbour),
    /// `[x, x⁺]` or `[x⁻, x]` when `|v|` lies strictly between; nil when it does not.
    func bracket(around candidate: Double) -> Interval? {
        guard candidate >= 0, !candidate.isNaN else { return nil }
        let x = candidate.isInfinite ? Double.greatestFiniteMagnitude : candidate
        let c = compare(with: x)
        if c == 0 { return .point(x) }
        if c > 0 {
            let next = x.nextUp
            guard next.isFinite else { return nil }  // above the largest finite double
            let c2 = compare(with: next)
            if c2 == 0 { return .point(next) }
            return c2 < 0 ? Interval(lo: x, hi: next) : nil
        }
        let previous = x.nextDown  // x > 0 here, since |v| > 0
        let c2 = compare(with: previous)
        if c2 == 0 { return .point(previous) }
        return c2 > 0 ? Interval(lo: previous, hi: x) : nil
    }

    /// The sign of `|v| − x` for a finite `x ≥ 0`, exactly.
    ///
    /// Truncation argument: when digits were dropped, `|v| = (T + f)·10^E'` with `T` the
    /// integer of the first ``DecimalEnclosure/maximumSignificantDigits`` digits, `E'` the
    /// exponent of the last of them (so `E' = lead − 799`; stripping zeros off `T` changes
    /// neither value nor argument) and `0 < f < 1`. A double `x` with `|v|/2 ≤ x ≤ 2|v|` is an
    /// integer multiple of `10^E'`: a normal `x = M·2^j` has `j ≥ 3.32·lead − 54 ≥ lead − 799`
    /// (its decimal expansion ends at `10^min(j, 0)`) because `lead ≥ −309`, and a subnormal one
    /// ends at `10^-1074`, below which `E'` lies because then `lead ≤ −308`. Writing
    /// `x = X·10^E'`, `T ≥ X` gives `|v| > x`, and `T < X` gives `T + f < X`, so `|v| < x`:
    /// comparing the truncation, with a tie counted as "above", is exact. For `x` outside
    /// `[|v|/2, 2|v|]` the sign is the same for the truncation and for `|v|` anyway.
    func compare(with x: Double) -> Int {
        if x == 0 { return 1 }
        let d = compareTruncated(with: x)
        return d == 0 && sticky ? 1 : d
    }

    /// The sign of `D·10^E − x`.
    func compareTruncated(with x: Double) -> Int {
        if !sticky, digits.count <= 15, Swift.abs(exponent) <= 22 {
            // Exact shortcut: D < 10^15 < 2^53 and 10^|E| are doubles. The fused
            // multiply-add rounds once, and rounding keeps the sign of a non-zero value;
            // the exact difference cannot underflow to zero (both operands are multiples
            // of 2^-200 or coarser here, since |v| ≥ 10^-22 and x is within a factor two).
            var significand = 0.0
            for digit in digits { significand = significand * 10 + Double(digit) }  // exact below 2^53
            let power = powersOfTen[Swift.abs(exponent)]
            let difference = exponent >= 0
                ? (-x).addingProduct(significand, power)   // D·10^E − x
                : (-significand).addingProduct(x, power)   // x·10^|E| − D, the opposite sign
            let sign = difference > 0 ? 1 : (difference < 0 ? -1 : 0)
            return exponent >= 0 ? sign : -sign
        }
        // D·10^E against M·2^K with exact integers.
        let (m, k) = Self.integerSignificand(of: x)
        var p = BigMagnitude(decimalDigits: digits)
        var q = BigMagnitude(m)
        var a = 0, b = k
        if exponent >= 0 {
            p.multiplyByPowerOfFive(exponent)
            a = exponent
        } else {
            q.multiplyByPowerOfFive(-exponent)
            b = k - exponent
        }
        let common = Swift.min(a, b)
        return BigMagnitude.compare(p, shiftedBy: a - common, q, shiftedBy: b - common)
    }

    /// `x = m · 2^k` for a finite `x > 0`, with `m` an integer below 2^53.
    static func integerSignificand(of x: Double) -> (UInt64, Int) {
        if x.isSubnormal { return (x.significandBitPattern, -1074) }
        return ((1 << 52) | x.significandBitPattern, Int(x.exponent) - 52)
    }
}

/// `10^k` for `k ≤ 22`, each exactly a double.
private let powersOfTen: [Double] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
]

/// A non-negative integer as little-endian 32-bit limbs (no high zero limbs; zero is
/// empty). Only what the exact comparison needs: multiplication by a small factor, shifts
/// and comparison. Every operation is exact.
struct BigMagnitude {
    var limbs: [UInt32] = []

    init(_ value: UInt64) {
        if value != 0 { limbs.append(UInt32(truncatingIfNeeded: value)) }
        if value >> 32 != 0 { limbs.append(UInt32(truncatingIfNeeded: value >> 32)) }
    }

    /// The integer whose decimal digits (most significant first) are `digits`.
    init(decimalDigits digits: [UInt8]) {
        var index = 0
        while index < digits.count {
            // Nine digits at a time: 10^9 < 2^32.
            let count = Swift.min(9, digits.count - index)
            var chunk: UInt32 = 0
            var scale: UInt32 = 1
            for digit in digits[index..<(index + count)] {
                chunk = chunk * 10 + UInt32(digit)
                scale *= 10
            }
            multiply(by: scale, adding: chunk)
            index += count
        }
    }

    /// `self = self · factor + addend`.
    mutating func multiply(by factor: UInt32, adding addend: UInt32 = 0) {
        var carry = UInt64(addend)
        for i in limbs.indices {
            let t = UInt64(limbs[i]) * UInt64(factor) + carry
            limbs[i] = UInt32(truncatingIfNeeded: t)
            carry = t >> 32
        }
        if carry != 0 { limbs.append(UInt32(carry)) }
        while let last = limbs.last, last == 0 { limbs.removeLast() }
    }

    /// `self = self · 5^n` (n ≥ 0).
    mutating func multiplyByPowerOfFive(_ n: Int) {
        var remaining = n
        while remaining >= 13 {
            multiply(by: 1_220_703_125)  // 5^13 < 2^32
            remaining -= 13
        }
        var factor: UInt32 = 1
        for _ in 0..<remaining { factor *= 5 }
        if factor != 1 { multiply(by: factor) }
    }

    /// Number of significant bits.
    var bitWidth: Int {
        guard let top = limbs.last else { return 0 }
        return 32 * (limbs.count - 1) + (32 - top.leadingZeroBitCount)
    }

    /// Limb `index` of `self · 2^shift`.
    @inline(__always)
    func limb(_ index: Int, shift: Int) -> UInt32 {
        let whole = shift / 32, part = shift % 32
        let source = index - whole
        let low = source >= 0 && source < limbs.count ? limbs[source] : 0
        guard part != 0 else { return low }
        let below = source - 1 >= 0 && source - 1 < limbs.count ? limbs[source - 1] : 0
        return (low << UInt32(part)) | (below >> UInt32(32 - part))
    }

    /// The sign of `a · 2^shiftA − b · 2^shiftB` (shifts ≥ 0).
    static func compare(_ a: BigMagnitude, shiftedBy shiftA: Int, _ b: BigMagnitude, shiftedBy shiftB: Int) -> Int {
        let widthA = a.bitWidth == 0 ? 0 : a.bitWidth + shiftA
        let widthB = b.bitWidth == 0 ? 0 : b.bitWidth + shiftB
        if widthA != widthB { return widthA > widthB ? 1 : -1 }
        if widthA == 0 { return 0 }
        var index = (widthA + 31) / 32 - 1
        while index >= 0 {
            let x = a.limb(index, shift: shiftA), y = b.limb(index, shift: shiftB)
            if x != y { return x > y ? 1 : -1 }
            index -= 1
        }
        return 0
    }
}
