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

    /// Tightens a box with an input atom; throws when the OUTER box becomes empty (the
    /// inner box may become empty: then no witness in it can be certified).
    func apply(_ atomIndex: Int32, box: inout Box) throws {
        switch atoms[Int(atomIndex)] {
        case let .inputLower(i, outer, inner):
            // Several lower bounds intersect: the exact bound is their maximum, so the
            // maximum of the outer ends stays below it and that of the inner ends above.
            box.innerLower[i] = Swift.max(box.innerLower[i], inner)
            if outer > box.lower[i] {
                box.lower[i] = outer
                if outer > box.upper[i] {
                    throw VNNLibError.emptyInputBox(variable: "X_\(i)", lower: outer, upper: box.upper[i],
                                                    location: location(atomMarks[Int(atomIndex)]))
                }
            }
        case let .inputUpper(i, outer, inner):
            box.innerUpper[i] = Swift.min(box.innerUpper[i], inner)
            if outer < box.upper[i] {
                box.upper[i] = outer
                if box.lower[i] > outer {
                    throw VNNLibError.emptyInputBox(variable: "X_\(i)", lower: box.lower[i], upper: outer,
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

    /// The outer and inner boxes of a region under construction (also the key that
    /// groups disjuncts: regions with the same outer but different inner boxes stay apart).
    struct Box: Hashable {
        var lower: [Double]
        var upper: [Double]
        var innerLower: [Double]
        var innerUpper: [Double]

        init(unboundedCount count: Int) {
            lower = [Double](repeating: -.infinity, count: count)
            upper = [Double](repeating: .infinity, count: count)
            innerLower = lower
            innerUpper = upper
        }
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
        var common = Box(unboundedCount: inputCount)
        var commonOutputs: [Int32] = []
        for atom in form.common {
            if isOutputAtom(atom) {
                commonOutputs.append(atom)
            } else {
                try apply(atom, box: &common)
            }
        }
        // Disjuncts only tighten the common box, so only these inputs can be unbounded.
        let commonUnbounded = (0..<inputCount).filter { !common.lower[$0].isFinite || !common.upper[$0].isFinite }

        var regions: [InputRegion] = []
        var regionOfBox: [Box: Int] = [:]
        var commonRegion: Int?
        let several = form.disjuncts.count > 1
        for var disjunct in form.disjuncts {
            disjunct.sort()
            var box = common
            var outputs: [Int32] = []
            var tightensBox = false
            for atom in disjunct {
                if isOutputAtom(atom) {
                    outputs.append(atom)
                } else {
                    tightensBox = true
                    try apply(atom, box: &box)
                }
            }
            for i in commonUnbounded {
                let side: VNNLibError.BoundSide
                if !box.lower[i].isFinite { side = .lower } else if !box.upper[i].isFinite { side = .upper } else { continue }
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
                if let known = regionOfBox[box] {
                    regionIndex = known
                } else {
                    regionIndex = regions.count
                    regions.append(InputRegion(lower: box.lower, upper: box.upper,
                                               innerLower: box.innerLower, innerUpper: box.innerUpper, clauses: []))
                    regionOfBox[box] = regionIndex
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
