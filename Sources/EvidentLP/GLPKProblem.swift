import CGLPK

/// The one owner of a GLPK problem object (`glp_prob`): created in `init`, deleted once in
/// `deinit`. Every GLPK call the module makes goes through one method here, which takes
/// 0-based indices and converts them to GLPK's 1-based ones.
///
/// ## Preconditions, not errors
/// GLPK reports misuse (an index out of range, duplicate matrix entries, a bad bound type)
/// through `glp_error`, which prints and **aborts the process**. The methods here therefore
/// state their preconditions, and ``LinearProgram`` validates every argument before it
/// builds a problem; the `precondition`s below only guard against bugs in this module.
///
/// ## Threads
/// GLPK (built with thread-local storage, as Debian's is) keeps its memory book-keeping in a
/// per-thread environment: a `glp_prob` created on one thread must be modified and deleted
/// on that same thread, or the environments' block lists are corrupted. A `GLPKProblem` is
/// therefore only ever created, used and released inside one synchronous call
/// (``LinearProgram/solve(method:timeLimit:iterationLimit:warmStart:)``), and is neither
/// `Sendable` nor stored anywhere.
final class GLPKProblem {
    private let handle: OpaquePointer

    /// Creates an empty problem and silences GLPK's terminal output on this thread.
    init() {
        // The terminal-output switch lives in the per-thread environment, so set it every time.
        glp_term_out(GLP_OFF)
        handle = glp_create_prob()
    }

    deinit {
        glp_delete_prob(handle)
    }

    // MARK: Building

    /// Sets minimisation or maximisation.
    func setDirection(maximise: Bool) {
        glp_set_obj_dir(handle, maximise ? GLP_MAX : GLP_MIN)
    }

    /// Appends `count` rows. Precondition: `1 <= count`, total ≤ ``LinearProgram/maximumSize``.
    func addRows(_ count: Int) {
        precondition(count >= 1 && count <= LinearProgram.maximumSize)
        glp_add_rows(handle, Int32(count))
    }

    /// Appends `count` columns. Precondition: `1 <= count`, total ≤ ``LinearProgram/maximumSize``.
    func addColumns(_ count: Int) {
        precondition(count >= 1 && count <= LinearProgram.maximumSize)
        glp_add_cols(handle, Int32(count))
    }

    var rowCount: Int { Int(glp_get_num_rows(handle)) }
    var columnCount: Int { Int(glp_get_num_cols(handle)) }

    /// Sets the bounds of row `row` (0-based). Precondition: the row exists, `bounds` is valid.
    func setRowBounds(_ row: Int, _ bounds: LPBounds) {
        precondition(row >= 0 && row < rowCount)
        let (type, lower, upper) = bounds.glpk
        glp_set_row_bnds(handle, Int32(row + 1), type, lower, upper)
    }

    /// Sets the bounds of column `column` (0-based). Precondition: the column exists, `bounds` is valid.
    func setColumnBounds(_ column: Int, _ bounds: LPBounds) {
        precondition(column >= 0 && column < columnCount)
        let (type, lower, upper) = bounds.glpk
        glp_set_col_bnds(handle, Int32(column + 1), type, lower, upper)
    }

    /// Sets the objective coefficient of `column` (0-based).
    func setObjectiveCoefficient(_ column: Int, _ value: Double) {
        precondition(column >= 0 && column < columnCount)
        glp_set_obj_coef(handle, Int32(column + 1), value)
    }

    /// Sets the objective's constant term.
    func setObjectiveConstant(_ value: Double) {
        glp_set_obj_coef(handle, 0, value)
    }

    /// Replaces the constraint matrix with the given triplets (0-based row and column indices).
    /// Precondition: indices in range, no duplicate `(row, column)` pair, count ≤ ``LinearProgram/maximumNonzeros``.
    func loadMatrix(rows: [Int32], columns: [Int32], values: [Double]) {
        precondition(rows.count == columns.count && rows.count == values.count && rows.count <= LinearProgram.maximumNonzeros)
        guard !rows.isEmpty else {
            glp_load_matrix(handle, 0, nil, nil, nil)
            return
        }
        // GLPK reads entries 1...ne: slot 0 is unused, and indices are 1-based.
        let ia = [0] + rows.map { $0 + 1 }
        let ja = [0] + columns.map { $0 + 1 }
        let ar = [0] + values
        ia.withUnsafeBufferPointer { ia in
            ja.withUnsafeBufferPointer { ja in
                ar.withUnsafeBufferPointer { ar in
                    glp_load_matrix(handle, Int32(rows.count), ia.baseAddress, ja.baseAddress, ar.baseAddress)
                }
            }
        }
    }

    /// Sets the basis status of row `row` (0-based). GLPK replaces a non-basic status that does
    /// not fit the row's bound type by one that does.
    func setRowStatus(_ row: Int, _ status: LPVariableStatus) {
        precondition(row >= 0 && row < rowCount)
        glp_set_row_stat(handle, Int32(row + 1), status.glpk)
    }

    /// Sets the basis status of column `column` (0-based), as ``setRowStatus(_:_:)``.
    func setColumnStatus(_ column: Int, _ status: LPVariableStatus) {
        precondition(column >= 0 && column < columnCount)
        glp_set_col_stat(handle, Int32(column + 1), status.glpk)
    }

    /// Resets the basis to the standard one (all rows basic, all columns non-basic).
    func useStandardBasis() {
        glp_std_basis(handle)
    }

    // MARK: Solving

    /// Runs `glp_simplex` and returns its code (0 when the solver ran to a conclusion).
    /// Precondition: `timeLimitMilliseconds >= 0`, `iterationLimit >= 0`.
    func simplex(method: LPMethod, timeLimitMilliseconds: Int32, iterationLimit: Int32) -> Int32 {
        precondition(timeLimitMilliseconds >= 0 && iterationLimit >= 0)
        var parameters = glp_smcp()
        glp_init_smcp(&parameters)
        parameters.msg_lev = GLP_MSG_OFF
        parameters.presolve = GLP_OFF  // the presolver hides the final basis and duals
        parameters.tm_lim = timeLimitMilliseconds
        parameters.it_lim = iterationLimit
        switch method {
        case .simplex: parameters.meth = GLP_PRIMAL
        case .dualSimplex: parameters.meth = GLP_DUALP
        }
        return glp_simplex(handle, &parameters)
    }

    /// `glp_get_status`: the status of the current basic solution.
    var status: Int32 { glp_get_status(handle) }
    /// `glp_get_prim_stat`: primal feasibility of the current basic solution.
    var primalStatus: Int32 { glp_get_prim_stat(handle) }
    /// `glp_get_dual_stat`: dual feasibility of the current basic solution.
    var dualStatus: Int32 { glp_get_dual_stat(handle) }
    /// Objective value of the current basic solution, constant term included.
    var objectiveValue: Double { glp_get_obj_val(handle) }
    /// Simplex iterations spent on this problem object so far.
    var iterationCount: Int { Int(glp_get_it_cnt(handle)) }

    func rowValue(_ row: Int) -> Double {
        precondition(row >= 0 && row < rowCount)
        return glp_get_row_prim(handle, Int32(row + 1))
    }

    func rowDual(_ row: Int) -> Double {
        precondition(row >= 0 && row < rowCount)
        return glp_get_row_dual(handle, Int32(row + 1))
    }

    func rowStatus(_ row: Int) -> LPVariableStatus {
        precondition(row >= 0 && row < rowCount)
        return LPVariableStatus(glpk: glp_get_row_stat(handle, Int32(row + 1)))
    }

    func columnValue(_ column: Int) -> Double {
        precondition(column >= 0 && column < columnCount)
        return glp_get_col_prim(handle, Int32(column + 1))
    }

    func columnDual(_ column: Int) -> Double {
        precondition(column >= 0 && column < columnCount)
        return glp_get_col_dual(handle, Int32(column + 1))
    }

    func columnStatus(_ column: Int) -> LPVariableStatus {
        precondition(column >= 0 && column < columnCount)
        return LPVariableStatus(glpk: glp_get_col_stat(handle, Int32(column + 1)))
    }
}

extension LPBounds {
    /// GLPK's bound type and the two bound values. Precondition: the bounds are valid.
    var glpk: (type: Int32, lower: Double, upper: Double) {
        switch (lower.isFinite, upper.isFinite) {
        case (false, false): (GLP_FR, 0, 0)
        case (true, false): (GLP_LO, lower, 0)
        case (false, true): (GLP_UP, 0, upper)
        case (true, true): lower == upper ? (GLP_FX, lower, upper) : (GLP_DB, lower, upper)
        }
    }
}

extension LPVariableStatus {
    var glpk: Int32 {
        switch self {
        case .basic: GLP_BS
        case .atLower: GLP_NL
        case .atUpper: GLP_NU
        case .free: GLP_NF
        case .fixed: GLP_NS
        }
    }

    init(glpk: Int32) {
        switch glpk {
        case GLP_NL: self = .atLower
        case GLP_NU: self = .atUpper
        case GLP_NF: self = .free
        case GLP_NS: self = .fixed
        default: self = .basic
        }
    }
}
