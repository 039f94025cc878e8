import CGLPK
import Foundation

extension LinearProgram {
    /// Solves the program with its ``integerColumns`` required to be whole numbers, by GLPK's
    /// branch and cut (`glp_intopt`, with its MIP presolver, which also solves the LP
    /// relaxation; terminal output off).
    ///
    /// Numbers are GLPK's floating-point ones, up to its tolerances (integrality 1e-5,
    /// feasibility 1e-7): the incumbent satisfies the rows and bounds up to those tolerances,
    /// and ``MILPSolution/bestBound`` is a bound on the optimum in that same sense, not a sound
    /// one.
    ///
    /// - Parameters:
    ///   - timeLimit: wall-clock limit (positive; rounded up to whole milliseconds). `nil`: none.
    ///   - relativeGap: stop once `|incumbent − bound| / (|incumbent| + ε) ≤ relativeGap`
    ///     (GLPK's `mip_gap`; 0 searches to optimality).
    ///   - cuts: add GLPK's MIR, cover and clique cuts.
    ///   - feasibilityPump: run GLPK's feasibility pump heuristic for an early incumbent.
    /// - Throws: ``LPError/invalidLimit(_:)``, ``LPError/fractionalIntegerBounds(column:lower:upper:)``
    ///   (GLPK refuses integer columns with fractional bounds), ``LPError/solverFailed(code:detail:)``.
    public func solveInteger(timeLimit: Duration? = nil, relativeGap: Double = 0, cuts: Bool = false,
                             feasibilityPump: Bool = false) throws -> MILPSolution {
        let limits = try SolveLimits(timeLimit: timeLimit, iterationLimit: nil)
        guard relativeGap >= 0, relativeGap.isFinite else {
            throw LPError.invalidLimit("relative gap \(relativeGap) is not a non-negative number")
        }
        for column in integerColumns.sorted() {
            let b = columnBounds[column]
            for side in [b.lower, b.upper] where side.isFinite && side != side.rounded() {
                throw LPError.fractionalIntegerBounds(column: column, lower: b.lower, upper: b.upper)
            }
        }
        let start = ContinuousClock.now
        let minimise = sense == .minimise
        func elapsed() -> Double {
            let (s, a) = (ContinuousClock.now - start).components
            return Double(s) + Double(a) / 1e18
        }
        // GLPK's presolver has nothing to work on without columns; the answer is the constant.
        guard columnCount > 0 else {
            let feasible = rowBounds.allSatisfy { $0.lower <= 0 && 0 <= $0.upper }
            return MILPSolution(status: feasible ? .optimal : .infeasible,
                                incumbent: feasible ? MILPIncumbent(objectiveValue: objectiveConstant, columnValues: [],
                                                                    rowValues: [Double](repeating: 0, count: rowCount)) : nil,
                                bestBound: feasible ? objectiveConstant : (minimise ? .infinity : -.infinity),
                                seconds: elapsed())
        }
        let problem = makeProblem()
        let run = problem.branchAndCut(timeLimitMilliseconds: limits.remainingMilliseconds ?? 1,
                                       relativeGap: relativeGap, cuts: cuts, feasibilityPump: feasibilityPump,
                                       maximise: !minimise)
        let mipStatus = problem.integerStatus
        var incumbent: MILPIncumbent?
        if mipStatus == GLP_OPT || mipStatus == GLP_FEAS {
            incumbent = MILPIncumbent(objectiveValue: problem.integerObjectiveValue,
                                      columnValues: (0..<columnCount).map(problem.integerColumnValue),
                                      rowValues: (0..<rowCount).map(problem.integerRowValue))
        }
        let unknown = minimise ? -Double.infinity : .infinity
        /// The tighter of the search's bound and the incumbent (the optimum lies between them).
        func searchBound() -> Double {
            var bound = run.bestBound ?? unknown
            if let value = incumbent?.objectiveValue { bound = minimise ? Swift.min(bound, value) : Swift.max(bound, value) }
            return bound
        }
        let status: MILPStatus
        var bestBound: Double
        switch run.code {
        case 0:
            switch mipStatus {
            case GLP_OPT:
                status = .optimal
                bestBound = incumbent?.objectiveValue ?? unknown
            case GLP_NOFEAS:
                status = .infeasible
                bestBound = -unknown
            default:
                throw LPError.solverFailed(code: 0, detail: "branch and cut ended without a conclusion (status \(mipStatus))")
            }
        case GLP_ENOPFS:
            status = .infeasible
            bestBound = -unknown
        case GLP_ENODFS:
            status = .unboundedRelaxation
            bestBound = unknown
        case GLP_EMIPGAP:
            status = .gapLimitReached
            bestBound = searchBound()
        case GLP_ETMLIM:
            status = incumbent == nil ? .noFeasibleFound : .timeLimitReached
            bestBound = searchBound()
        default:
            throw LPError.solverFailed(code: Int(run.code), detail: Self.describe(code: run.code))
        }
        return MILPSolution(status: status, incumbent: incumbent, bestBound: bestBound, seconds: elapsed())
    }
}

/// How a branch-and-cut solve ended.
public enum MILPStatus: Sendable, Equatable {
    /// The incumbent is optimal (within GLPK's tolerances).
    case optimal
    /// No integer-feasible point exists (proven by the search or the presolver).
    case infeasible
    /// The LP relaxation is unbounded (the program is unbounded or infeasible).
    case unboundedRelaxation
    /// Stopped because the incumbent is within the requested relative gap of the bound.
    case gapLimitReached
    /// Stopped at the time limit; an incumbent was found (it may not be optimal).
    case timeLimitReached
    /// Stopped at the time limit before any integer-feasible point was found (feasibility
    /// unknown).
    case noFeasibleFound
}

/// An integer-feasible point found by branch and cut.
public struct MILPIncumbent: Sendable, Equatable {
    /// `cᵀx + c₀` at the point.
    public var objectiveValue: Double
    /// The value of each column.
    public var columnValues: [Double]
    /// The value `Σ_j A_ij x_j` of each row.
    public var rowValues: [Double]
}

/// The result of ``LinearProgram/solveInteger(timeLimit:relativeGap:cuts:feasibilityPump:)``.
public struct MILPSolution: Sendable, Equatable {
    public var status: MILPStatus
    /// The best integer-feasible point found, if any.
    public var incumbent: MILPIncumbent?
    /// A bound on the optimum (a lower bound when minimising, an upper bound when
    /// maximising), up to GLPK's tolerances: the incumbent's value when optimal; otherwise the
    /// best local bound over the unexplored nodes when the search stopped (kept no looser
    /// than the incumbent). `+∞` (minimising) or `−∞` (maximising) when infeasible; the
    /// opposite infinity when nothing is known (unbounded relaxation, or stopped before the
    /// root LP was solved).
    public var bestBound: Double
    /// Wall-clock seconds of the solve.
    public var seconds: Double
}
