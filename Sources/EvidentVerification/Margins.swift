import Foundation
import EvidentIR
import EvidentVNNLib
import EvidentBounds
import EvidentEval

/// Certified margins of a property's unsafe clauses, as `evident bounds` reports them.
public struct MarginReport: Sendable {
    /// The method used.
    public var method: BoundMethod
    /// Seconds spent computing bounds (loading excluded).
    public var seconds: Double
    /// One margin per output clause, region by region, in file order. A margin is a lower
    /// bound of the distance of the outputs from the clause's unsafe set: for a constraint
    /// `Σ c_j Y_j ≤ d` it is a lower bound of `Σ c_j Y_j − d`; for a conjunction, the
    /// largest of its constraints' margins. A clause is refuted when its margin is `> 0`.
    public var margins: [Double]
    /// The smallest margin (the property holds on every region when it is `> 0`).
    public var minMargin: Double { margins.min() ?? .infinity }
    /// Pre-activation and other intermediate bounds, per region with clauses (only when
    /// asked for with `keepIntermediate`; empty otherwise).
    public var intermediate: [[IntervalBounds?]]
    /// Bound evaluations per region with clauses (α-CROWN: its optimisation steps, fewer
    /// than asked after an early stop, the most of its calls when its rows were split; 1 for
    /// IBP and CROWN).
    public var evaluations: [Int] = []
}

/// A region's output constraints as one linear specification (one row per constraint
/// `Σ c_j Y_j ≤ d`, clause by clause) with each row's `d`: a row's margin is its lower bound
/// minus `d`. `nil` when the region has no constraints.
public func specification(of region: InputRegion, outputs: Int) -> (spec: LinearSpecification, bounds: [Double])? {
    var coefficients = [Double]()
    var bounds = [Double]()
    for clause in region.clauses {
        for constraint in clause.constraints {
            var row = [Double](repeating: 0, count: outputs)
            for term in constraint.terms { row[term.output] += term.coefficient }
            coefficients += row
            bounds.append(constraint.bound)
        }
    }
    guard !bounds.isEmpty else { return nil }
    return (LinearSpecification(rows: bounds.count, coefficients: coefficients), bounds)
}

/// The distinct left-hand sides of some regions' output constraints, one specification row
/// each, and for every constraint the row it uses.
///
/// Constraints that differ only in their threshold share a row: the margin of `c·y ≤ d` is
/// `lower(c·y) − d`, so `lower(c·y)` is computed once per distinct `c` (an output-only
/// disjunction of 120,000 comparisons between five outputs has at most 30 distinct rows).
/// Rows are told apart by their terms (sorted by output, no zero coefficient, as parsed),
/// so the table costs memory per distinct row, not per constraint.
public struct SpecificationRows: Sendable {
    /// Number of outputs of the network (the width of a row).
    public let outputs: Int
    /// The distinct rows, `rowCount × outputs`, row-major, in order of first use.
    public private(set) var coefficients: [Double] = []
    private var rowOfTerms: [[LinearConstraint.Term]: Int] = [:]

    /// An empty table for a network with `outputs` outputs.
    public init(outputs: Int) { self.outputs = outputs }

    /// Number of distinct rows.
    public var rowCount: Int { coefficients.count / max(1, outputs) }

    /// The row of the left-hand side of `constraint`, added when new.
    public mutating func row(of constraint: LinearConstraint) -> Int {
        if let known = rowOfTerms[constraint.terms] { return known }
        let row = rowCount
        var dense = [Double](repeating: 0, count: outputs)
        for term in constraint.terms { dense[term.output] += term.coefficient }
        coefficients += dense
        rowOfTerms[constraint.terms] = row
        return row
    }

    /// How many rows `region`'s constraints would add.
    public func newRows(of region: InputRegion) -> Int {
        var seen = Set<[LinearConstraint.Term]>()
        for clause in region.clauses {
            for constraint in clause.constraints where rowOfTerms[constraint.terms] == nil {
                seen.insert(constraint.terms)
            }
        }
        return seen.count
    }

    /// The specification of the rows `range`.
    public func specification(_ range: Range<Int>) -> LinearSpecification {
        LinearSpecification(rows: range.count, coefficients: Array(coefficients[(range.lowerBound * outputs)..<(range.upperBound * outputs)]))
    }
}

/// An early-stop test for α-CROWN: true once every clause (one group of rows, each a column
/// of the call's bounds with its constraint's `d`) has a row whose bound exceeds its `d`.
func everyClauseRefuted(_ clauses: [[(column: Int, threshold: Double)]]) -> @Sendable ([Double]) -> Bool {
    { best in clauses.allSatisfy { clause in clause.contains { best[$0.column] > $0.threshold } } }
}

/// Largest number of bound rows (distinct specification rows times boxes) of one call of
/// ``propertyMargins(network:property:options:propagator:stopWhenRefuted:keepIntermediate:)``:
/// a region with more distinct rows is bounded in chunks of this many, and consecutive
/// regions are batched (IBP and CROWN) while their rows over all their boxes stay within it.
public let marginRowsPerCall = 4096

/// Largest number of boxes batched into one IBP or CROWN call.
public let marginBoxesPerCall = 256

/// Computes the margin of every output clause of `property` over its input regions.
///
/// Each region's constraints become rows of a linear specification, one per distinct
/// left-hand side (see ``SpecificationRows``), bounded with `options` over that region's
/// box; a region without clauses contributes no margin. Memory stays bounded whatever the
/// number of clauses and regions:
/// - a region with more than ``marginRowsPerCall`` distinct rows is bounded in chunks of
///   rows (each chunk by its own call: α-CROWN optimises each chunk by itself);
/// - with IBP and CROWN, consecutive regions are bounded together, their boxes as one batch
///   (at most ``marginBoxesPerCall`` boxes and ``marginRowsPerCall`` rows over all boxes),
///   each box exactly as a one-box call would (`sharesContainingBoxes` off); so 120,000
///   regions of an nn4sys `lindex` property cost a few hundred calls, not 120,000;
/// - intermediate bounds are kept only with `keepIntermediate` (they take a few kilobytes
///   per region even for a small network); then every region has its own call.
/// With `stopWhenRefuted`, α-CROWN stops on a region (or chunk of rows) as soon as every one
/// of its clauses is refuted by the rows of the call (besides `options.earlyStop`'s patience).
///
/// Margins are computed in floating point from the propagator's bounds (round-to-nearest,
/// not certified: see ``BoundPropagator``).
public func propertyMargins(network: Network, property: Property, options: BoundOptions = BoundOptions(),
                            propagator: BoundPropagator? = nil, stopWhenRefuted: Bool = false,
                            keepIntermediate: Bool = false) -> MarginReport {
    let propagator = propagator ?? BoundPropagator(graph: network.graph)
    let outputs = network.graph.outputShape.elementCount
    let start = DispatchTime.now().uptimeNanoseconds
    var margins = [Double]()
    margins.reserveCapacity(property.outputClauseCount)
    var intermediate = [[IntervalBounds?]]()
    var evaluations = [Int]()
    let batches = options.method != .alphaCrown && !keepIntermediate
    let regions = property.regions.filter { region in region.clauses.contains { !$0.constraints.isEmpty } }

    var next = 0
    while next < regions.count {
        // The regions of this call: one, or as many following ones as fit with their rows.
        // `rowOf`: per constraint (clause by clause, region by region) its row.
        var table = SpecificationRows(outputs: outputs)
        var batch = [InputRegion]()
        var rowOf = [Int]()
        repeat {
            let region = regions[next]
            if !batch.isEmpty {
                let rows = table.rowCount + table.newRows(of: region)
                if rows * (batch.count + 1) > marginRowsPerCall || batch.count == marginBoxesPerCall { break }
            }
            for clause in region.clauses { for constraint in clause.constraints { rowOf.append(table.row(of: constraint)) } }
            batch.append(region)
            next += 1
        } while batches && next < regions.count

        var lower = [Double](repeating: -.infinity, count: table.rowCount * batch.count)
        var calls = 0
        if batch.count > 1 {
            var batchOptions = options
            batchOptions.sharesContainingBoxes = false
            let result = propagator.bounds(of: table.specification(0..<table.rowCount),
                                           lower: batch.flatMap(\.lower), upper: batch.flatMap(\.upper),
                                           batch: batch.count, options: batchOptions)
            lower = result.lower
            calls = result.evaluations
        } else {
            let region = batch[0]
            var chunk = 0
            while chunk < table.rowCount {
                let range = chunk..<min(table.rowCount, chunk + marginRowsPerCall)
                var callOptions = options
                if stopWhenRefuted {
                    callOptions.earlyStop.satisfied = everyClauseRefuted(clauseGroups(region, rowOf: rowOf, in: range))
                }
                let result = propagator.bounds(of: table.specification(range), lower: region.lower, upper: region.upper,
                                               batch: 1, options: callOptions)
                for (k, row) in range.enumerated() { lower[row] = result.lower[k] }
                if keepIntermediate && chunk == 0 { intermediate.append(result.intermediate) }
                calls = max(calls, result.evaluations)
                chunk = range.upperBound
            }
        }
        // Margins: a clause's is the largest of its constraints' `lower(row) − d`.
        var constraint = 0
        for (b, region) in batch.enumerated() {
            evaluations.append(calls)
            for clause in region.clauses {
                var margin = -Double.infinity
                for c in clause.constraints {
                    margin = max(margin, lower[b * table.rowCount + rowOf[constraint]] - c.bound)
                    constraint += 1
                }
                margins.append(margin)
            }
        }
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    return MarginReport(method: options.method, seconds: seconds, margins: margins, intermediate: intermediate,
                        evaluations: evaluations)
}

/// The clauses of `region` as groups of (column within the call of rows `range`, threshold),
/// for the early-stop test; constraints whose rows lie outside `range` are left out, and so
/// are clauses with none inside.
func clauseGroups(_ region: InputRegion, rowOf: [Int], in range: Range<Int>) -> [[(column: Int, threshold: Double)]] {
    var groups = [[(column: Int, threshold: Double)]]()
    var k = 0
    for clause in region.clauses {
        var group = [(column: Int, threshold: Double)]()
        for constraint in clause.constraints {
            if range.contains(rowOf[k]) { group.append((rowOf[k] - range.lowerBound, constraint.bound)) }
            k += 1
        }
        if !group.isEmpty { groups.append(group) }
    }
    return groups
}
