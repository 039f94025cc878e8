// Byte-level tokenizer for VNN-LIB (an SMT-LIB subset) over UTF-8 bytes.
//
// Tokens are `(`, `)`, numbers, symbols and (VNN-LIB 2.0) double-quoted strings; whitespace
// and `;` comments up to the end of the line separate them. A symbol may hold a bracketed
// group with white space in it (`X[0, 2]`, `[1, 3, 32, 32]`, line breaks included), since
// 2.0 writes tensor elements and shapes that way. Positions are tracked as line/column
// while scanning (a bracketed group counts its own line breaks), so no error path needs to
// rescan the file. Numbers are converted while scanning; see `parseDecimal`.

/// A line/column pair (1-based, columns in bytes), stored compactly while parsing.
struct Mark: Equatable {
    var line: Int32
    var column: Int32
}

enum TokenKind: Equatable {
    case open, close, symbol, number, string, end
}

struct Token {
    var kind: TokenKind
    /// Byte range of the token in the source (empty for `.end`).
    var start: Int
    var end: Int
    var mark: Mark
    /// The value of a `.number` token (correctly rounded), 0 otherwise.
    var value: Double
}

/// Scans one token at a time. The buffer must outlive the lexer.
struct Lexer {
    let bytes: UnsafeBufferPointer<UInt8>
    private(set) var position = 0
    private var line: Int32 = 1
    private var lineStart = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// The mark of the current scanning position.
    var mark: Mark { Mark(line: line, column: Int32(truncatingIfNeeded: position - lineStart + 1)) }

    /// The text of a byte range, for messages.
    func text(_ start: Int, _ end: Int) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }

    /// Reads the next token, or reports an invalid number.
    mutating func next() -> Result<Token, NumberError> {
        skipTrivia()
        let count = bytes.count
        guard position < count else {
            return .success(Token(kind: .end, start: position, end: position, mark: mark, value: 0))
        }
        let start = position
        let tokenMark = mark
        let first = bytes[start]
        if first == UInt8(ascii: "(") {
            position += 1
            return .success(Token(kind: .open, start: start, end: position, mark: tokenMark, value: 0))
        }
        if first == UInt8(ascii: ")") {
            position += 1
            return .success(Token(kind: .close, start: start, end: position, mark: tokenMark, value: 0))
        }
        if first == UInt8(ascii: "\"") {
            // A string runs to the next unescaped quote on the same line (`\"` and `\\` are
            // escapes); the token keeps the quotes.
            var end = start + 1
            while end < count && bytes[end] != UInt8(ascii: "\"") && bytes[end] != UInt8(ascii: "\n") {
                if bytes[end] == UInt8(ascii: "\\") && end + 1 < count && bytes[end + 1] != UInt8(ascii: "\n") { end += 1 }
                end += 1
            }
            guard end < count, bytes[end] == UInt8(ascii: "\"") else {
                position = end
                return .failure(NumberError(start: start, end: end, mark: tokenMark, isString: true))
            }
            position = end + 1
            return .success(Token(kind: .string, start: start, end: position, mark: tokenMark, value: 0))
        }
        var end = start
        var inBracket = false
        while end < count {
            let byte = bytes[end]
            if byte == UInt8(ascii: "[") {
                inBracket = true
            } else if byte == UInt8(ascii: "]") {
                inBracket = false
            } else if Lexer.isDelimiter(byte) {
                // Inside brackets white space, line breaks included, continues the symbol.
                guard inBracket, byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n")
                        || byte == UInt8(ascii: "\r") else { break }
                if byte == UInt8(ascii: "\n") {
                    line &+= 1
                    lineStart = end + 1
                }
            }
            end += 1
        }
        position = end
        if Lexer.startsNumber(bytes, start, end) {
            guard let value = parseDecimal(bytes, start, end) else {
                return .failure(NumberError(start: start, end: end, mark: tokenMark))
            }
            return .success(Token(kind: .number, start: start, end: end, mark: tokenMark, value: value))
        }
        return .success(Token(kind: .symbol, start: start, end: end, mark: tokenMark, value: 0))
    }

    /// Skips whitespace and `;` comments, counting lines.
    private mutating func skipTrivia() {
        let count = bytes.count
        while position < count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\n") {
                position += 1
                line &+= 1
                lineStart = position
            } else if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
                        || byte == 0x0B || byte == 0x0C {
                position += 1
            } else if byte == UInt8(ascii: ";") {
                while position < count && bytes[position] != UInt8(ascii: "\n") { position += 1 }
            } else {
                return
            }
        }
    }

    @inline(__always)
    static func isDelimiter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\t"), UInt8(ascii: "\r"), 0x0B, 0x0C,
             UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: ";"):
            return true
        default:
            return false
        }
    }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    /// A token is a number when it starts with a digit or `.`, or with a sign
    /// followed by a digit or `.` (so `-` and `+` alone stay function symbols).
    static func startsNumber(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        let first = bytes[start]
        if isDigit(first) || first == UInt8(ascii: ".") { return true }
        if (first == UInt8(ascii: "-") || first == UInt8(ascii: "+")) && end - start > 1 {
            let second = bytes[start + 1]
            return isDigit(second) || second == UInt8(ascii: ".")
        }
        return false
    }
}

/// A token that looks like a number but is not a finite decimal, or a string without its
/// closing quote on the same line (`isString`).
struct NumberError: Error {
    var start: Int
    var end: Int
    var mark: Mark
    var isString = false
}

/// Exact powers of ten: every `10^k` with `k ≤ 22` is a double.
private let exactPowersOfTen: [Double] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
]

/// Parses `[+-]? digits* [. digits*] ([eE] [+-]? digits+)?` (at least one
/// mantissa digit) to the correctly rounded double, or nil when the token has
/// another form or its value is not finite.
///
/// Fast path (Clinger 1990, "How to read floating point numbers accurately"):
/// when the decimal significand is an integer `m ≤ 2^53` and the exponent
/// `|e| ≤ 22`, both `m` and `10^|e|` are exact doubles, so the one IEEE
/// multiplication or division `m · 10^e` is correctly rounded. Everything else
/// (e.g. 17-digit significands, common in the CIFAR properties) goes to the
/// standard library's conversion, which is correctly rounded (strtod in the C
/// locale). Both paths give identical results; the tests check this on every
/// number of the shared benchmarks and on known hard cases.
func parseDecimal(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
    var i = start
    var negative = false
    if bytes[i] == UInt8(ascii: "-") {
        negative = true
        i += 1
    } else if bytes[i] == UInt8(ascii: "+") {
        i += 1
    }
    var significand: UInt64 = 0
    var significantDigits = 0
    var droppedNonzero = false
    var exponent = 0
    var sawDigit = false
    // Integer part.
    while i < end, Lexer.isDigit(bytes[i]) {
        let digit = UInt64(bytes[i] &- UInt8(ascii: "0"))
        sawDigit = true
        if significand == 0 && digit == 0 {
            // leading zero
        } else if significantDigits < 19 {
            significand = significand &* 10 &+ digit
            significantDigits += 1
        } else {
            if digit != 0 { droppedNonzero = true }
            exponent += 1
        }
        i += 1
    }
    // Fraction.
    if i < end, bytes[i] == UInt8(ascii: ".") {
        i += 1
        while i < end, Lexer.isDigit(bytes[i]) {
            let digit = UInt64(bytes[i] &- UInt8(ascii: "0"))
            sawDigit = true
            if significand == 0 && digit == 0 {
                exponent -= 1
            } else if significantDigits < 19 {
                significand = significand &* 10 &+ digit
                significantDigits += 1
                exponent -= 1
            } else if digit != 0 {
                droppedNonzero = true
            }
            i += 1
        }
    }
    guard sawDigit else { return nil }
    // Exponent.
    if i < end, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
        i += 1
        var exponentNegative = false
        if i < end, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") {
            exponentNegative = bytes[i] == UInt8(ascii: "-")
            i += 1
        }
        var explicit = 0
        var sawExponentDigit = false
        while i < end, Lexer.isDigit(bytes[i]) {
            sawExponentDigit = true
            if explicit < 1_000_000 { explicit = explicit * 10 + Int(bytes[i] &- UInt8(ascii: "0")) }
            i += 1
        }
        guard sawExponentDigit else { return nil }
        exponent += exponentNegative ? -explicit : explicit
    }
    guard i == end else { return nil }
    if significand == 0 { return negative ? -0.0 : 0.0 }
    if !droppedNonzero && significand <= (1 << 53) && exponent >= -22 && exponent <= 22 {
        let m = Double(significand)
        let value = exponent >= 0 ? m * exactPowersOfTen[exponent] : m / exactPowersOfTen[-exponent]
        return negative ? -value : value
    }
    let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    guard let value = Double(text), value.isFinite else { return nil }
    return value
}
