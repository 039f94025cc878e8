import EvidentVNNLib
import Foundation
import Testing

/// The Python-made fixture (`Fixtures/make_decimal_enclosures.py`): literals with the
/// enclosure of their exact value computed with `fractions.Fraction`.
enum DecimalFixture {
    struct Record: Decodable {
        var literal: String
        var lo: String?
        var hi: String?
        var reject: Bool?

        /// The expected enclosure, or nil for a rejected literal.
        var enclosure: (lo: Double, hi: Double)? {
            guard reject != true, let lo, let hi, let l = UInt64(lo, radix: 16), let h = UInt64(hi, radix: 16) else { return nil }
            return (Double(bitPattern: l), Double(bitPattern: h))
        }
    }

    static let records: [Record] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/decimal_enclosures.json")
        guard let data = try? Data(contentsOf: url), let records = try? JSONDecoder().decode([Record].self, from: data) else {
            return []
        }
        return records
    }()

    static let byLiteral: [String: Record] = Dictionary(records.map { ($0.literal, $0) }, uniquingKeysWith: { a, _ in a })

    /// The fixture's enclosure of `literal` (which must be in the fixture).
    static func enclosure(_ literal: String, sourceLocation: SourceLocation = #_sourceLocation) -> (lo: Double, hi: Double)? {
        guard let record = byLiteral[literal] else {
            Issue.record("\(literal) is not in the fixture", sourceLocation: sourceLocation)
            return nil
        }
        return record.enclosure
    }
}

/// A property bounding `X_i` below and above by `literals[i]`: the region's outer box is then
/// `[lo, hi]` of each literal's enclosure and its inner box `[hi, lo]`.
func pointBoxes(_ literals: [String]) -> String {
    declarations(inputs: literals.count, outputs: 1)
        + literals.indices.map { "(assert (>= X_\($0) \(literals[$0])))(assert (<= X_\($0) \(literals[$0])))\n" }.joined()
}

func same(_ a: Double, _ b: Double) -> Bool { a.bitPattern == b.bitPattern }

@Suite struct DecimalEnclosureTests {
    @Test func theFixtureIsThere() {
        #expect(DecimalFixture.records.count > 2500)
        #expect(ExactDecimalOracle.selfCheck(), "the C library does not print exact expansions")
    }

    /// Every literal of the fixture parses to the enclosure Python's exact rationals give:
    /// `(>= X c)` gives lower = lo, innerLower = hi; `(<= X c)` gives upper = hi, innerUpper = lo.
    @Test func literalsEncloseTheirExactValues() throws {
        let accepted = DecimalFixture.records.filter { $0.enclosure != nil }
        for chunk in stride(from: 0, to: accepted.count, by: 400).map({ Array(accepted[$0..<min($0 + 400, accepted.count)]) }) {
            let property = try VNNLibParser.parse(text: pointBoxes(chunk.map(\.literal)), source: "fixture")
            let region = property.regions[0]
            for (i, record) in chunk.enumerated() {
                guard let (lo, hi) = record.enclosure else { continue }
                #expect(same(region.lower[i], lo) && same(region.innerLower[i], hi), "\(record.literal)")
                #expect(same(region.upper[i], hi) && same(region.innerUpper[i], lo), "\(record.literal)")
            }
        }
        for record in DecimalFixture.records where record.reject == true {
            let text = declarations(inputs: 1, outputs: 1) + "(assert (>= X_0 \(record.literal)))(assert (<= X_0 1))"
            #expect(throws: VNNLibError.self, "\(record.literal)") { try VNNLibParser.parse(text: text, source: "reject") }
        }
    }

    /// The C-library oracle agrees with the Python fixture (two independent references).
    @Test func theTwoReferencesAgree() {
        for record in DecimalFixture.records {
            let oracle = ExactDecimalOracle.enclosure(record.literal)
            switch (oracle, record.enclosure) {
            case let (a?, b?): #expect(same(a.lo, b.lo) && same(a.hi, b.hi), "\(record.literal)")
            case (nil, nil): break
            default: Issue.record("\(record.literal): oracle \(String(describing: oracle)), fixture \(String(describing: record.enclosure))")
            }
        }
    }

    @Test func aLowerBoundOfPointOneGrowsTheBox() throws {
        let text = declarations(inputs: 2, outputs: 1) + """
            (assert (>= X_0 0.1))
            (assert (<= X_0 0.5))
            (assert (>= X_1 0.5))
            (assert (<= X_1 0.75))
            """
        let region = try VNNLibParser.parse(text: text, source: "tenth").regions[0]
        // The double nearest 0.1 is 0.1000000000000000055511151231257827…, above 0.1.
        let nearest = 0.1
        #expect(nearest.bitPattern == 0x3FB9_9999_9999_999A)
        #expect(region.lower[0] == nearest.nextDown)  // below 0.1: the box grows
        #expect(region.innerLower[0] == nearest)       // above 0.1: the inner box lies inside
        // 0.5 and 0.75 are doubles: outer and inner agree.
        #expect(region.upper[0] == 0.5 && region.innerUpper[0] == 0.5)
        #expect(region.lower[1] == 0.5 && region.innerLower[1] == 0.5)
        #expect(region.upper[1] == 0.75 && region.innerUpper[1] == 0.75)
        // contains: outer; containsInner: inner.
        #expect(region.contains([nearest.nextDown, 0.6]) && !region.containsInner([nearest.nextDown, 0.6]))
        #expect(region.containsInner([nearest, 0.5]) && region.containsInner([0.5, 0.75]))
    }

    @Test func thresholdsRoundSoTheUnsafeSetGrows() throws {
        let text = declarations(inputs: 1, outputs: 2) + unitBox(inputs: 1) + """
            (assert (<= Y_0 0.3))
            (assert (>= Y_1 0.3))
            (assert (<= Y_1 0.5))
            """
        let constraints = try VNNLibParser.parse(text: text, source: "thresholds").regions[0].clauses[0].constraints
        // The double nearest 0.3 is 0.29999999999999998889…, below 0.3.
        let nearest = 0.3
        #expect(nearest.bitPattern == 0x3FD3_3333_3333_3333)
        // Y_0 ≤ 0.3: the outer threshold is above 0.3, the inner one below.
        #expect(constraints[0].terms == [.init(output: 0, coefficient: 1)])
        #expect(constraints[0].bound == nearest.nextUp && constraints[0].innerBound == nearest)
        // -Y_1 ≤ -0.3: outer -0.2999…889 ≥ -0.3, inner -(0.3's upper neighbour) ≤ -0.3.
        #expect(constraints[1].terms == [.init(output: 1, coefficient: -1)])
        #expect(constraints[1].bound == -nearest && constraints[1].innerBound == -nearest.nextUp)
        // An exact threshold has equal ends.
        #expect(constraints[2].bound == 0.5 && constraints[2].innerBound == 0.5)
    }

    /// Outer and inner ends of every literal compared with a variable, against the oracle.
    @Test func randomLiteralsAgainstTheOracle() throws {
        var random = SplitMix64(seed: 7)
        var literals: [String] = []
        for _ in 0..<3000 {
            let digits = Int.random(in: 1...30, using: &random)
            var mantissa = String((0..<digits).map { _ in Character(String(Int.random(in: 0...9, using: &random))) })
            if Bool.random(using: &random) {
                mantissa.insert(".", at: mantissa.index(mantissa.startIndex, offsetBy: Int.random(in: 0...digits, using: &random)))
            }
            let sign = ["", "-", "+"].randomElement(using: &random)!
            let exponent = Int.random(in: 0...3, using: &random) == 0 ? "" : "e\(Int.random(in: -340...300, using: &random))"
            let literal = sign + mantissa + exponent
            // Beyond the largest double: rejected (tested with the fixture).
            if let value = Double(literal), value.isFinite, abs(value) < 1e308 { literals.append(literal) }
        }
        let text = declarations(inputs: literals.count, outputs: literals.count) + literals.indices.map {
            "(assert (>= X_\($0) \(literals[$0])))(assert (<= X_\($0) 1.7e308))(assert (<= Y_\($0) \(literals[$0])))\n"
        }.joined()
        let property = try VNNLibParser.parse(text: text, source: "random")
        let region = property.regions[0]
        for (i, literal) in literals.enumerated() {
            guard let (lo, hi) = ExactDecimalOracle.enclosure(literal) else { Issue.record("\(literal)"); continue }
            #expect(same(region.lower[i], lo) && same(region.innerLower[i], hi), "\(literal)")
            let constraint = region.clauses[0].constraints[i]
            #expect(same(constraint.bound, hi) && same(constraint.innerBound, lo), "\(literal)")
        }
    }

    @Test func anEmptyInnerBoxIsAllowed() throws {
        let text = declarations(inputs: 1, outputs: 1) + "(assert (= X_0 0.1))(assert (<= Y_0 0))"
        let property = try VNNLibParser.parse(text: text, source: "equal")
        let region = property.regions[0]
        #expect(region.lower[0] == Double(0.1).nextDown && region.upper[0] == 0.1)
        #expect(region.innerLower[0] == 0.1 && region.innerUpper[0] == Double(0.1).nextDown)
        #expect(region.contains([0.1]) && region.contains([Double(0.1).nextDown]))
        #expect(!region.containsInner([0.1]) && !region.containsInner([Double(0.1).nextDown]))
        #expect(property.isCounterexample(input: [0.1], outputs: [-1]))
        #expect(!property.isCertainCounterexample(input: [0.1], outputs: [-1]))
        // The outer box must not be empty: the bounds 0.1 ≤ X_0 ≤ 0.1000000000000000055 (the
        // double just above 0.1, exactly) are consistent; 0.2 ≤ X_0 ≤ 0.1 are not.
        let exact = "0.1000000000000000055511151231257827021181583404541015625"
        let tight = try VNNLibParser.parse(text: declarations(inputs: 1, outputs: 1) + "(assert (>= X_0 0.1))(assert (<= X_0 \(exact)))",
                                           source: "tight").regions[0]
        #expect(tight.lower[0] == Double(0.1).nextDown && tight.upper[0] == 0.1 && tight.innerLower[0] == 0.1 && tight.innerUpper[0] == 0.1)
        #expect(throws: VNNLibError.self) {
            try VNNLibParser.parse(text: declarations(inputs: 1, outputs: 1) + "(assert (>= X_0 0.2))(assert (<= X_0 0.1))", source: "empty")
        }
    }

    @Test func certainCounterexamplesUseTheInnerBoxAndThresholds() throws {
        let text = declarations(inputs: 1, outputs: 2) + """
            (assert (>= X_0 0.1))
            (assert (<= X_0 0.5))
            (assert (<= Y_0 0.3))
            (assert (<= (+ Y_0 Y_1) 0.5))
            """
        let property = try VNNLibParser.parse(text: text, source: "witness")
        let inside = [0.1], outsideInner = [Double(0.1).nextDown]
        let below = [0.3, 0.2], between = [Double(0.3).nextUp, 0.1]
        #expect(property.isCounterexample(input: inside, outputs: below))
        #expect(property.isCertainCounterexample(input: inside, outputs: below))
        // On the outer box only, or above the inner threshold: not certain.
        #expect(property.isCounterexample(input: outsideInner, outputs: below))
        #expect(!property.isCertainCounterexample(input: outsideInner, outputs: below))
        #expect(property.isCounterexample(input: inside, outputs: between))
        #expect(!property.isCertainCounterexample(input: inside, outputs: between))
        // (0.3 and 0.2's doubles, 0.29999999999999998889… and 0.20000000000000001110…, sum to 0.5
        // exactly, so `below` is certain.) The certain check bounds the sum from above: outputs
        // whose floating-point sum rounds down to the threshold are not accepted.
        let constraint = property.regions[0].clauses[0].constraints[1]
        #expect(constraint.innerBound == 0.5 && constraint.bound == 0.5)
        #expect(constraint.isSatisfied(by: [0.25, 0.25]) && constraint.isCertainlySatisfied(by: [0.25, 0.25]))
        #expect(constraint.isSatisfied(by: [0.5, Double(0.5).ulp / 4]))  // rounds to 0.5
        #expect(!constraint.isCertainlySatisfied(by: [0.5, Double(0.5).ulp / 4]))  // exactly above 0.5
    }

    @Test func combinedConstantsAreEnclosed() throws {
        let text = declarations(inputs: 1, outputs: 1) + """
            (assert (<= (* 3 X_0) 0.1))
            (assert (>= X_0 -1))
            (assert (<= (+ Y_0 0.1 0.2) 1))
            """
        let property = try VNNLibParser.parse(text: text, source: "combined")
        let region = property.regions[0]
        let upper = region.upper[0], inner = region.innerUpper[0]
        // 3·upper ≥ 0.1's double (> 0.1) and 3·inner ≤ the double below 0.1 (< 0.1), both
        // decided exactly by the sign of a fused multiply-add residual.
        #expect((-0.1).addingProduct(3, upper) >= 0)
        #expect((-Double(0.1).nextDown).addingProduct(3, inner) <= 0)
        #expect(inner < upper && upper.nextDown.nextDown.nextDown <= inner)
        // 1 − (0.1 + 0.2) is exactly 0.7, which lies strictly between 0.7's double (below it) and
        // the next double; the outer threshold is at least that next double, the inner at most 0.7's.
        let constraint = region.clauses[0].constraints[0]
        #expect(constraint.bound >= Double(0.7).nextUp && constraint.bound <= Double(0.7).nextUp.nextUp.nextUp)
        #expect(constraint.innerBound <= 0.7 && constraint.innerBound >= Double(0.7).nextDown.nextDown)
    }

    /// A coefficient must be exactly a double: literals that are not, and inexact products, are rejected.
    @Test(arguments: ["(* 0.1 Y_0)", "(* Y_0 0.1)", "(* 0.1 3 Y_0)", "(* 0.1 X_0)"])
    func inexactCoefficientsAreRejected(_ term: String) throws {
        let text = declarations(inputs: 1, outputs: 1) + unitBox(inputs: 1) + "(assert (<= \(term) 1))"
        let error = #expect(throws: VNNLibError.self) { try VNNLibParser.parse(text: text, source: "coefficient") }
        guard case .unsupportedConstraint? = error else { Issue.record("\(String(describing: error))"); return }
    }

    @Test func exactCoefficientsAreAccepted() throws {
        let text = declarations(inputs: 1, outputs: 1) + unitBox(inputs: 1) + "(assert (<= (* 0.5 Y_0) 0.1))(assert (<= (* 1e-1 10 Y_0) 1))"
        // 1e-1 · 10 is not exact in interval arithmetic (0.1 is no double), so only the first parses.
        #expect(throws: VNNLibError.self) { try VNNLibParser.parse(text: text, source: "exact") }
        let constraint = try VNNLibParser.parse(text: declarations(inputs: 1, outputs: 1) + unitBox(inputs: 1)
                                                + "(assert (<= (* 0.5 Y_0) 0.1))", source: "exact").regions[0].clauses[0].constraints[0]
        #expect(constraint.terms == [.init(output: 0, coefficient: 0.5)])
        #expect(constraint.bound == 0.1 && constraint.innerBound == Double(0.1).nextDown)
    }
}
