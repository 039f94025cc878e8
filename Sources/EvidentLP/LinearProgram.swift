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
    public internal(set) var rowColumns: [[Int]] = []
    /// Coefficients of each row, parallel to ``rowColumns``.
    public internal(set) var rowCoefficients: [[Double]] = []
    /// Number of stored coefficients (zeros included).
    public internal(set) var nonzeroCount = 0
    /// Columns that must take integer values in ``solveInteger(timeLimit:relativeGap:cuts:feasibilityPump:)``.
    public internal(set) var integerColumns: Set<Int> = []

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

    // MARK: Integer columns

    /// Marks `column` integer (`true`) or continuous (`false`). Integrality only matters to
    /// ``solveInteger(timeLimit:relativeGap:cuts:feasibilityPump:)``; the simplex solves
    /// (``solve(method:timeLimit:iterationLimit:warmStart:)``) relax it.
    /// - Throws: ``LPError/columnOutOfRange(column:columnCount:)``.
    public mutating func setInteger(column: Int, _ isInteger: Bool = true) throws {
        try checkColumn(column)
        if isInteger { integerColumns.insert(column) } else { integerColumns.remove(column) }
    }

    // MARK: Solving

    /// Relative error (GLPK's Karush–Kuhn–Tucker check, the worst of primal and dual
    /// equalities and bounds) above which ``LPMethod/robust`` treats an "optimal" basic
    /// solution as a numerical failure and retries.
    public static let accuracyTolerance = 1e-6

    /// Solves the program with GLPK's simplex method (presolver off, terminal output off).
    /// Integer marks are ignored (this is the LP relaxation).
    ///
    /// - Parameters:
    ///   - method: ``LPMethod/robust`` (the default: dual simplex, then primal simplex from a
    ///     reset basis if that fails; see ``LPMethod``), ``LPMethod/simplex`` (primal) or
    ///     ``LPMethod/dualSimplex`` (dual, falling back to primal if the dual fails).
    ///   - timeLimit: wall-clock limit for the whole call, every retry included (positive;
    ///     rounded up to whole milliseconds). `nil`: none.
    ///   - iterationLimit: simplex iteration limit per attempt (positive). `nil`: none.
    ///   - warmStart: a basis from an earlier solve of a program with the same numbers of rows and
    ///     columns. If GLPK finds it singular or invalid, the solve restarts from the slack basis.
    /// - Returns: the final basic solution; see ``LPSolution`` for what its numbers mean per
    ///   status, and ``LPSolution/path`` for the attempt that produced it.
    /// - Throws: ``LPError/invalidLimit(_:)``, ``LPError/basisMismatch(expectedRows:expectedColumns:rows:columns:)``,
    ///   ``LPError/solverFailed(code:detail:)`` when GLPK stops without a conclusion (numerical
    ///   failure) on every attempt.
    public func solve(method: LPMethod = .robust, timeLimit: Duration? = nil, iterationLimit: Int? = nil,
                      warmStart: LPBasis? = nil) throws -> LPSolution {
        let limits = try SolveLimits(timeLimit: timeLimit, iterationLimit: iterationLimit)
        try checkBasis(warmStart)
        let problem = makeProblem()
        if let warmStart { apply(warmStart, to: problem) }
        return try run(problem, method: method, limits: limits, warmStarted: warmStart != nil)
    }

    /// Solves the program once per objective, on one GLPK problem object, each solve starting
    /// from the previous one's final basis (the cheap way to bound many columns of the same
    /// constraints). With ``LPMethod/robust``, every solve after the first starts with the
    /// primal simplex from that basis (still primal feasible after an objective change), then
    /// continues with the robust sequence if that fails. Objective `k` replaces the program's objective coefficients: column
    /// `terms[i].column` gets `terms[i].coefficient`, every other column 0; the constant term
    /// and the sense stay the program's.
    ///
    /// - Parameters:
    ///   - objectives: sparse objectives (columns in range, no column twice, finite coefficients).
    ///   - method, iterationLimit, warmStart: as in ``solve(method:timeLimit:iterationLimit:warmStart:)``
    ///     (`warmStart` is the basis of the first solve).
    ///   - timeLimit: wall-clock limit of each solve.
    /// - Returns: one solution per objective, in order.
    /// - Throws: as ``solve(method:timeLimit:iterationLimit:warmStart:)``, and
    ///   ``LPError/columnOutOfRange(column:columnCount:)``, ``LPError/duplicateColumn(row:column:)``
    ///   (with `row` the objective's index), ``LPError/nonFiniteValue(item:value:)`` for a bad
    ///   objective, before anything is solved.
    public func solve(objectives: [[(column: Int, coefficient: Double)]], method: LPMethod = .robust,
                      timeLimit: Duration? = nil, iterationLimit: Int? = nil,
                      warmStart: LPBasis? = nil) throws -> [LPSolution] {
        _ = try SolveLimits(timeLimit: timeLimit, iterationLimit: iterationLimit)
        try checkBasis(warmStart)
        for (k, terms) in objectives.enumerated() {
            var seen = Set<Int>()
            for term in terms {
                try checkColumn(term.column)
                guard seen.insert(term.column).inserted else { throw LPError.duplicateColumn(row: k, column: term.column) }
                try checkFinite(term.coefficient, item: "coefficient of column \(term.column) in objective \(k)")
            }
        }
        guard !objectives.isEmpty else { return [] }
        let problem = makeProblem()
        for (column, c) in objective.enumerated() where c != 0 { problem.setObjectiveCoefficient(column, 0) }
        if let warmStart { apply(warmStart, to: problem) }
        var solutions = [LPSolution]()
        solutions.reserveCapacity(objectives.count)
        for (k, terms) in objectives.enumerated() {
            problem.setObjectiveCoefficients(terms)
            // Each solve gets its own time budget, measured from its start.
            let limits = try SolveLimits(timeLimit: timeLimit, iterationLimit: iterationLimit)
            solutions.append(try run(problem, method: method, limits: limits, warmStarted: k > 0 || warmStart != nil,
                                     primalFirst: k > 0))
            problem.setObjectiveCoefficients(terms.map { ($0.column, 0) })
        }
        return solutions
    }

    /// Time and iteration limits of one solve, converted to GLPK's units.
    struct SolveLimits {
        /// `nil`: no time limit.
        let deadline: ContinuousClock.Instant?
        let iterations: Int32

        init(timeLimit: Duration?, iterationLimit: Int?) throws {
            if let timeLimit {
                guard timeLimit > .zero else { throw LPError.invalidLimit("time limit \(timeLimit) is not positive") }
                // A limit beyond ~24 days is no limit (GLPK counts milliseconds in an Int32).
                deadline = timeLimit >= .seconds(Double(Int32.max) / 1000) ? nil : ContinuousClock.now + timeLimit
            } else {
                deadline = nil
            }
            var iterations = Int32.max
            if let iterationLimit {
                guard iterationLimit > 0 else { throw LPError.invalidLimit("iteration limit \(iterationLimit) is not positive") }
                iterations = iterationLimit >= Int(Int32.max) ? Int32.max : Int32(iterationLimit)
            }
            self.iterations = iterations
        }

        /// Milliseconds left (at least 1 while time remains), `Int32.max` without a limit, `nil`
        /// when the deadline has passed.
        var remainingMilliseconds: Int32? {
            guard let deadline else { return Int32.max }
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return nil }
            let (seconds, attoseconds) = left.components
            let total = (Double(seconds) * 1000 + Double(attoseconds) / 1e15).rounded(.up)
            return total >= Double(Int32.max) ? Int32.max : Swift.max(1, Int32(total))
        }
    }

    /// How one simplex attempt ended.
    private enum Attempt {
        /// A settled answer (optimal with an acceptable accuracy, infeasible, unbounded).
        case concluded(LPStatus, relativeError: Double?)
        /// A time or iteration limit stopped it: the solve ends here.
        case limited(LPStatus)
        /// No usable answer: a failure code, an unsettled status or an inaccurate optimum.
        case failed(code: Int32, detail: String)
    }

    /// Runs one attempt of `variant` from the problem's current basis. An invalid basis
    /// (`GLP_EBADB`) is replaced by the standard basis and the attempt repeated once.
    private func attempt(_ problem: GLPKProblem, _ variant: GLPKProblem.SimplexVariant, limits: SolveLimits,
                         textbookRatioTest: Bool = false, checkAccuracy: Bool) -> Attempt {
        guard let milliseconds = limits.remainingMilliseconds else { return .limited(.timeLimitReached) }
        var code = problem.simplex(variant, timeLimitMilliseconds: milliseconds, iterationLimit: limits.iterations,
                                   textbookRatioTest: textbookRatioTest)
        if code == GLP_EBADB {
            problem.useStandardBasis()
            guard let milliseconds = limits.remainingMilliseconds else { return .limited(.timeLimitReached) }
            code = problem.simplex(variant, timeLimitMilliseconds: milliseconds, iterationLimit: limits.iterations,
                                   textbookRatioTest: textbookRatioTest)
        }
        switch code {
        case 0:
            guard let status = Self.conclusion(of: problem) else {
                return .failed(code: 0, detail: "the simplex method ended without a conclusion (status "
                               + "\(problem.status), primal \(problem.primalStatus), dual \(problem.dualStatus))")
            }
            if status == .infeasibleOrUnbounded {
                return .failed(code: 0, detail: "the dual is infeasible and the primal was not settled")
            }
            guard status == .optimal else { return .concluded(status, relativeError: nil) }
            let error = problem.basicSolutionRelativeError
            if checkAccuracy && !(error <= Self.accuracyTolerance) {
                return .failed(code: 0, detail: "the optimal basis is inaccurate (relative KKT error \(error))")
            }
            return .concluded(.optimal, relativeError: error)
        case GLP_ETMLIM:
            return .limited(.timeLimitReached)
        case GLP_EITLIM:
            return .limited(.iterationLimitReached)
        default:
            return .failed(code: code, detail: Self.describe(code: code))
        }
    }

    /// Runs `method` on a built problem and reads the final solution. With `primalFirst`
    /// (a re-solve after an objective change, from a basis that is still primal feasible),
    /// ``LPMethod/robust`` first tries the primal simplex from the current basis.
    private func run(_ problem: GLPKProblem, method: LPMethod, limits: SolveLimits, warmStarted: Bool,
                     primalFirst: Bool = false) throws -> LPSolution {
        var failures = [String]()
        var lastCode: Int32 = 0
        func finish(_ status: LPStatus, _ path: LPSolvePath, _ error: Double?) -> LPSolution {
            readSolution(problem, status: status, path: path, relativeError: error)
        }
        func fail() -> LPError {
            LPError.solverFailed(code: Int(lastCode), detail: failures.joined(separator: "; then "))
        }

        switch method {
        case .simplex, .dualSimplex:
            let variant: GLPKProblem.SimplexVariant = method == .simplex ? .primal : .dualThenPrimal
            let path: LPSolvePath = method == .simplex ? .primalSimplex : .dualSimplex
            var outcome = attempt(problem, variant, limits: limits, checkAccuracy: false)
            if warmStarted, case .failed(let code, _) = outcome, code == GLP_ESING || code == GLP_ECOND {
                problem.useStandardBasis()
                outcome = attempt(problem, variant, limits: limits, checkAccuracy: false)
            }
            switch outcome {
            case let .concluded(status, error): return finish(status, path, error)
            case let .limited(status): return finish(status, path, nil)
            case let .failed(code, detail):
                guard method == .dualSimplex, code == 0, Self.conclusion(of: problem) == .infeasibleOrUnbounded else {
                    lastCode = code
                    failures.append(detail)
                    throw fail()
                }
                // The dual simplex proved the dual infeasible; the primal simplex, started from
                // the final basis, settles which of the two the primal is.
                switch attempt(problem, .primal, limits: limits, checkAccuracy: false) {
                case let .concluded(status, error): return finish(status, .dualSimplexThenPrimal, error)
                case let .limited(status): return finish(status, .dualSimplexThenPrimal, nil)
                case .failed: return finish(.infeasibleOrUnbounded, .dualSimplex, nil)
                }
            }
        case .robust:
            var stages: [(LPSolvePath, GLPKProblem.SimplexVariant, reset: (GLPKProblem) -> Void, textbook: Bool)] = [
                (.dualSimplex, .dual, { _ in }, false),
                (.primalAfterAdvancedBasis, .primal, { $0.useAdvancedBasis() }, false),
                (.primalAfterStandardBasis, .primal, { $0.useStandardBasis() }, true),
            ]
            if primalFirst { stages.insert((.primalSimplex, .primal, { _ in }, false), at: 0) }
            for (path, variant, reset, textbook) in stages {
                reset(problem)
                switch attempt(problem, variant, limits: limits, textbookRatioTest: textbook, checkAccuracy: true) {
                case let .concluded(status, error): return finish(status, path, error)
                case let .limited(status): return finish(status, path, nil)
                case let .failed(code, detail):
                    lastCode = code
                    failures.append("\(path): \(detail)")
                }
            }
            throw fail()
        }
    }

    /// Reads the current basic solution of `problem`.
    private func readSolution(_ problem: GLPKProblem, status: LPStatus, path: LPSolvePath,
                              relativeError: Double?) -> LPSolution {
        LPSolution(
            status: status,
            isPrimalFeasible: problem.primalStatus == GLP_FEAS,
            objectiveValue: problem.objectiveValue,
            columnValues: (0..<columnCount).map(problem.columnValue),
            rowValues: (0..<rowCount).map(problem.rowValue),
            rowDuals: (0..<rowCount).map(problem.rowDual),
            reducedCosts: (0..<columnCount).map(problem.columnDual),
            basis: LPBasis(rowStatuses: (0..<rowCount).map(problem.rowStatus),
                           columnStatuses: (0..<columnCount).map(problem.columnStatus)),
            iterations: problem.iterationCount,
            path: path,
            relativeError: relativeError)
    }

    private func checkBasis(_ warmStart: LPBasis?) throws {
        if let warmStart, warmStart.rowStatuses.count != rowCount || warmStart.columnStatuses.count != columnCount {
            throw LPError.basisMismatch(expectedRows: rowCount, expectedColumns: columnCount,
                                        rows: warmStart.rowStatuses.count, columns: warmStart.columnStatuses.count)
        }
    }

    private func apply(_ basis: LPBasis, to problem: GLPKProblem) {
        for (row, status) in basis.rowStatuses.enumerated() { problem.setRowStatus(row, status) }
        for (column, status) in basis.columnStatuses.enumerated() { problem.setColumnStatus(column, status) }
    }

    /// Builds the GLPK problem object. Everything was validated when it was added.
    func makeProblem() -> GLPKProblem {
        let problem = GLPKProblem()
        problem.setDirection(maximise: sense == .maximise)
        if rowCount > 0 { problem.addRows(rowCount) }
        if columnCount > 0 { problem.addColumns(columnCount) }
        for (row, bounds) in rowBounds.enumerated() { problem.setRowBounds(row, bounds) }
        for (column, bounds) in columnBounds.enumerated() {
            problem.setColumnBounds(column, bounds)
            problem.setObjectiveCoefficient(column, objective[column])
        }
        for column in integerColumns.sorted() { problem.setColumnKind(column, integer: true) }
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

    /// The status of a simplex run that ended normally (code 0), or `nil` when GLPK's statuses
    /// settle nothing.
    private static func conclusion(of problem: GLPKProblem) -> LPStatus? {
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
        return nil
    }

    /// A sentence for a `glp_simplex` or `glp_intopt` return code.
    static func describe(code: Int32) -> String {
        switch code {
        case GLP_EBADB: "the initial basis is invalid"
        case GLP_ESING: "the basis matrix is singular"
        case GLP_ECOND: "the basis matrix is ill-conditioned"
        case GLP_EBOUND: "some double-bounded variable has incorrect bounds"
        case GLP_EFAIL: "the solver failed (numerical difficulties)"
        case GLP_EOBJLL, GLP_EOBJUL: "an objective limit was reached"
        case GLP_EROOT: "the LP relaxation has no optimal basis"
        case GLP_ESTOP: "the search was stopped"
        default: "GLPK returned code \(code)"
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
    /// Up to three attempts, each from where the previous one failed, until one concludes:
    /// 1. the dual simplex alone (`GLP_DUAL`) from the given (or standard) basis;
    /// 2. the basis reset to GLPK's advanced basis (`glp_adv_basis`), then the primal simplex;
    /// 3. the basis reset to the standard basis (`glp_std_basis`), then the primal simplex
    ///    with the textbook ratio test.
    ///
    /// An attempt fails on `GLP_ESING`, `GLP_ECOND`, `GLP_EFAIL` (or any other error code), on
    /// an unsettled status, and on an "optimal" solution whose relative KKT error exceeds
    /// ``LinearProgram/accuracyTolerance``. A time or iteration limit ends the solve at once.
    /// ``LPSolution/path`` tells which attempt answered.
    case robust
}

/// Which attempt of a solve produced its answer.
public enum LPSolvePath: Sendable, Equatable, CustomStringConvertible {
    /// The primal simplex: ``LPMethod/simplex``, or a warm-started re-solve of
    /// ``LinearProgram/solve(objectives:method:timeLimit:iterationLimit:warmStart:)``.
    case primalSimplex
    /// The dual simplex (for ``LPMethod/dualSimplex``, GLPK may have switched to the primal
    /// simplex internally).
    case dualSimplex
    /// ``LPMethod/dualSimplex`` proved the dual infeasible; a primal run settled the primal.
    case dualSimplexThenPrimal
    /// ``LPMethod/robust``, second attempt: advanced basis, primal simplex.
    case primalAfterAdvancedBasis
    /// ``LPMethod/robust``, third attempt: standard basis, primal simplex, textbook ratio test.
    case primalAfterStandardBasis

    public var description: String {
        switch self {
        case .primalSimplex: "primal simplex"
        case .dualSimplex: "dual simplex"
        case .dualSimplexThenPrimal: "dual simplex, then primal simplex"
        case .primalAfterAdvancedBasis: "primal simplex after resetting to the advanced basis"
        case .primalAfterStandardBasis: "primal simplex after resetting to the standard basis"
        }
    }
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
    /// Simplex iterations this solve took (all attempts).
    public var iterations: Int
    /// The attempt that produced this solution.
    public var path: LPSolvePath
    /// For ``LPStatus/optimal``: the largest relative error of GLPK's Karush–Kuhn–Tucker
    /// checks on this solution (primal and dual equalities and bounds); `nil` otherwise.
    public var relativeError: Double?
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
    /// GLPK stopped without a conclusion; `code` is `glp_simplex`'s (or `glp_intopt`'s) return code.
    case solverFailed(code: Int, detail: String)
    /// An integer column whose bounds are not whole numbers (GLPK refuses to branch on it).
    case fractionalIntegerBounds(column: Int, lower: Double, upper: Double)
    /// A multiplier vector whose length is not the program's row count.
    case multiplierCount(expected: Int, got: Int)
    /// The program is infeasible, but no multiplier vector proving it could be verified.
    case noInfeasibilityCertificate(String)
    /// A network the canonical LP cannot describe: `node` names the node, `detail` says why.
    case unsupportedNetwork(node: String, detail: String)
    /// Bounds given for a network's values that cannot be used: `value` names the value.
    case invalidValueBounds(value: String, detail: String)
    /// A value, element or output index outside the network.
    case invalidIndex(String)

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
        case let .fractionalIntegerBounds(column, lower, upper):
            "integer column \(column) has bounds [\(lower), \(upper)] that are not whole numbers"
        case let .multiplierCount(expected, got):
            "\(got) row multiplier(s) given for a program with \(expected) row(s)"
        case let .noInfeasibilityCertificate(detail):
            "no certificate of infeasibility could be verified: \(detail)"
        case let .unsupportedNetwork(node, detail):
            "node '\(node)': \(detail)"
        case let .invalidValueBounds(value, detail):
            "bounds of value '\(value)': \(detail)"
        case let .invalidIndex(detail):
            "index out of range: \(detail)"
        }
    }
}
