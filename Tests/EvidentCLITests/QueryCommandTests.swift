import Evident
import EvidentTestSupport
import Foundation
import Testing

/// VNN-LIB 2.0 through the command line: the standard's verify interface, certificates that
/// bind every network, hidden tensors, conversion of the shared 1.0 properties, `supports`
/// and `vnnlib check`.
@Suite struct QueryCommandTests {
    static let acas = "acasxu/ACASXU_run2a_1_1_batch_2000.onnx"
    static let acasOther = "acasxu/ACASXU_run2a_1_9_batch_2000.onnx"
    static let hiddenModel = repositoryPath("Tests/EvidentONNXTests/Fixtures/hidden/conv_bn_relu_gemm.onnx")

    /// Every shared instance (network, property), one network per property file.
    static func sharedInstances() -> [(network: String, property: String)] {
        var seen = Set<String>(), result: [(String, String)] = []
        for (folder, csv) in [("acasxu/", "acasxu/instances.csv"), ("cifar10_resnet/", "cifar10_resnet/instances.csv"),
                              ("oval21/", "oval21/instances.csv"), ("test/", "test/test_instances.csv")] {
            for row in SharedBenchmarks.csvRows(csv, header: false) where row.count >= 2 {
                let property = folder + row[1]
                if seen.insert(property).inserted { result.append((folder + row[0], property)) }
            }
        }
        return result
    }

    /// Each shared 1.0 property, converted to 2.0 with its network's shapes, binds to the
    /// network with exactly the original property: the same boxes, clauses and thresholds,
    /// hence the same bound margins and verdicts. Margins through `evident bounds` agree too.
    @Test(.enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
    func convertedSharedPropertiesAreTheSame() throws {
        let instances = Self.sharedInstances()
        #expect(instances.count == 37)
        let folder = try TemporaryFolder()
        for (k, (networkFile, propertyFile)) in instances.enumerated() {
            let network = try loadNetwork(path: SharedBenchmarks.path(networkFile))
            let original = try VNNLibParser.parse(path: SharedBenchmarks.path(propertyFile))
            let text = String(decoding: try InputFile.readData(path: SharedBenchmarks.path(propertyFile)), as: UTF8.self)
            let converted = try VNNLibConversion.versionTwo(of: text, source: propertyFile, inputShape: network.inputParts[0].shape,
                                                            outputShape: network.outputParts[0].shape)
            let path = try folder.write("q\(k).vnnlib", converted)
            let bound = try loadProperty(path: path, for: network)
            #expect(bound.regions == original.regions, "\(propertyFile)")
            #expect(bound.inputCount == original.inputCount, "\(propertyFile)")
            // Through the command line, on the small networks and the ACAS Xu ones.
            if networkFile.hasPrefix("test/") || networkFile.hasPrefix("acasxu/") {
                let model = SharedBenchmarks.path(networkFile)
                let a = try CLI.run("bounds", model, SharedBenchmarks.path(propertyFile), "--method", "crown", "--json")
                let b = try CLI.run("bounds", model, path, "--method", "crown", "--json")
                #expect(a.status == 0 && b.status == 0, "\(a)\n\(b)")
                #expect(try BoundsCommandTests.margins(CLI.jsonObject(a)) == BoundsCommandTests.margins(CLI.jsonObject(b)), "\(propertyFile)")
            }
        }
    }

    /// The small shared instances get the same verdict from the 1.0 file and from its 2.0
    /// conversion through the standard's interface.
    @Test(.enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
    func convertedVerdictsAgree() throws {
        let folder = try TemporaryFolder()
        for (networkFile, propertyFile) in [("test/test_tiny.onnx", "test/test_tiny.vnnlib"), ("test/test_small.onnx", "test/test_small.vnnlib"),
                                            ("test/test_sat.onnx", "test/test_prop.vnnlib"), ("test/test_unsat.onnx", "test/test_prop.vnnlib"),
                                            ("test/test_nano.onnx", "test/test_nano.vnnlib")] {
            let model = SharedBenchmarks.path(networkFile)
            let query = folder.url.appendingPathComponent((networkFile as NSString).lastPathComponent + ".vnnlib").path
            let convert = try CLI.run("vnnlib", "convert", SharedBenchmarks.path(propertyFile), query, "--model", model)
            #expect(convert.status == 0, "\(convert)")
            let original = try CLI.run("verify", model, SharedBenchmarks.path(propertyFile), "--timeout", "60")
            let standard = try CLI.run("verify", query, "--network", "N=\(model)", "--timeout", "60")
            let word = String(original.standardOutput.prefix { $0 != "\n" })
            #expect(["sat", "unsat"].contains(word), "\(original)")
            #expect(standard.standardOutput.hasPrefix(word + "\n"), "\(networkFile): 1.0 gives \(word); 2.0: \(standard)")
            #expect(standard.status == original.status)
        }
    }

    /// Two shared ACAS Xu networks on one input: do their advisories (the smallest score)
    /// differ somewhere in prop_3's box? A verdict with a checked certificate, and for sat the
    /// assignment in the standard's format, also as serialised TensorProtos.
    @Test(.enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
    func twoAcasXuNetworksDisagree() throws {
        var lines = ["(vnnlib-version <2.0>)",
                     "(declare-network f (declare-input X Real [1,1,1,5]) (declare-output Y Real [1,5]))",
                     "(declare-network g (declare-input U Real [1,1,1,5]) (declare-output Z Real [1,5]))"]
        let box = [(-0.303531156, -0.298552812), (-0.009549297, 0.009549297), (0.493380324, 0.5), (0.3, 0.5), (0.3, 0.5)]
        for (i, (low, high)) in box.enumerated() {
            lines.append("(assert (and (>= X[0,0,0,\(i)] \(low)) (<= X[0,0,0,\(i)] \(high))))")
            lines.append("(assert (== U[0,0,0,\(i)] X[0,0,0,\(i)]))")
        }
        var alternatives: [String] = []
        for i in 0..<5 {
            for j in 0..<5 where i != j {
                let f = (0..<5).filter { $0 != i }.map { "(<= Y[0,\(i)] Y[0,\($0)])" }
                let g = (0..<5).filter { $0 != j }.map { "(<= Z[0,\(j)] Z[0,\($0)])" }
                alternatives.append("(and " + (f + g).joined(separator: " ") + ")")
            }
        }
        lines.append("(assert (or " + alternatives.joined(separator: "\n  ") + "))")
        let folder = try TemporaryFolder()
        let query = try folder.write("advisory.vnnlib", lines.joined(separator: "\n") + "\n")
        let proof = folder.url.appendingPathComponent("advisory.proof").path
        let f = SharedBenchmarks.path(Self.acas), g = SharedBenchmarks.path(Self.acasOther)
        let run = try CLI.run("verify", query, "--network", "f=\(f)", "--network", "g=\(g)", "--timeout", "120", "--certificate", proof)
        let output = run.standardOutput.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(["sat", "unsat"].contains(String(output[0])), "\(run)")
        let check = try CLI.run("check", proof)
        #expect(check.standardOutput.hasPrefix("valid\n"), "\(check)")
        guard output[0] == "sat" else { return }
        // X, Y, U, Z: a header line and the values of each.
        #expect(output[0...].count >= 1 + 4 + 5 + 5 + 5 + 5)
        #expect(output[1] == "X Real [1,1,1,5]" && output[7] == "Y Real [1,5]" && output[13] == "U Real [1,1,1,5]" && output[19] == "Z Real [1,5]")
        let x = output[2...6].map { Double($0)! }, u = output[14...18].map { Double($0)! }
        #expect(x == u)
        for (i, (low, high)) in box.enumerated() { #expect(low <= x[i] && x[i] <= high) }
        // The outputs are the networks' own on that input, and their advisories differ.
        let y = try Evaluator(graph: loadNetwork(path: f).graph).evaluate(x, batch: 1)
        let z = try Evaluator(graph: loadNetwork(path: g).graph).evaluate(x, batch: 1)
        #expect(output[8...12].map { Double($0)! } == y && output[20...24].map { Double($0)! } == z)
        #expect(y.firstIndex(of: y.min()!) != z.firstIndex(of: z.min()!))
        // The same assignment, serialised.
        let pb = folder.url.appendingPathComponent("assignment").path
        let serialised = try CLI.run("verify", query, "--network", "f=\(f)", "--network", "g=\(g)", "--timeout", "120",
                                     "--serialise-assignments", pb)
        #expect(serialised.standardOutput == "sat\n", "\(serialised)")
        for (name, values) in [("X", x), ("Y", y), ("U", u), ("Z", z)] {
            let tensor = try ONNXTensorFile.read(Array(try Data(contentsOf: URL(fileURLWithPath: pb + "/\(name).pb"))), source: name)
            #expect(tensor.name == name && tensor.values == values)
        }
        // A changed model makes the certificate stale.
        let copy = try folder.write("g.onnx", "")
        try FileManager.default.removeItem(atPath: copy)
        try FileManager.default.copyItem(atPath: SharedBenchmarks.path("acasxu/ACASXU_run2a_1_2_batch_2000.onnx"), toPath: copy)
        let stale = try CLI.run("check", proof, "--network", "g=\(copy)")
        #expect(stale.standardOutput.hasPrefix("invalid") && stale.standardOutput.contains("stale model"), "\(stale)")
    }

    static func hiddenQuery(_ extra: String) -> String {
        var lines = ["(vnnlib-version <2.0>)",
                     "(declare-network n (declare-input X Real [1,2,5,5]) (declare-hidden H Real [1,3,5,5] \"relu_out\") (declare-output Y Real [1,4]))"]
        for c in 0..<2 {
            for i in 0..<5 {
                for j in 0..<5 { lines.append("(assert (and (>= X[0,\(c),\(i),\(j)] -1.0) (<= X[0,\(c),\(i),\(j)] 1.0)))") }
            }
        }
        lines.append("(assert (>= Y[0,0] -100.0))")
        lines.append(extra)
        return lines.joined(separator: "\n") + "\n"
    }

    /// A hidden tensor is an output of the composed network: a base query that is sat
    /// becomes unsat with a constraint no ReLU output meets, and a witness satisfies the
    /// hidden constraints too (its printed H is the ReLU's value).
    @Test func hiddenTensorConstraints() throws {
        let folder = try TemporaryFolder()
        let sat = try folder.write("sat.vnnlib", Self.hiddenQuery("(assert (>= H[0,1,2,2] 0.0))"))
        let run = try CLI.run("verify", sat, "--network", "n=\(Self.hiddenModel)", "--timeout", "60")
        let lines = run.standardOutput.split(separator: "\n")
        #expect(lines.first == "sat", "\(run)")
        #expect(lines.contains("H Real [1,3,5,5]"))
        if let h = lines.firstIndex(of: "H Real [1,3,5,5]") {
            let values = lines[(h + 1)...(h + 75)].map { Double($0)! }
            #expect(values.allSatisfy { $0 >= 0 } && values[1 * 25 + 2 * 5 + 2] >= 0)
        }
        let unsat = try folder.write("unsat.vnnlib", Self.hiddenQuery("(assert (<= H[0,1,2,2] -0.1))"))
        let proof = folder.url.appendingPathComponent("hidden.proof").path
        let refuted = try CLI.run("verify", unsat, "--network", "n=\(Self.hiddenModel)", "--timeout", "60", "--certificate", proof)
        #expect(refuted.standardOutput == "unsat\n", "\(refuted)")
        let check = try CLI.run("check", proof)
        #expect(check.standardOutput.hasPrefix("valid\n"), "\(check)")
        // An equal-to copy shares the model, hidden outputs included, on its own input.
        var copy = Self.hiddenQuery("(assert (>= H[0,1,2,2] 0.0))").replacingOccurrences(
            of: "(declare-output Y Real [1,4]))", with: "(declare-output Y Real [1,4]))\n(declare-network m (equal-to n) (declare-input U Real [1,2,5,5]) (declare-output Z Real [1,4]))")
        copy += (0..<50).map { "(assert (and (>= U[0,\($0 / 25),\($0 / 5 % 5),\($0 % 5)] -1.0) (<= U[0,\($0 / 25),\($0 / 5 % 5),\($0 % 5)] 1.0)))" }
            .joined(separator: "\n") + "\n(assert (or (> Y[0,0] Z[0,0]) (!= Y[0,1] Z[0,1])))\n"
        let pair = try folder.write("pair.vnnlib", copy)
        let pairProof = folder.url.appendingPathComponent("pair.proof").path
        let paired = try CLI.run("verify", pair, "--network", "n=\(Self.hiddenModel)", "--timeout", "60", "--certificate", pairProof)
        #expect(paired.standardOutput.hasPrefix("sat\nX Real [1,2,5,5]\n"), "\(paired)")
        #expect(try CLI.run("check", pairProof).standardOutput.hasPrefix("valid\n"))
        // A name the model does not have.
        let wrong = try folder.write("wrong.vnnlib", Self.hiddenQuery("(assert (>= H[0,1,2,2] 0.0))").replacingOccurrences(of: "\"relu_out\"", with: "\"relu_ou\""))
        let refused = try CLI.run("verify", wrong, "--network", "n=\(Self.hiddenModel)")
        #expect(refused.status == 2 && refused.standardOutput.isEmpty && refused.standardError.contains("no tensor named 'relu_ou'"), "\(refused)")
    }

    /// The standard's error conditions: missing or unnecessary models, element types that do
    /// not match or cannot be analysed soundly; messages on stderr, exit status 2.
    @Test func interfaceErrors() throws {
        let folder = try TemporaryFolder()
        let query = try folder.write("q.vnnlib", Self.hiddenQuery("(assert (>= H[0,1,2,2] 0.0))"))
        let cases: [([String], String)] = [
            (["verify", query], "no model for network 'n'"),
            (["verify", query, "--network", "n=\(Self.hiddenModel)", "--network", "m=\(Self.hiddenModel)"], "--network m=… names no network of the query"),
            (["verify", query, "--network", "n"], "--network takes NAME=MODEL"),
        ]
        for (arguments, message) in cases {
            let run = try CLI.run(arguments)
            #expect(run.status == 2 && run.standardError.contains(message), "\(run)")
        }
        let typed = try folder.write("typed.vnnlib", Self.hiddenQuery("(assert (>= H[0,1,2,2] 0.0))").replacingOccurrences(of: "X Real", with: "X float32"))
        let refused = try CLI.run("verify", typed, "--network", "n=\(Self.hiddenModel)")
        #expect(refused.status == 2 && refused.standardError.contains("declared float32: that asks for the model's exact float32 semantics"), "\(refused)")
        let mismatched = try folder.write("mismatched.vnnlib", Self.hiddenQuery("(assert (>= H[0,1,2,2] 0.0))").replacingOccurrences(of: "X Real", with: "X float64"))
        let mismatch = try CLI.run("verify", mismatched, "--network", "n=\(Self.hiddenModel)")
        #expect(mismatch.status == 2 && mismatch.standardError.contains("declared float64 but the model's tensor 'x' is float32"), "\(mismatch)")
    }

    @Test func supportsAnswersEveryCapability() throws {
        let expected: [(String, String)] = [
            ("--vnnlib-versions", "1.0\n2.0\n"), ("--onnx-opset-versions", "7\n21\n"), ("--onnx-element-types", "real\n"),
            ("--hidden-node-theories", "NH\nH\n"), ("--multiple-input-output-theories", "SIO\nMIO\n"),
            ("--multiple-network-theories", "SNET\nMENET\nMINET\nMNET\n"), ("--multiple-node-comparison-theories", "SNC\nMNC\n"),
            ("--arithmetic-complexity-theories", "BND\nOUTC\nLIN\n"), ("--optimised-disjunctive-reasoning", "false\n"),
            ("--serialise-assignments", "true\n"), ("--unsat-proofs", "false\n"), ("--onnx-operators-unsat-proofs", ""),
        ]
        for (flag, output) in expected {
            let run = try CLI.run("supports", flag)
            #expect(run.status == 0 && run.standardOutput == output, "\(run)")
        }
        let operators = try CLI.run("supports", "--onnx-operators").standardOutput.split(separator: "\n")
        #expect(operators.contains("Conv") && operators.contains("Gemm") && operators.contains("Relu") && !operators.contains("Softmax"))
        #expect(try CLI.run("supports").status != 0)
        #expect(try CLI.run("--name").standardOutput == "Evident\n")
        #expect(try CLI.run("--version").standardOutput.hasPrefix("0."))
    }

    /// `vnnlib check` prints the normalised problem; `vnnlib convert` takes a plain 2.0 query
    /// back to 1.0 with the same property.
    @Test func checkAndConvertBack() throws {
        let folder = try TemporaryFolder()
        let query = try folder.write("q.vnnlib", Self.hiddenQuery("(assert (or (>= Y[0,1] Y[0,2]) (<= Y[0,3] 0.5)))"))
        let check = try CLI.run("vnnlib", "check", query, "--network", "n=\(Self.hiddenModel)")
        #expect(check.status == 0, "\(check)")
        for line in ["VNN-LIB 2.0 query", "hidden H Real [1,3,5,5] \"relu_out\"  outputs 4..78", "composed input: 50 elements",
                     "input regions: 1, output clauses: 2"] {
            #expect(check.standardOutput.contains(line), "\(line)\n\(check)")
        }
        let plain = try folder.write("plain.vnnlib", """
            (vnnlib-version <2.0>)
            (declare-network n (declare-input X Real [1,2]) (declare-output Y Real [1,3]))
            (assert (and (>= X[0,0] -0.5) (<= X[0,0] 0.5) (>= X[0,1] 0.25) (<= X[0,1] 1.0)))
            (assert (or (>= Y[0,1] Y[0,0]) (== Y[0,2] 0.1)))
            """)
        let back = folder.url.appendingPathComponent("back.vnnlib").path
        #expect(try CLI.run("vnnlib", "convert", plain, back).status == 0)
        guard case .query(let original) = try VNNLibParser.parseDocument(path: plain) else { Issue.record("not a query"); return }
        #expect(try VNNLibParser.parse(path: back).regions == original.property.regions)
        let notPlain = folder.url.appendingPathComponent("nope.vnnlib").path
        let refused = try CLI.run("vnnlib", "convert", query, notPlain)
        #expect(refused.status == 2 && refused.standardError.contains("VNN-LIB 1.0 can state only"), "\(refused)")
    }
}
