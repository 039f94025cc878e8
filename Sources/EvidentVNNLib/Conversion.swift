// Converting between VNN-LIB 1.0 properties and 2.0 queries, token by token, so that every
// number keeps its exact decimal value (no rounding to binary64 on the way).

import Foundation

public enum VNNLibConversion {
    /// The 2.0 query of a 1.0 property: one network `networkName` with input `X` of
    /// `inputShape` and output `Y` of `outputShape` (the model's shapes, so the query binds to
    /// it), `X_i`/`Y_j` written as their row-major elements, `=` as `==`, and numbers in 2.0's
    /// form (exponents written out, exactly). 1.0 reads strict comparisons as their closures
    /// (VNN-COMP's convention) and 2.0 reads them strictly for witnesses, so `<` and `>`
    /// become `<=` and `>=`: the query means what the property meant to Evident.
    ///
    /// - Throws: ``VNNLibError`` when `text` is not a valid 1.0 property, or its variables
    ///   do not fit the shapes.
    public static func versionTwo(of text: String, source: String = "<text>", networkName: String = "N",
                                  inputShape: [Int], outputShape: [Int]) throws -> String {
        // Validates the whole file first (errors carry their locations).
        let property = try VNNLibParser.parse(text: text, source: source)
        let inputs = inputShape.reduce(1, *), outputs = outputShape.reduce(1, *)
        guard property.inputCount == inputs else {
            throw VNNLibError.inputCountMismatch(declared: property.inputCount, network: inputs,
                                                 location: property.inputDeclarations.last ?? VNNLibLocation(file: source, line: 0, column: 0))
        }
        guard property.outputCount <= outputs else {
            throw VNNLibError.outputCountMismatch(declared: property.outputCount, network: outputs,
                                                  location: property.outputDeclarations.last ?? VNNLibLocation(file: source, line: 0, column: 0))
        }
        let input = DeclaredTensor(name: "X", kind: .input, elementType: "Real", shape: inputShape, onnxName: nil,
                                   location: VNNLibLocation(file: source, line: 0, column: 0), offset: 0)
        var output = input
        output.name = "Y"
        output.kind = .output
        output.shape = outputShape
        var result = "; Converted from \((source as NSString).lastPathComponent) (VNN-LIB 1.0) by evident vnnlib convert.\n"
        result += "; Strict comparisons of the 1.0 file, read as their closures, are written as <= and >=.\n"
        result += "(vnnlib-version <2.0>)\n"
        result += "(declare-network \(networkName)\n    (declare-input X Real \(input.shapeText))\n    (declare-output Y Real \(output.shapeText))\n)\n"
        try rewrite(text, into: &result, keeping: { $0 != "declare-const" }) { token, text in
            switch token.kind {
            case .number:
                guard let plain = plainDecimal(text) else {
                    throw VNNLibError.unsupportedConstraint(
                        reason: "'\(text)' takes more than \(maximumDigits) digits without an exponent, and VNN-LIB 2.0 has no exponent notation",
                        location: VNNLibLocation(file: source, line: Int(token.mark.line), column: Int(token.mark.column)))
                }
                return plain
            case .symbol:
                if text.count >= 3, text.dropFirst().first == "_", let index = Int(text.dropFirst(2)) {
                    if text.hasPrefix("X_") { return input.elementName(index) }
                    if text.hasPrefix("Y_") { return output.elementName(index) }
                }
                switch text {
                case "=": return "=="
                case "<": return "<="
                case ">": return ">="
                default: return text
                }
            default:
                return text
            }
        }
        return result
    }

    /// The 1.0 property of a 2.0 query that one 1.0 file can state: one network, one input and
    /// one output tensor, no hidden tensor, inputs neither tied nor coupled (``VNNLibQuery/isPlainProperty``),
    /// no `!=`. Elements become `X_i`/`Y_j` (row-major), `==` becomes `=`. Strict comparisons
    /// stay strict, which 1.0 readers (Evident included) take as their closures.
    ///
    /// - Throws: ``VNNLibError`` for an invalid query or one 1.0 cannot state.
    public static func versionOne(of text: String, source: String = "<text>") throws -> String {
        guard case .query(let query) = try VNNLibParser.parseDocument(text: text, source: source) else {
            throw VNNLibError.syntax(message: "this is already a VNN-LIB 1.0 property", location: VNNLibLocation(file: source, line: 1, column: 1))
        }
        guard query.isPlainProperty else {
            throw VNNLibError.unsupportedConstraint(
                reason: "VNN-LIB 1.0 can state only queries with one network, one input and one output tensor, no hidden tensor and no tied or coupled inputs",
                location: query.networks[0].location)
        }
        let network = query.networks[0]
        let input = network.inputs[0], output = network.outputs[0]
        var result = "; Converted from \((source as NSString).lastPathComponent) (VNN-LIB 2.0) by evident vnnlib convert.\n"
        result += "; Network \(network.name): input \(input.name) \(input.shapeText) as X_0..X_\(input.elementCount - 1), output \(output.name) \(output.shapeText) as Y_0..Y_\(output.elementCount - 1).\n"
        for i in 0..<input.elementCount { result += "(declare-const X_\(i) Real)\n" }
        for j in 0..<output.elementCount { result += "(declare-const Y_\(j) Real)\n" }
        try rewrite(text, into: &result, keeping: { $0 == "assert" }) { token, text in
            guard token.kind == .symbol else { return text }
            if text == "==" { return "=" }
            if text == "!=" {
                throw VNNLibError.unsupportedConstraint(reason: "VNN-LIB 1.0 has no !=", location: VNNLibLocation(file: source, line: Int(token.mark.line), column: Int(token.mark.column)))
            }
            let name = String(text.prefix { $0 != "[" })
            for (tensor, variable) in [(input, "X_"), (output, "Y_")] where tensor.name == name {
                var indices: [Int] = []
                if let open = text.firstIndex(of: "[") {
                    indices = text[text.index(after: open)...].dropLast().split(separator: ",").compactMap {
                        Int($0.trimmingCharacters(in: .whitespaces))
                    }
                }
                var flat = 0
                for (index, extent) in zip(indices, tensor.shape) { flat = flat * extent + index }
                return variable + String(flat)
            }
            return text
        }
        return result
    }

    /// Writes the commands of `text` whose keyword `keeping` accepts to `result`, one per
    /// line, each token through `map`. Comments are dropped.
    static func rewrite(_ text: String, into result: inout String, keeping: (String) -> Bool,
                        map: (Token, String) throws -> String) throws {
        var text = text
        try text.withUTF8 { bytes in
            var lexer = Lexer(bytes: bytes)
            var depth = 0, tokens = 0
            var keep = true, needsSpace = false
            var line = ""
            while case .success(let token) = lexer.next(), token.kind != .end {
                let raw = lexer.text(token.start, token.end)
                if depth == 0 { tokens = 0; keep = true; line = ""; needsSpace = false }
                if token.kind == .open { depth += 1 }
                if token.kind == .close { depth -= 1 }
                tokens += 1
                if depth == 1 && tokens == 2 { keep = keeping(raw) }
                guard keep else { continue }
                let piece = try map(token, raw)
                if needsSpace && token.kind != .close { line += " " }
                line += piece
                needsSpace = token.kind != .open
                if depth == 0 { result += line + "\n" }
            }
        }
    }

    /// The most digits a converted number may take: every binary64 number needs fewer than
    /// 800 significant digits and 330 leading zeros, so only a decimal far outside the double
    /// range (whose enclosure is a tiny interval around 0, or which the parser refuses) is
    /// longer, and it is refused rather than rounded.
    static let maximumDigits = 4096

    /// The decimal `text` (`1.5e-3`, `.5`, `+2`, `5.`) in 2.0's form `-?digits(.digits)?`,
    /// with exactly its value; nil when that takes more than ``maximumDigits`` digits.
    static func plainDecimal(_ text: String) -> String? {
        var body = Substring(text)
        var negative = false
        if body.first == "+" || body.first == "-" {
            negative = body.first == "-"
            body = body.dropFirst()
        }
        var exponent = 0
        if let e = body.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            var digits = body[body.index(after: e)...]
            let negativeExponent = digits.first == "-"
            if digits.first == "-" || digits.first == "+" { digits = digits.dropFirst() }
            // Saturates: an exponent beyond the digit limit is refused below anyway.
            for digit in digits {
                guard let d = digit.wholeNumberValue else { return nil }
                exponent = Swift.min(exponent * 10 + d, 10 * maximumDigits)
            }
            if negativeExponent { exponent = -exponent }
            body = body[..<e]
        }
        var integer = String(body.prefix { $0 != "." })
        var fraction = body.contains(".") ? String(body[body.index(after: body.firstIndex(of: ".")!)...]) : ""
        integer = String(integer.drop { $0 == "0" })
        while fraction.last == "0" { fraction.removeLast() }
        if integer.isEmpty && fraction.isEmpty { return "0" }
        guard integer.count + fraction.count + abs(exponent) <= maximumDigits else { return nil }
        if exponent > 0 {
            let moved = min(exponent, fraction.count)
            integer += fraction.prefix(moved)
            fraction = String(fraction.dropFirst(moved))
            integer += String(repeating: "0", count: exponent - moved)
        } else if exponent < 0 {
            let moved = min(-exponent, integer.count)
            fraction = String(integer.suffix(moved)) + fraction
            integer = String(integer.dropLast(moved))
            fraction = String(repeating: "0", count: -exponent - moved) + fraction
        }
        integer = String(integer.drop { $0 == "0" })
        while fraction.last == "0" { fraction.removeLast() }
        if integer.isEmpty { integer = "0" }
        let sign = negative && !(integer == "0" && fraction.isEmpty) ? "-" : ""
        return sign + integer + (fraction.isEmpty ? "" : "." + fraction)
    }
}
