/// Lower bounds from row multipliers (Neumaier and Shcherbina, "Safe bounds in linear and
/// mixed-integer linear programming", Math. Programming 99, 2004), and certificates of
/// infeasibility found with an elastic LP.
///
/// For the program `min cᵀx + c₀` subject to `lo ≤ A x ≤ hi`, `l ≤ x ≤ u`, and ANY vector
/// `y` (one multiplier per row), every feasible `x` satisfies
///
///     cᵀx + c₀ ≥ c₀ + Σ_i min(y_i lo_i, y_i hi_i) + Σ_j min(r_j l_j, r_j u_j),   r = c − Aᵀy,
///
/// because `cᵀx = yᵀ(A x) + rᵀx` and each term is bounded over its interval. A term with
/// `y_i = 0` (or `r_j = 0`) counts 0 even against an infinite side; a non-zero multiplier
/// against an infinite side makes the bound `−∞`. With `c = 0` a positive right-hand side
/// proves that no `x` is feasible (a Farkas certificate).
///
/// For a minimisation, GLPK's row duals (``LPSolution/rowDuals``) are multipliers in exactly
/// this convention: a row at its lower bound has a dual `≥ 0`, at its upper bound `≤ 0`.
extension LinearProgram {
    /// The right-hand side above for multipliers `y`, evaluated in plain binary64
    /// round-to-nearest arithmetic (no directed rounding, no error charge).
    ///
    /// In real arithmetic the value is a lower bound of `cᵀx + c₀` over the feasible set,
    /// whatever the program's ``sense``; the floating-point number returned can exceed that
    /// real value by the rounding of the sums (relative ~1e-16 per term). It is a check for
    /// the verifier's own use, not a sound bound: the certificate checker recomputes it with
    /// sound arithmetic.
    ///
    /// - Parameters:
    ///   - y: one multiplier per row (non-finite entries give NaN or `−∞`).
    ///   - objective: `c`, one coefficient per column; `nil` uses the program's own
    ///     ``objective`` and ``objectiveConstant``; a given vector comes with `c₀ = 0`.
    /// - Throws: ``LPError/multiplierCount(expected:got:)`` when `y` or `objective` has the
    ///   wrong length.
    public func dualBound(y: [Double], objective c: [Double]? = nil) throws -> Double {
        guard y.count == rowCount else { throw LPError.multiplierCount(expected: rowCount, got: y.count) }
        if let c, c.count != columnCount { throw LPError.multiplierCount(expected: columnCount, got: c.count) }
        var r = c ?? objective
        var total = c == nil ? objectiveConstant : 0
        for i in 0..<rowCount where y[i] != 0 {
            let side = y[i] > 0 ? rowBounds[i].lower : rowBounds[i].upper
            guard side.isFinite else { return -.infinity }
            total += y[i] * side
            for (column, a) in zip(rowColumns[i], rowCoefficients[i]) { r[column] -= a * y[i] }
        }
        for j in 0..<columnCount where r[j] != 0 {
            let side = r[j] > 0 ? columnBounds[j].lower : columnBounds[j].upper
            guard side.isFinite else { return -.infinity }
            total += r[j] * side
        }
        return total
    }

    /// `y` with every multiplier of the wrong sign for an infinite row side set to 0 (rows
    /// with `hi = ∞` keep only `y ≥ 0`, rows with `lo = −∞` only `y ≤ 0`, free rows 0), and
    /// non-finite entries set to 0. Any `y` gives a valid bound, so this only removes the
    /// `−∞` that GLPK's tolerance-sized wrong-sign duals (say −1e-17) would cause.
    /// Precondition: `y.count == rowCount`.
    public func signFeasible(_ y: [Double]) -> [Double] {
        precondition(y.count == rowCount, "signFeasible: one multiplier per row")
        return y.enumerated().map { i, value in
            guard value.isFinite else { return 0 }
            if value > 0 && !rowBounds[i].lower.isFinite { return 0 }
            if value < 0 && !rowBounds[i].upper.isFinite { return 0 }
            return value
        }
    }

    /// A certificate that the program has no feasible point, or `nil` when it has one (up to
    /// GLPK's tolerances).
    ///
    /// GLPK hands out no Farkas ray, so this solves the elastic program
    ///
    ///     minimise Σ_i (p_i + n_i)   subject to   lo_i ≤ A_i x + p_i − n_i ≤ hi_i,
    ///                                             l ≤ x ≤ u,  p, n ≥ 0
    ///
    /// (`p_i` only where `lo_i` is finite, `n_i` only where `hi_i` is), which is always
    /// feasible and whose optimum is the least total violation. Its optimal row duals satisfy
    /// `|y_i| ≤ 1` (the dual constraints of the slack columns) and, by strong duality, give the
    /// bound above with `c = 0` equal to that optimum: positive exactly when the original
    /// program is infeasible. The multipliers are made sign-feasible (``signFeasible(_:)``)
    /// and checked with ``dualBound(y:objective:)`` before they are returned.
    ///
    /// - Parameter timeLimit: wall-clock limit of the elastic solve.
    /// - Returns: `nil` when the elastic optimum is at most `1e-9` (the program is feasible up
    ///   to tolerance), else the certificate.
    /// - Throws: ``LPError/noInfeasibilityCertificate(_:)`` when the elastic optimum says
    ///   "infeasible" but the multipliers do not verify (a bound ≤ 0, for instance through a
    ///   reduced cost against an infinite column bound), and what ``solve(method:timeLimit:iterationLimit:warmStart:)`` throws.
    public func farkasCertificate(timeLimit: Duration? = nil) throws -> FarkasCertificate? {
        var elastic = self
        elastic.sense = .minimise
        for j in 0..<columnCount where elastic.objective[j] != 0 { try elastic.setObjective(column: j, coefficient: 0) }
        try elastic.setObjectiveConstant(0)
        elastic.integerColumns = []
        for i in 0..<rowCount {
            if rowBounds[i].lower.isFinite {
                let p = try elastic.addColumn(bounds: .lower(0), objective: 1)
                elastic.appendToRow(i, column: p, coefficient: 1)
            }
            if rowBounds[i].upper.isFinite {
                let n = try elastic.addColumn(bounds: .lower(0), objective: 1)
                elastic.appendToRow(i, column: n, coefficient: -1)
            }
        }
        let solution = try elastic.solve(method: .robust, timeLimit: timeLimit)
        switch solution.status {
        case .optimal: break
        case .timeLimitReached, .iterationLimitReached:
            throw LPError.noInfeasibilityCertificate("the elastic program was not solved within the limits")
        default:
            // The elastic program is feasible and bounded below by 0: anything else is a failure.
            throw LPError.noInfeasibilityCertificate("the elastic program ended as \(solution.status)")
        }
        if solution.objectiveValue <= 1e-9 { return nil }
        let y = signFeasible(solution.rowDuals)
        let bound = try dualBound(y: y, objective: [Double](repeating: 0, count: columnCount))
        guard bound > 0 else {
            throw LPError.noInfeasibilityCertificate("the elastic optimum is \(solution.objectiveValue), but its "
                                                     + "multipliers only bound 0 ≥ \(bound)")
        }
        return FarkasCertificate(multipliers: y, bound: bound, violation: solution.objectiveValue)
    }

    /// Appends `coefficient · x[column]` to row `row` (a column added after the row; no
    /// duplicate possible). Internal: used to build derived programs.
    mutating func appendToRow(_ row: Int, column: Int, coefficient: Double) {
        rowColumns[row].append(column)
        rowCoefficients[row].append(coefficient)
        nonzeroCount += 1
    }
}

/// Row multipliers `y` proving that a program has no feasible point: with `c = 0`,
/// `Σ_i min(y_i lo_i, y_i hi_i) + Σ_j min(r_j l_j, r_j u_j) > 0` for `r = −Aᵀy`, while every
/// feasible point would make the left side `≤ 0`.
public struct FarkasCertificate: Sendable, Equatable {
    /// One multiplier per row of the program, sign-feasible, `|y_i| ≤ 1` up to GLPK's tolerance.
    public var multipliers: [Double]
    /// The bound of ``LinearProgram/dualBound(y:objective:)`` with `c = 0` (positive), in plain
    /// floating point.
    public var bound: Double
    /// The elastic program's optimum: the least total violation of the rows.
    public var violation: Double
}
