import Evident
import EvidentTestSupport
import Foundation
import Testing

/// `evident verify` and `evident check` end to end on the structural-operator networks of
/// `Tests/EvidentBoundsTests/Fixtures/make_structural_fixtures.py`: Slice, Split, Gather and
/// Neg in one; Conv, LeakyRelu, ConvTranspose, linear Resize, reflect Pad, Clip and
/// ReduceMean in the other. Thresholds come from the networks themselves: one below CROWN's
/// lower bound (a root proof), one between that bound and the smallest sampled output
/// (branch and bound or an attack: either verdict, but settled), one above a sampled output
/// (a witness).
@Suite("verify and check through the structural operators")
struct StructuralVerifyTests {
    static let models = ["relu_network_slice_split_gather", "relu_network_composite"]

    static func model(_ name: String) -> String {
        repositoryPath("Tests/EvidentBoundsTests/Fixtures/structural/\(name).onnx")
    }

    /// An L∞ box of radius `radius` around a point, with the condition on the outputs.
    static func property(inputs: [Double], radius: Double, outputs: Int, condition: String) -> String {
        var lines = (0..<inputs.count).map { "(declare-const X_\($0) Real)" } + (0..<outputs).map { "(declare-const Y_\($0) Real)" }
        for (i, x) in inputs.enumerated() {
            lines.append("(assert (>= X_\(i) \(x - radius)))")
            lines.append("(assert (<= X_\(i) \(x + radius)))")
        }
        lines.append("(assert \(condition))")
        return lines.joined(separator: "\n") + "\n"
    }

    @Test(arguments: models)
    func verdictsAreCertifiedAndChecked(_ name: String) throws {
        let network = try ONNXLoader.load(path: Self.model(name))
        let graph = network.graph
        let evaluator = Evaluator(graph: graph)
        let n = evaluator.inputCount, m = evaluator.outputCount
        let centre = (0..<n).map { 0.3 * sin(Double($0) + 1) }, radius = 0.05
        let lower = centre.map { $0 - radius }, upper = centre.map { $0 + radius }
        // CROWN's lower bound of Y_0, and the smallest Y_0 over sampled points of the box.
        let row = LinearSpecification(rows: 1, coefficients: (0..<m).map { $0 == 0 ? 1 : 0 })
        let crown = BoundPropagator(graph: graph).bounds(of: row, lower: lower, upper: upper, batch: 1,
                                                         options: BoundOptions(method: .crown)).lower[0]
        var rng = SeededGenerator(seed: 15)
        var sampled = Double.infinity
        for _ in 0..<2000 {
            let x = (0..<n).map { lower[$0] + Double.random(in: 0...1, using: &rng) * 2 * radius }
            sampled = min(sampled, try evaluator.evaluate(x, batch: 1)[0])
        }
        #expect(crown <= sampled, "\(name): CROWN's lower bound \(crown) is above the sampled minimum \(sampled)")
        let folder = try TemporaryFolder()
        let cases: [(threshold: Double, verdicts: [String])] = [
            (crown - 0.05, ["unsat"]), (crown + 0.5 * (sampled - crown), ["unsat", "sat"]), (sampled + 1e-3, ["sat"]),
        ]
        for (k, (threshold, verdicts)) in cases.enumerated() {
            let spec = try folder.write("p\(k).vnnlib", Self.property(inputs: centre, radius: radius, outputs: m,
                                                                      condition: "(<= Y_0 \(threshold))"))
            let proof = folder.url.appendingPathComponent("p\(k).proof").path
            let run = try CLI.run("verify", Self.model(name), spec, "--certificate", proof, "--timeout", "120")
            #expect(verdicts.contains { run.standardOutput.hasPrefix($0 + "\n") }, "\(name), Y_0 ≤ \(threshold) (CROWN \(crown), sampled \(sampled)): \(run)")
            let check = try CLI.run("check", proof, "--model", Self.model(name), "--property", spec)
            #expect(check.status == 0, "\(name): the certificate of case \(k) does not check: \(check)")
        }
    }

    /// `evident info` shows where each input and output of a several-tensor model sits among
    /// the property variables, and lists every unsupported operator of a model at once.
    @Test func infoShowsLayoutAndEveryUnsupportedOperator() throws {
        let layout = try CLI.run("info", Self.model("two_inputs_two_outputs"))
        #expect(layout.status == 0, "\(layout)")
        for line in ["input  a [1, 3]  X_0..X_2", "input  b [1, 2]  X_3..X_4", "output y1 [1, 4]  Y_0..Y_3",
                     "output y2 [1, 4]  Y_4..Y_7"] {
            #expect(layout.standardOutput.contains(line), "'\(line)' missing from: \(layout)")
        }
        let refused = try CLI.run("info", repositoryPath("Tests/EvidentBoundsTests/Fixtures/structural/errors/several_unsupported_operators.onnx"))
        #expect(refused.status == 2, "\(refused)")
        for fragment in ["3 operators are not supported", "Sigmoid (2 nodes", "Tanh (node: 'tanh_a')", "Softmax"] {
            #expect(refused.standardError.contains(fragment), "'\(fragment)' missing from: \(refused)")
        }
    }
}
