// From the parsed assertions to a Property: the conjunction of the assertions as a tree of
// conjunctions and disjunctions, an estimate of the memory its disjunctive normal form takes,
// then the disjuncts streamed one at a time into input boxes and output clauses (grouped by
// box), with the checks on the result.
//
// The disjunctive normal form itself is never stored: each disjunct is enumerated, turned
// into its clause (and box) and dropped, so the memory a property takes is that of the
// resulting ``Property`` (which the estimate bounds before anything is enumerated), not of
// the expanded formula.

/// A conjunction `atoms ∧ factor_1 ∧ … ∧ factor_n`, each factor a disjunction of conjunctions:
/// the parsed formula with nested `and`s flattened into their parent and nested `or`s into
/// theirs, so that every factor has at least two alternatives.
struct Conjunction {
    var atoms: [Int32] = []
    var factors: [Disjunction] = []
}

/// A disjunction of conjunctions (an `or` of the file, nested `or`s flattened into it).
struct Disjunction {
    var alternatives: [Conjunction]
    /// Where each alternative starts in the file (an atom's comparison or an `(and`).
    var marks: [Mark]
    /// The `(or` itself.
    var mark: Mark
}

/// The size of a formula's disjunctive normal form, counted without building it. Counts are
/// `Double` so that products of hostile sizes saturate at infinity instead of overflowing.
struct Expansion {
    /// Number of disjuncts.
    var disjuncts: Double
    /// Atom occurrences over all disjuncts (input bounds and output constraints).
    var atoms: Double
    /// Output-constraint occurrences over all disjuncts (they become the clauses' constraints).
    var outputAtoms: Double
    /// Disjuncts with no input bound (they share the region of the common box).
    var untightened: Double

    static let one = Expansion(disjuncts: 1, atoms: 0, outputAtoms: 0, untightened: 1)
    static let zero = Expansion(disjuncts: 0, atoms: 0, outputAtoms: 0, untightened: 0)

    /// The expansion of a conjunction of two formulas: every pair of disjuncts.
    static func * (a: Expansion, b: Expansion) -> Expansion {
        Expansion(disjuncts: a.disjuncts * b.disjuncts,
                  atoms: a.atoms * b.disjuncts + b.atoms * a.disjuncts,
                  outputAtoms: a.outputAtoms * b.disjuncts + b.outputAtoms * a.disjuncts,
                  untightened: a.untightened * b.untightened)
    }

    /// The expansion of a disjunction of two formulas: the disjuncts of both.
    static func + (a: Expansion, b: Expansion) -> Expansion {
        Expansion(disjuncts: a.disjuncts + b.disjuncts, atoms: a.atoms + b.atoms,
                  outputAtoms: a.outputAtoms + b.outputAtoms, untightened: a.untightened + b.untightened)
    }

    /// Bytes the expanded form takes with `inputs` input variables: per disjunct its clause
    /// and atom list, per output atom a constraint of that clause, per disjunct with an input
    /// bound a box of its own (an upper bound: disjuncts with equal boxes share one region).
    /// Infinite when a count is.
    func bytes(inputs: Int) -> Double {
        guard disjuncts.isFinite && atoms.isFinite else { return .infinity }
        let tightening = Swift.max(0, disjuncts - untightened)
        return disjuncts * Double(VNNLibParser.clauseBytes) + atoms * Double(VNNLibParser.atomBytes)
            + outputAtoms * Double(VNNLibParser.constraintBytes) + tightening * Double(VNNLibParser.regionBytes(inputs: inputs))
    }
}

extension Parser {
    func mark(of formula: Formula) -> Mark {
        switch formula {
        case .atom(let index): return atomMarks[Int(index)]
        case .and(_, let mark), .or(_, let mark): return mark
        }
    }

    // MARK: The formula as conjunctions and disjunctions

    /// Adds `formula` to the conjunction `conjunction` (recursion depth: the nesting of the
    /// formula, which the parser bounds).
    func add(_ formula: Formula, to conjunction: inout Conjunction) {
        switch formula {
        case .atom(let index):
            // A constraint that reduced to a constant comparison (2.0 tied inputs): true adds
            // nothing, false is a disjunction without alternatives (no disjunct survives).
            if let truth = constantAtoms[index] {
                if !truth { conjunction.factors.append(Disjunction(alternatives: [], marks: [], mark: atomMarks[Int(index)])) }
            } else {
                conjunction.atoms.append(index)
            }
        case .and(let operands, _):
            for operand in operands { add(operand, to: &conjunction) }
        case .or(let operands, let mark):
            var disjunction = Disjunction(alternatives: [], marks: [], mark: mark)
            collectAlternatives(operands, into: &disjunction)
            conjunction.factors.append(disjunction)
        }
    }

    func collectAlternatives(_ operands: [Formula], into disjunction: inout Disjunction) {
        for operand in operands {
            if case .or(let inner, _) = operand {
                collectAlternatives(inner, into: &disjunction)
            } else {
                var alternative = Conjunction()
                add(operand, to: &alternative)
                disjunction.alternatives.append(alternative)
                disjunction.marks.append(mark(of: operand))
            }
        }
    }

    // MARK: Size of the normal form

    /// The expansion of a conjunction's own atoms (one disjunct).
    func expansion(ofAtoms atoms: [Int32]) -> Expansion {
        let outputs = atoms.reduce(0) { $0 + (isOutputAtom($1) ? 1 : 0) }
        return Expansion(disjuncts: 1, atoms: Double(atoms.count), outputAtoms: Double(outputs),
                         untightened: outputs == atoms.count ? 1 : 0)
    }

    func expansion(of conjunction: Conjunction) -> Expansion {
        conjunction.factors.reduce(expansion(ofAtoms: conjunction.atoms)) { $0 * expansion(of: $1) }
    }

    func expansion(of disjunction: Disjunction) -> Expansion {
        disjunction.alternatives.reduce(.zero) { $0 + expansion(of: $1) }
    }

    /// The expansion of the whole property: the root's factors multiplied out, with the
    /// common output constraints merged into every clause (the common input bounds are
    /// applied once, to the box every region starts from, so they cost nothing per disjunct).
    func rootExpansion(_ root: Conjunction) -> Expansion {
        var product = root.factors.reduce(Expansion.one) { $0 * expansion(of: $1) }
        let commonOutputs = Double(root.atoms.filter(isOutputAtom).count)
        product.atoms += commonOutputs * product.disjuncts
        product.outputAtoms += commonOutputs * product.disjuncts
        return product
    }

    /// Throws ``VNNLibError/dnfTooLarge(disjuncts:estimatedBytes:budget:location:)`` when the
    /// expanded property would take more than `budget` bytes, located where the expansion,
    /// multiplied out in file order, first exceeds it.
    func checkSize(of root: Conjunction, inputs: Int, budget: Int) throws {
        let total = rootExpansion(root)
        let bytes = total.bytes(inputs: inputs)
        guard !(bytes <= Double(budget)) else { return }
        let limit = Double(budget)
        func over(_ e: Expansion) -> Bool { !(e.bytes(inputs: inputs) <= limit) }

        // Descend to the first operand at which the running product (in a conjunction) or
        // sum (in a disjunction) passes the budget; stop at one that passes it only together
        // with its predecessors.
        func locate(_ conjunction: Conjunction, base: Expansion, fallback: Mark) -> Mark {
            var running = base
            for factor in conjunction.factors {
                running = running * expansion(of: factor)
                if over(running) {
                    return over(expansion(of: factor)) ? locate(factor) : factor.mark
                }
            }
            return fallback
        }
        func locate(_ disjunction: Disjunction) -> Mark {
            var running = Expansion.zero
            for (alternative, mark) in zip(disjunction.alternatives, disjunction.marks) {
                let own = expansion(of: alternative)
                running = running + own
                if over(running) {
                    return over(own) ? locate(alternative, base: expansion(ofAtoms: alternative.atoms), fallback: mark) : mark
                }
            }
            return disjunction.mark
        }
        let mark = locate(root, base: .one, fallback: root.factors.first?.mark ?? Mark(line: 1, column: 1))
        throw VNNLibError.dnfTooLarge(disjuncts: total.disjuncts, estimatedBytes: bytes, budget: budget, location: location(mark))
    }

    // MARK: Streaming the disjuncts

    /// Calls `body` with the atoms of every disjunct of `atoms ∧ pending…` (the pending
    /// factors taken from the end), in the order of the disjunctive normal form: the first
    /// factor varies slowest, alternatives in file order. `atoms` and `pending` are restored
    /// on return. Recursion goes one level per factor chosen, and a disjunct lies under at
    /// most log2(disjuncts) of them (every factor has two or more alternatives).
    func forEachDisjunct(_ atoms: inout [Int32], _ pending: inout [Disjunction],
                         _ body: ([Int32]) throws -> Void) rethrows {
        guard let factor = pending.popLast() else { return try body(atoms) }
        defer { pending.append(factor) }
        for alternative in factor.alternatives {
            let atomCount = atoms.count
            atoms += alternative.atoms
            pending += alternative.factors.reversed()
            try forEachDisjunct(&atoms, &pending, body)
            pending.removeLast(alternative.factors.count)
            atoms.removeSubrange(atomCount...)
        }
    }

    // MARK: Boxes

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
                    throw VNNLibError.emptyInputBox(variable: inputName(i), lower: outer, upper: box.upper[i],
                                                    location: location(atomMarks[Int(atomIndex)]))
                }
            }
        case let .inputUpper(i, outer, inner):
            box.innerUpper[i] = Swift.min(box.innerUpper[i], inner)
            if outer < box.upper[i] {
                box.upper[i] = outer
                if box.lower[i] > outer {
                    throw VNNLibError.emptyInputBox(variable: inputName(i), lower: box.lower[i], upper: outer,
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

    // MARK: Assembly

    func assemble(memoryBudget: Int) throws -> Property {
        // Declarations must cover 0..<count without gaps.
        for (table, isOutput) in [(inputDeclarations, false), (outputDeclarations, true)] {
            if let gap = table.firstIndex(where: { $0.line == 0 }) {
                let above = table[(gap + 1)...].first { $0.line != 0 } ?? Mark(line: 1, column: 1)
                throw VNNLibError.missingDeclaration(name: VariableRef(isOutput: isOutput, index: gap).name,
                                                     location: location(above))
            }
        }
        let inputCount = inputDeclarations.count
        var root = Conjunction()
        for assertion in assertions { add(assertion, to: &root) }
        try checkSize(of: root, inputs: inputCount, budget: memoryBudget)

        // The box and output atoms shared by every disjunct (kept apart, so that e.g. the
        // 6,144 box bounds of a CIFAR property are applied once, not once per disjunct).
        // An empty box: a 1.0 file is refused (the error names the bounds), a 2.0 query's
        // disjunct is unsatisfiable and dropped (the assertions contradict each other there).
        func isEmptyBoxInQuery(_ error: Error) -> Bool {
            guard query != nil, case VNNLibError.emptyInputBox = error else { return false }
            return true
        }
        var common = Box(unboundedCount: inputCount)
        var commonOutputs: [Int32] = []
        do {
            for atom in root.atoms {
                if isOutputAtom(atom) {
                    commonOutputs.append(atom)
                } else {
                    try apply(atom, box: &common)
                }
            }
        } catch where isEmptyBoxInQuery(error) {
            return Property(inputCount: inputCount, outputCount: outputDeclarations.count, regions: [], source: source,
                            inputDeclarations: inputDeclarations.map(location), outputDeclarations: outputDeclarations.map(location))
        }
        commonOutputs.sort()
        // Disjuncts only tighten the common box, so only these inputs can be unbounded.
        let commonUnbounded = (0..<inputCount).filter { !common.lower[$0].isFinite || !common.upper[$0].isFinite }

        var regions: [InputRegion] = []
        var regionOfBox: [Box: Int] = [:]
        var commonRegion: Int?
        let several = !root.factors.isEmpty
        var disjunct: [Int32] = []
        var outputs: [Int32] = []
        var pending = Array(root.factors.reversed())
        var chosen: [Int32] = []
        try forEachDisjunct(&chosen, &pending) { atoms in
            disjunct.removeAll(keepingCapacity: true)
            disjunct += atoms
            disjunct.sort()
            var box = common
            outputs.removeAll(keepingCapacity: true)
            var tightensBox = false
            do {
                for atom in disjunct {
                    if isOutputAtom(atom) {
                        outputs.append(atom)
                    } else {
                        tightensBox = true
                        try apply(atom, box: &box)
                    }
                }
            } catch where isEmptyBoxInQuery(error) {
                return
            }
            for i in commonUnbounded {
                let side: VNNLibError.BoundSide
                if !box.lower[i].isFinite { side = .lower } else if !box.upper[i].isFinite { side = .upper } else { continue }
                throw VNNLibError.unboundedInput(
                    variable: inputName(i), missing: side,
                    regionStart: several ? disjunct.first.map { location(atomMarks[Int($0)]) } : nil,
                    location: location(inputDeclarations[i]))
            }
            // Output constraints in file order: merge the common ones with this disjunct's.
            // The constraints share their term arrays with the atoms (copy on write).
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
