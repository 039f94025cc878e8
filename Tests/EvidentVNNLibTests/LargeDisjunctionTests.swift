import EvidentTestSupport
import EvidentVNNLib
import Testing

/// The streamed normal form: the regions and clauses the parser produces describe exactly the
/// file's formula, however its `and`s and `or`s nest, and large disjunctions stay compact.
@Suite struct LargeDisjunctionTests {
    /// A random formula over `X_0` (bounds inside [0, 1] that never empty the box) and
    /// `Y_0`, `Y_1`, with thresholds that are exact doubles, so that the parsed property
    /// (outer and inner bounds equal) must agree with the formula at every point.
    indirect enum Formula {
        case lowerX(Double), upperX(Double)
        case output(coefficients: (Double, Double), threshold: Double)
        case and([Formula]), or([Formula])

        var text: String {
            switch self {
            case .lowerX(let a): return "(>= X_0 \(a))"
            case .upperX(let b): return "(<= X_0 \(b))"
            case let .output((a, b), t): return "(<= (+ (* \(a) Y_0) (* \(b) Y_1)) \(t))"
            case .and(let operands): return "(and " + operands.map(\.text).joined(separator: " ") + ")"
            case .or(let operands): return "(or " + operands.map(\.text).joined(separator: " ") + ")"
            }
        }

        func holds(x: Double, y: [Double]) -> Bool {
            switch self {
            case .lowerX(let a): return x >= a
            case .upperX(let b): return x <= b
            case let .output((a, b), t): return a * y[0] + b * y[1] <= t
            case .and(let operands): return operands.allSatisfy { $0.holds(x: x, y: y) }
            case .or(let operands): return operands.contains { $0.holds(x: x, y: y) }
            }
        }

        static func random(_ g: inout SeededGenerator, depth: Int) -> Formula {
            func quarter(_ range: ClosedRange<Int>) -> Double { Double(Int.random(in: range, using: &g)) / 4 }
            if depth == 0 || Int.random(in: 0..<3, using: &g) == 0 {
                switch Int.random(in: 0..<4, using: &g) {
                case 0: return .lowerX(quarter(0...2))
                case 1: return .upperX(quarter(2...4))
                default:
                    let a = quarter(-4...4)
                    return .output(coefficients: (a, quarter(1...4)), threshold: quarter(-8...8))
                }
            }
            let operands = (0..<Int.random(in: 2...3, using: &g)).map { _ in random(&g, depth: depth - 1) }
            return Int.random(in: 0..<2, using: &g) == 0 ? .and(operands) : .or(operands)
        }
    }

    static let header = "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n"
        + "(assert (>= X_0 0))\n(assert (<= X_0 1))\n"

    /// At points on and between the thresholds' grid, a point is a counterexample of the
    /// parsed property exactly when it satisfies the file's formula (brute-force evaluation
    /// of the formula, against the parser's regions and clauses).
    @Test(arguments: 0..<100)
    func streamedFormMatchesTheFormula(seed: Int) throws {
        var g = SeededGenerator(seed: UInt64(seed) &+ 1000)
        let assertions = (0..<Int.random(in: 1...2, using: &g)).map { _ in Formula.random(&g, depth: 4) }
        let text = Self.header + assertions.map { "(assert \($0.text))\n" }.joined()
        // Formulas whose normal form passes 256 KiB (a few thousand disjuncts) are skipped.
        let property: Property
        do {
            property = try VNNLibParser.parse(text: text, source: "random.vnnlib", memoryBudget: 256 << 10)
        } catch VNNLibError.dnfTooLarge {
            return
        }
        for _ in 0..<200 {
            let x = Double(Int.random(in: 0...8, using: &g)) / 8
            let y = [Double(Int.random(in: -24...24, using: &g)) / 4, Double(Int.random(in: -24...24, using: &g)) / 4]
            let expected = assertions.allSatisfy { $0.holds(x: x, y: y) }
            #expect(property.isCounterexample(input: [x], outputs: y) == expected, "x \(x), y \(y) in\n\(text)")
            #expect(property.isCertainCounterexample(input: [x], outputs: y) == expected, "x \(x), y \(y) in\n\(text)")
        }
    }

    /// The order of the normal form: the first `or` varies slowest, alternatives in file
    /// order; disjuncts with equal boxes share a region, in order of first appearance.
    @Test func orderOfRegionsAndClauses() throws {
        let text = Self.header + """
            (assert (or (<= Y_0 1) (and (<= X_0 0.5) (<= Y_0 2))))
            (assert (or (<= Y_1 3) (<= Y_1 4)))
            """
        let property = try VNNLibParser.parse(text: text, source: "order.vnnlib")
        #expect(property.regions.count == 2)
        #expect(property.regions[0].upper == [1] && property.regions[1].upper == [0.5])
        func thresholds(_ region: InputRegion) -> [[Double]] { region.clauses.map { $0.constraints.map(\.bound) } }
        #expect(thresholds(property.regions[0]) == [[1, 3], [1, 4]])
        #expect(thresholds(property.regions[1]) == [[2, 3], [2, 4]])

        // An alternative that is itself a product: its factors vary inside it, in file order.
        let nested = try VNNLibParser.parse(text: Self.header + """
            (assert (or (<= Y_0 1) (and (or (<= Y_1 2) (<= Y_1 3)) (or (<= X_0 0.5) (<= X_0 0.75)))))
            """, source: "nested.vnnlib")
        #expect(nested.regions.map(\.upper) == [[1], [0.5], [0.75]])
        #expect(nested.regions.map(thresholds) == [[[1]], [[2], [3]], [[2], [3]]])
    }

    /// 120,000 output disjuncts (beyond the former fixed limit of 100,000): one region with
    /// one single-constraint clause per disjunct, in file order, well within the default budget.
    @Test func outputOnlyDisjunctionOf120000Clauses() throws {
        let count = 120_000
        var text = Self.header + "(assert (or\n"
        for k in 0..<count { text += k % 3 == 0 ? "(>= Y_0 Y_1)\n" : "(and (<= Y_\(k % 2) \(k)))\n" }
        text += "))\n"
        let property = try VNNLibParser.parse(text: text, source: "large.vnnlib")
        try #require(property.regions.count == 1)
        let clauses = property.regions[0].clauses
        try #require(clauses.count == count)
        for k in [0, 1, 2, 3, 59_999, 119_999] {
            let constraint = try #require(clauses[k].constraints.first)
            #expect(clauses[k].constraints.count == 1)
            if k % 3 == 0 {
                #expect(constraint == LinearConstraint(terms: [.init(output: 0, coefficient: -1), .init(output: 1, coefficient: 1)], bound: 0))
            } else {
                #expect(constraint == LinearConstraint(terms: [.init(output: k % 2, coefficient: 1)], bound: Double(k)))
            }
        }
        #expect(VNNLibParser.estimatedBytes(disjuncts: Double(count), atoms: Double(count), outputConstraints: Double(count),
                                            tighteningDisjuncts: 0, inputs: 1) < Double(16 << 20))
    }

    /// An nn4sys `lindex`-style input disjunction: one region per box, each with its clause.
    @Test func inputDisjunctionBecomesOneRegionPerBox() throws {
        let count = 20_000
        var text = "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (or\n"
        for k in 0..<count { text += "(and (>= X_0 \(Double(k) / 1024)) (<= X_0 \(Double(k + 1) / 1024)) (<= Y_0 \(-k)))\n" }
        text += "))\n"
        let property = try VNNLibParser.parse(text: text, source: "lindex.vnnlib")
        try #require(property.regions.count == count)
        for k in [0, 7, count - 1] {
            let region = property.regions[k]
            #expect(region.lower == [Double(k) / 1024] && region.upper == [Double(k + 1) / 1024])
            #expect(region.clauses == [OutputClause(constraints: [LinearConstraint(terms: [.init(output: 0, coefficient: 1)], bound: Double(-k))])])
        }
    }

    /// The budget follows `--max-memory`: half of it, never below the minimum.
    @Test func budgetFromMaxMemory() {
        #expect(VNNLibParser.memoryBudget(maxMemory: nil) == VNNLibParser.defaultMemoryBudget)
        #expect(VNNLibParser.memoryBudget(maxMemory: 1024) == VNNLibParser.minimumMemoryBudget)
        #expect(VNNLibParser.memoryBudget(maxMemory: 8 << 30) == 4 << 30)
    }

    /// A box of its own per disjunct counts its inputs: 2,000 disjuncts that each bound one of
    /// 3,072 inputs (a CIFAR-sized box) pass 64 MiB, the same count over one input does not.
    @Test func regionsCountTheirInputs() throws {
        func property(inputs: Int) -> String {
            (0..<inputs).map { "(declare-const X_\($0) Real)\n" }.joined() + "(declare-const Y_0 Real)\n"
                + (0..<inputs).map { "(assert (>= X_\($0) 0))\n(assert (<= X_\($0) 1))\n" }.joined()
                + "(assert (or\n" + (0..<2000).map { "(and (<= X_\($0 % inputs) \(Double($0) / 4096)) (<= Y_0 0))\n" }.joined() + "))\n"
        }
        _ = try VNNLibParser.parse(text: property(inputs: 1), source: "small.vnnlib", memoryBudget: 64 << 20)
        #expect(throws: VNNLibError.self) {
            try VNNLibParser.parse(text: property(inputs: 3072), source: "cifar.vnnlib", memoryBudget: 64 << 20)
        }
    }
}
