import CGLPK
import Foundation

/// A linear program over real columns (variables) and sparse rows (constraints), solved with
/// GLPK's simplex method:
///
///     minimise or maximise   cᵀx + c₀
///     subject to             rowLower_i ≤ Σ_j A_ij x_j ≤ rowUpper_i   for every row i
///                            columnLower_j ≤ x_j ≤ columnUpper_j      for every column j
///
/// Rows and columns are numbered from 0 in the order they were added (GLPK's 1-based numbering
/// stays inside the module). Every argument is checked when it is given, so a program that was
/// built without an error is always one GLPK accepts: GLPK aborts the whole process on misuse,
/// and nothing a caller passes can reach that.
///
/// `LinearProgram` is a value: copy it, change a bound, solve again. A GLPK problem object is
/// made, solved and freed inside each ``solve(method:timeLimit:iterationLimit:warmStart:)``
/// call, on the calling thread, because GLPK's memory book-keeping is per thread (see
/// `GLPKProblem`). To keep re-solves cheap, pass the ``LPSolution/basis`` of an earlier
/// solve as `warmStart`: the simplex starts from that basis instead of the slack basis.
public struct LinearProgram: Sendable, Equatable {
    /// Direction of optimisation.
    public enum Sense: Sendable, Equatable {
        case minimise
        case maximise
    }

    /// Largest number of rows, and of columns, GLPK accepts (its `M_MAX` and `N_MAX`).
    public static let maximumSize = 100_000_000
    /// Largest number of stored constraint coefficients GLPK accepts (its `NNZ_MAX`).
    public static let maximumNonzeros = 500_000_000

    /// Whether the objective is minimised or maximised.
    public var sense: Sense
    /// Bounds of each column.
    public private(set) var columnBounds: [LPBounds] = []
    /// Objective coefficient of each column.
    public private(set) var objective: [Double] = []
    /// Constant term of the objective.
    public private(set) var objectiveConstant: Double = 0
    /// Bounds of each row.
    public private(set) var rowBounds: [LPBounds] = []
    /// Column indices of each row's coefficients (no duplicates within a row).
    public private(set) var rowColumns: [[Int]] = []
    /// Coefficients of each row, parallel to ``rowColumns``.
    public private(set) var rowCoefficients: [[Double]] = []
    /// Number of stored coefficients (zeros included).
    public private(set) var nonzeroCount = 0

    /// An empty program (no rows, no columns).
    public init(sense: Sense = .minimise) {
        self.sense = sense
    }

    /// Number of columns (variables).
    public var columnCount: Int { columnBounds.count }
    /// Number of rows (constraints).
    public var rowCount: Int { rowBounds.count }

    // MARK: Columns

    /// Appends a column and returns its index.
    /// - Parameters:
    ///   - bounds: the column's bounds; the default is `x ≥ 0`.
    ///   - objective: its objective coefficient (finite).
    /// - Throws: ``LPError/invalidBounds(item:lower:upper:)``, ``LPError/nonFiniteValue(item:value:)``,
    ///   ``LPError/tooLarge(_:)``.
    @discardableResult
    public mutating func addColumn(bounds: LPBounds = .lower(0), objective coefficient: Double = 0) throws -> Int {
        let column = columnCount
        try bounds.validate(item: "column \(column)")
        try checkFinite(coefficient, item: "objective coefficient of column \(column)")
        guard column < Self.maximumSize else { throw LPError.tooLarge("more than \(Self.maximumSize) columns") }
        columnBounds.append(bounds)
        objective.append(coefficient)
        return column
    }

    /// Appends `count` columns with the same bounds and a zero objective; returns their indices.
    /// - Throws: ``LPError/invalidCount(_:)`` for a negative count, and as ``addColumn(bounds:objective:)``.
    @discardableResult
    public mutating func addColumns(_ count: Int, bounds: LPBounds = .lower(0)) throws -> Range<Int> {
        guard count >= 0 else { throw LPError.invalidCount(count) }
        guard count <= Self.maximumSize - columnCount else { throw LPError.tooLarge("more than \(Self.maximumSize) columns") }
        try bounds.validate(item: "columns \(columnCount)..<\(columnCount + count)")
        let first = columnCount
        columnBounds += repeatElement(bounds, count: count)
        objective += repeatElement(0, count: count)
        return first..<columnCount
    }

    /// Replaces the bounds of `column`.
    /// - Throws: ``LPError/columnOutOfRange(column:columnCount:)``, ``LPError/invalidBounds(item:lower:upper:)``.
    public mutating func setBounds(column: Int, _ bounds: LPBounds) throws {
        try checkColumn(column)
        try bounds.validate(item: "column \(column)")
        columnBounds[column] = bounds
    }

    /// Replaces the objective coefficient of `column`.
    /// - Throws: ``LPError/columnOutOfRange(column:columnCount:)``, ``LPError/nonFiniteValue(item:value:)``.
    public mutating func setObjective(column: Int, coefficient: Double) throws {
        try checkColumn(column)
        try checkFinite(coefficient, item: "objective coefficient of column \(column)")
        objective[column] = coefficient
    }

    /// Replaces the objective's constant term `c₀`.
    /// - Throws: ``LPError/nonFiniteValue(item:value:)``.
    public mutating func setObjectiveConstant(_ constant: Double) throws {
        try checkFinite(constant, item: "objective constant")
        objectiveConstant = constant
    }

    // MARK: Rows

    /// Appends the row `bounds.lower ≤ Σ_k coefficients[k] · x[columns[k]] ≤ bounds.upper` and
    /// returns its index. Zero coefficients are accepted (GLPK does not store them).
    /// - Throws: ``LPError/mismatchedLengths(row:columns:coefficients:)``,
    ///   ``LPError/columnOutOfRange(column:columnCount:)``, ``LPError/duplicateColumn(row:column:)``,
    ///   ``LPError/nonFiniteValue(item:value:)``, ``LPError/invalidBounds(item:lower:upper:)``,
    ///   ``LPError/tooLarge(_:)``.
    @discardableResult
    public mutating func addRow(columns: [Int], coefficients: [Double], bounds: LPBounds) throws -> Int {
        let row = rowCount
        guard columns.count == coefficients.count else {
            throw LPError.mismatchedLengths(row: row, columns: columns.count, coefficients: coefficients.count)
        }
        try bounds.validate(item: "row \(row)")
        guard row < Self.maximumSize else { throw LPError.tooLarge("more than \(Self.maximumSize) rows") }
        guard columns.count <= Self.maximumNonzeros - nonzeroCount else {
            throw LPError.tooLarge("more than \(Self.maximumNonzeros) constraint coefficients")
        }
        var seen = Set<Int>(minimumCapacity: columns.count)
        for (column, coefficient) in zip(columns, coefficients) {
            try checkColumn(column)
            guard seen.insert(column).inserted else { throw LPError.duplicateColumn(row: row, column: column) }
            try checkFinite(coefficient, item: "coefficient of column \(column) in row \(row)")
        }
        rowBounds.append(bounds)
        rowColumns.append(columns)
        rowCoefficients.append(coefficients)
        nonzeroCount += columns.count
        return row
    }

    /// Appends a row given as `(column, coefficient)` terms; see ``addRow(columns:coefficients:bounds:)``.
    @discardableResult
    public mutating func addRow(_ terms: [(column: Int, coefficient: Double)], bounds: LPBounds) throws -> Int {
        try addRow(columns: terms.map(\.column), coefficients: terms.map(\.coefficient), bounds: bounds)
    }

    /// Replaces the bounds of `row`.
    /// - Throws: ``LPError/rowOutOfRange(row:rowCount:)``, ``LPError/invalidBounds(item:lower:upper:)``.
    public mutating func setBounds(row: Int, _ bounds: LPBounds) throws {
        guard row >= 0 && row < rowCount else { throw LPError.rowOutOfRange(row: row, rowCount: rowCount) }
        try bounds.validate(item: "row \(row)")
        rowBounds[row] = bounds
    }

    // MARK: Solving

    /// Solves the program with GLPK's simplex method (presolver off, terminal output off).
    ///
    /// - Parameters:
    ///   - method: ``LPMethod/simplex`` (primal) or ``LPMethod/dualSimplex`` (dual, falling back
    ///     to primal if the dual fails; the better choice after tightening bounds of a solved
    ///     program and passing its basis).
    ///   - timeLimit: wall-clock limit (positive; rounded up to whole milliseconds). `nil`: none.
    ///   - iterationLimit: simplex iteration limit (positive). `nil`: none.
    ///   - warmStart: a basis from an earlier solve of a program with the same numbers of rows and
    ///     columns. If GLPK finds it singular or invalid, the solve restarts from the slack basis.
    /// - Returns: the final basic solution; see ``LPSolution`` for what its numbers mean per status.
    /// - Throws: ``LPError/invalidLimit(_:)``, ``LPError/basisMismatch(expectedRows:expectedColumns:rows:columns:)``,
    ///   ``LPError/solverFailed(code:detail:)`` when GLPK stops without a conclusion (numerical
    ///   failure).
    public func solve(method: LPMethod = .dualSimplex, timeLimit: Duration? = nil, iterationLimit: Int? = nil,
                      warmStart: LPBasis? = nil) throws -> LPSolution {
        var milliseconds = Int32.max
        if let timeLimit {
            guard timeLimit > .zero else { throw LPError.invalidLimit("time limit \(timeLimit) is not positive") }
            let (seconds, attoseconds) = timeLimit.components
            let total = Double(seconds) * 1000 + (Double(attoseconds) / 1e15).rounded(.up)
            milliseconds = total >= Double(Int32.max) ? Int32.max : Int32(total)
        }
        var iterations = Int32.max
        if let iterationLimit {
            guard iterationLimit > 0 else { throw LPError.invalidLimit("iteration limit \(iterationLimit) is not positive") }
            iterations = iterationLimit >= Int(Int32.max) ? Int32.max : Int32(iterationLimit)
        }
        if let warmStart, warmStart.rowStatuses.count != rowCount || warmStart.columnStatuses.count != columnCount {
            throw LPError.basisMismatch(expectedRows: rowCount, expectedColumns: columnCount,
                                        rows: warmStart.rowStatuses.count, columns: warmStart.columnStatuses.count)
        }

        let start = ContinuousClock.now
        let problem = makeProblem()
        if let warmStart {
            for (row, status) in warmStart.rowStatuses.enumerated() { problem.setRowStatus(row, status) }
            for (column, status) in warmStart.columnStatuses.enumerated() { problem.setColumnStatus(column, status) }
        }
        var code = problem.simplex(method: method, timeLimitMilliseconds: milliseconds, iterationLimit: iterations)
        if warmStart != nil && (code == GLP_EBADB || code == GLP_ESING || code == GLP_ECOND) {
            problem.useStandardBasis()
            code = problem.simplex(method: method, timeLimitMilliseconds: milliseconds, iterationLimit: iterations)
        }

        var status: LPStatus
        switch code {
        case 0:
            status = try Self.conclusion(of: problem)
            if status == .infeasibleOrUnbounded && method == .dualSimplex {
                // The dual simplex proved the dual infeasible; the primal simplex, started from
                // the final basis, settles which of the two the primal is.
                // It gets what is left of the time limit.
                let (seconds, attoseconds) = (ContinuousClock.now - start).components
                let elapsed = Double(seconds) * 1000 + Double(attoseconds) / 1e15
                let remaining = milliseconds == Int32.max ? Int32.max : Int32(max(1, Double(milliseconds) - elapsed))
                switch problem.simplex(method: .simplex, timeLimitMilliseconds: remaining, iterationLimit: iterations) {
                case 0: status = try Self.conclusion(of: problem)
                case GLP_ETMLIM: status = .timeLimitReached
                case GLP_EITLIM: status = .iterationLimitReached
                default: break  // keep the dual simplex's answer
                }
            }
        case GLP_ETMLIM:
            status = .timeLimitReached
        case GLP_EITLIM:
            status = .iterationLimitReached
        default:
            throw LPError.solverFailed(code: Int(code), detail: Self.describe(code: code))
        }
        return LPSolution(
            status: status,
            isPrimalFeasible: problem.primalStatus == GLP_FEAS,
            objectiveValue: problem.objectiveValue,
            columnValues: (0..<columnCount).map(problem.columnValue),
            rowValues: (0..<rowCount).map(problem.rowValue),
            rowDuals: (0..<rowCount).map(problem.rowDual),
            reducedCosts: (0..<columnCount).map(problem.columnDual),
            basis: LPBasis(rowStatuses: (0..<rowCount).map(problem.rowStatus),
                           columnStatuses: (0..<columnCount).map(problem.columnStatus)),
            iterations: problem.iterationCount)
    }

    /// Builds the GLPK problem object. Everything was validated when it was added.
    private func makeProblem() -> GLPKProblem {
        let problem = GLPKProblem()
        problem.setDirection(maximise: sense == .maximise)
        if rowCount > 0 { problem.addRows(rowCount) }
        if columnCount > 0 { problem.addColumns(columnCount) }
        for (row, bounds) in rowBounds.enumerated() { problem.setRowBounds(row, bounds) }
        for (column, bounds) in columnBounds.enumerated() {
            problem.setColumnBounds(column, bounds)
            problem.setObjectiveCoefficient(column, objective[column])
        }
        problem.setObjectiveConstant(objectiveConstant)
        var rows = [Int32](), columns = [Int32](), values = [Double]()
        rows.reserveCapacity(nonzeroCount)
        columns.reserveCapacity(nonzeroCount)
        values.reserveCapacity(nonzeroCount)
        for row in 0..<rowCount {
            rows += repeatElement(Int32(row), count: rowColumns[row].count)
            columns += rowColumns[row].map { Int32($0) }
            values += rowCoefficients[row]
        }
        problem.loadMatrix(rows: rows, columns: columns, values: values)
        return problem
    }

    /// The status of a simplex run that ended normally (code 0).
    private static func conclusion(of problem: GLPKProblem) throws -> LPStatus {
        switch problem.status {
        case GLP_OPT: return .optimal
        case GLP_NOFEAS: return .infeasible
        case GLP_UNBND: return .unbounded
        default: break
        }
        // Not settled by the overall status: read the primal and dual sides.
        let primal = problem.primalStatus, dual = problem.dualStatus
        if primal == GLP_NOFEAS { return .infeasible }
        if dual == GLP_NOFEAS { return primal == GLP_FEAS ? .unbounded : .infeasibleOrUnbounded }
        throw LPError.solverFailed(code: 0, detail: "the simplex method ended without a conclusion "
                                   + "(status \(problem.status), primal \(primal), dual \(dual))")
    }

    /// A sentence for a `glp_simplex` return code.
    private static func describe(code: Int32) -> String {
        switch code {
        case GLP_EBADB: "the initial basis is invalid"
        case GLP_ESING: "the basis matrix is singular"
        case GLP_ECOND: "the basis matrix is ill-conditioned"
        case GLP_EBOUND: "some double-bounded variable has incorrect bounds"
        case GLP_EFAIL: "the solver failed (numerical difficulties)"
        case GLP_EOBJLL, GLP_EOBJUL: "an objective limit was reached"
        default: "glp_simplex returned code \(code)"
        }
    }

    private func checkColumn(_ column: Int) throws {
        guard column >= 0 && column < columnCount else {
            throw LPError.columnOutOfRange(column: column, columnCount: columnCount)
        }
    }

    private func checkFinite(_ value: Double, item: String) throws {
        guard value.isFinite else { throw LPError.nonFiniteValue(item: item, value: value) }
    }
}

/// Bounds `lower ≤ x ≤ upper` of a column or of a row's value; `-.infinity` / `.infinity`
/// mean no bound on that side. Valid bounds have no NaN, `lower < .infinity`,
/// `upper > -.infinity` and `lower ≤ upper`; `lower == upper` fixes the value.
public struct LPBounds: Sendable, Equatable {
    /// Lower bound, or `-.infinity`.
    public var lower: Double
    /// Upper bound, or `.infinity`.
    public var upper: Double

    /// Bounds from two values; either may be infinite. Checked when used in a program.
    public init(lower: Double, upper: Double) {
        self.lower = lower
        self.upper = upper
    }

    /// No bound: `-∞ < x < ∞`.
    public static let free = LPBounds(lower: -.infinity, upper: .infinity)
    /// `x ≥ value`.
    public static func lower(_ value: Double) -> LPBounds { LPBounds(lower: value, upper: .infinity) }
    /// `x ≤ value`.
    public static func upper(_ value: Double) -> LPBounds { LPBounds(lower: -.infinity, upper: value) }
    /// `lower ≤ x ≤ upper`.
    public static func double(_ lower: Double, _ upper: Double) -> LPBounds { LPBounds(lower: lower, upper: upper) }
    /// `x = value`.
    public static func fixed(_ value: Double) -> LPBounds { LPBounds(lower: value, upper: value) }

    /// Throws ``LPError/invalidBounds(item:lower:upper:)`` unless the bounds are valid.
    func validate(item: String) throws {
        guard !lower.isNaN, !upper.isNaN, lower < .infinity, upper > -.infinity, lower <= upper else {
            throw LPError.invalidBounds(item: item, lower: lower, upper: upper)
        }
    }
}

/// The simplex variant ``LinearProgram/solve(method:timeLimit:iterationLimit:warmStart:)`` runs.
public enum LPMethod: Sendable, Equatable {
    /// GLPK's two-phase primal simplex.
    case simplex
    /// GLPK's dual simplex, switching to the primal simplex if it fails (`GLP_DUALP`).
    case dualSimplex
}

/// How a solve ended.
public enum LPStatus: Sendable, Equatable {
    /// An optimal basic solution was found.
    case optimal
    /// The program has no feasible point (proven by the simplex method).
    case infeasible
    /// The program is feasible and its objective is unbounded in the optimised direction.
    case unbounded
    /// The dual is infeasible and the primal's feasibility was not settled: the program is
    /// infeasible or unbounded. (After the dual simplex proves the dual infeasible, a primal
    /// simplex run settles the question, so this is seen only if that run is cut short.)
    case infeasibleOrUnbounded
    /// The time limit stopped the solver; the solution is its last basis (see ``LPSolution/isPrimalFeasible``).
    case timeLimitReached
    /// The iteration limit stopped the solver; as ``timeLimitReached``.
    case iterationLimitReached
}

/// Basis status of one row or column in a simplex basis.
public enum LPVariableStatus: Sendable, Equatable {
    /// In the basis.
    case basic
    /// Non-basic at its lower bound.
    case atLower
    /// Non-basic at its upper bound.
    case atUpper
    /// Non-basic free variable (value 0).
    case free
    /// Non-basic fixed variable.
    case fixed
}

/// A simplex basis: one status per row and per column, for warm starts.
public struct LPBasis: Sendable, Equatable {
    public var rowStatuses: [LPVariableStatus]
    public var columnStatuses: [LPVariableStatus]

    public init(rowStatuses: [LPVariableStatus], columnStatuses: [LPVariableStatus]) {
        self.rowStatuses = rowStatuses
        self.columnStatuses = columnStatuses
    }
}

/// The final basic solution of a solve.
///
/// When ``status`` is ``LPStatus/optimal``, the numbers satisfy, up to GLPK's tolerances
/// (primal and dual feasibility 1e-7, in floating point; they are not exact):
/// - `rowValues[i] = Σ_j A_ij · columnValues[j]`, within the row's bounds;
/// - `objective[j] = Σ_i A_ij · rowDuals[i] + reducedCosts[j]` for every column `j`;
/// - `objectiveValue = Σ_j objective[j] · columnValues[j] + objectiveConstant`
///   `= Σ_i rowDuals[i] · rowValues[i] + Σ_j reducedCosts[j] · columnValues[j] + objectiveConstant`;
/// - sign conventions (GLPK's): a row dual or reduced cost is non-zero only where the row or
///   column is at a bound; when minimising it is ≥ 0 at a lower bound and ≤ 0 at an upper
///   bound, and the reverse when maximising. A row dual is the rate of change of the optimal
///   objective per unit increase of the active row bound.
///
/// For other statuses the numbers are those of the last basis GLPK held and carry no such
/// guarantee.
public struct LPSolution: Sendable, Equatable {
    /// How the solve ended.
    public var status: LPStatus
    /// True when the final basic solution is primal feasible (always for ``LPStatus/optimal``).
    public var isPrimalFeasible: Bool
    /// `cᵀx + c₀` at ``columnValues``.
    public var objectiveValue: Double
    /// The primal value of each column.
    public var columnValues: [Double]
    /// The value `Σ_j A_ij x_j` of each row.
    public var rowValues: [Double]
    /// The dual value (Lagrange multiplier) of each row.
    public var rowDuals: [Double]
    /// The reduced cost (dual value) of each column.
    public var reducedCosts: [Double]
    /// The final basis, to warm-start a later solve.
    public var basis: LPBasis
    /// Simplex iterations this solve took.
    public var iterations: Int
}

/// Errors from building or solving a ``LinearProgram``.
public enum LPError: Error, LocalizedError, Equatable {
    /// A column index is not in `0..<columnCount`.
    case columnOutOfRange(column: Int, columnCount: Int)
    /// A row index is not in `0..<rowCount`.
    case rowOutOfRange(row: Int, rowCount: Int)
    /// Bounds with a NaN, an empty interval (`lower > upper`), or an infinite bound on the wrong side.
    case invalidBounds(item: String, lower: Double, upper: Double)
    /// A coefficient or objective value that is NaN or infinite.
    case nonFiniteValue(item: String, value: Double)
    /// A row names the same column twice.
    case duplicateColumn(row: Int, column: Int)
    /// A row's column and coefficient arrays have different lengths.
    case mismatchedLengths(row: Int, columns: Int, coefficients: Int)
    /// A negative number of columns was requested.
    case invalidCount(Int)
    /// The program exceeds GLPK's size limits.
    case tooLarge(String)
    /// A time or iteration limit that is not positive.
    case invalidLimit(String)
    /// A warm-start basis whose size does not match the program.
    case basisMismatch(expectedRows: Int, expectedColumns: Int, rows: Int, columns: Int)
    /// GLPK stopped without a conclusion; `code` is `glp_simplex`'s return code.
    case solverFailed(code: Int, detail: String)

    public var errorDescription: String? {
        switch self {
        case let .columnOutOfRange(column, count):
            "column \(column) does not exist (the program has \(count) column(s), numbered from 0)"
        case let .rowOutOfRange(row, count):
            "row \(row) does not exist (the program has \(count) row(s), numbered from 0)"
        case let .invalidBounds(item, lower, upper):
            "invalid bounds for \(item): [\(lower), \(upper)] is empty or has a NaN"
        case let .nonFiniteValue(item, value):
            "the \(item) is \(value); only finite numbers are allowed"
        case let .duplicateColumn(row, column):
            "row \(row) names column \(column) more than once"
        case let .mismatchedLengths(row, columns, coefficients):
            "row \(row) has \(columns) column index(es) but \(coefficients) coefficient(s)"
        case let .invalidCount(count):
            "cannot add \(count) columns"
        case let .tooLarge(detail):
            "the linear program is too large for GLPK: \(detail)"
        case let .invalidLimit(detail):
            "invalid solver limit: \(detail)"
        case let .basisMismatch(expectedRows, expectedColumns, rows, columns):
            "the warm-start basis has \(rows) row and \(columns) column statuses, "
                + "but the program has \(expectedRows) rows and \(expectedColumns) columns"
        case let .solverFailed(code, detail):
            "GLPK could not solve the linear program (code \(code)): \(detail)"
        }
    }
}
