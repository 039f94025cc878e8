extension NetworkLP {
    /// Minimises `Σ_k coefficients[k] · y_k` over the output value exactly (up to GLPK's
    /// tolerances), by the big-M mixed-integer encoding of every unstable ReLU neuron.
    ///
    /// The program is the canonical LP (same columns and rows, so `z ≥ ẑ` is already there)
    /// plus, for each neuron with pre-activation bounds `l < 0 < u`, one binary column `δ`
    /// (after all canonical columns, in node and neuron order) and the rows
    /// `z − ẑ − l·δ ≤ −l` (`z ≤ ẑ − l(1 − δ)`) and `z − u·δ ≤ 0` (`z ≤ u δ`); and, for every
    /// neuron whose output column allows negative values, `z ≥ 0`. With `δ = 1` this forces
    /// `z = ẑ ≥ 0`, with `δ = 0` `z = 0 ≥ ẑ`; stable neurons are exact already
    /// (`z = ẑ` or `z = 0` through the canonical rows). The encoding is exact when the bounds
    /// are valid for every input of the box; it then minimises the network's function over
    /// the box (ranged rows from constant radii admit the recorded slack).
    ///
    /// - Parameters:
    ///   - coefficients: one per output element, finite.
    ///   - timeLimit: wall-clock limit of the search (`nil`: none).
    ///   - relativeGap, cuts, feasibilityPump: see ``LinearProgram/solveInteger(timeLimit:relativeGap:cuts:feasibilityPump:)``.
    /// - Throws: ``LPError/invalidIndex(_:)``, ``LPError/nonFiniteValue(item:value:)`` for a bad
    ///   objective, and what ``LinearProgram/solveInteger(timeLimit:relativeGap:cuts:feasibilityPump:)`` throws.
    public func milp(minimising coefficients: [Double], timeLimit: Duration? = nil, relativeGap: Double = 0,
                     cuts: Bool = false, feasibilityPump: Bool = false) throws -> NetworkMILPResult {
        var (lp, binaries) = try bigM()
        for term in try objectiveTerms(.outputs(coefficients)) {
            try lp.setObjective(column: term.column, coefficient: term.coefficient)
        }
        return try solve(lp, binaries: binaries, timeLimit: timeLimit, relativeGap: relativeGap, cuts: cuts,
                         feasibilityPump: feasibilityPump)
    }

    /// Minimises `max_k (a_k · y − d_k)` over the box exactly, by the encoding of
    /// ``milp(minimising:timeLimit:relativeGap:cuts:feasibilityPump:)`` with one more free
    /// column `t` (after the binaries), minimised, and one row `a_k · y − t ≤ d_k` per
    /// constraint: the conjunction of the constraints `a_k · y ≤ d_k` (a VNN-LIB clause) has a
    /// solution in the box exactly when the minimum is at most 0, and the incumbent's input
    /// is then one.
    ///
    /// - Throws: as ``milp(minimising:timeLimit:relativeGap:cuts:feasibilityPump:)``, and
    ///   ``LPError/nonFiniteValue(item:value:)`` for a non-finite `d_k`.
    public func milp(minimisingWorstOf constraints: [(coefficients: [Double], bound: Double)], timeLimit: Duration? = nil,
                     relativeGap: Double = 0, cuts: Bool = false, feasibilityPump: Bool = false) throws -> NetworkMILPResult {
        var (lp, binaries) = try bigM()
        let t = try lp.addColumn(bounds: .free, objective: 1)
        for constraint in constraints {
            guard constraint.bound.isFinite else { throw LPError.nonFiniteValue(item: "constraint bound", value: constraint.bound) }
            try lp.addRow(try objectiveTerms(.outputs(constraint.coefficients)) + [(t, -1)], bounds: .upper(constraint.bound))
        }
        return try solve(lp, binaries: binaries, timeLimit: timeLimit, relativeGap: relativeGap, cuts: cuts,
                         feasibilityPump: feasibilityPump)
    }

    /// The canonical LP with the big-M rows and binary columns of every unstable neuron.
    func bigM() throws -> (LinearProgram, binaries: Int) {
        var lp = program
        var binaries = 0
        for node in graph.nodes where node.operation == .relu {
            let pre = node.inputs[0], out = node.output
            for j in 0..<graph.values[out].count {
                let z = columnStart[out] + j, zHat = columnStart[pre] + j
                let (l, u) = (lower[pre][j], upper[pre][j])
                if lower[out][j] < 0 { try lp.addRow(columns: [z], coefficients: [1], bounds: .lower(0)) }
                guard l < 0 && u > 0 else { continue }
                let delta = try lp.addColumn(bounds: .double(0, 1))
                try lp.setInteger(column: delta)
                binaries += 1
                try lp.addRow(columns: [z, zHat, delta], coefficients: [1, -1, -l], bounds: .upper(-l))
                try lp.addRow(columns: [z, delta], coefficients: [1, -u], bounds: .upper(0))
            }
        }
        return (lp, binaries)
    }

    func solve(_ lp: LinearProgram, binaries: Int, timeLimit: Duration?, relativeGap: Double, cuts: Bool,
               feasibilityPump: Bool) throws -> NetworkMILPResult {
        let solution = try lp.solveInteger(timeLimit: timeLimit, relativeGap: relativeGap, cuts: cuts,
                                           feasibilityPump: feasibilityPump)
        let input = graph.input
        let inputRange = columnStart[input]..<(columnStart[input] + graph.values[input].count)
        return NetworkMILPResult(status: solution.status, objective: solution.incumbent?.objectiveValue,
                                 input: solution.incumbent.map { Array($0.columnValues[inputRange]) },
                                 bestBound: solution.bestBound, binaryCount: binaries, solution: solution)
    }
}

/// The result of ``NetworkLP/milp(minimising:timeLimit:relativeGap:cuts:feasibilityPump:)``.
public struct NetworkMILPResult: Sendable {
    public var status: MILPStatus
    /// The objective at the incumbent, as GLPK computed it from the incumbent's columns.
    public var objective: Double?
    /// The incumbent's input (the input value's columns), if an incumbent was found. It lies
    /// in the box up to GLPK's feasibility tolerance; evaluate the network at it (clipped to
    /// the box) before using it as a counterexample.
    public var input: [Double]?
    /// A lower bound of the minimum, up to GLPK's tolerances (see ``MILPSolution/bestBound``).
    public var bestBound: Double
    /// Number of binary columns (unstable neurons).
    public var binaryCount: Int
    /// Everything GLPK returned.
    public var solution: MILPSolution
}
