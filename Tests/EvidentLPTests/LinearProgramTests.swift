import EvidentLP
import Foundation
import Testing

/// |a − b| ≤ 1e-9: the solutions below are exact rationals that GLPK reaches up to rounding.
func close(_ a: Double, _ b: Double, tolerance: Double = 1e-9) -> Bool { abs(a - b) <= tolerance }

func close(_ a: [Double], _ b: [Double], tolerance: Double = 1e-9) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { close($0, $1, tolerance: tolerance) }
}

/// minimise x + y  s.t.  x + 2y ≥ 2,  3x + y ≥ 3,  x, y ≥ 0.
/// Optimum at the intersection x = 4/5, y = 3/5, value 7/5; duals solve Aᵀπ = c:
/// π = (2/5, 1/5), both rows active, both reduced costs 0.
func minimisationExample() throws -> LinearProgram {
    var lp = LinearProgram(sense: .minimise)
    let x = try lp.addColumn(objective: 1)
    let y = try lp.addColumn(objective: 1)
    try lp.addRow(columns: [x, y], coefficients: [1, 2], bounds: .lower(2))
    try lp.addRow([(x, 3), (y, 1)], bounds: .lower(3))
    return lp
}

@Test(arguments: [LPMethod.simplex, .dualSimplex])
func minimisationHasTheClosedFormOptimumAndDuals(_ method: LPMethod) throws {
    let solution = try minimisationExample().solve(method: method)
    #expect(solution.status == .optimal)
    #expect(solution.isPrimalFeasible)
    #expect(close(solution.objectiveValue, 7.0 / 5))
    #expect(close(solution.columnValues, [4.0 / 5, 3.0 / 5]))
    #expect(close(solution.rowValues, [2, 3]))
    #expect(close(solution.rowDuals, [2.0 / 5, 1.0 / 5]))
    #expect(close(solution.reducedCosts, [0, 0]))
    #expect(solution.basis.columnStatuses == [.basic, .basic])
    #expect(solution.basis.rowStatuses == [.atLower, .atLower])
}

/// maximise 3x + 2y − z + 5  s.t.  x + y ≤ 4,  x + 3y ≤ 6,  −10 ≤ x − y ≤ 10,  y ≥ −5 (a row),
/// with 0 ≤ x ≤ 2.5, y free, z = 1 fixed. Every bound kind appears.
/// Optimum: x = 2.5 (at its upper bound), y = 7/6 (from x + 3y = 6), z = 1,
/// value 7.5 + 7/3 − 1 + 5 = 83/6. Duals: only x + 3y ≤ 6 is active, π = 2/3 (from y's column);
/// reduced costs d = c − Aᵀπ: x 3 − 2/3 = 7/3, y 0, z −1.
@Test(arguments: [LPMethod.simplex, .dualSimplex])
func maximisationWithEveryBoundKind(_ method: LPMethod) throws {
    var lp = LinearProgram(sense: .maximise)
    let x = try lp.addColumn(bounds: .double(0, 2.5), objective: 3)
    let y = try lp.addColumn(bounds: .free, objective: 2)
    try lp.addColumn(bounds: .fixed(1), objective: -1)  // z
    try lp.setObjectiveConstant(5)
    try lp.addRow(columns: [x, y], coefficients: [1, 1], bounds: .upper(4))
    try lp.addRow(columns: [x, y], coefficients: [1, 3], bounds: .upper(6))
    try lp.addRow(columns: [x, y], coefficients: [1, -1], bounds: .double(-10, 10))
    try lp.addRow(columns: [y], coefficients: [1], bounds: LPBounds(lower: -5, upper: .infinity))

    let s = try lp.solve(method: method)
    #expect(s.status == .optimal)
    #expect(close(s.objectiveValue, 83.0 / 6))
    #expect(close(s.columnValues, [2.5, 7.0 / 6, 1]))
    let yValue: Double = 7.0 / 6
    let expectedRows: [Double] = [2.5 + yValue, 6, 2.5 - yValue, yValue]
    #expect(close(s.rowValues, expectedRows))
    #expect(close(s.rowDuals, [0, 2.0 / 3, 0, 0]))
    #expect(close(s.reducedCosts, [7.0 / 3, 0, -1]))
    #expect(s.basis.columnStatuses == [.atUpper, .basic, .fixed])

    // The documented identities: c = Aᵀπ + d, and the objective from duals and active bounds.
    for j in 0..<lp.columnCount {
        var sum = s.reducedCosts[j]
        for i in 0..<lp.rowCount {
            if let k = lp.rowColumns[i].firstIndex(of: j) { sum += lp.rowCoefficients[i][k] * s.rowDuals[i] }
        }
        #expect(close(sum, lp.objective[j]))
    }
    let dualObjective = zip(s.rowDuals, s.rowValues).map(*).reduce(0, +)
        + zip(s.reducedCosts, s.columnValues).map(*).reduce(0, +) + lp.objectiveConstant
    #expect(close(dualObjective, s.objectiveValue))
}

@Test(arguments: [LPMethod.simplex, .dualSimplex])
func infeasibleProgramIsReported(_ method: LPMethod) throws {
    // x, y ≥ 0 and x + y ≤ −1.
    var lp = LinearProgram()
    try lp.addColumns(2)
    try lp.setObjective(column: 0, coefficient: 1)
    try lp.addRow(columns: [0, 1], coefficients: [1, 1], bounds: .upper(-1))
    let solution = try lp.solve(method: method)
    #expect(solution.status == .infeasible)
    #expect(!solution.isPrimalFeasible)
}

@Test(arguments: [LPMethod.simplex, .dualSimplex])
func unboundedProgramIsReported(_ method: LPMethod) throws {
    // maximise x  s.t.  x − y ≤ 1,  x, y ≥ 0: along x = y + 1 the objective grows without bound.
    var lp = LinearProgram(sense: .maximise)
    try lp.addColumn(objective: 1)
    try lp.addColumn()
    try lp.addRow(columns: [0, 1], coefficients: [1, -1], bounds: .upper(1))
    let solution = try lp.solve(method: method)
    #expect(solution.status == .unbounded)
}

@Test func warmStartFromAnEarlierBasisAfterTighteningABound() throws {
    var lp = try minimisationExample()
    let first = try lp.solve()
    // x ≤ 1/2 cuts off the optimum; the new optimum is x = 1/2, y = 3/2 (3x + y ≥ 3), value 2.
    try lp.setBounds(column: 0, .double(0, 0.5))
    let cold = try lp.solve(method: .dualSimplex)
    let warm = try lp.solve(method: .dualSimplex, warmStart: first.basis)
    for s in [cold, warm] {
        #expect(s.status == .optimal)
        #expect(close(s.objectiveValue, 2))
        #expect(close(s.columnValues, [0.5, 1.5]))
    }
    #expect(warm.iterations <= cold.iterations)

    // A basis of the wrong size is refused before GLPK sees it.
    let wrong = LPBasis(rowStatuses: [.basic], columnStatuses: [.atLower, .atLower])
    #expect(throws: LPError.basisMismatch(expectedRows: 2, expectedColumns: 2, rows: 1, columns: 2)) {
        try lp.solve(warmStart: wrong)
    }
    // A basis with the wrong number of basic variables is invalid to GLPK: the solve restarts.
    let invalid = LPBasis(rowStatuses: [.basic, .basic], columnStatuses: [.basic, .basic])
    let restarted = try lp.solve(warmStart: invalid)
    #expect(restarted.status == .optimal)
    #expect(close(restarted.objectiveValue, 2))
}

@Test func emptyAndTrivialPrograms() throws {
    let empty = try LinearProgram().solve()
    #expect(empty.status == .optimal)
    #expect(empty.objectiveValue == 0)
    #expect(empty.columnValues.isEmpty && empty.rowDuals.isEmpty)

    // Columns only: minimise 2a − b + 1 over a ∈ [1, 3], b ≤ 4.
    var boxed = LinearProgram()
    try boxed.addColumn(bounds: .double(1, 3), objective: 2)
    try boxed.addColumn(bounds: .upper(4), objective: -1)
    try boxed.setObjectiveConstant(1)
    let s = try boxed.solve()
    #expect(s.status == .optimal)
    #expect(close(s.objectiveValue, 2 - 4 + 1))
    #expect(close(s.columnValues, [1, 4]))
}

@Test func limitsAreValidatedAndApplied() throws {
    let lp = try minimisationExample()
    #expect(throws: LPError.self) { try lp.solve(timeLimit: .zero) }
    #expect(throws: LPError.self) { try lp.solve(timeLimit: .seconds(-1)) }
    #expect(throws: LPError.self) { try lp.solve(iterationLimit: 0) }
    #expect(try lp.solve(timeLimit: .milliseconds(500)).status == .optimal)  // 2 iterations fit easily
    #expect(try lp.solve(timeLimit: .seconds(1e12)).status == .optimal)   // clamped, not overflowed
    let stopped = try lp.solve(method: .simplex, iterationLimit: 1)
    #expect(stopped.status == .iterationLimitReached)
}

// MARK: - Argument validation: each of these would make GLPK abort the process if passed on.

@Test func badIndicesThrowInsteadOfAborting() throws {
    var lp = try minimisationExample()
    #expect(throws: LPError.columnOutOfRange(column: 2, columnCount: 2)) {
        try lp.addRow(columns: [0, 2], coefficients: [1, 1], bounds: .upper(1))
    }
    #expect(throws: LPError.columnOutOfRange(column: -1, columnCount: 2)) {
        try lp.addRow(columns: [-1], coefficients: [1], bounds: .upper(1))
    }
    #expect(throws: LPError.duplicateColumn(row: 2, column: 1)) {
        try lp.addRow(columns: [1, 0, 1], coefficients: [1, 1, 1], bounds: .upper(1))
    }
    #expect(throws: LPError.mismatchedLengths(row: 2, columns: 2, coefficients: 1)) {
        try lp.addRow(columns: [0, 1], coefficients: [1], bounds: .upper(1))
    }
    #expect(throws: LPError.rowOutOfRange(row: 2, rowCount: 2)) { try lp.setBounds(row: 2, .free) }
    #expect(throws: LPError.columnOutOfRange(column: 5, columnCount: 2)) { try lp.setBounds(column: 5, .free) }
    #expect(throws: LPError.columnOutOfRange(column: 2, columnCount: 2)) { try lp.setObjective(column: 2, coefficient: 1) }
    #expect(throws: LPError.invalidCount(-3)) { try lp.addColumns(-3) }
    // Nothing was added by the failed calls, and the program still solves.
    #expect(lp.rowCount == 2 && lp.columnCount == 2 && lp.nonzeroCount == 4)
    #expect(try lp.solve().status == .optimal)
}

@Test func badNumbersThrowInsteadOfReachingGLPK() throws {
    var lp = try minimisationExample()
    #expect(throws: LPError.self) { try lp.addRow(columns: [0], coefficients: [.nan], bounds: .upper(1)) }
    #expect(throws: LPError.self) { try lp.addRow(columns: [0], coefficients: [.infinity], bounds: .upper(1)) }
    #expect(throws: LPError.self) { try lp.addColumn(objective: .nan) }
    #expect(throws: LPError.self) { try lp.setObjectiveConstant(-.infinity) }
    for bad in [LPBounds.double(2, 1), .fixed(.nan), .lower(.infinity), .upper(-.infinity),
                LPBounds(lower: .nan, upper: 1), .fixed(.infinity)] {
        #expect(throws: LPError.self) { try lp.addColumn(bounds: bad) }
        #expect(throws: LPError.self) { try lp.setBounds(column: 0, bad) }
        #expect(throws: LPError.self) { try lp.setBounds(row: 0, bad) }
        #expect(throws: LPError.self) { try lp.addRow(columns: [0], coefficients: [1], bounds: bad) }
    }
    let error = LPError.invalidBounds(item: "row 0", lower: 2, upper: 1)
    #expect(error.errorDescription?.contains("row 0") == true)
    #expect(try lp.solve().status == .optimal)
}

/// GLPK keeps per-thread state; programs solved concurrently on several threads must not
/// interfere (each solve owns its problem object from creation to deletion on one thread).
@Test func concurrentSolvesAgree() async throws {
    let lp = try minimisationExample()
    let values = try await withThrowingTaskGroup(of: Double.self) { group in
        for _ in 0..<64 {
            group.addTask { try lp.solve().objectiveValue }
        }
        var values = [Double]()
        for try await value in group { values.append(value) }
        return values
    }
    #expect(values.count == 64)
    #expect(values.allSatisfy { close($0, 7.0 / 5) })
}
