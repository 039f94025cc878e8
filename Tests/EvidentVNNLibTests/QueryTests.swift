import EvidentVNNLib
import Testing

/// VNN-LIB 2.0 queries: declarations, the composed layout, tied and passthrough inputs,
/// strict comparisons, and every semantic error with its location.
@Suite struct QueryTests {
    func query(_ text: String) throws -> VNNLibQuery {
        guard case .query(let query) = try VNNLibParser.parseDocument(text: text, source: "q.vnnlib") else {
            Issue.record("not read as a 2.0 query")
            throw VNNLibError.syntax(message: "not a query", location: VNNLibLocation(file: "", line: 0, column: 0))
        }
        return query
    }

    func error(_ text: String) -> VNNLibError? {
        do {
            _ = try VNNLibParser.parseDocument(text: text, source: "q.vnnlib")
            return nil
        } catch let error as VNNLibError {
            return error
        } catch {
            Issue.record("unexpected error type \(error)")
            return nil
        }
    }

    static let image = """
        (vnnlib-version <2.0>)
        (declare-network classifier
            (declare-input  X Real [1,3,8,8])
            (declare-output Y Real [1,4])
        )

        """

    /// Bounds on every element of X, as a 1.0 file would write them.
    static func box(_ name: String, count: Int, shape: [Int], lower: Double, upper: Double) -> String {
        var text = ""
        for flat in 0..<count {
            var indices = [Int](repeating: 0, count: shape.count)
            var rest = flat
            for axis in shape.indices.reversed() {
                indices[axis] = rest % shape[axis]
                rest /= shape[axis]
            }
            let element = name + "[" + indices.map(String.init).joined(separator: ",") + "]"
            text += "(assert (>= \(element) \(lower)))\n(assert (<= \(element) \(upper)))\n"
        }
        return text
    }

    @Test func fourDimensionalIndicesAreRowMajor() throws {
        let text = Self.image + Self.box("X", count: 192, shape: [1, 3, 8, 8], lower: 0, upper: 1)
            + "(assert (<= X[0,2,5,7] 0.5))\n(assert (>= Y[0,1] Y[0,3]))\n"
        let q = try query(text)
        #expect(q.version == "2.0")
        #expect(q.networks.map(\.name) == ["classifier"])
        #expect(q.property.inputCount == 192 && q.property.outputCount == 4)
        #expect(q.isPlainProperty)
        let region = try #require(q.property.regions.first)
        // X[0,2,5,7] = 2·64 + 5·8 + 7 = 175.
        #expect(region.upper[175] == 0.5 && region.upper[174] == 1 && region.upper[176] == 1)
        let constraint = try #require(region.clauses.first?.constraints.first)
        #expect(constraint.terms == [.init(output: 1, coefficient: -1), .init(output: 3, coefficient: 1)])
        #expect(q.networks[0].inputs[0].elementName(175) == "X[0,2,5,7]")
    }

    static let twoNetworks = """
        (vnnlib-version <2.0>)
        (declare-network f
            (declare-input  A Real [2])
            (declare-hidden H Real [3] "hidden_relu")
            (declare-output B Real [1])
        )
        (declare-network g
            (equal-to f)
            (declare-input  C Real [2])
            (declare-output D Real [1])
        )

        """

    @Test func twoNetworksGetSideBySideSlots() throws {
        let text = Self.twoNetworks + """
            (assert (and (>= A[0] 0) (<= A[0] 1) (>= A[1] 0) (<= A[1] 1)))
            (assert (and (>= C[0] 2) (<= C[0] 3) (>= C[1] 2) (<= C[1] 3)))
            (assert (or (>= B[0] 1) (<= D[0] -1)))
            (assert (<= H[2] 0.25))
            """
        let q = try query(text)
        #expect(q.networks[1].equivalence == .equalTo("f") && q.networks[1].isEqualToAnother)
        // Outputs: B (0), H (1..3), D (4); inputs A (0,1), C (2,3).
        #expect(q.networks[0].outputs[0].offset == 0 && q.networks[0].hidden[0].offset == 1 && q.networks[1].outputs[0].offset == 4)
        #expect(q.networks[0].hidden[0].onnxName == "hidden_relu")
        #expect(q.networks[1].inputs[0].offset == 2)
        #expect(q.inputClasses == [0, 1, 2, 3] && q.passthrough.isEmpty && q.declaredOutputCount == 5)
        #expect(!q.isPlainProperty)
        let region = try #require(q.property.regions.first)
        #expect(region.lower == [0, 0, 2, 2] && region.upper == [1, 1, 3, 3])
        // The disjunction gives two clauses, each with the hidden constraint.
        #expect(region.clauses.count == 2)
        #expect(region.clauses[0].constraints.map(\.terms) == [[.init(output: 0, coefficient: -1)], [.init(output: 3, coefficient: 1)]])
        #expect(region.clauses[1].constraints.map(\.terms) == [[.init(output: 4, coefficient: 1)], [.init(output: 3, coefficient: 1)]])
    }

    @Test func topLevelEqualitiesTieInputs() throws {
        let text = Self.twoNetworks + """
            (assert (and (>= A[0] 0) (<= A[0] 1) (>= A[1] -1) (<= A[1] 1)))
            (assert (== C[0] A[0]))
            (assert (and (<= A[1] C[1]) (>= A[1] C[1])))
            (assert (>= (- B[0] D[0]) 0.5))
            """
        let q = try query(text)
        #expect(q.inputClasses == [0, 1, 0, 1])
        #expect(q.property.inputCount == 2 && q.passthrough.isEmpty)
        let region = try #require(q.property.regions.first)
        #expect(region.lower == [0, -1] && region.upper == [1, 1])
        #expect(region.clauses.count == 1 && region.clauses[0].constraints.count == 1)
    }

    @Test func equalitiesInsideDisjunctionsAndCouplingsArePassthrough() throws {
        let text = Self.twoNetworks + """
            (assert (and (>= A[0] 0) (<= A[0] 1) (>= A[1] 0) (<= A[1] 1)))
            (assert (and (>= C[0] 0) (<= C[0] 1) (>= C[1] 0) (<= C[1] 1)))
            (assert (or (== C[0] A[0]) (<= (+ A[1] C[1]) 1.0)))
            (assert (<= (- B[0] A[0]) 0))
            """
        let q = try query(text)
        #expect(q.inputClasses == [0, 1, 2, 3])
        // Passthrough copies of A[0], A[1], C[0], C[1] at outputs 5..8.
        #expect(q.passthrough == [0, 1, 2, 3] && q.property.outputCount == 9)
        let region = try #require(q.property.regions.first)
        #expect(region.clauses.count == 2)
        let first = region.clauses[0].constraints.map(\.terms)
        #expect(first.contains([.init(output: 5, coefficient: 1), .init(output: 7, coefficient: -1)]))
        #expect(first.contains([.init(output: 0, coefficient: 1), .init(output: 5, coefficient: -1)]))
        let second = region.clauses[1].constraints.map(\.terms)
        #expect(second.contains([.init(output: 6, coefficient: 1), .init(output: 8, coefficient: 1)]))
    }

    @Test func strictComparisonsAndNotEqual() throws {
        let text = Self.image + Self.box("X", count: 192, shape: [1, 3, 8, 8], lower: 0, upper: 1)
            + "(assert (< Y[0,0] 0.5))\n(assert (!= Y[0,1] Y[0,2]))\n(assert (> X[0,0,0,0] 0.25))\n"
        let q = try query(text)
        let region = try #require(q.property.regions.first)
        // Closure for proofs, one ulp inward for witnesses.
        #expect(region.lower[0] == 0.25 && region.innerLower[0] == 0.25.nextUp)
        #expect(region.clauses.count == 2)
        for clause in region.clauses {
            let strict = try #require(clause.constraints.first { $0.terms == [.init(output: 0, coefficient: 1)] })
            #expect(strict.bound == 0.5 && strict.innerBound == 0.5.nextDown)
        }
        let sides = region.clauses.map { $0.constraints.first { $0.terms.count == 2 }! }
        #expect(sides.map(\.terms) == [[.init(output: 1, coefficient: 1), .init(output: 2, coefficient: -1)],
                                       [.init(output: 1, coefficient: -1), .init(output: 2, coefficient: 1)]])
        #expect(sides.allSatisfy { $0.bound == 0 && $0.innerBound == -Double.leastNonzeroMagnitude })
        // A witness with Y1 == Y2 satisfies neither side.
        #expect(!region.isCertainlyUnsafe(outputs: [0, 0.3, 0.3, 0]))
        #expect(region.isCertainlyUnsafe(outputs: [0, 0.3, 0.2, 0]))
    }

    @Test func scalarsAndSpacesInIndices() throws {
        let text = """
            (vnnlib-version <2.0>)
            (declare-network n (declare-input x real []) (declare-input v real [2]) (declare-output y real []))
            (assert (and (>= x -1) (<= x 1) (>= v[ 0 ] 0) (<= v[1] 2) (>= v[1] 0) (<= v[0] 1)))
            (assert (>= y 0.5))
            """
        let q = try query(text)
        #expect(q.property.inputCount == 3)
        let region = try #require(q.property.regions.first)
        #expect(region.lower == [-1, 0, 0] && region.upper == [1, 1, 2])
    }

    /// Forms the grammar allows with other spacing: `Y [0]`, `Real[2]`, line breaks inside
    /// brackets, escaped quotes in names.
    @Test func grammarSpacing() throws {
        let text = "(vnnlib-version <2.0>)\n(declare-network n (declare-input X Real[1,\n 2]) (declare-hidden H real [1] \"a \\\"b\\\"\")"
            + " (declare-output Y Real [2]))\n(assert (and (>= X [0, 0] 0) (<= X[0,\n1] 1) (>= X[0,1] 0) (<= X [0,0] 1)))\n(assert (>= Y [1] H [0]))\n"
        let q = try query(text)
        #expect(q.networks[0].inputs[0].shape == [1, 2])
        #expect(q.networks[0].hidden[0].onnxName == "a \"b\"")
        let region = try #require(q.property.regions.first)
        #expect(region.lower == [0, 0] && region.upper == [1, 1])
        #expect(region.clauses[0].constraints[0].terms == [.init(output: 1, coefficient: -1), .init(output: 2, coefficient: 1)])
    }

    /// Comparisons of constants are true or false; contradictory bounds make a disjunct
    /// unsatisfiable (no region), not an error; a huge declared shape is refused up front.
    @Test func constantsContradictionsAndSize() throws {
        let head = Self.small + "(assert (and (>= X[0,0] 0) (<= X[0,0] 1) (>= X[0,1] 0) (<= X[0,1] 1)))\n"
        let truths = try query(head + "(assert (<= (* 2.0 3.0 2.5) 20.0))\n(assert (<= (- X[0,0] X[0,0]) 0.0))\n(assert (<= Y[0,0] 0))")
        #expect(truths.property.regions.count == 1 && truths.property.regions[0].clauses.count == 1)
        #expect(truths.property.regions[0].clauses[0].constraints.count == 1)
        let falsehood = try query(head + "(assert (<= (+ 1.0 2.0 5.0) 7.0))\n(assert (<= Y[0,0] 0))")
        #expect(falsehood.property.regions.isEmpty)
        let either = try query(head + "(assert (or (<= (* X[0,1] 0.0) -1.0) (<= Y[0,0] 0)))")
        #expect(either.property.regions.count == 1 && either.property.regions[0].clauses.count == 1)
        expectError(head + "(assert (< 2 2))", line: 7, column: 9, "true for a proof and false for a witness")
        let contradiction = try query(head + "(assert (or (>= X[0,0] 5) (<= Y[0,1] 0)))")
        #expect(contradiction.property.regions.count == 1 && contradiction.property.regions[0].clauses.count == 1)
        let none = try query(head + "(assert (>= X[0,0] 5))")
        #expect(none.property.regions.isEmpty)
        expectError("(vnnlib-version <2.0>)\n(declare-network n (declare-input X Real [268435456]) (declare-output Y Real [1]))\n(assert (<= Y[0] 0))",
                    line: 2, column: 18, "over the property's memory budget")
    }

    // MARK: Errors

    func expectError(_ text: String, line: Int, column: Int, _ contains: String,
                     sourceLocation: SourceLocation = #_sourceLocation) {
        guard let e = error(text) else {
            Issue.record("no error", sourceLocation: sourceLocation)
            return
        }
        #expect(e.location == VNNLibLocation(file: "q.vnnlib", line: line, column: column), "\(e.errorDescription ?? "")",
                sourceLocation: sourceLocation)
        #expect(e.errorDescription?.contains(contains) == true, "\(e.errorDescription ?? "")", sourceLocation: sourceLocation)
    }

    static let small = """
        (vnnlib-version <2.0>)
        (declare-network n
            (declare-input X Real [1,2])
            (declare-output Y Real [1,2])
        )

        """

    @Test func semanticErrors() {
        expectError(Self.small + "(assert (<= Z[0,0] 1))", line: 6, column: 13, "'Z' is not declared")
        expectError(Self.small + "(assert (<= X[0] 1))", line: 6, column: 13, "takes 2 indices, but 1 is given")
        expectError(Self.small + "(assert (<= X 1))", line: 6, column: 13, "takes 2 indices, but 0 are given")
        expectError(Self.small + "(assert (<= X[0,2] 1))", line: 6, column: 13, "index [0,2] is outside X's shape [1,2]")
        expectError(Self.small + "(assert (<= (* X[0,0] Y[0,1]) 1))", line: 6, column: 13, "nonlinear constraint, not supported")
        expectError(Self.small + "(assert (<= X[0,0] 1e-3))", line: 6, column: 20, "not a VNN-LIB 2.0 number")
        expectError(Self.small + "(assert (<= n 1))", line: 6, column: 13, "'n' is a network, not a tensor")
        expectError("""
            (vnnlib-version <2.0>)
            (declare-network n (declare-input X Real [2]) (declare-output X Real [1]))
            """, line: 2, column: 63, "'X' is declared twice (first at line 2, column 35)")
        expectError("""
            (vnnlib-version <2.0>)
            (declare-network n (declare-input X Real [2]) (declare-output Y Real [1]))
            (declare-network n (declare-input U Real [2]) (declare-output V Real [1]))
            """, line: 3, column: 18, "'n' is declared twice")
        expectError("(declare-network n (declare-input X Real [2]) (declare-output Y Real [1]))",
                    line: 1, column: 2, "starts with (vnnlib-version <2.0>)")
        expectError("(vnnlib-version <3.1>)", line: 1, column: 17, "version 3.1 is not supported")
        expectError(Self.small + "(assert (<= X[0,0] 1))\n(declare-network m (declare-input U Real [2]) (declare-output V Real [1]))",
                    line: 7, column: 1, "declare-network after an assertion")
        expectError("""
            (vnnlib-version <2.0>)
            (declare-network n (declare-output Y Real [1]) (declare-input X Real [2]))
            """, line: 2, column: 49, "declare-input after a hidden or output declaration")
        expectError("""
            (vnnlib-version <2.0>)
            (declare-network n (declare-input X Real [2]) (declare-hidden H Real [1]) (declare-output Y Real [1]))
            """, line: 2, column: 73, "the ONNX tensor name of the hidden tensor")
        expectError("""
            (vnnlib-version <2.0>)
            (declare-network n (equal-to m) (declare-input X Real [2]) (declare-output Y Real [1]))
            """, line: 2, column: 30, "'m' is not declared")
        expectError("""
            (vnnlib-version <2.0>)
            (declare-network n (declare-input X Real [2,0]) (declare-output Y Real [1]))
            """, line: 2, column: 42, "is not a shape")
        expectError("""
            (vnnlib-version <2.0>)
            (declare-network n (declare-input X decimal [2]) (declare-output Y Real [1]))
            """, line: 2, column: 37, "unsupported sort 'decimal'")
        expectError(Self.small, line: 6, column: 1, "the query has no assertion")
        expectError("(vnnlib-version <2.0>)\n(declare-network n (declare-input or Real [1]) (declare-output Y Real [1]))",
                    line: 2, column: 35, "'or' is a keyword of VNN-LIB 2.0")
        expectError(Self.small + "(declare-const X_0 Real)", line: 6, column: 2, "declare-const is VNN-LIB 1.0")
    }

    /// Numbers keep their exact decimal value through conversion; one that would need more
    /// digits than any double does is refused, never rounded.
    @Test func conversionWritesExactDecimals() throws {
        let header = "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (>= X_0 -1.5e-3))\n(assert (<= Y_0 0))\n"
        for (literal, plain) in [("2E+4", "20000"), (".5", "0.5"), ("5.", "5"), ("+3", "3"), ("-0.0", "0"), ("1.25e1", "12.5"),
                                 ("123.456e-5", "0.00123456"), ("0e99999999999999999999", "0"), ("7e-320", "0." + String(repeating: "0", count: 319) + "7")] {
            let text = header + "(assert (<= X_0 \(literal)))\n"
            let converted = try VNNLibConversion.versionTwo(of: text, inputShape: [1], outputShape: [1])
            #expect(converted.contains("(assert (<= X[0] \(plain)))"), "\(literal)")
            #expect(converted.contains("(assert (>= X[0] -0.0015))"))
            guard case .query(let query) = try VNNLibParser.parseDocument(text: converted) else { Issue.record("not a query"); continue }
            #expect(query.property.regions == (try VNNLibParser.parse(text: text)).regions, "\(literal)")
        }
        for literal in ["1e-99999999999999999999", "1e-9223372036854775808", "1e-99999999999"] {
            let text = header + "(assert (<= X_0 \(literal)))\n"
            #expect(throws: VNNLibError.self) { try VNNLibConversion.versionTwo(of: text, inputShape: [1], outputShape: [1]) }
        }
    }

    /// A 1.0 file is read as before, and meets 2.0 constructs with a message, not a crash.
    @Test func versionOneStaysVersionOne() throws {
        let document = try VNNLibParser.parseDocument(text: "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (>= X_0 0))\n(assert (<= X_0 1))\n(assert (>= Y_0 2))")
        guard case .property(let property) = document else { Issue.record("read as a query"); return }
        #expect(property.inputCount == 1 && property.regions[0].upper == [1])
        expectError("(declare-const X_0 Real)\n(declare-network n)", line: 2, column: 2, "is VNN-LIB 2.0")
    }
}
