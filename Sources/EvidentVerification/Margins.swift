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
    /// Pre-activation and other intermediate bounds, per region.
    public var intermediate: [[IntervalBounds?]]
    /// Bound evaluations per region with clauses (α-CROWN: its optimisation steps, fewer
    /// than asked after an early stop; 1 for IBP and CROWN).
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

/// An early-stop test for α-CROWN: true once every clause (one group of rows, each a column
/// of the call's bounds with its constraint's `d`) has a row whose bound exceeds its `d`.
func everyClauseRefuted(_ clauses: [[(column: Int, threshold: Double)]]) -> @Sendable ([Double]) -> Bool {
    { best in clauses.allSatisfy { clause in clause.contains { best[$0.column] > $0.threshold } } }
}

/// Computes the margin of every output clause of `property` over its input regions.
///
/// Each region's constraints become the rows of one linear specification, bounded with
/// `options` over that region's box. A region without clauses contributes no margin. With
/// `stopWhenRefuted`, α-CROWN stops on a region as soon as every one of its clauses is
/// refuted (besides `options.earlyStop`'s patience).
public func propertyMargins(network: Network, property: Property, options: BoundOptions = BoundOptions(),
                            propagator: BoundPropagator? = nil, stopWhenRefuted: Bool = false) -> MarginReport {
    let propagator = propagator ?? BoundPropagator(graph: network.graph)
    let outputs = network.graph.outputShape.elementCount
    let start = DispatchTime.now().uptimeNanoseconds
    var margins = [Double]()
    var intermediate = [[IntervalBounds?]]()
    var evaluations = [Int]()
    for region in property.regions {
        guard let (spec, bounds) = specification(of: region, outputs: outputs) else { continue }
        var options = options
        if stopWhenRefuted {
            var row = 0
            options.earlyStop.satisfied = everyClauseRefuted(region.clauses.map { clause in
                defer { row += clause.constraints.count }
                return (row..<(row + clause.constraints.count)).map { (column: $0, threshold: bounds[$0]) }
            })
        }
        let result = propagator.bounds(of: spec, lower: region.lower, upper: region.upper, batch: 1, options: options)
        intermediate.append(result.intermediate)
        evaluations.append(result.evaluations)
        var row = 0
        for clause in region.clauses {
            var margin = -Double.infinity
            for _ in clause.constraints {
                margin = max(margin, result.lower[row] - bounds[row])
                row += 1
            }
            margins.append(margin)
        }
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    return MarginReport(method: options.method, seconds: seconds, margins: margins, intermediate: intermediate,
                        evaluations: evaluations)
}
