import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An independent reference for the enclosure of a decimal literal, for tests.
///
/// It relies on two facts outside Evident: the C library's `printf("%.1100e", x)` prints the
/// exact decimal expansion of a double (glibc converts exactly; a double has at most 767
/// significant digits, checked in ``selfCheck()``), and the standard library's `Double(text)`
/// is correctly rounded. Deciding the enclosure is then a comparison of two digit strings.
enum ExactDecimalOracle {
    /// A decimal as sign, digits without leading or trailing zeros, and the exponent of the
    /// first digit (`12.5` is `+, [1, 2, 5], 1`); zero has no digits.
    struct Normalized: Equatable {
        var negative: Bool
        var digits: [UInt8]
        var lead: Int
    }

    /// Parses `[+-]? digits [. digits] ([eE] [+-]? digits)?` (any lengths), or nil.
    static func normalize(_ literal: String) -> Normalized? {
        let bytes = Array(literal.utf8)
        var i = 0
        var negative = false
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") {
            negative = bytes[i] == UInt8(ascii: "-")
            i += 1
        }
        var digits: [UInt8] = []
        var integerCount = 0
        var sawPoint = false
        while i < bytes.count {
            let b = bytes[i]
            if b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") {
                digits.append(b - UInt8(ascii: "0"))
                if !sawPoint { integerCount += 1 }
            } else if b == UInt8(ascii: ".") && !sawPoint {
                sawPoint = true
            } else {
                break
            }
            i += 1
        }
        guard !digits.isEmpty else { return nil }
        var exponent = 0
        if i < bytes.count {
            guard bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E"),
                  let value = Int(String(decoding: bytes[(i + 1)...], as: UTF8.self)) else { return nil }
            exponent = value
        }
        // The first digit of `digits` has exponent integerCount - 1 + exponent.
        var lead = integerCount - 1 + exponent
        var start = 0
        while start < digits.count && digits[start] == 0 { start += 1; lead -= 1 }
        var end = digits.count
        while end > start && digits[end - 1] == 0 { end -= 1 }
        if start == end { return Normalized(negative: negative, digits: [], lead: 0) }
        return Normalized(negative: negative, digits: Array(digits[start..<end]), lead: lead)
    }

    /// The exact decimal expansion of a finite double, by the C library's printf.
    static func expansion(_ x: Double) -> Normalized {
        // 770 digits after the point: more than the 767 significant digits a double can have.
        var buffer = [CChar](repeating: 0, count: 800)
        _ = withVaList([x]) { vsnprintf(&buffer, buffer.count, "%.770e", $0) }
        let text = String(cString: buffer)
        return normalize(text)!
    }

    /// The sign of `|a| − |b|`.
    static func compareMagnitudes(_ a: Normalized, _ b: Normalized) -> Int {
        if a.digits.isEmpty || b.digits.isEmpty { return (a.digits.isEmpty ? 0 : 1) - (b.digits.isEmpty ? 0 : 1) }
        if a.lead != b.lead { return a.lead > b.lead ? 1 : -1 }
        for k in 0..<max(a.digits.count, b.digits.count) {
            let x = k < a.digits.count ? a.digits[k] : 0, y = k < b.digits.count ? b.digits[k] : 0
            if x != y { return x > y ? 1 : -1 }
        }
        return 0
    }

    /// The enclosure `[lo, hi]` of the literal's exact value (a point when it is a double,
    /// else consecutive doubles around it), or nil when it exceeds the largest finite double.
    static func enclosure(_ literal: String) -> (lo: Double, hi: Double)? {
        guard let v = normalize(literal) else { return nil }
        if v.digits.isEmpty { return v.negative ? (-0.0, -0.0) : (0, 0) }
        guard let nearest = Double(literal) else { return nil }
        var x = abs(nearest)
        if x.isInfinite { x = .greatestFiniteMagnitude }
        let magnitude: (Double, Double)?
        switch compareMagnitudes(v, expansion(x)) {
        case 0: magnitude = (x, x)
        case 1:
            let next = x.nextUp
            magnitude = next.isFinite ? (x, next) : nil
            if next.isFinite { precondition(compareMagnitudes(v, expansion(next)) < 0, "\(literal): not bracketed") }
        default:
            let previous = x.nextDown
            magnitude = (previous, x)
            precondition(previous == 0 || compareMagnitudes(v, expansion(previous)) > 0, "\(literal): not bracketed")
        }
        guard let (lo, hi) = magnitude else { return nil }
        return v.negative ? (-hi, -lo) : (lo, hi)
    }

    /// Whether the C library prints exact expansions (the oracle's premise).
    static func selfCheck() -> Bool {
        let tenth = expansion(0.1)
        let expected = normalize("0.1000000000000000055511151231257827021181583404541015625")!
        let least = expansion(.leastNonzeroMagnitude)
        return tenth == expected && least.digits.count == 751 && least.lead == -324
    }
}
