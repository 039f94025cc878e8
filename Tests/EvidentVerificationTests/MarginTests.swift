import Evident
import EvidentTestSupport
import Foundation
import Testing

/// `propertyMargins` on properties with very many clauses and regions: shared rows, chunks of
/// rows and batches of regions give the margins of the plain one-row-per-constraint,
/// one-region-per-call computation, and every margin is a lower bound.
@Suite struct MarginTests {
    static func network(inputs: Int, outputs: Int, seed: UInt64) throws -> Network {
        let graph = try RandomNetworks.dense(seed: seed, inputs: inputs, hidden: [12, 12], outputs: outputs)
        return Network(graph: graph, source: "random", format: "memory", sourceOperatorCounts: [:], parameterCount: 0)
    }

    /// `Y_0 + (k/64)·Y_1 ≤ d`: `distinct` different left-hand sides, each used by several
    /// constraints with different thresholds, some clauses of two constraints.
    static func manyClauses(distinct: Int, clauses: Int, inputs: Int) -> Property {
        var g = SeededGenerator(seed: 7)
        var list = [OutputClause]()
        for c in 0..<clauses {
            func constraint(_ k: Int) -> LinearConstraint {
                LinearConstraint(terms: [.init(output: 0, coefficient: 1), .init(output: 1, coefficient: Double(k % distinct) / 64 + 1)],
                                 bound: g.uniform(-3...3))
            }
            list.append(OutputClause(constraints: c % 5 == 0 ? [constraint(c), constraint(c * 7 + 3)] : [constraint(c)]))
        }
        let lower = [Double](repeating: -0.5, count: inputs), upper = [Double](repeating: 0.5, count: inputs)
        return Property(inputCount: inputs, outputCount: 2, regions: [InputRegion(lower: lower, upper: upper, clauses: list)],
                        source: "many.vnnlib")
    }

    /// `regions` boxes along `X_0` (the other inputs in [-0.2, 0.2]), each with one or two
    /// clauses over the same few left-hand sides, as in an nn4sys `lindex` property.
    static func manyRegions(_ regions: Int, inputs: Int) -> Property {
        var g = SeededGenerator(seed: 11)
        let list = (0..<regions).map { r -> InputRegion in
            var lower = [Double](repeating: -0.2, count: inputs), upper = [Double](repeating: 0.2, count: inputs)
            lower[0] = -1 + 2 * Double(r) / Double(regions)
            upper[0] = -1 + 2 * Double(r + 1) / Double(regions)
            var clauses = [OutputClause(constraints: [LinearConstraint(terms: [.init(output: 0, coefficient: 1)], bound: g.uniform(-2...1))])]
            if r % 3 == 0 {
                clauses.append(OutputClause(constraints: [
                    LinearConstraint(terms: [.init(output: 0, coefficient: -1)], bound: g.uniform(-2...1)),
                    LinearConstraint(terms: [.init(output: 0, coefficient: -1), .init(output: 1, coefficient: 1)], bound: 0),
                ]))
            }
            return InputRegion(lower: lower, upper: upper, clauses: clauses)
        }
        return Property(inputCount: inputs, outputCount: 2, regions: list, source: "lindex.vnnlib")
    }

    /// The plain computation: every constraint its own row, each region its own call.
    static func plainMargins(_ network: Network, _ property: Property, _ options: BoundOptions) -> [Double] {
        let propagator = BoundPropagator(graph: network.graph)
        var margins = [Double]()
        for region in property.regions {
            guard let (spec, thresholds) = specification(of: region, outputs: 2) else { continue }
            let lower = propagator.bounds(of: spec, lower: region.lower, upper: region.upper, batch: 1, options: options).lower
            var row = 0
            for clause in region.clauses {
                var margin = -Double.infinity
                for _ in clause.constraints {
                    margin = max(margin, lower[row] - thresholds[row])
                    row += 1
                }
                margins.append(margin)
            }
        }
        return margins
    }

    static func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-9 * max(1, abs(b)) }

    /// At sampled points of each region's box, every clause's margin is at most the largest
    /// `c·y − d` of its constraints (the distance the margin bounds from below).
    static func expectLowerBounds(_ network: Network, _ property: Property, _ margins: [Double], regions: [Int]) throws {
        let evaluator = Evaluator(graph: network.graph)
        var g = SeededGenerator(seed: 3)
        var first = [Int](), running = 0
        for region in property.regions {
            first.append(running)
            running += region.clauses.count
        }
        try #require(margins.count == running)
        for r in regions {
            let region = property.regions[r]
            for _ in 0..<8 {
                let x = zip(region.lower, region.upper).map { l, u in l + (u - l) * g.uniform(0...1) }
                let y = try evaluator.evaluate(x)
                for (c, clause) in region.clauses.enumerated() {
                    let distance = clause.constraints.map { $0.value(outputs: y) - $0.bound }.max()!
                    #expect(margins[first[r] + c] <= distance + 1e-9 * max(1, abs(distance)),
                            "region \(r) clause \(c): margin \(margins[first[r] + c]) > \(distance) at \(x)")
                }
            }
        }
    }

    /// 6,000 clauses over 5,000 distinct rows: two chunks of rows, equal to the plain result.
    @Test(arguments: [BoundMethod.ibp, .crown])
    func sharedAndChunkedRowsGiveThePlainMargins(_ method: BoundMethod) throws {
        let network = try Self.network(inputs: 3, outputs: 2, seed: 1)
        let property = Self.manyClauses(distinct: 5000, clauses: 6000, inputs: 3)
        let options = BoundOptions(method: method)
        let report = propertyMargins(network: network, property: property, options: options)
        let plain = Self.plainMargins(network, property, options)
        try #require(report.margins.count == plain.count)
        for (k, (a, b)) in zip(report.margins, plain).enumerated() { #expect(Self.close(a, b), "clause \(k): \(a) vs plain \(b)") }
        #expect(report.evaluations == [1])
        try Self.expectLowerBounds(network, property, report.margins, regions: [0])
    }

    /// α-CROWN optimises each chunk by itself: never looser than CROWN, still lower bounds.
    @Test func alphaCrownOverChunksOfRows() throws {
        let network = try Self.network(inputs: 3, outputs: 2, seed: 2)
        let property = Self.manyClauses(distinct: 4500, clauses: 5000, inputs: 3)
        let crown = propertyMargins(network: network, property: property, options: BoundOptions(method: .crown)).margins
        let alpha = propertyMargins(network: network, property: property,
                                    options: BoundOptions(method: .alphaCrown, iterations: 3), stopWhenRefuted: true)
        try #require(alpha.margins.count == crown.count)
        for (a, c) in zip(alpha.margins, crown) { #expect(a >= c - 1e-9 * max(1, abs(c)), "alpha \(a) < CROWN \(c)") }
        try Self.expectLowerBounds(network, property, alpha.margins, regions: [0])
    }

    /// 700 regions: batched IBP and CROWN calls (several batches) equal one call per region
    /// (which `keepIntermediate` forces), and keep nothing per region unless asked.
    @Test(arguments: [BoundMethod.ibp, .crown])
    func batchedRegionsGiveOneRegionAtATime(_ method: BoundMethod) throws {
        let network = try Self.network(inputs: 2, outputs: 2, seed: 4)
        let property = Self.manyRegions(700, inputs: 2)
        let options = BoundOptions(method: method)
        let batched = propertyMargins(network: network, property: property, options: options)
        let single = propertyMargins(network: network, property: property, options: options, keepIntermediate: true)
        let plain = Self.plainMargins(network, property, options)
        try #require(batched.margins.count == property.outputClauseCount && single.margins.count == plain.count)
        for (k, (a, b)) in zip(batched.margins, plain).enumerated() { #expect(Self.close(a, b), "clause \(k): batched \(a) vs plain \(b)") }
        for (k, (a, b)) in zip(single.margins, plain).enumerated() { #expect(Self.close(a, b), "clause \(k): single \(a) vs plain \(b)") }
        #expect(batched.intermediate.isEmpty && single.intermediate.count == 700)
        #expect(batched.evaluations == [Int](repeating: 1, count: 700))
        try Self.expectLowerBounds(network, property, batched.margins, regions: [0, 1, 2, 255, 256, 257, 699])
    }
}
