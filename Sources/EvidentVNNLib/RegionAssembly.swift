// From the parsed assertions to a Property: disjunctive normal form, input
// boxes, grouping of disjuncts by box, and the checks on the result.

extension Parser {
    func mark(of formula: Formula) -> Mark {
        switch formula {
        case .atom(let index): return atomMarks[Int(index)]
        case .and(_, let mark), .or(_, let mark): return mark
        }
    }

    func normalize(_ formula: Formula) throws -> NormalForm {
        switch formula {
        case .atom(let index):
            return NormalForm(common: [index], disjuncts: [[]])
        case .and(let operands, _):
            return try normalizeConjunction(operands)
        case .or(let operands, _):
            var disjuncts: [[Int32]] = []
            var copies = 0
            for operand in operands {
                let form = try normalize(operand)
                guard disjuncts.count + form.disjuncts.count <= VNNLibParser.disjunctLimit else {
                    throw VNNLibError.dnfTooLarge(limit: VNNLibParser.disjunctLimit, location: location(mark(of: operand)))
                }
                for disjunct in form.disjuncts {
                    copies += form.common.count + disjunct.count
                    guard copies <= VNNLibParser.atomCopyLimit else {
                        throw VNNLibError.dnfTooLarge(limit: VNNLibParser.disjunctLimit, location: location(mark(of: operand)))
                    }
                    disjuncts.append(form.common + disjunct)
                }
            }
            return NormalForm(common: [], disjuncts: disjuncts)
        }
    }

    func normalizeConjunction(_ operands: [Formula]) throws -> NormalForm {
        var result = NormalForm(common: [], disjuncts: [[]])
        for operand in operands {
            let form = try normalize(operand)
            result.common += form.common
            if form.disjuncts.count == 1 {
                let only = form.disjuncts[0]
                if !only.isEmpty {
                    for k in result.disjuncts.indices { result.disjuncts[k] += only }
                }
                continue
            }
            let (count, overflow) = result.disjuncts.count.multipliedReportingOverflow(by: form.disjuncts.count)
            guard !overflow, count <= VNNLibParser.disjunctLimit else {
                throw VNNLibError.dnfTooLarge(limit: VNNLibParser.disjunctLimit, location: location(mark(of: operand)))
            }
            var product: [[Int32]] = []
            product.reserveCapacity(count)
            var copies = 0
            for left in result.disjuncts {
                for right in form.disjuncts {
                    copies += left.count + right.count
                    guard copies <= VNNLibParser.atomCopyLimit else {
                        throw VNNLibError.dnfTooLarge(limit: VNNLibParser.disjunctLimit, location: location(mark(of: operand)))
                    }
                    product.append(left + right)
                }
            }
            result.disjuncts = product
        }
        return result
    }

    /// Tightens a box with an input atom; throws when the box becomes empty.
    func apply(_ atomIndex: Int32, lower: inout [Double], upper: inout [Double]) throws {
        switch atoms[Int(atomIndex)] {
        case let .inputLower(i, value):
            if value > lower[i] {
                lower[i] = value
                if value > upper[i] {
                    throw VNNLibError.emptyInputBox(variable: "X_\(i)", lower: value, upper: upper[i],
                                                    location: location(atomMarks[Int(atomIndex)]))
                }
            }
        case let .inputUpper(i, value):
            if value < upper[i] {
                upper[i] = value
                if lower[i] > value {
                    throw VNNLibError.emptyInputBox(variable: "X_\(i)", lower: lower[i], upper: value,
                                                    location: location(atomMarks[Int(atomIndex)]))
                }
            }
        case .output:
            break
        }
    }

    func isOutputAtom(_ atomIndex: Int32) -> Bool {
        if case .output = atoms[Int(atomIndex)] { return true }
        return false
    }

    func outputConstraint(_ atomIndex: Int32) -> LinearConstraint? {
        if case .output(let constraint) = atoms[Int(atomIndex)] { return constraint }
        return nil
    }

    struct BoxKey: Hashable {
        var lower: [Double]
        var upper: [Double]
    }

    func assemble() throws -> Property {
        // Declarations must cover 0..<count without gaps.
        for (table, isOutput) in [(inputDeclarations, false), (outputDeclarations, true)] {
            if let gap = table.firstIndex(where: { $0.line == 0 }) {
                let above = table[(gap + 1)...].first { $0.line != 0 } ?? Mark(line: 1, column: 1)
                throw VNNLibError.missingDeclaration(name: VariableRef(isOutput: isOutput, index: gap).name,
                                                     location: location(above))
            }
        }
        let inputCount = inputDeclarations.count
        let form = try normalizeConjunction(assertions)

        // The box and output atoms shared by every disjunct.
        var commonLower = [Double](repeating: -.infinity, count: inputCount)
        var commonUpper = [Double](repeating: .infinity, count: inputCount)
        var commonOutputs: [Int32] = []
        for atom in form.common {
            if isOutputAtom(atom) {
                commonOutputs.append(atom)
            } else {
                try apply(atom, lower: &commonLower, upper: &commonUpper)
            }
        }
        // Disjuncts only tighten the common box, so only these inputs can be unbounded.
        let commonUnbounded = (0..<inputCount).filter { !commonLower[$0].isFinite || !commonUpper[$0].isFinite }

        var regions: [InputRegion] = []
        var regionOfBox: [BoxKey: Int] = [:]
        var commonRegion: Int?
        let several = form.disjuncts.count > 1
        for var disjunct in form.disjuncts {
            disjunct.sort()
            var lower = commonLower, upper = commonUpper
            var outputs: [Int32] = []
            var tightensBox = false
            for atom in disjunct {
                if isOutputAtom(atom) {
                    outputs.append(atom)
                } else {
                    tightensBox = true
                    try apply(atom, lower: &lower, upper: &upper)
                }
            }
            for i in commonUnbounded {
                let side: VNNLibError.BoundSide
                if !lower[i].isFinite { side = .lower } else if !upper[i].isFinite { side = .upper } else { continue }
                throw VNNLibError.unboundedInput(
                    variable: "X_\(i)", missing: side,
                    regionStart: several ? disjunct.first.map { location(atomMarks[Int($0)]) } : nil,
                    location: location(inputDeclarations[i]))
            }
            // Output constraints in file order: merge the common ones with this disjunct's.
            var constraints: [LinearConstraint] = []
            constraints.reserveCapacity(commonOutputs.count + outputs.count)
            var p = 0, q = 0
            while p < commonOutputs.count || q < outputs.count {
                let next: Int32
                if q == outputs.count || (p < commonOutputs.count && commonOutputs[p] < outputs[q]) {
                    next = commonOutputs[p]
                    p += 1
                } else {
                    next = outputs[q]
                    q += 1
                }
                if let constraint = outputConstraint(next) { constraints.append(constraint) }
            }
            let clause = OutputClause(constraints: constraints)

            let regionIndex: Int
            if !tightensBox, let known = commonRegion {
                regionIndex = known
            } else {
                let key = BoxKey(lower: lower, upper: upper)
                if let known = regionOfBox[key] {
                    regionIndex = known
                } else {
                    regionIndex = regions.count
                    regions.append(InputRegion(lower: lower, upper: upper, clauses: []))
                    regionOfBox[key] = regionIndex
                }
                if !tightensBox { commonRegion = regionIndex }
            }
            regions[regionIndex].clauses.append(clause)
        }
        return Property(inputCount: inputCount, outputCount: outputDeclarations.count, regions: regions, source: source,
                        inputDeclarations: inputDeclarations.map(location),
                        outputDeclarations: outputDeclarations.map(location))
    }
}
