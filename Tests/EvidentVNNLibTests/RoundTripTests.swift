import EvidentVNNLib
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// Random properties written as VNN-LIB text in varied but equivalent forms
/// parse back to exactly the structure they were written from.
@Suite struct RoundTripTests {
    @Test(arguments: 0..<300)
    func randomPropertyRoundTrips(seed: Int) throws {
        var writer = RandomPropertyWriter(seed: UInt64(seed))
        let (expected, text) = writer.makeProperty()
        let parsed: Property
        do {
            parsed = try VNNLibParser.parse(text: text, source: "random-\(seed)")
        } catch {
            Issue.record("seed \(seed): \(error.localizedDescription)\n\(text)")
            return
        }
        #expect(parsed.inputCount == expected.inputCount && parsed.outputCount == expected.outputCount)
        #expect(parsed.regions == expected.regions, "seed \(seed):\n\(text)")
        #expect(parsed.outputClauseCount == expected.outputClauseCount)
    }
}

/// Generates a random property and a VNN-LIB text for it.
struct RandomPropertyWriter {
    var random: SplitMix64

    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    mutating func chance(_ probability: Double) -> Bool { Double.random(in: 0..<1, using: &random) < probability }
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }

    /// A double of varied magnitude and precision.
    mutating func value() -> Double {
        switch int(0...3) {
        case 0: return Double(int(-1000...1000)) / Double(1 << int(0...20))
        case 1: return Double.random(in: -10...10, using: &random)
        case 2: return Double.random(in: -1...1, using: &random) * pow(10, Double(int(-40...40)))
        default: return Double(int(-5...5))
        }
    }

    /// A literal of `v` in one of several exact forms. Literals stand for their exact decimal
    /// value, so the written text must be exactly `v` for the parsed property to equal the
    /// generated one: the shortest form `"\(v)"` where it is exact, else the full expansion.
    mutating func literal(_ v: Double) -> String {
        let expansion = exactExpansion(v)
        let shortest = "\(v)"
        let shortIsExact = ExactDecimalOracle.enclosure(shortest).map { $0.lo == v && $0.hi == v } ?? false
        switch int(0...3) {
        case 0: return shortIsExact ? shortest : expansion
        case 1: return expansion
        case 2: return v < 0 ? "(- \(exactExpansion(-v)))" : expansion
        default: return expansion.uppercased().replacingOccurrences(of: "E+", with: "E")
        }
    }

    /// The exact decimal expansion of `v` in scientific notation, trailing zeros removed.
    func exactExpansion(_ v: Double) -> String {
        var buffer = [CChar](repeating: 0, count: 1300)
        _ = withVaList([v]) { vsnprintf(&buffer, buffer.count, "%.1100e", $0) }
        let text = String(cString: buffer)
        guard let e = text.firstIndex(of: "e") else { return text }
        var mantissa = String(text[..<e])
        while mantissa.hasSuffix("0") { mantissa.removeLast() }
        if mantissa.hasSuffix(".") { mantissa.removeLast() }
        return mantissa + text[e...]
    }

    mutating func separator() -> String {
        ["  ", "\n", "\t", " ; comment (\n ", " "].randomElement(using: &random)!
    }

    mutating func join(_ items: [String]) -> String {
        var text = ""
        for (k, item) in items.enumerated() { text += (k == 0 ? "" : separator()) + item }
        return text
    }

    mutating func coefficient() -> Double {
        switch int(0...3) {
        case 0: return 1
        case 1: return -1
        default:
            var c = value()
            while c == 0 { c = value() }
            return c
        }
    }

    mutating func makeConstraint(outputs: Int) -> LinearConstraint {
        if outputs >= 2 && chance(0.3) {
            // Y_i <= Y_k
            var pair = Array(0..<outputs).shuffled(using: &random).prefix(2)
            pair.sort()
            let firstPositive = chance(0.5)
            return LinearConstraint(terms: [.init(output: pair[0], coefficient: firstPositive ? 1 : -1),
                                            .init(output: pair[1], coefficient: firstPositive ? -1 : 1)], bound: 0)
        }
        let count = int(1...min(3, outputs))
        let indices = Array(0..<outputs).shuffled(using: &random).prefix(count).sorted()
        return LinearConstraint(terms: indices.map { .init(output: $0, coefficient: coefficient()) }, bound: value())
    }

    mutating func termText(_ term: LinearConstraint.Term) -> String {
        let y = "Y_\(term.output)"
        if term.coefficient == 1 && chance(0.7) { return y }
        if term.coefficient == -1 && chance(0.7) { return "(- \(y))" }
        let c = literal(term.coefficient)
        return chance(0.5) ? "(* \(c) \(y))" : "(* \(y) \(c))"
    }

    /// The sum of the terms as text (a lone variable when possible).
    mutating func sumText(_ terms: [LinearConstraint.Term]) -> String {
        if terms.count == 1 && chance(0.6) { return termText(terms[0]) }
        var parts: [String] = []
        for term in terms { parts.append(termText(term)) }
        return "(+ \(join(parts)))"
    }

    mutating func constraintText(_ constraint: LinearConstraint) -> String {
        let less = chance(0.2) ? "<" : "<="
        let greater = chance(0.2) ? ">" : ">="
        let terms = constraint.terms
        if terms.count == 2, constraint.bound == 0, terms[0].coefficient == -terms[1].coefficient,
           abs(terms[0].coefficient) == 1, chance(0.7) {
            let (small, large) = terms[0].coefficient == 1 ? (terms[0].output, terms[1].output) : (terms[1].output, terms[0].output)
            return chance(0.5) ? "(\(less) Y_\(small) Y_\(large))" : "(\(greater) Y_\(large) Y_\(small))"
        }
        switch int(0...2) {
        case 0: return "(\(less) \(sumText(terms)) \(literal(constraint.bound)))"
        case 1: return "(\(greater) \(literal(constraint.bound)) \(sumText(terms)))"
        default:
            // -Σ ≥ -b, negating both sides (exact).
            let negatedBound = chance(0.5) ? "(- \(literal(constraint.bound)))" : literal(-constraint.bound)
            return "(\(greater) (- \(sumText(terms))) \(negatedBound))"
        }
    }

    mutating func boxTexts(lower: [Double], upper: [Double]) -> [String] {
        var atoms: [String] = []
        for i in lower.indices {
            let x = "X_\(i)"
            switch int(0...2) {
            case 0:
                atoms.append("(<= \(literal(lower[i])) \(x) \(literal(upper[i])))")
            case 1:
                atoms.append(chance(0.5) ? "(>= \(x) \(literal(lower[i])))" : "(<= \(literal(lower[i])) \(x))")
                atoms.append(chance(0.5) ? "(<= \(x) \(literal(upper[i])))" : "(> \(literal(upper[i])) \(x))")
            default:
                atoms.append("(< \(x) \(literal(upper[i])))")
                atoms.append("(>= \(x) \(literal(lower[i])))")
                // A looser, redundant bound.
                if chance(0.5) { atoms.append("(<= \(x) \(literal(upper[i] + abs(upper[i]) + 1)))") }
            }
        }
        return atoms.shuffled(using: &random)
    }

    /// Text of one clause as formula operands (a clause without constraints
    /// becomes a redundant input bound, since `(and)` is not allowed).
    mutating func clauseOperands(_ clause: OutputClause, region: InputRegion) -> [String] {
        if clause.constraints.isEmpty { return ["(<= X_0 \(literal(region.upper[0])))"] }
        var parts: [String] = []
        for constraint in clause.constraints { parts.append(constraintText(constraint)) }
        return parts
    }

    mutating func makeProperty() -> (Property, String) {
        let inputs = int(1...6), outputs = int(1...6)
        let regionCount = chance(0.5) ? 1 : int(2...3)
        var regions: [InputRegion] = []
        while regions.count < regionCount {
            let lower = (0..<inputs).map { _ in value() }
            let upper = lower.map { $0 + (chance(0.1) ? 0 : abs(value()) + 0.5) }
            guard !regions.contains(where: { $0.lower == lower && $0.upper == upper }) else { continue }
            var clauses: [OutputClause] = []
            for _ in 0..<int(1...3) {
                let constraints = chance(0.1) ? [] : (0..<int(1...3)).map { _ in makeConstraint(outputs: outputs) }
                clauses.append(OutputClause(constraints: constraints))
            }
            regions.append(InputRegion(lower: lower, upper: upper, clauses: clauses))
        }

        var text = "; random property\n"
        var declarations = (0..<inputs).map { "(declare-const X_\($0) Real)" } + (0..<outputs).map { "(declare-const Y_\($0) Real)" }
        if chance(0.5) { declarations.shuffle(using: &random) }
        text += declarations.joined(separator: "\n") + "\n"

        if regions.count == 1 && chance(0.7) {
            // Box as top-level assertions; clauses as top-level assertions or one disjunction.
            let region = regions[0]
            for atom in boxTexts(lower: region.lower, upper: region.upper) { text += "(assert \(atom))\n" }
            if region.clauses.count == 1 {
                if region.clauses[0].constraints.isEmpty { text += "" } else if chance(0.5) {
                    for operand in clauseOperands(region.clauses[0], region: region) { text += "(assert \(operand))\n" }
                } else {
                    text += "(assert (and \(join(clauseOperands(region.clauses[0], region: region)))))\n"
                }
            } else {
                var disjuncts: [String] = []
                for clause in region.clauses { disjuncts.append("(and \(join(clauseOperands(clause, region: region))))") }
                text += "(assert (or\(separator())\(join(disjuncts))))\n"
            }
        } else if chance(0.5) {
            // Flat disjunctive normal form, regions interleaved round robin (first appearances in order).
            var disjuncts: [String] = []
            let rounds = regions.map(\.clauses.count).max() ?? 0
            let roundRobin = chance(0.5)
            if roundRobin {
                for k in 0..<rounds {
                    for region in regions where k < region.clauses.count {
                        disjuncts.append("(and \(join(boxTexts(lower: region.lower, upper: region.upper) + clauseOperands(region.clauses[k], region: region))))")
                    }
                }
            } else {
                for region in regions {
                    for clause in region.clauses {
                        disjuncts.append("(and \(join(boxTexts(lower: region.lower, upper: region.upper) + clauseOperands(clause, region: region))))")
                    }
                }
            }
            text += "(assert (or \(join(disjuncts))))\n"
        } else {
            // Nested: each region's box and the disjunction of its clauses.
            var disjuncts: [String] = []
            for region in regions {
                var clauseTexts: [String] = []
                for clause in region.clauses { clauseTexts.append("(and \(join(clauseOperands(clause, region: region))))") }
                let outputPart = clauseTexts.count == 1 ? clauseTexts[0] : "(or \(join(clauseTexts)))"
                disjuncts.append("(and \(join(boxTexts(lower: region.lower, upper: region.upper))) \(outputPart))")
            }
            text += "(assert \(disjuncts.count == 1 ? disjuncts[0] : "(or \(join(disjuncts)))"))\n"
        }
        let property = Property(inputCount: inputs, outputCount: outputs, regions: regions, source: "expected")
        return (property, text)
    }
}
