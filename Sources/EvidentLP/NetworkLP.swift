import EvidentIR
import EvidentSoundArithmetic

/// The canonical LP of a network over elementwise bounds of its values, exactly as
/// Docs/certificates.md ("The canonical LP of a node") specifies it, so that the row duals
/// GLPK returns for it are the multipliers the certificate checker expects.
///
/// - **Columns**: one per element of every value, values in graph order (the input first,
///   then each node's output in node order), elements flat; bounds are the given ones.
/// - **Rows**, node by node in graph order:
///   - an affine node: one row per output element `k`, `s_k y_k − Σ_e J_{k,e} x_e = b_k`, with
///     `J`, `b` the operation's exact coefficients and offset, and `s_k = 1` except for a
///     division by `c` (`s_k = c_k`, `J = 1`), an average pool over `m` counted cells
///     (`s_k = m`, `J = 1` on each in-image cell) and a global average pool (`s_k` = the
///     number of spatial positions). Where ``Network/constantRadii`` records a rounding error
///     (Linear, ChannelAffine), the row is ranged: `[b_k − r_k, b_k + r_k]` with `r_k` an
///     upper bound (directed rounding) of the error over the operand's bounds.
///   - a ReLU node: per neuron `j`, the rows `z_j − ẑ_j ≥ 0`, then `z_j − s_j ẑ_j ≤ t_j` with
///     `(s_j, t_j)` the upper line (below); `(1, 0)` for an active neuron (`l ≥ 0`), `(0, 0)`
///     for an inactive one (`u ≤ 0`). Row order and count do not depend on stability.
///   - MaxPool is not supported (``LPError/unsupportedNetwork(node:detail:)``).
///
/// The upper line of an unstable neuron (`l < 0 < u`) is `s = u / up(u − l)` and
/// `t = max(up(−s·l), up(u − down(s·u)))` (`up`/`down`: directed rounding), so that
/// `s·l + t ≥ 0` and `s·u + t ≥ u` hold exactly and the line lies above `max(ẑ, 0)` on
/// `[l, u]` in real arithmetic, the line the checker validates.
///
/// All bounds must be finite and non-empty: an element with `l > u` means the subdomain is
/// empty, which needs no LP.
///
/// Multipliers: for `min cᵀx` over this program, GLPK's row duals are the `y` of the
/// Neumaier–Shcherbina bound the checker evaluates (see ``LinearProgram/dualBound(y:objective:)``);
/// the results below return them made sign-feasible (``LinearProgram/signFeasible(_:)``).
public struct NetworkLP: Sendable {
    /// Which bound of an element to compute.
    public enum Side: Sendable, Equatable {
        /// Minimise the element.
        case lower
        /// Minimise its negation; the upper bound is minus that minimum.
        case upper
    }

    /// The function an LP minimises.
    public enum Objective: Sendable, Equatable {
        /// Zero (a feasibility question).
        case none
        /// `+x` (``Side/lower``) or `−x` (``Side/upper``) for element `element` of `value`.
        case element(value: ValueID, element: Int, side: Side)
        /// `Σ_k coefficients[k] · y_k` over the elements of the graph's output value.
        case outputs([Double])
    }

    /// The upper lines of one ReLU node's neurons (`z ≤ slope · ẑ + intercept`).
    public struct ReluLines: Sendable, Equatable {
        public var slope: [Double]
        public var intercept: [Double]
    }

    /// The network's graph.
    public let graph: Graph
    /// The canonical LP, with a zero objective.
    public let program: LinearProgram
    /// First column of each value (indexed by ``ValueID``); the value's elements follow.
    public let columnStart: [Int]
    /// First row of each node (indexed by node), and the total row count at the end.
    public let rowStart: [Int]
    /// The elementwise bounds the LP was built from, per value.
    public let lower: [[Double]]
    public let upper: [[Double]]
    /// The upper lines used in the rows of each ReLU node, keyed by node index.
    public let reluLines: [Int: ReluLines]

    /// Builds the canonical LP of `network` over `bounds`.
    ///
    /// - Parameters:
    ///   - network: the graph and its recorded constant radii.
    ///   - bounds: for every value of the graph (indexed by ``ValueID``), elementwise bounds;
    ///     the input value's bounds are the box. Every number finite, `lower ≤ upper`.
    /// - Throws: ``LPError/invalidValueBounds(value:detail:)`` for missing, mis-sized,
    ///   non-finite or empty bounds; ``LPError/unsupportedNetwork(node:detail:)`` for MaxPool,
    ///   a non-finite constant, or constant radii the LP cannot charge.
    public init(network: Network, bounds: [(lower: [Double], upper: [Double])]) throws {
        let graph = network.graph
        self.graph = graph
        guard bounds.count == graph.values.count else {
            throw LPError.invalidValueBounds(value: "(all)", detail: "\(bounds.count) bound pairs given for "
                                             + "\(graph.values.count) values")
        }
        for (v, b) in bounds.enumerated() {
            let name = graph.values[v].name, size = graph.values[v].count
            guard b.lower.count == size, b.upper.count == size else {
                throw LPError.invalidValueBounds(value: name, detail: "\(b.lower.count) lower and \(b.upper.count) upper "
                                                 + "bounds for \(size) elements")
            }
            for e in 0..<size {
                let (l, u) = (b.lower[e], b.upper[e])
                guard l.isFinite, u.isFinite else {
                    throw LPError.invalidValueBounds(value: name, detail: "element \(e) has a non-finite bound [\(l), \(u)]")
                }
                guard l <= u else {
                    throw LPError.invalidValueBounds(value: name, detail: "element \(e) has empty bounds [\(l), \(u)] "
                                                     + "(the subdomain is empty)")
                }
            }
        }
        lower = bounds.map(\.lower)
        upper = bounds.map(\.upper)
        let radii = try Self.validatedRadii(network)

        // Columns: the input, then each node's output.
        let order = [graph.input] + graph.nodes.map(\.output)
        guard order.count == graph.values.count, Set(order).count == order.count else {
            throw LPError.unsupportedNetwork(node: "(graph)", detail: "its values are not the input and one output per node")
        }
        var program = LinearProgram(sense: .minimise)
        var start = [Int](repeating: 0, count: graph.values.count)
        for v in order {
            start[v] = program.columnCount
            for e in 0..<graph.values[v].count {
                try program.addColumn(bounds: .double(lower[v][e], upper[v][e]))
            }
        }
        columnStart = start

        // Rows, node by node.
        var rowStart = [Int]()
        var lines = [Int: ReluLines]()
        var builder = RowBuilder(columnStart: start)
        for (index, node) in graph.nodes.enumerated() {
            rowStart.append(program.rowCount)
            switch node.operation {
            case .maxPool:
                throw LPError.unsupportedNetwork(node: node.name, detail: "MaxPool is not supported in LPs "
                                                 + "(Docs/certificates.md, \"The canonical LP of a node\")")
            case .relu:
                let pre = node.inputs[0], out = node.output
                let relu = Self.upperLines(lower: lower[pre], upper: upper[pre])
                lines[index] = relu
                for j in 0..<graph.values[out].count {
                    let z = start[out] + j, zHat = start[pre] + j
                    try program.addRow(columns: [z, zHat], coefficients: [1, -1], bounds: .lower(0))
                    let s = relu.slope[j]
                    if s == 0 {
                        try program.addRow(columns: [z], coefficients: [1], bounds: .upper(relu.intercept[j]))
                    } else {
                        try program.addRow(columns: [z, zHat], coefficients: [1, -s], bounds: .upper(relu.intercept[j]))
                    }
                }
            default:
                try builder.addAffineRows(graph, node: index, radius: radii[index], lower: lower, upper: upper,
                                          to: &program)
            }
        }
        rowStart.append(program.rowCount)
        self.rowStart = rowStart
        reluLines = lines
        self.program = program
    }

    // MARK: Indices

    /// The LP column of element `element` of `value`.
    /// - Throws: ``LPError/invalidIndex(_:)``.
    public func column(value: ValueID, element: Int) throws -> Int {
        guard value >= 0 && value < graph.values.count else {
            throw LPError.invalidIndex("value \(value) (the graph has \(graph.values.count) values)")
        }
        guard element >= 0 && element < graph.values[value].count else {
            throw LPError.invalidIndex("element \(element) of '\(graph.values[value].name)' "
                                       + "(\(graph.values[value].count) elements)")
        }
        return columnStart[value] + element
    }

    /// The LP rows of node `node`. Precondition: `0 ≤ node < graph.nodes.count`.
    public func rows(ofNode node: Int) -> Range<Int> {
        precondition(node >= 0 && node < graph.nodes.count, "rows(ofNode:): node out of range")
        return rowStart[node]..<rowStart[node + 1]
    }

    /// The objective vector `c` (one coefficient per column) of `objective`.
    /// - Throws: ``LPError/invalidIndex(_:)``, ``LPError/nonFiniteValue(item:value:)``.
    public func objectiveVector(_ objective: Objective) throws -> [Double] {
        var c = [Double](repeating: 0, count: program.columnCount)
        for term in try objectiveTerms(objective) { c[term.column] += term.coefficient }
        return c
    }

    func objectiveTerms(_ objective: Objective) throws -> [(column: Int, coefficient: Double)] {
        switch objective {
        case .none:
            return []
        case let .element(value, element, side):
            return [(try column(value: value, element: element), side == .lower ? 1 : -1)]
        case .outputs(let coefficients):
            let out = graph.output
            guard coefficients.count == graph.values[out].count else {
                throw LPError.invalidIndex("\(coefficients.count) output coefficients for \(graph.values[out].count) outputs")
            }
            if let bad = coefficients.first(where: { !$0.isFinite }) {
                throw LPError.nonFiniteValue(item: "output objective coefficient", value: bad)
            }
            return coefficients.enumerated().filter { $0.element != 0 }.map { (columnStart[out] + $0.offset, $0.element) }
        }
    }

    // MARK: Solving

    /// Minimises `objective` over the canonical LP with ``LPMethod/robust``.
    ///
    /// - Returns: GLPK's solution, its multipliers made sign-feasible, and their bound
    ///   (``NetworkLPResult``).
    /// - Throws: ``LPError/invalidIndex(_:)`` for a bad objective, and what
    ///   ``LinearProgram/solve(method:timeLimit:iterationLimit:warmStart:)`` throws.
    public func solve(_ objective: Objective, timeLimit: Duration? = nil, warmStart: LPBasis? = nil) throws -> NetworkLPResult {
        var lp = program
        for term in try objectiveTerms(objective) { try lp.setObjective(column: term.column, coefficient: term.coefficient) }
        let solution = try lp.solve(method: .robust, timeLimit: timeLimit, warmStart: warmStart)
        return try result(solution, objective: objective)
    }

    /// A lower (``Side/lower``) or upper (``Side/upper``) bound of element `neuron` of `value`
    /// over the canonical LP: the minimum of `x`, or minus the minimum of `−x`.
    ///
    /// ``NetworkLPBound/bound`` comes from the multipliers (their Neumaier–Shcherbina bound in
    /// plain floating point, negated for an upper bound), the number the checker recomputes
    /// soundly from ``NetworkLPBound/duals``; ``NetworkLPBound/optimum`` is GLPK's optimum.
    public func solveBound(of value: ValueID, neuron: Int, side: Side, timeLimit: Duration? = nil,
                           warmStart: LPBasis? = nil) throws -> NetworkLPBound {
        NetworkLPBound(try solve(.element(value: value, element: neuron, side: side), timeLimit: timeLimit,
                                 warmStart: warmStart), side: side)
    }

    /// Bounds of many elements on one GLPK problem, each solve warm-started from the previous
    /// one's basis (``LinearProgram/solve(objectives:method:timeLimit:iterationLimit:warmStart:)``);
    /// `timeLimit` applies to each solve. Results are in request order.
    public func solveBounds(_ requests: [(value: ValueID, neuron: Int, side: Side)], timeLimit: Duration? = nil,
                            warmStart: LPBasis? = nil) throws -> [NetworkLPBound] {
        let objectives = requests.map { Objective.element(value: $0.value, element: $0.neuron, side: $0.side) }
        let terms = try objectives.map(objectiveTerms)
        let solutions = try program.solve(objectives: terms, method: .robust, timeLimit: timeLimit, warmStart: warmStart)
        return try zip(zip(solutions, objectives), requests).map { pair, request in
            NetworkLPBound(try result(pair.0, objective: pair.1), side: request.side)
        }
    }

    /// Minimises `Σ_k coefficients[k] · y_k` over the output value (an LP refutation of
    /// `a · y ≤ d` holds when the bound exceeds `d`).
    public func solveMinimum(of coefficients: [Double], timeLimit: Duration? = nil,
                             warmStart: LPBasis? = nil) throws -> NetworkLPResult {
        try solve(.outputs(coefficients), timeLimit: timeLimit, warmStart: warmStart)
    }

    /// The Neumaier–Shcherbina lower bound of `objective` over the canonical LP for
    /// multipliers `y` (``LinearProgram/dualBound(y:objective:)``): plain binary64
    /// evaluation, for the verifier's own use; the checker has its own sound evaluation.
    /// - Throws: ``LPError/multiplierCount(expected:got:)``, ``LPError/invalidIndex(_:)``.
    public func dualBound(y: [Double], objective: Objective) throws -> Double {
        try program.dualBound(y: y, objective: objectiveVector(objective))
    }

    /// A certificate that the canonical LP is infeasible (so the subdomain is empty), or `nil`
    /// when it is feasible; see ``LinearProgram/farkasCertificate(timeLimit:)``.
    public func farkasCertificate(timeLimit: Duration? = nil) throws -> FarkasCertificate? {
        try program.farkasCertificate(timeLimit: timeLimit)
    }

    /// Multipliers whose bound for `objective` reaches `target`, from a certificate of
    /// infeasibility: with `F > 0` its bound, `λ · y_F` bounds the objective by at least
    /// `λ F + Σ_j min(c_j l_j, c_j u_j)` (the minimum of a sum over a box is at least the sum
    /// of the minima), so a large enough `λ` reaches any target. The result is checked with
    /// ``dualBound(y:objective:)`` (plain floating point) and `nil` is returned when no
    /// `λ ≤ 2¹⁰⁰⁰` reaches it.
    public func infeasibilityMultipliers(_ certificate: FarkasCertificate, objective: Objective,
                                         reaching target: Double) throws -> [Double]? {
        guard certificate.multipliers.count == program.rowCount else {
            throw LPError.multiplierCount(expected: program.rowCount, got: certificate.multipliers.count)
        }
        guard certificate.bound > 0, target.isFinite else { return nil }
        let c = try objectiveVector(objective)
        var base = 0.0
        for j in 0..<c.count where c[j] != 0 {
            base += c[j] > 0 ? c[j] * program.columnBounds[j].lower : c[j] * program.columnBounds[j].upper
        }
        var lambda = Swift.max(1, (target - base) / certificate.bound * 1.001 + 1)
        while lambda.isFinite && lambda < 0x1p1000 {
            let y = certificate.multipliers.map { lambda * $0 }
            if try dualBound(y: y, objective: objective) >= target { return y }
            lambda *= 2
        }
        return nil
    }

    func result(_ solution: LPSolution, objective: Objective) throws -> NetworkLPResult {
        let duals = program.signFeasible(solution.rowDuals)
        let optimal = solution.status == .optimal
        return NetworkLPResult(status: solution.status, optimum: optimal ? solution.objectiveValue : nil, duals: duals,
                               dualBound: optimal ? try dualBound(y: duals, objective: objective) : nil,
                               solution: solution)
    }

    // MARK: Construction helpers

    /// The upper lines of neurons with pre-activation bounds `[l, u]` (see the type's notes).
    static func upperLines(lower l: [Double], upper u: [Double]) -> ReluLines {
        var slope = [Double](repeating: 0, count: l.count), intercept = slope
        for j in 0..<l.count {
            if l[j] >= 0 {
                slope[j] = 1
            } else if u[j] > 0 {
                let s = u[j] / roundedSum(u[j], -l[j], upward: true)
                slope[j] = s
                intercept[j] = Swift.max(roundedProduct(-s, l[j], upward: true),
                                         roundedSum(u[j], -roundedProduct(s, u[j], upward: false), upward: true))
            }
        }
        return ReluLines(slope: slope, intercept: intercept)
    }

    /// The network's constant radii, checked: only Linear and ChannelAffine nodes may carry
    /// them, with one finite, non-negative radius per constant.
    static func validatedRadii(_ network: Network) throws -> [Int: ConstantRadius] {
        let graph = network.graph
        var result = [Int: ConstantRadius]()
        for (index, radius) in network.constantRadii {
            guard index >= 0 && index < graph.nodes.count else {
                throw LPError.unsupportedNetwork(node: "#\(index)", detail: "constant radii recorded for a node that does not exist")
            }
            let node = graph.nodes[index]
            guard (radius.coefficients + radius.offsets).allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                throw LPError.unsupportedNetwork(node: node.name, detail: "a constant radius is negative or not finite")
            }
            switch node.operation {
            case let .channelAffine(scale, shift):
                guard radius.coefficients.count == scale.count, radius.offsets.count == shift.count else {
                    throw LPError.unsupportedNetwork(node: node.name, detail: "constant radii do not match its channels")
                }
            case .linear(let lin):
                guard radius.coefficients.count == lin.weight.count, radius.offsets.count == lin.outFeatures else {
                    throw LPError.unsupportedNetwork(node: node.name, detail: "constant radii do not match its weights")
                }
            default:
                throw LPError.unsupportedNetwork(node: node.name, detail: "constant radii on a \(node.operation.name) node "
                                                 + "cannot be charged in the LP")
            }
            result[index] = radius
        }
        return result
    }
}

/// The result of minimising an objective over a ``NetworkLP``.
public struct NetworkLPResult: Sendable {
    /// How GLPK's solve ended.
    public var status: LPStatus
    /// GLPK's optimum of the minimised objective (`nil` unless ``status`` is optimal).
    public var optimum: Double?
    /// GLPK's row duals made sign-feasible: the multipliers `y` of the checker's
    /// Neumaier–Shcherbina bound, one per canonical row (for non-optimal statuses, those of
    /// the last basis, without guarantee).
    public var duals: [Double]
    /// The Neumaier–Shcherbina lower bound of the minimised objective from ``duals``, in plain
    /// floating point (`nil` unless optimal). Within GLPK's tolerances of ``optimum``.
    public var dualBound: Double?
    /// Everything GLPK returned: primal values, raw row duals, reduced costs, basis, path.
    public var solution: LPSolution
}

/// A bound of one element from a ``NetworkLP``, on the element's side.
public struct NetworkLPBound: Sendable {
    public var side: NetworkLP.Side
    public var status: LPStatus
    /// The bound from the multipliers: ``NetworkLPResult/dualBound`` for a lower bound, its
    /// negation for an upper bound (`nil` unless optimal).
    public var bound: Double?
    /// GLPK's optimum on the same side (`nil` unless optimal).
    public var optimum: Double?
    /// The multipliers for the checker (of the minimised objective: `+x` or `−x`).
    public var duals: [Double]
    /// Everything GLPK returned.
    public var solution: LPSolution

    init(_ result: NetworkLPResult, side: NetworkLP.Side) {
        self.side = side
        status = result.status
        let sign: Double = side == .lower ? 1 : -1
        bound = result.dualBound.map { sign * $0 }
        optimum = result.optimum.map { sign * $0 }
        duals = result.duals
        solution = result.solution
    }
}
