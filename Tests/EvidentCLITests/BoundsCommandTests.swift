import Evident
import EvidentTestSupport
import Foundation
import Testing

/// `evident bounds` on the repository's network and properties (self-contained).
@Suite("evident bounds")
struct BoundsCommandTests {
    static let model = repositoryPath("Networks/digits_resnet/digits_resnet.onnx")
    static let properties = ["digits_resnet_img2_eps0.01", "digits_resnet_img866_eps0.05"]
        .map { repositoryPath("Specs/\($0).vnnlib") }

    /// Runs `evident bounds` with `--json` and returns the parsed object.
    static func bounds(_ property: String, _ options: String...) throws -> [String: Any] {
        try bounds(property, options)
    }

    static func bounds(_ property: String, _ options: [String]) throws -> [String: Any] {
        let result = try CLI.run(["bounds", model, property, "--json"] + options)
        #expect(result.status == 0 && result.standardError.isEmpty, "\(result)")
        return try CLI.jsonObject(result)
    }

    static func margins(_ json: [String: Any]) throws -> [Double] {
        try #require(json["margins"] as? [Double], "no margins in \(json)")
    }

    /// Every margin is a lower bound: at sampled points of the box (centre and corners), the
    /// distance of the outputs from each clause is at least the clause's margin.
    @Test("margins are lower bounds of the clauses' distances at points of the box", arguments: properties)
    func marginsBoundSampledPoints(_ property: String) throws {
        let network = try loadNetwork(path: Self.model)
        let spec = try loadProperty(path: property, for: network)
        let region = try #require(spec.regions.first)
        let evaluator = Evaluator(graph: network.graph)
        var rng = SeededGenerator(seed: 7)
        var points = [zip(region.lower, region.upper).map { ($0 + $1) / 2 }]
        for _ in 0..<32 { points.append(zip(region.lower, region.upper).map { Bool.random(using: &rng) ? $0 : $1 }) }
        let runs = [["ibp"], ["crown"], ["alpha-crown"], ["crown", "--intermediate-method", "ibp"],
                    ["alpha-crown", "--intermediate-method", "ibp"], ["alpha-crown", "--alpha-scope", "final"],
                    ["alpha-crown", "--patience", "2", "--stop-when-refuted"]]
        for run in runs {
            let method = run[0]
            let json = try Self.bounds(property, ["--method"] + run + ["--iterations", "5"])
            let margins = try Self.margins(json)
            try #require(margins.count == region.clauses.count, "\(method): \(margins.count) margins")
            #expect(json["method"] as? String == method)
            #expect((json["seconds"] as? Double).map { $0 > 0 } == true, "\(json)")
            #expect(json["minMargin"] as? Double == margins.min())
            for point in points {
                let outputs = try evaluator.evaluate(point, batch: 1)
                for (clause, margin) in zip(region.clauses, margins) {
                    let distance = clause.constraints.map { $0.value(outputs: outputs) - $0.bound }.max() ?? -.infinity
                    #expect(margin <= distance + 1e-9 * max(1, abs(distance)), "\(method): margin \(margin) > distance \(distance)")
                }
            }
        }
    }

    @Test("alpha-CROWN margins are at least CROWN's", arguments: properties)
    func alphaNotLooser(_ property: String) throws {
        let crown = try Self.margins(Self.bounds(property, "--method", "crown"))
        let alpha = try Self.margins(Self.bounds(property, "--method", "alpha-crown", "--iterations", "5"))
        for (c, a) in zip(crown, alpha) { #expect(a >= c - 1e-9, "alpha \(a) < CROWN \(c)") }
    }

    /// img2 at ε 0.01 is refuted by CROWN already, so `--stop-when-refuted` stops α-CROWN at
    /// its first evaluation; without it, all 20 run. The margins stay at least CROWN's.
    @Test("--stop-when-refuted and --patience stop alpha-CROWN early, and evaluations says so")
    func earlyStop() throws {
        let property = Self.properties[0]
        let crown = try Self.bounds(property, "--method", "crown")
        try #require(try Self.margins(crown).allSatisfy { $0 > 0 }, "the test needs a property CROWN proves")
        let full = try Self.bounds(property, "--method", "alpha-crown")
        #expect(full["evaluations"] as? [Int] == [20])
        let stopped = try Self.bounds(property, "--method", "alpha-crown", "--stop-when-refuted")
        #expect(stopped["evaluations"] as? [Int] == [1])
        let patient = try Self.bounds(property, "--method", "alpha-crown", "--alpha-scope", "final", "--patience", "1")
        let evaluations = try #require(patient["evaluations"] as? [Int])
        #expect(evaluations.count == 1 && evaluations[0] >= 1 && evaluations[0] <= 20)
        for json in [stopped, patient] {
            for (m, c) in zip(try Self.margins(json), try Self.margins(crown)) { #expect(m >= c - 1e-6 * max(1, abs(c)), "\(m) < CROWN \(c)") }
        }
        let negative = try CLI.run("bounds", Self.model, property, "--patience=-1")
        #expect(negative.status == 2 && negative.standardError.contains("--patience must be >= 0"), "\(negative)")
    }

    /// Under a budget rows are chunked (down to one row), which changes no margin beyond
    /// rounding; a budget too small for every target's slopes turns α-CROWN into the
    /// final-rows scope, and says so.
    @Test("--max-memory chunks rows and falls back to the final-rows scope")
    func maxMemory() throws {
        let property = Self.properties[1]
        let crown = try Self.margins(Self.bounds(property, "--method", "crown"))
        let chunked = try Self.margins(Self.bounds(property, "--method", "crown", "--max-memory", "1K"))
        for (a, b) in zip(chunked, crown) { #expect(abs(a - b) <= 1e-9 * max(1, abs(b)), "chunked \(a), default \(b)") }
        let final = try Self.margins(Self.bounds(property, "--method", "alpha-crown", "--iterations", "5", "--max-memory", "1K",
                                                 "--alpha-scope", "final"))
        let result = try CLI.run("bounds", Self.model, property, "--method", "alpha-crown", "--iterations", "5", "--max-memory", "1K",
                                 "--progress", "--json")
        #expect(result.status == 0, "\(result)")
        #expect(result.standardError.contains("over the memory budget"), "\(result)")
        #expect(try Self.margins(CLI.jsonObject(result)) == final)
        let bad = try CLI.run("bounds", Self.model, property, "--max-memory", "12Q")
        #expect(bad.status != 0 && bad.standardError.contains("12Q"), "\(bad)")
    }

    /// The property's memory budget is half of `--max-memory` (at least 64 MiB): 2^17 clauses
    /// of 17 constraints (about 85 MiB expanded) are refused under `--max-memory 100M` with the
    /// file, the place and the estimate, before any of them is built.
    @Test("--max-memory bounds the expanded property")
    func maxMemoryBoundsTheProperty() throws {
        let folder = try TemporaryFolder()
        let text = (0..<64).map { "(declare-const X_\($0) Real)\n" }.joined() + (0..<10).map { "(declare-const Y_\($0) Real)\n" }.joined()
            + (0..<64).map { "(assert (>= X_\($0) 0))\n(assert (<= X_\($0) 1))\n" }.joined()
            + String(repeating: "(assert (or (<= Y_0 0) (<= Y_1 0)))\n", count: 17)
        let file = try folder.write("doubling.vnnlib", text)
        let result = try CLI.run("bounds", Self.model, file, "--max-memory", "100M")
        #expect(result.status == 2 && result.standardOutput.isEmpty, "\(result)")
        for phrase in ["doubling.vnnlib:\(74 + 128 + 17):9:", "131072 disjuncts", "MiB as parsed", "budget of 64 MiB"] {
            #expect(result.standardError.contains(phrase), "stderr lacks '\(phrase)': \(result)")
        }
    }

    @Test("--precision float32 agrees with float64 up to rounding", arguments: properties)
    func float32(_ property: String) throws {
        for method in ["crown", "alpha-crown"] {
            let double = try Self.margins(Self.bounds(property, "--method", method, "--iterations", "5"))
            let single = try Self.margins(Self.bounds(property, "--method", method, "--iterations", "5", "--precision", "float32"))
            try #require(single.count == double.count)
            for (s, d) in zip(single, double) {
                #expect(abs(s - d) <= 1e-5 * max(1, abs(d)), "\(method): float32 \(s), float64 \(d)")
            }
        }
    }

    @Test("--intermediate lists every ReLU input with its shape and ordered bounds")
    func intermediate() throws {
        let json = try Self.bounds(Self.properties[0], "--intermediate")
        let regions = try #require(json["intermediate"] as? [[[String: Any]]])
        let network = try loadNetwork(path: Self.model)
        let reluInputs = network.graph.nodes.filter { $0.operation == .relu }.map { network.graph.values[$0.inputs[0]] }
        try #require(regions.count == 1)
        let layers = regions[0]
        #expect(layers.map { $0["name"] as? String } == reluInputs.map(\.name))
        for (layer, value) in zip(layers, reluInputs) {
            let lower = try #require(layer["lower"] as? [Double]), upper = try #require(layer["upper"] as? [Double])
            #expect(layer["shape"] as? [Int] == value.shape)
            #expect(lower.count == value.count && upper.count == value.count)
            #expect(zip(lower, upper).allSatisfy { $0 <= $1 }, "\(value.name): a lower bound above its upper bound")
        }
    }

    @Test("--progress reports each CROWN layer and each alpha-CROWN iteration on standard error")
    func progress() throws {
        let result = try CLI.run("bounds", Self.model, Self.properties[0], "--method", "alpha-crown", "--iterations", "3",
                                 "--progress", "--json")
        #expect(result.status == 0, "\(result)")
        let lines = result.standardError.split(separator: "\n")
        #expect(lines.contains { $0.contains("CROWN bounds of") }, "\(result)")
        #expect(lines.filter { $0.contains("alpha-CROWN iteration") }.count == 3, "\(result)")
        #expect(try CLI.jsonObject(result)["margins"] != nil, "progress must not reach standard output")
    }

    @Test("bad option values are one-line errors")
    func badOptions() throws {
        let negative = try CLI.run("bounds", Self.model, Self.properties[0], "--iterations=-1")
        #expect(negative.status == 2, "\(negative)")
        #expect(negative.standardError.contains("--iterations must be >= 0"), "\(negative)")
        let precision = try CLI.run("bounds", Self.model, Self.properties[0], "--precision", "float16")
        #expect(precision.status != 0 && precision.standardError.contains("float16"), "\(precision)")
    }
}
