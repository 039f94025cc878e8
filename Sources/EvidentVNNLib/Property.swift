// The parsed form of a VNN-LIB property: input boxes, each with the output
// conditions (in disjunctive normal form) that describe the UNSAFE set.
//
// VNN-LIB (https://www.vnnlib.org) writes a property as SMT-LIB assertions
// over inputs `X_i` and outputs `Y_j`; the conjunction of all assertions is
// the set of counterexamples. `VNNLibParser` turns that conjunction into
// disjunctive normal form and groups the disjuncts by their input box, giving
// the shape every verifier consumes:
//
//     unsafe(x, y)  ⇔  ∃ region r:  x ∈ r.box  ∧  ∃ clause c ∈ r.clauses:  ∀ constraint k ∈ c:  k(y)
//
// The property HOLDS when no input of any region maps to an output satisfying
// one of that region's clauses ("unsat" in VNN-COMP terms); an input and its
// output satisfying the formula is a counterexample ("sat").

import EvidentSoundArithmetic

/// A position in a VNN-LIB source: file (or source name), line and column.
///
/// Lines and columns are 1-based; columns count UTF-8 bytes (VNN-LIB files
/// are ASCII in practice, so this is the usual character column, with a tab
/// counting as one). Line and column 0 mean "unknown", which only happens for
/// properties built in code rather than parsed.
public struct VNNLibLocation: Hashable, Sendable, CustomStringConvertible {
    /// The file path given to ``VNNLibParser/parse(path:)``, or the source name given to ``VNNLibParser/parse(text:source:)``.
    public var file: String
    /// 1-based line number (0 when unknown).
    public var line: Int
    /// 1-based column in UTF-8 bytes (0 when unknown).
    public var column: Int

    /// Creates a location.
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`, the form compilers use, so editors can jump to it.
    public var description: String { "\(file):\(line):\(column)" }
}

/// One linear constraint over the network's outputs: `Σ coefficient · Y[output] ≤ bound`.
///
/// Every comparison of the file becomes this form: `(>= Y_0 Y_2)` is
/// `Y_2 - Y_0 ≤ 0`, `(<= Y_1 3.5)` is `Y_1 ≤ 3.5`, `(>= Y_1 3.5)` is
/// `-Y_1 ≤ -3.5`. Strict comparisons (`<`, `>`) are read as their closures
/// (`≤`, `≥`); see ``VNNLibParser``.
///
/// ## Rounding of the threshold
/// The file's threshold `t` is a real number (a decimal, or constants combined by exact
/// arithmetic), usually not a double. The constraint holds two doubles around it:
/// ``bound`` `≥ t` (rounded up, so the unsafe set `{y : Σ c·y ≤ bound}` contains the
/// file's: proofs that no output reaches it are proofs about the file) and ``innerBound``
/// `≤ t` (rounded down, so outputs with `Σ c·y ≤ innerBound` satisfy the file's constraint:
/// witnesses checked against it are witnesses of the file). When `t` is exactly a double
/// both are `t`. The coefficients are exact: the parser rejects a coefficient that is not
/// exactly a double.
///
/// Terms are sorted by output index, each output appears at most once and no
/// coefficient is zero.
public struct LinearConstraint: Hashable, Sendable {
    /// One term `coefficient · Y[output]`.
    public struct Term: Hashable, Sendable {
        /// Index `j` of the output `Y_j` (flattened, row-major).
        public var output: Int
        /// The coefficient (never zero in parsed properties).
        public var coefficient: Double

        /// Creates a term `coefficient · Y[output]`.
        public init(output: Int, coefficient: Double) {
            self.output = output
            self.coefficient = coefficient
        }
    }

    /// The terms of the left-hand side, sorted by ``Term/output``.
    public var terms: [Term]
    /// The right-hand side rounded UP: at least the file's exact threshold, so the unsafe
    /// set only grows. Used by every proof.
    public var bound: Double
    /// The right-hand side rounded DOWN: at most the file's exact threshold, so outputs
    /// satisfying `Σ c·y ≤ innerBound` satisfy the file's constraint. Used to certify
    /// counterexamples. Equal to ``bound`` when the threshold is exactly a double.
    public var innerBound: Double

    /// Creates the constraint `Σ terms ≤ bound` with an exact threshold (``innerBound`` equal to `bound`).
    public init(terms: [Term], bound: Double) {
        self.init(terms: terms, bound: bound, innerBound: bound)
    }

    /// Creates a constraint whose exact threshold lies in `[innerBound, bound]`.
    public init(terms: [Term], bound: Double, innerBound: Double) {
        self.terms = terms
        self.bound = bound
        self.innerBound = innerBound
    }

    /// The left-hand side `Σ coefficient · outputs[output]`, evaluated in
    /// floating point (round-to-nearest, in term order; not a sound bound).
    ///
    /// - Precondition: every term's output index is within `outputs`.
    public func value(outputs: [Double]) -> Double {
        var sum = 0.0
        for term in terms { sum += term.coefficient * outputs[term.output] }
        return sum
    }

    /// A number `≥` the exact left-hand side `Σ coefficient · outputs[output]` (each product
    /// and sum rounded upward); `+∞` or NaN when an intermediate is not finite.
    ///
    /// - Precondition: every term's output index is within `outputs`.
    public func valueUpperBound(outputs: [Double]) -> Double {
        var sum = 0.0
        for term in terms {
            sum = roundedSum(sum, roundedProduct(term.coefficient, outputs[term.output], upward: true), upward: true)
        }
        return sum
    }

    /// Whether `outputs` satisfies the outer constraint `Σ c·y ≤ bound`, evaluated in
    /// floating point (see ``value(outputs:)``); a point within rounding of the bound may
    /// go either way.
    public func isSatisfied(by outputs: [Double]) -> Bool {
        value(outputs: outputs) <= bound
    }

    /// Whether `outputs`, taken as exact reals, certainly satisfy the file's constraint:
    /// an upper bound of the exact left-hand side (``valueUpperBound(outputs:)``) is at most
    /// ``innerBound``. No rounding of this check can make it true wrongly; whether `outputs`
    /// are the network's exact outputs is the caller's concern (a floating-point forward
    /// pass is not exact, so a sound witness check needs an enclosure of the outputs).
    public func isCertainlySatisfied(by outputs: [Double]) -> Bool {
        valueUpperBound(outputs: outputs) <= innerBound
    }
}

/// A conjunction of output constraints: one disjunct of the unsafe set.
///
/// A clause with no constraints is `true`: every output is unsafe, so any
/// input of its region is a counterexample (the file asserted only input
/// bounds for that disjunct).
public struct OutputClause: Hashable, Sendable {
    /// The constraints, all of which must hold, in the order of the file.
    public var constraints: [LinearConstraint]

    /// Creates a clause from its constraints.
    public init(constraints: [LinearConstraint]) {
        self.constraints = constraints
    }

    /// Whether `outputs` satisfies every constraint (floating point, see ``LinearConstraint/value(outputs:)``).
    public func isSatisfied(by outputs: [Double]) -> Bool {
        constraints.allSatisfy { $0.isSatisfied(by: outputs) }
    }

    /// Whether `outputs` (taken as exact) certainly satisfy every constraint of the file
    /// (see ``LinearConstraint/isCertainlySatisfied(by:)``).
    public func isCertainlySatisfied(by outputs: [Double]) -> Bool {
        constraints.allSatisfy { $0.isCertainlySatisfied(by: outputs) }
    }
}

/// An axis-aligned input box with the output clauses that are unsafe inside it.
///
/// The unsafe set of the region is `{ x ∈ [lower, upper] : ∃ clause satisfied by f(x) }`.
/// A region with an empty ``clauses`` list has no unsafe point at all (it is
/// trivially safe, "unsat"); the parser never produces one, because every
/// region comes from at least one disjunct of the file, but code that filters
/// clauses may, and consumers must accept it.
///
/// ## Rounding of the box
/// The file's bounds are decimals (or results of exact arithmetic on them), usually not
/// doubles. The region holds two boxes around the file's box `B`:
/// - the OUTER box ``lower``/``upper`` (lower bounds rounded down, upper bounds rounded
///   up) contains `B`: a proof over it is a proof over the file's box. Every proof uses it.
/// - the INNER box ``innerLower``/``innerUpper`` (lower bounds rounded up, upper bounds
///   rounded down) lies inside `B`: a witness inside it is inside the file's box.
/// Each end differs from the exact bound by less than one ulp (by a few ulps where the
/// file combines constants); exact bounds give equal inner and outer ends. Emptiness is
/// judged on the outer box (the parser rejects `lower > upper`); the inner box may be
/// empty (`innerLower[i] > innerUpper[i]`, e.g. for `(= X_0 0.1)`), and then no witness in
/// this region can be certified.
public struct InputRegion: Hashable, Sendable {
    /// Lower bound of each input `X_i`, rounded down (finite in parsed properties).
    public var lower: [Double]
    /// Upper bound of each input `X_i`, rounded up (finite, and `lower[i] ≤ upper[i]`, in parsed properties).
    public var upper: [Double]
    /// Lower bound of each input rounded up: `lower[i] ≤ exact ≤ innerLower[i]`.
    public var innerLower: [Double]
    /// Upper bound of each input rounded down: `innerUpper[i] ≤ exact ≤ upper[i]`.
    public var innerUpper: [Double]
    /// The unsafe output clauses (a disjunction), in the order of the file.
    public var clauses: [OutputClause]

    /// Creates a region whose bounds are exact (the inner box equals the outer one).
    public init(lower: [Double], upper: [Double], clauses: [OutputClause]) {
        self.init(lower: lower, upper: upper, innerLower: lower, innerUpper: upper, clauses: clauses)
    }

    /// Creates a region with an outer box `[lower, upper]` and an inner box `[innerLower, innerUpper]`.
    public init(lower: [Double], upper: [Double], innerLower: [Double], innerUpper: [Double], clauses: [OutputClause]) {
        self.lower = lower
        self.upper = upper
        self.innerLower = innerLower
        self.innerUpper = innerUpper
        self.clauses = clauses
    }

    /// Whether `input` lies in the closed OUTER box (same length required; exact comparisons).
    public func contains(_ input: [Double]) -> Bool {
        Self.box(lower, upper, contains: input)
    }

    /// Whether `input` lies in the closed INNER box, hence in the file's box (same length
    /// required; exact comparisons). False for every input when the inner box is empty.
    public func containsInner(_ input: [Double]) -> Bool {
        Self.box(innerLower, innerUpper, contains: input)
    }

    private static func box(_ lower: [Double], _ upper: [Double], contains input: [Double]) -> Bool {
        guard input.count == lower.count, input.count == upper.count else { return false }
        for i in input.indices where !(lower[i] <= input[i] && input[i] <= upper[i]) { return false }
        return true
    }

    /// Whether `outputs` satisfies at least one clause with the outer thresholds (floating
    /// point, see ``LinearConstraint/value(outputs:)``).
    public func isUnsafe(outputs: [Double]) -> Bool {
        clauses.contains { $0.isSatisfied(by: outputs) }
    }

    /// Whether `outputs` (taken as exact) certainly satisfy one clause of the file, judged
    /// with the inner thresholds and upward-rounded sums (see ``LinearConstraint/isCertainlySatisfied(by:)``).
    public func isCertainlyUnsafe(outputs: [Double]) -> Bool {
        clauses.contains { $0.isCertainlySatisfied(by: outputs) }
    }
}

/// A parsed VNN-LIB property: the input regions and their unsafe output clauses.
///
/// Inputs `X_0 … X_{inputCount-1}` index the network's input flattened in
/// row-major order; outputs `Y_0 … Y_{outputCount-1}` its flattened output.
/// The declared variables are exactly `0..<inputCount` and `0..<outputCount`
/// (the parser rejects gaps).
///
/// Regions appear in the order their first disjunct appears in the file's
/// disjunctive normal form, clauses within a region in file order, so a
/// report that lists one figure per clause follows the file.
public struct Property: Hashable, Sendable {
    /// Number of declared inputs `X_i`; every region's box has this many bounds.
    public var inputCount: Int
    /// Number of declared outputs `Y_j`; every constraint's output indices are below it.
    public var outputCount: Int
    /// The input regions; a point is a counterexample when it lies in some
    /// region's box and its output satisfies one of that region's clauses.
    public var regions: [InputRegion]
    /// The file path or source name the property came from (used in messages).
    public var source: String
    /// Where each `X_i` was declared (index `i`); empty for properties built in code.
    public var inputDeclarations: [VNNLibLocation]
    /// Where each `Y_j` was declared (index `j`); empty for properties built in code.
    public var outputDeclarations: [VNNLibLocation]

    /// Creates a property; the declaration locations are optional and only
    /// improve error messages of ``validate(inputCount:outputCount:)``.
    public init(inputCount: Int, outputCount: Int, regions: [InputRegion], source: String,
                inputDeclarations: [VNNLibLocation] = [], outputDeclarations: [VNNLibLocation] = []) {
        self.inputCount = inputCount
        self.outputCount = outputCount
        self.regions = regions
        self.source = source
        self.inputDeclarations = inputDeclarations
        self.outputDeclarations = outputDeclarations
    }

    /// Total number of output clauses over all regions.
    public var outputClauseCount: Int {
        regions.reduce(0) { $0 + $1.clauses.count }
    }

    /// Whether `input` with the network's `outputs` on it is a counterexample of the
    /// parsed (outer) property: the input lies in some region's outer box and the outputs
    /// satisfy one of its clauses with the outer thresholds. Comparisons are in floating
    /// point (see ``LinearConstraint/value(outputs:)``). Because the outer property is a
    /// superset of the file's, a point accepted here may lie just outside the file's.
    public func isCounterexample(input: [Double], outputs: [Double]) -> Bool {
        regions.contains { $0.contains(input) && $0.isUnsafe(outputs: outputs) }
    }

    /// Whether `input` with `outputs` on it is certainly a counterexample of the file's
    /// property: the input lies in some region's inner box and the outputs, taken as exact
    /// reals, satisfy one of its clauses with the inner thresholds (sums rounded upward, so
    /// the check itself cannot err). The caveat is the outputs: a floating-point forward
    /// pass only approximates the network's exact outputs, so a witness is certain only
    /// when `outputs` are exact or the check is repeated on an enclosure of them.
    public func isCertainCounterexample(input: [Double], outputs: [Double]) -> Bool {
        regions.contains { $0.containsInner(input) && $0.isCertainlyUnsafe(outputs: outputs) }
    }

    /// Checks the property against a network with `inputCount` inputs and `outputCount` outputs.
    ///
    /// The declared inputs must match the network's exactly (fewer would leave
    /// network inputs unbounded, more would name inputs it does not have).
    /// The property may declare fewer outputs than the network has (the others
    /// are unconstrained) but not more. Every box must have `inputCount` bounds
    /// and every constraint must name an output below the network's count
    /// (this matters for properties built in code; parsed ones satisfy it).
    ///
    /// - Throws: ``VNNLibError/inputCountMismatch(declared:network:location:)`` or
    ///   ``VNNLibError/outputCountMismatch(declared:network:location:)``, located at the
    ///   offending declaration where known.
    public func validate(inputCount networkInputs: Int, outputCount networkOutputs: Int) throws {
        let unknown = VNNLibLocation(file: source, line: 0, column: 0)
        if inputCount != networkInputs {
            let location: VNNLibLocation
            if inputCount > networkInputs, networkInputs >= 0, networkInputs < inputDeclarations.count {
                location = inputDeclarations[networkInputs]
            } else {
                location = inputDeclarations.last ?? unknown
            }
            throw VNNLibError.inputCountMismatch(declared: inputCount, network: networkInputs, location: location)
        }
        if outputCount > networkOutputs {
            let location = networkOutputs >= 0 && networkOutputs < outputDeclarations.count
                ? outputDeclarations[networkOutputs] : (outputDeclarations.last ?? unknown)
            throw VNNLibError.outputCountMismatch(declared: outputCount, network: networkOutputs, location: location)
        }
        for region in regions {
            if region.lower.count != networkInputs || region.upper.count != networkInputs {
                throw VNNLibError.inputCountMismatch(declared: max(region.lower.count, region.upper.count),
                                                     network: networkInputs, location: unknown)
            }
            for clause in region.clauses {
                for constraint in clause.constraints {
                    for term in constraint.terms where term.output < 0 || term.output >= networkOutputs {
                        let location = term.output >= 0 && term.output < outputDeclarations.count
                            ? outputDeclarations[term.output] : unknown
                        throw VNNLibError.outputCountMismatch(declared: term.output + 1, network: networkOutputs,
                                                              location: location)
                    }
                }
            }
        }
    }
}
