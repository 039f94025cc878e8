import EvidentVNNLib
import Testing

/// Declarations of `X_0..<inputs` and `Y_0..<outputs`, one per line.
func declarations(inputs: Int, outputs: Int) -> String {
    (0..<inputs).map { "(declare-const X_\($0) Real)\n" }.joined()
        + (0..<outputs).map { "(declare-const Y_\($0) Real)\n" }.joined()
}

/// Bounds `-1 ≤ X_i ≤ 1` for every input, as top-level assertions.
func unitBox(inputs: Int) -> String {
    (0..<inputs).map { "(assert (>= X_\($0) -1))\n(assert (<= X_\($0) 1))\n" }.joined()
}

func constraint(_ terms: [(Int, Double)], _ bound: Double) -> LinearConstraint {
    LinearConstraint(terms: terms.map { LinearConstraint.Term(output: $0.0, coefficient: $0.1) }, bound: bound)
}

@Suite struct GrammarTests {
    @Test func linearTerms() throws {
        let text = declarations(inputs: 1, outputs: 3) + unitBox(inputs: 1) + """
            (assert (<= (+ (* 2 Y_0) (* Y_1 -3) (- Y_2)) 4))
            (assert (>= (- Y_0 Y_1 Y_2) (- 3)))
            (assert (<= (+ Y_0 1) (* 2 Y_1)))
            (assert (<= (* 2 3 Y_2) 1.5e1))
            (assert (<= (+ Y_0 Y_0 (- Y_1) Y_1) 1))
            (assert (<= (* (+ Y_0 (* 0.5 Y_1)) -4) (- (- 2))))
            """
        let property = try VNNLibParser.parse(text: text, source: "linear.vnnlib")
        #expect(property.regions.count == 1)
        #expect(property.regions[0].clauses == [OutputClause(constraints: [
            constraint([(0, 2), (1, -3), (2, -1)], 4),
            constraint([(0, -1), (1, 1), (2, 1)], 3),
            constraint([(0, 1), (1, -2)], -1),
            constraint([(2, 6)], 15),
            constraint([(0, 2)], 1),
            constraint([(0, -4), (1, -2)], 2),
        ])])
    }

    /// Every number form parses to the enclosure of its exact value (the oracle:
    /// the C library's exact expansions); the exactly representable ones to a point.
    @Test func numberForms() throws {
        let literals = ["1e-3", "-2.5E+2", ".5", "5.", "+7", "-0", "1E5", "0.000", "12345678901234567890123",
                        "-4.9e-324", "1.7976931348623157e308", "0.1"]
        let exact: [Double?] = [nil, -250, 0.5, 5, 7, -0.0, 100_000, 0, nil, nil, nil, nil]
        let property = try VNNLibParser.parse(text: pointBoxes(literals + ["(- 3)"]), source: "numbers")
        let region = property.regions[0]
        for (i, literal) in literals.enumerated() {
            let (lo, hi) = try #require(ExactDecimalOracle.enclosure(literal), "\(literal)")
            #expect(same(region.lower[i], lo) && same(region.upper[i], hi), "\(literal)")
            #expect(same(region.innerLower[i], hi) && same(region.innerUpper[i], lo), "\(literal)")
            if let value = exact[i] {
                #expect(same(region.lower[i], value) && same(region.upper[i], value), "\(literal) is exact")
            } else {
                #expect(region.lower[i] < region.upper[i], "\(literal) is no double")
            }
        }
        #expect(region.lower[literals.count] == -3 && region.upper[literals.count] == -3)
    }

    /// Hard cases for correct rounding (halfway points, subnormals, long significands): the
    /// correctly rounded double is one end of the literal's enclosure, the other end its
    /// neighbour or itself (when the decimal is exact).
    @Test(arguments: [
        ("9007199254740993", 9007199254740992.0),
        ("9007199254740995", 9007199254740996.0),
        ("2.2250738585072011e-308", Double(bitPattern: 0x000F_FFFF_FFFF_FFFF)),
        ("2.4703282292062328e-324", Double.leastNonzeroMagnitude),
        ("2.4703282292062327e-324", 0),
        ("0.1000000000000000055511151231257827", 0.1),
        ("1.00000000000000011102230246251565404236316680908203125", 1.0),
        ("1.000000000000000111022302462515654042363166809082031251", 1.0000000000000002),
        ("4.35679207282016e-13", 4.35679207282016e-13),
        ("8.98846567431158e307", 8.98846567431158e307),
    ])
    func correctlyRounded(_ literal: String, _ expected: Double) throws {
        let text = "(declare-const X_0 Real)(declare-const Y_0 Real)(assert (>= X_0 \(literal)))(assert (<= X_0 1e308))"
        let region = try VNNLibParser.parse(text: text, source: "rounding").regions[0]
        let (lower, inner) = (region.lower[0], region.innerLower[0])
        #expect(same(lower, expected) || same(inner, expected))
        #expect(lower == inner || lower.nextUp == inner)
        let (lo, hi) = try #require(DecimalFixture.enclosure(literal))
        #expect(same(lower, lo) && same(inner, hi))
    }

    /// Seeded random literals of every length and exponent: the standard library's correctly
    /// rounded conversion is one end of the parsed enclosure, which is one ulp wide at most.
    @Test func randomLiteralsMatchTheStandardLibrary() throws {
        var random = SplitMix64(seed: 42)
        var literals: [String] = []
        for _ in 0..<4000 {
            let digits = Int.random(in: 1...25, using: &random)
            var mantissa = String((0..<digits).map { _ in Character(String(Int.random(in: 0...9, using: &random))) })
            if Bool.random(using: &random) { mantissa.insert(".", at: mantissa.index(mantissa.startIndex, offsetBy: Int.random(in: 0...digits, using: &random))) }
            let sign = ["", "-", "+"].randomElement(using: &random)!
            let exponent = Int.random(in: 0...3, using: &random) == 0 ? "" : "e\(Int.random(in: -350...280, using: &random))"
            literals.append(sign + mantissa + exponent)
        }
        let text = declarations(inputs: literals.count, outputs: 1)
            + literals.indices.map { "(assert (>= X_\($0) \(literals[$0])))(assert (<= X_\($0) 1.7e308))\n" }.joined()
        let property = try VNNLibParser.parse(text: text, source: "random")
        for (index, literal) in literals.enumerated() {
            let expected = Double(literal) ?? .nan
            let (lower, inner) = (property.regions[0].lower[index], property.regions[0].innerLower[index])
            #expect(same(lower, expected) || same(inner, expected), "\(literal)")
            #expect(lower == inner || lower.nextUp == inner, "\(literal)")
        }
    }

    @Test func strictComparisonsAreReadAsTheirClosures() throws {
        let text = declarations(inputs: 1, outputs: 2) + """
            (assert (< X_0 1))
            (assert (> X_0 -1))
            (assert (< Y_0 Y_1))
            (assert (> Y_0 0.5))
            """
        let property = try VNNLibParser.parse(text: text, source: "strict")
        #expect(property.regions[0].lower == [-1] && property.regions[0].upper == [1])
        #expect(property.regions[0].clauses[0].constraints == [constraint([(0, 1), (1, -1)], 0), constraint([(0, -1)], -0.5)])
    }

    @Test func equalityAndChains() throws {
        let text = declarations(inputs: 2, outputs: 1) + """
            (assert (<= -1 X_0 1))
            (assert (= X_1 0.5))
            (assert (= Y_0 2))
            """
        let property = try VNNLibParser.parse(text: text, source: "chains")
        #expect(property.regions[0].lower == [-1, 0.5] && property.regions[0].upper == [1, 0.5])
        #expect(property.regions[0].clauses[0].constraints == [constraint([(0, 1)], 2), constraint([(0, -1)], -2)])
    }

    @Test func severalBoundsIntersect() throws {
        let text = declarations(inputs: 1, outputs: 1) + """
            (assert (>= X_0 -3))
            (assert (and (>= X_0 -1) (<= X_0 5) (>= X_0 -2)))
            (assert (<= X_0 2))
            (assert (<= X_0 7))
            """
        let property = try VNNLibParser.parse(text: text, source: "intersect")
        #expect(property.regions[0].lower == [-1] && property.regions[0].upper == [2])
    }

    /// The conjunction of disjunctions is multiplied out in file order, and
    /// top-level output constraints join every clause in their file position.
    @Test func disjunctiveNormalFormKeepsFileOrder() throws {
        let text = declarations(inputs: 1, outputs: 5) + unitBox(inputs: 1) + """
            (assert (or (and (<= Y_0 0)) (and (<= Y_1 0))))
            (assert (<= Y_4 0))
            (assert (or (<= Y_2 0) (<= Y_3 0)))
            """
        let property = try VNNLibParser.parse(text: text, source: "dnf")
        let y = (0..<5).map { constraint([($0, 1)], 0) }
        #expect(property.regions.count == 1)
        #expect(property.regions[0].clauses.map(\.constraints) == [
            [y[0], y[4], y[2]], [y[0], y[4], y[3]], [y[1], y[4], y[2]], [y[1], y[4], y[3]],
        ])
        #expect(property.outputClauseCount == 4)
    }

    /// Disjuncts with identical boxes form one region, even when not adjacent;
    /// regions appear in the order of their first disjunct.
    @Test func identicalBoxesAreGrouped() throws {
        let boxA = "(>= X_0 0) (<= X_0 1)", boxB = "(>= X_0 2) (<= X_0 3)"
        let text = declarations(inputs: 1, outputs: 3) + """
            (assert (or
                (and \(boxA) (<= Y_0 0))
                (and \(boxB) (<= Y_1 0))
                (and (<= X_0 1) (>= X_0 0) (<= Y_2 0))
                (and \(boxB) (<= X_0 5))
            ))
            """
        let property = try VNNLibParser.parse(text: text, source: "group")
        #expect(property.regions.count == 2)
        #expect(property.regions[0].lower == [0] && property.regions[0].upper == [1])
        #expect(property.regions[0].clauses.map(\.constraints) == [[constraint([(0, 1)], 0)], [constraint([(2, 1)], 0)]])
        #expect(property.regions[1].lower == [2] && property.regions[1].upper == [3])
        // The last disjunct has no output constraint: its clause is "true" (the whole box is unsafe).
        #expect(property.regions[1].clauses.map(\.constraints) == [[constraint([(1, 1)], 0)], []])
        #expect(property.isCounterexample(input: [2.5], outputs: [9, 9, 9]))
        #expect(!property.isCounterexample(input: [0.5], outputs: [9, 9, 9]))
        #expect(property.isCounterexample(input: [0.5], outputs: [9, 9, -1]))
    }

    @Test func inputBoundsOnlyGiveOneTrivialClause() throws {
        let property = try VNNLibParser.parse(text: declarations(inputs: 2, outputs: 1) + unitBox(inputs: 2), source: "box")
        #expect(property.regions == [InputRegion(lower: [-1, -1], upper: [1, 1], clauses: [OutputClause(constraints: [])])])
    }

    /// Bounds computed by inexact arithmetic are rounded outward.
    @Test func inexactArithmeticIsRoundedOutward() throws {
        let text = declarations(inputs: 2, outputs: 2) + """
            (assert (<= (* 3 X_0) 1))
            (assert (>= (* 3 X_0) -1))
            (assert (<= (* -2 X_1) 1))
            (assert (<= X_1 (/ 1 1)))
            """
        // Division is not part of the language.
        #expect(throws: VNNLibError.self) { try VNNLibParser.parse(text: text, source: "outward") }
        let valid = text.replacingOccurrences(of: "(/ 1 1)", with: "1") + """
            (assert (<= (+ Y_0 0.1 0.2) 1))
            (assert (<= (* 0.5 3 Y_1) 1))
            """
        let property = try VNNLibParser.parse(text: valid, source: "outward")
        let third = 1.0 / 3.0  // rounds below 1/3
        #expect(property.regions[0].upper[0] == third.nextUp)
        #expect(property.regions[0].lower[0] == -third.nextUp)
        #expect(property.regions[0].lower[1] == -0.5 && property.regions[0].upper[1] == 1)
        // 1 - (0.1 + 0.2) over the reals lies strictly between 0.7 and its successor (checked with exact
        // rational arithmetic); the bound must not be below it, and may exceed it by an ulp.
        let bound = property.regions[0].clauses[0].constraints[0].bound
        #expect(bound == 0.7.nextUp || bound == 0.7.nextUp.nextUp)
        #expect(property.regions[0].clauses[0].constraints[1] == constraint([(1, 1.5)], 1))
        // A coefficient that cannot be represented exactly is rejected.
        let inexact = declarations(inputs: 1, outputs: 1) + unitBox(inputs: 1) + "(assert (<= (* 0.1 3 Y_0) 1))"
        #expect(throws: VNNLibError.self) { try VNNLibParser.parse(text: inexact, source: "inexact") }
    }

    @Test func layoutCommentsAndLineEndings() throws {
        let text = "; a comment (with parentheses\r\n(declare-const\tX_0 Real);trailing\r\n(declare-const Y_0 Real)\r\n"
            + "(assert(and(>= X_0 -1)(<= X_0 1)))(assert\n(<= Y_0\n;inside\n 0.5))"
        let property = try VNNLibParser.parse(text: text, source: "layout")
        #expect(property.regions == [InputRegion(lower: [-1], upper: [1], clauses: [OutputClause(constraints: [constraint([(0, 1)], 0.5)])])])
        #expect(property.inputDeclarations == [VNNLibLocation(file: "layout", line: 2, column: 16)])
        #expect(property.outputDeclarations == [VNNLibLocation(file: "layout", line: 3, column: 16)])
    }

    @Test func variablesMayBeDeclaredInAnyOrder() throws {
        let text = "(declare-const Y_1 Real)(declare-const X_1 Real)(declare-const Y_0 Real)(declare-const X_0 Real)"
            + unitBox(inputs: 2) + "(assert (<= Y_1 Y_0))"
        let property = try VNNLibParser.parse(text: text, source: "order")
        #expect(property.inputCount == 2 && property.outputCount == 2)
        #expect(property.regions[0].clauses[0].constraints == [constraint([(0, -1), (1, 1)], 0)])
    }

    @Test func validateAgainstNetworkShape() throws {
        let property = try VNNLibParser.parse(text: declarations(inputs: 3, outputs: 2) + unitBox(inputs: 3) + "(assert (<= Y_1 Y_0))",
                                              source: "p.vnnlib")
        try property.validate(inputCount: 3, outputCount: 2)
        try property.validate(inputCount: 3, outputCount: 10)  // extra network outputs are unconstrained
        #expect(throws: VNNLibError.inputCountMismatch(declared: 3, network: 2,
                                                       location: VNNLibLocation(file: "p.vnnlib", line: 3, column: 16))) {
            try property.validate(inputCount: 2, outputCount: 2)
        }
        #expect(throws: VNNLibError.inputCountMismatch(declared: 3, network: 4,
                                                       location: VNNLibLocation(file: "p.vnnlib", line: 3, column: 16))) {
            try property.validate(inputCount: 4, outputCount: 2)
        }
        #expect(throws: VNNLibError.outputCountMismatch(declared: 2, network: 1,
                                                        location: VNNLibLocation(file: "p.vnnlib", line: 5, column: 16))) {
            try property.validate(inputCount: 3, outputCount: 1)
        }
        // A property built in code with an output index beyond the network.
        let built = Property(inputCount: 1, outputCount: 1, regions: [
            InputRegion(lower: [0], upper: [1], clauses: [OutputClause(constraints: [constraint([(3, 1)], 0)])]),
        ], source: "built")
        #expect(throws: VNNLibError.self) { try built.validate(inputCount: 1, outputCount: 2) }
    }
}

/// SplitMix64: a small seeded generator so random tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
