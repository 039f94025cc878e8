import EvidentVNNLib
import Testing

/// Every error names the file, line and column it is about.
@Suite struct ErrorTests {
    /// `X_0` and `Y_0` declared on lines 1 and 2; test text starts on line 3.
    static let header = "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n"

    func at(_ line: Int, _ column: Int) -> VNNLibLocation {
        VNNLibLocation(file: "bad.vnnlib", line: line, column: column)
    }

    func error(_ text: String) -> VNNLibError? {
        do {
            _ = try VNNLibParser.parse(text: text, source: "bad.vnnlib")
            return nil
        } catch let error as VNNLibError {
            return error
        } catch {
            Issue.record("unexpected error type \(error)")
            return nil
        }
    }

    @Test func badSyntax() throws {
        let e = try #require(error(Self.header + "(assert X_0)"))
        guard case .syntax = e else { Issue.record("\(e)"); return }
        #expect(e.location == at(3, 9))
        #expect(e.errorDescription?.hasPrefix("bad.vnnlib:3:9: syntax error: expected a formula") == true)
        // A command must start with '('.
        #expect(error("Real")?.location == at(1, 1))
        // Operators need operands.
        for (text, column) in [("(assert (and))", 9), ("(assert (<= X_0))", 9), ("(assert (<= (+) 1))", 13), ("(assert ())", 10)] {
            let e = try #require(error(Self.header + text))
            guard case .syntax = e else { Issue.record("\(text): \(e)"); continue }
            #expect(e.location == at(3, column), "\(text)")
        }
        // Declarations need a name and a sort.
        let missingName = try #require(error("(declare-const (X_0) Real)"))
        guard case .syntax = missingName else { Issue.record("\(missingName)"); return }
        #expect(missingName.location == at(1, 16))
    }

    /// Hostile nesting is an error, not a stack overflow.
    @Test func deepNesting() throws {
        let formulas = Self.header + "(assert " + String(repeating: "(and ", count: 5000)
        let e = try #require(error(formulas))
        guard case .syntax = e else { Issue.record("\(e)"); return }
        #expect(e.location == at(3, 9 + 5 * 200))
        let terms = Self.header + "(assert (<= " + String(repeating: "(+ ", count: 5000)
        let t = try #require(error(terms))
        guard case .syntax = t else { Issue.record("\(t)"); return }
        #expect(t.location == at(3, 13 + 3 * 199))
        // 100 levels are fine.
        let deep = Self.header + "(assert " + String(repeating: "(and ", count: 100) + "(<= X_0 1) (>= X_0 0)"
            + String(repeating: ")", count: 101) + "(assert (<= " + String(repeating: "(+ ", count: 100) + "Y_0"
            + String(repeating: ")", count: 100) + " 1))"
        #expect(try VNNLibParser.parse(text: deep, source: "deep").outputClauseCount == 1)
    }

    @Test func unbalancedParentheses() throws {
        #expect(error(Self.header + "(assert (<= X_0 1)))") == .unbalancedParenthesis(location: at(3, 20)))
        #expect(error(")") == .unbalancedParenthesis(location: at(1, 1)))
    }

    @Test func unexpectedEndOfFile() throws {
        let e = try #require(error(Self.header + "(assert (<= X_0 1)"))
        guard case let .unexpectedEndOfFile(_, openedAt, location) = e else { Issue.record("\(e)"); return }
        #expect(openedAt == at(3, 1) && location == at(3, 19))
        let inDeclaration = try #require(error("(declare-const X_0"))
        guard case let .unexpectedEndOfFile(_, opened, end) = inDeclaration else { Issue.record("\(inDeclaration)"); return }
        #expect(opened == at(1, 1) && end == at(1, 19))
        let inTerm = try #require(error(Self.header + "(assert (<= (+ X_0 1)\n"))
        guard case let .unexpectedEndOfFile(_, termOpen, termEnd) = inTerm else { Issue.record("\(inTerm)"); return }
        #expect(termOpen == at(3, 9) && termEnd == at(4, 1))
        #expect(inTerm.errorDescription?.contains("not closed") == true)
    }

    @Test func unknownFunctionSymbols() throws {
        for (text, name, line, column) in [
            ("(assert (foo X_0 1))", "foo", 3, 10),
            ("(check-sat)", "check-sat", 3, 2),
            ("(assert (<= (/ X_0 2) 1))", "/", 3, 14),
            ("(assert (not (<= X_0 1)))", "not", 3, 10),
            ("(assert (<= (and X_0) 1))", "and", 3, 14),
        ] {
            let e = try #require(error(Self.header + text))
            guard case let .unknownFunction(found, _, location) = e else { Issue.record("\(text): \(e)"); continue }
            #expect(found == name && location == at(line, column), "\(text)")
        }
    }

    @Test(arguments: ["1.2.3", "1e", "1e400", "-.e5", "1.5x", "-1e-", "..5", "0x10"])
    func invalidNumbers(_ literal: String) throws {
        #expect(error(Self.header + "(assert (<= X_0 \(literal)))") == .invalidNumber(text: literal, location: at(3, 17)))
    }

    @Test func invalidVariableNames() throws {
        for name in ["Z_0", "X_01", "x_0", "X0", "X_", "X_1a", "Y_-1", "X_99999999999999999999"] {
            #expect(error("(declare-const \(name) Real)") == .invalidVariableName(name: name, location: at(1, 16)))
        }
        #expect(error(Self.header + "(assert (<= foo 1))") == .invalidVariableName(name: "foo", location: at(3, 13)))
    }

    @Test func unsupportedSort() throws {
        #expect(error("(declare-const X_0 Int)") == .unsupportedSort(sort: "Int", location: at(1, 20)))
    }

    @Test func undeclaredVariables() throws {
        #expect(error(Self.header + "(assert (<= X_7 1))") == .undeclaredVariable(name: "X_7", location: at(3, 13)))
        #expect(error(Self.header + "(assert (<= Y_0 Y_1))") == .undeclaredVariable(name: "Y_1", location: at(3, 17)))
        // Use before declaration.
        let text = "(declare-const Y_0 Real)\n(assert (<= X_0 1))\n(declare-const X_0 Real)"
        #expect(error(text) == .undeclaredVariable(name: "X_0", location: at(2, 13)))
    }

    @Test func redeclaredVariables() throws {
        #expect(error(Self.header + "(declare-const X_0 Real)")
                == .redeclaredVariable(name: "X_0", firstDeclaration: at(1, 16), location: at(3, 16)))
    }

    @Test func gapsInDeclarations() throws {
        #expect(error("(declare-const X_0 Real)\n(declare-const X_2 Real)\n")
                == .missingDeclaration(name: "X_1", location: at(2, 16)))
        #expect(error("(declare-const X_0 Real)\n(declare-const Y_1 Real)\n")
                == .missingDeclaration(name: "Y_0", location: at(2, 16)))
    }

    @Test func unsupportedConstraints() throws {
        let header = Self.header + "(declare-const X_1 Real)\n"  // lines 1-3; tests on line 4
        for (text, column) in [
            ("(assert (<= X_0 Y_0))", 9),                 // input with output
            ("(assert (<= (+ X_0 Y_0) 1))", 9),
            ("(assert (<= X_0 X_1))", 9),                 // two inputs
            ("(assert (<= 1 2))", 9),                     // constants only
            ("(assert (<= Y_0 Y_0))", 9),                 // cancels to constants
            ("(assert (<= (* Y_0 Y_0) 1))", 13),          // nonlinear
            ("(assert (<= (* 0.1 3 Y_0) 1))", 9),         // inexact coefficient
        ] {
            let e = try #require(error(header + text))
            guard case let .unsupportedConstraint(_, location) = e else { Issue.record("\(text): \(e)"); continue }
            #expect(location == at(4, column), "\(text)")
        }
    }

    @Test func unboundedInputs() throws {
        #expect(error(Self.header + "(assert (>= X_0 0))\n(assert (<= Y_0 0))")
                == .unboundedInput(variable: "X_0", missing: .upper, regionStart: nil, location: at(1, 16)))
        #expect(error(Self.header + "(assert (<= X_0 0))")
                == .unboundedInput(variable: "X_0", missing: .lower, regionStart: nil, location: at(1, 16)))
        // In the second of two regions.
        let text = Self.header + "(assert (or (and (>= X_0 0) (<= X_0 1) (<= Y_0 0)) (and (>= X_0 0) (<= Y_0 1))))"
        #expect(error(text) == .unboundedInput(variable: "X_0", missing: .upper, regionStart: at(3, 57), location: at(1, 16)))
        // No assertion at all.
        #expect(error(Self.header) == .unboundedInput(variable: "X_0", missing: .lower, regionStart: nil, location: at(1, 16)))
    }

    @Test func emptyInputBoxes() throws {
        #expect(error(Self.header + "(assert (>= X_0 1))\n(assert (<= X_0 0))")
                == .emptyInputBox(variable: "X_0", lower: 1, upper: 0, location: at(4, 9)))
        // Inside one disjunct, with the box otherwise shared.
        let text = Self.header + "(assert (<= X_0 1))\n(assert (or (and (>= X_0 0) (<= Y_0 0)) (and (>= X_0 2) (<= Y_0 1))))"
        #expect(error(text) == .emptyInputBox(variable: "X_0", lower: 2, upper: 1, location: at(4, 46)))
    }

    @Test func disjunctiveNormalFormBlowUp() throws {
        let bounds = "(assert (>= X_0 0))\n(assert (<= X_0 1))\n"
        let doubling = "(assert (or (<= Y_0 0) (<= Y_0 1)))\n"
        // Under the default 1 GiB: 2^20 disjuncts of 20 constraints are about 784 MiB; the
        // 21st doubling (line 25) passes the budget, and the estimate comes before any
        // disjunct is enumerated.
        let e = try #require(error(Self.header + bounds + String(repeating: doubling, count: 21)))
        guard case let .dnfTooLarge(disjuncts, bytes, budget, location) = e else { Issue.record("\(e)"); return }
        #expect(disjuncts == Double(1 << 21) && budget == VNNLibParser.defaultMemoryBudget && location == at(25, 9))
        #expect(bytes == VNNLibParser.estimatedBytes(disjuncts: Double(1 << 21), atoms: Double(21 << 21),
                                                     outputConstraints: Double(21 << 21), tighteningDisjuncts: 0, inputs: 1))
        #expect(bytes > Double(budget))
        let message = try #require(e.errorDescription)
        for phrase in ["bad.vnnlib:25:9:", "2097152 disjuncts", "GiB as parsed", "budget of 1 GiB", "--max-memory"] {
            #expect(message.contains(phrase), "\(message)")
        }
        // A smaller budget: 2^11 disjuncts of 11 constraints fit in 1 MiB, 2^12 do not (line 16).
        func parse(_ doublings: Int) throws -> Property {
            try VNNLibParser.parse(text: Self.header + bounds + String(repeating: doubling, count: doublings),
                                   source: "bad.vnnlib", memoryBudget: 1 << 20)
        }
        #expect(try parse(11).outputClauseCount == 2048)
        #expect(throws: VNNLibError.dnfTooLarge(disjuncts: 4096, estimatedBytes: VNNLibParser.estimatedBytes(
            disjuncts: 4096, atoms: 12 * 4096, outputConstraints: 12 * 4096, tighteningDisjuncts: 0, inputs: 1),
                                                budget: 1 << 20, location: at(16, 9))) { try parse(12) }
    }

    @Test func disjunctiveNormalFormBlowUpInsideADisjunct() throws {
        // A product inside one alternative of an `or`: the error names the factor of that
        // alternative at which its running product passes the budget (the 12th, as above).
        let bounds = "(assert (>= X_0 0))\n(assert (<= X_0 1))\n"
        let inner = String(repeating: " (or (<= Y_0 0) (<= Y_0 1))", count: 14)
        let text = Self.header + bounds + "(assert (or (<= Y_0 2)\n (and" + inner + ")))\n"
        do {
            _ = try VNNLibParser.parse(text: text, source: "bad.vnnlib", memoryBudget: 1 << 20)
            Issue.record("expected an error")
        } catch let error as VNNLibError {
            guard case let .dnfTooLarge(disjuncts, _, _, location) = error else { Issue.record("\(error)"); return }
            #expect(disjuncts == 1 + 16384 && location == at(6, 7 + 27 * 11))
        }
    }

    @Test func hugeCountsSaturate() throws {
        // 200 doublings: 2^200 disjuncts, counted in floating point, refused at once.
        let bounds = "(assert (>= X_0 0))\n(assert (<= X_0 1))\n"
        let e = try #require(error(Self.header + bounds + String(repeating: "(assert (or (<= Y_0 0) (<= Y_0 1)))\n", count: 200)))
        guard case let .dnfTooLarge(disjuncts, bytes, _, location) = e else { Issue.record("\(e)"); return }
        #expect(disjuncts == 0x1p200 && bytes > 1e60 && location == at(25, 9))
        #expect(e.errorDescription?.contains("1.61e+60 disjuncts") == true, "\(e.errorDescription ?? "")")
    }

    @Test func unreadableFile() throws {
        do {
            _ = try VNNLibParser.parse(path: "/nonexistent/property.vnnlib")
            Issue.record("expected an error")
        } catch let error as VNNLibError {
            guard case let .unreadableFile(path, _) = error else { Issue.record("\(error)"); return }
            #expect(path == "/nonexistent/property.vnnlib" && error.location == nil)
            #expect(error.errorDescription?.hasPrefix("/nonexistent/property.vnnlib: cannot read") == true)
        }
    }

    @Test func everyMessageStartsWithTheLocation() throws {
        for text in [Self.header + "(assert (<= X_7 1))", "(declare-const X_0 Int)", Self.header + "(assert (<= X_0 Y_0))"] {
            let e = try #require(error(text))
            let location = try #require(e.location)
            #expect(e.errorDescription?.hasPrefix("\(location): ") == true)
            #expect(location.line > 0 && location.column > 0)
        }
    }
}
