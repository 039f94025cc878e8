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
        GLPKProblem.silenceTerminal()
        handle = glp_create_prob()
    }

    /// Turns GLPK's terminal output off on the calling thread, twice over: the switch
    /// (`glp_term_out`) and a hook that swallows any line that would still be printed
    /// (`glp_term_hook`; a non-zero return tells GLPK not to write it). Both live in GLPK's
    /// per-thread environment, so this runs before every use of a problem object.
    static func silenceTerminal() {
        glp_term_out(GLP_OFF)
        glp_term_hook({ _, _ in 1 }, nil)
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

    /// Replaces the basis by GLPK's "advanced" initial basis (`glp_adv_basis`), a triangular
    /// basis built from the constraint matrix, which is often far better conditioned than
    /// a basis left behind by a failed run.
    func useAdvancedBasis() {
        glp_adv_basis(handle, 0)
    }

    /// Marks `column` (0-based) integer or continuous. Precondition: the column exists.
    func setColumnKind(_ column: Int, integer: Bool) {
        precondition(column >= 0 && column < columnCount)
        glp_set_col_kind(handle, Int32(column + 1), integer ? GLP_IV : GLP_CV)
    }

    // MARK: Solving

    /// The simplex variants `glp_simplex` offers.
    enum SimplexVariant {
        /// `GLP_PRIMAL`.
        case primal
        /// `GLP_DUAL`: the dual simplex alone (it reports its own failure).
        case dual
        /// `GLP_DUALP`: the dual simplex, switching to the primal simplex if it fails.
        case dualThenPrimal
    }

    /// Runs `glp_simplex` and returns its code (0 when the solver ran to a conclusion).
    /// `textbookRatioTest` replaces Harris' two-pass ratio test by the standard one (slower,
    /// but a different pivoting path when Harris' test runs into numerical trouble).
    /// Precondition: `timeLimitMilliseconds >= 0`, `iterationLimit >= 0`.
    func simplex(_ variant: SimplexVariant, timeLimitMilliseconds: Int32, iterationLimit: Int32,
                 textbookRatioTest: Bool = false) -> Int32 {
        precondition(timeLimitMilliseconds >= 0 && iterationLimit >= 0)
        GLPKProblem.silenceTerminal()
        var parameters = glp_smcp()
        glp_init_smcp(&parameters)
        parameters.msg_lev = GLP_MSG_OFF
        parameters.presolve = GLP_OFF  // the presolver hides the final basis and duals
        parameters.tm_lim = timeLimitMilliseconds
        parameters.it_lim = iterationLimit
        if textbookRatioTest { parameters.r_test = GLP_RT_STD }
        switch variant {
        case .primal: parameters.meth = GLP_PRIMAL
        case .dual: parameters.meth = GLP_DUAL
        case .dualThenPrimal: parameters.meth = GLP_DUALP
        }
        return glp_simplex(handle, &parameters)
    }

    /// The largest relative error of the current basic solution over GLPK's four
    /// Karush–Kuhn–Tucker checks (`glp_check_kkt` with `GLP_SOL`): primal equalities,
    /// primal bounds, dual equalities and dual bounds. A clean optimal solution has errors
    /// near GLPK's tolerances (1e-7 relative to the bounds and coefficients involved, often
    /// far less); a large one means the basis is numerically unreliable.
    var basicSolutionRelativeError: Double {
        var worst = 0.0
        for condition in [GLP_KKT_PE, GLP_KKT_PB, GLP_KKT_DE, GLP_KKT_DB] {
            var absoluteMax = 0.0, relativeMax = 0.0
            var absoluteIndex: Int32 = 0, relativeIndex: Int32 = 0
            glp_check_kkt(handle, GLP_SOL, condition, &absoluteMax, &absoluteIndex, &relativeMax, &relativeIndex)
            worst = Swift.max(worst, relativeMax.isNaN ? .infinity : relativeMax)
        }
        return worst
    }

    /// Changes the objective coefficients of the given columns (0-based), a sparse update.
    func setObjectiveCoefficients(_ terms: [(column: Int, coefficient: Double)]) {
        for term in terms { setObjectiveCoefficient(term.column, term.coefficient) }
    }

    // MARK: Branch and bound

    /// What `glp_intopt` reports, plus the best bound seen by its callback.
    struct IntegerRun {
        /// `glp_intopt`'s return code.
        var code: Int32
        /// The best bound on the optimum the search had established when it stopped (the
        /// smallest local bound over the active nodes, for minimisation; the largest for
        /// maximisation), or `nil` when the callback never saw an active node.
        var bestBound: Double?
    }

    /// Runs `glp_intopt` (branch and cut) with its own presolver and LP relaxation, terminal
    /// output off. Precondition: `timeLimitMilliseconds >= 0`, `0 ≤ relativeGap`.
    func branchAndCut(timeLimitMilliseconds: Int32, relativeGap: Double, cuts: Bool, feasibilityPump: Bool,
                      maximise: Bool) -> IntegerRun {
        precondition(timeLimitMilliseconds >= 0 && relativeGap >= 0)
        GLPKProblem.silenceTerminal()
        let monitor = BoundMonitor(maximise: maximise)
        var parameters = glp_iocp()
        glp_init_iocp(&parameters)
        parameters.msg_lev = GLP_MSG_OFF
        parameters.presolve = GLP_ON  // also solves the LP relaxation, so no basis is needed
        parameters.tm_lim = timeLimitMilliseconds
        parameters.mip_gap = relativeGap
        parameters.fp_heur = feasibilityPump ? GLP_ON : GLP_OFF
        if cuts {
            parameters.mir_cuts = GLP_ON
            parameters.cov_cuts = GLP_ON
            parameters.clq_cuts = GLP_ON
        }
        // The callback reads the best active node's bound at every call; the tree is valid
        // for the duration of each call only.
        parameters.cb_func = { tree, info in
            guard let tree, let info else { return }
            let monitor = Unmanaged<BoundMonitor>.fromOpaque(info).takeUnretainedValue()
            let best = glp_ios_best_node(tree)
            if best != 0 { monitor.record(glp_ios_node_bound(tree, best)) }
        }
        let code = withExtendedLifetime(monitor) {
            parameters.cb_info = Unmanaged.passUnretained(monitor).toOpaque()
            return glp_intopt(handle, &parameters)
        }
        return IntegerRun(code: code, bestBound: monitor.bound)
    }

    /// `glp_mip_status`: status of the incumbent integer solution.
    var integerStatus: Int32 { glp_mip_status(handle) }
    /// Objective value of the incumbent integer solution.
    var integerObjectiveValue: Double { glp_mip_obj_val(handle) }

    func integerColumnValue(_ column: Int) -> Double {
        precondition(column >= 0 && column < columnCount)
        return glp_mip_col_val(handle, Int32(column + 1))
    }

    func integerRowValue(_ row: Int) -> Double {
        precondition(row >= 0 && row < rowCount)
        return glp_mip_row_val(handle, Int32(row + 1))
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

/// Collects the best bound `glp_intopt`'s callback sees. Bounds only improve as the search
/// goes on, so the tightest one seen (largest when minimising) is kept.
private final class BoundMonitor {
    let maximise: Bool
    var bound: Double?

    init(maximise: Bool) { self.maximise = maximise }

    func record(_ value: Double) {
        // GLPK reports ∓DBL_MAX for nodes whose LP has not been solved yet.
        guard value.isFinite, Swift.abs(value) < .greatestFiniteMagnitude else { return }
        if let bound {
            self.bound = maximise ? Swift.min(bound, value) : Swift.max(bound, value)
        } else {
            bound = value
        }
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
