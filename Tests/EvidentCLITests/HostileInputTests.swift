import Evident
import EvidentTestSupport
import Foundation
import Testing

/// Inputs built to break a reader: each gets a clear one-line error that names the file and
/// the place, and the run stays inside a small address space (`prlimit --as`), so nothing is
/// allocated from a size the input merely claims.
///
/// The hostile ONNX models come from `Fixtures/hostile/make_hostile.py`; the rest are written
/// here.
@Suite("Hostile inputs")
struct HostileInputTests {
    /// Address space every hostile run gets: enough for the runtime and a small network, far
    /// less than any claimed size below (the smallest is 16 GB).
    static let addressSpace = 1 << 30

    static func fixture(_ name: String) -> String { repositoryPath("Tests/EvidentCLITests/Fixtures/hostile/" + name) }

    /// A failed run: exit status 2 (an input error, not a crash), nothing on stdout, one line
    /// on stderr naming `file` and containing every one of `phrases`.
    func expectRefusal(_ arguments: [String], naming file: String, _ phrases: [String],
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try CLI.run(arguments, addressSpace: Self.addressSpace)
        #expect(result.status == 2, "\(result)", sourceLocation: sourceLocation)
        #expect(result.standardOutput.isEmpty, "\(result)", sourceLocation: sourceLocation)
        #expect(result.errorLines.count == 1, "\(result)", sourceLocation: sourceLocation)
        #expect(result.standardError.contains(file), "stderr does not name \(file): \(result)", sourceLocation: sourceLocation)
        for phrase in phrases {
            #expect(result.standardError.contains(phrase), "stderr lacks '\(phrase)': \(result)", sourceLocation: sourceLocation)
        }
    }

    /// A property over `inputs` inputs in [0, 1] and `outputs` outputs.
    static func boxProperty(inputs: Int, outputs: Int) -> String {
        (0..<inputs).map { "(declare-const X_\($0) Real)\n" }.joined()
            + (0..<outputs).map { "(declare-const Y_\($0) Real)\n" }.joined()
            + (0..<inputs).map { "(assert (>= X_\($0) 0))\n(assert (<= X_\($0) 1))\n" }.joined()
            + "(assert (>= Y_0 Y_1))\n"
    }

    @Test func memoryLimitLeavesRoomForAnOrdinaryRun() throws {
        // Without this, every refusal below could be the limit's doing rather than the reader's.
        let result = try CLI.run(["info", repositoryPath("Networks/digits_resnet/digits_resnet.onnx")],
                                 addressSpace: Self.addressSpace)
        #expect(result.status == 0, "\(result)")
    }

    // MARK: Networks

    @Test func tensorDeclaringTenBillionElements() throws {
        let file = Self.fixture("huge_initializer.onnx")
        try expectRefusal(["info", file], naming: file, ["'W'", "[100000, 100000]"])
    }

    @Test func inputDeclaringFourBillionElements() throws {
        let file = Self.fixture("huge_input.onnx")
        try expectRefusal(["info", file], naming: file, ["'x'", "[1, 4, 1000000000]"])
    }

    @Test func shapeThatDoesNotMatchItsData() throws {
        let file = Self.fixture("shape_mismatch.onnx")
        try expectRefusal(["info", file], naming: file, ["'W'", "20 bytes", "[3, 4]", "48"])
    }

    @Test func cycleInTheGraph() throws {
        let file = Self.fixture("cycle.onnx")
        try expectRefusal(["info", file], naming: file, ["cycle", "'t1'", "'t2'"])
    }

    @Test("NaN and infinite weights", arguments: [("nan_weight.onnx", "NaN"), ("inf_weight.onnx", "inf")])
    func nonFiniteWeight(_ name: String, _ what: String) throws {
        let file = Self.fixture(name)
        try expectRefusal(["info", file], naming: file, ["'W'", what, "[1, 2]"])
    }

    @Test("zero-size dimensions", arguments: ["info", "eval", "bounds"])
    func zeroSizeDimension(_ command: String) throws {
        let file = Self.fixture("zero_inner.onnx")
        let folder = try TemporaryFolder()
        var arguments = [command, file]
        if command == "eval" { arguments += ["--input", try folder.write("x.txt", "0 0 0 0")] }
        if command == "bounds" { arguments.append(try folder.write("p.vnnlib", Self.boxProperty(inputs: 4, outputs: 3))) }
        try expectRefusal(arguments, naming: file, ["'h'", "[1, 0]", "zero-size"])
    }

    @Test("pooling pads as large as the kernel", arguments: ["maxpool_pads.onnx", "averagepool_pads.onnx"])
    func poolingPads(_ name: String) throws {
        let file = Self.fixture(name)
        try expectRefusal(["info", file], naming: file, ["pads", "kernel"])
    }

    @Test("infinite margins in --json", arguments: ["ibp", "crown"])
    func infiniteMarginsInJSON(_ method: String) throws {
        let folder = try TemporaryFolder()
        let property = try folder.write("p.vnnlib", Self.boxProperty(inputs: 2, outputs: 2).replacingOccurrences(of: "<= X_0 1)", with: "<= X_0 1e300)"))
        let result = try CLI.run(["bounds", Self.fixture("overflow.onnx"), property, "--method", method, "--json"],
                                 addressSpace: Self.addressSpace)
        #expect(result.status == 0, "\(result)")
        _ = try CLI.jsonObject(result)
        // The unsafe y0 ≥ y1 has margin min (y1 - y0) = 3e38·(x1 - x0): -inf with x0 up to 1e300.
        #expect(result.standardOutput.contains("\"-inf\""), "\(result)")
    }

    // MARK: Properties

    @Test func tenThousandDeepNesting() throws {
        let folder = try TemporaryFolder()
        let depth = 10_000
        var text = "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (>= X_0 0))\n(assert (<= X_0 1))\n(assert "
        for level in 0..<depth { text += level % 2 == 0 ? "(and " : "(or " }
        text += "(>= Y_0 0)" + String(repeating: ")", count: depth) + ")\n"
        let file = try folder.write("deep.vnnlib", text)
        let model = try folder.write("m.nnet", Self.identityNNet)
        try expectRefusal(["bounds", model, file], naming: file, ["deep.vnnlib:5:", "nested more than"])
    }

    @Test func propertyWithoutInputBounds() throws {
        let folder = try TemporaryFolder()
        let file = try folder.write("free.vnnlib", "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (>= Y_0 0))\n")
        let model = try folder.write("m.nnet", Self.identityNNet)
        try expectRefusal(["bounds", model, file], naming: file, ["X_0", "lower"])
    }

    @Test func lowerAboveUpper() throws {
        let folder = try TemporaryFolder()
        let file = try folder.write("empty.vnnlib",
                                    "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (>= X_0 1))\n(assert (<= X_0 0))\n(assert (>= Y_0 0))\n")
        let model = try folder.write("m.nnet", Self.identityNNet)
        try expectRefusal(["bounds", model, file], naming: file, ["X_0", "empty"])
    }

    @Test("non-finite bounds", arguments: ["1e400", "-1e400"])
    func nonFiniteBound(_ number: String) throws {
        let folder = try TemporaryFolder()
        let file = try folder.write("inf.vnnlib",
                                    "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (>= X_0 0))\n(assert (<= X_0 \(number)))\n(assert (>= Y_0 0))\n")
        let model = try folder.write("m.nnet", Self.identityNNet)
        try expectRefusal(["bounds", model, file], naming: file, ["inf.vnnlib:4:", number])
    }

    // MARK: .nnet

    /// One input, one output, y = x (a single 1×1 layer: no ReLU).
    static let identityNNet = """
        // identity
        1,1,1,1,
        1,1,
        0,
        -10,
        10,
        0,0,
        1,1,
        1,
        0,

        """

    @Test("NaN and infinite .nnet weights", arguments: ["nan", "inf"])
    func nonFiniteNNetWeight(_ word: String) throws {
        let folder = try TemporaryFolder()
        let file = try folder.write("bad.nnet", Self.identityNNet.replacingOccurrences(of: "\n1,\n0,", with: "\n\(word),\n0,"))
        try expectRefusal(["info", file], naming: file, ["bad.nnet:9"])
    }

    @Test func nnetDeclaringHugeLayers() throws {
        let folder = try TemporaryFolder()
        let file = try folder.write("huge.nnet", Self.identityNNet.replacingOccurrences(
            of: "1,1,1,1,\n1,1,\n", with: "1,1000000000,1000000000,1000000000,\n1000000000,1000000000,\n"))
        try expectRefusal(["info", file], naming: file, ["huge.nnet:"])
    }

    // MARK: Certificates

    static let model = repositoryPath("Networks/digits_resnet/digits_resnet.onnx")
    static let property = repositoryPath("Specs/digits_resnet_img2_eps0.01.vnnlib")

    /// A certificate for the shipped network and property whose one tree is `nodes`, written
    /// into `folder` beside copies of the network and property it names.
    static func certificate(_ nodes: [ProofNode], in folder: TemporaryFolder) throws -> (path: String, bytes: [UInt8]) {
        var certificate = try Certificate(path: repositoryPath("Proofs/digits_resnet_img2_eps0.01.proof"))
        let model = try folder.write("model.onnx", try Data(contentsOf: URL(fileURLWithPath: Self.model)))
        let property = try folder.write("property.vnnlib", try Data(contentsOf: URL(fileURLWithPath: Self.property)))
        certificate.model.path = (model as NSString).lastPathComponent
        certificate.property?.path = (property as NSString).lastPathComponent
        certificate.claim = .unsat(UnsatProof(regions: [RegionProof(trees: [ProofTree(slopeLayers: [], nodes: nodes)])]))
        let bytes = certificate.encoded()
        return (try folder.write("hostile.proof", Data(bytes)), bytes)
    }

    /// The output name of the network's first ReLU.
    static func firstRelu() throws -> String {
        let graph = try ONNXLoader.load(path: model).graph
        let node = try #require(graph.nodes.first { $0.operation == .relu })
        return graph.values[node.output].name
    }

    static func split(_ layer: String, _ neuron: UInt32) -> [ProofNode] {
        [ProofNode(branch: Branch(split: .relu(layer: layer, neuron: neuron), low: 1, high: 2)), ProofNode(), ProofNode()]
    }

    /// `evident check` on a well-formed certificate that is wrong: status 1 and `invalid:`
    /// with the place (tree and node) and the reason on standard output.
    func expectInvalid(_ file: String, _ phrases: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try CLI.run(["check", file], addressSpace: Self.addressSpace)
        #expect(result.status == 1, "\(result)", sourceLocation: sourceLocation)
        #expect(result.standardOutput.hasPrefix("invalid: tree 0 node 0: "), "\(result)", sourceLocation: sourceLocation)
        for phrase in phrases {
            #expect(result.standardOutput.contains(phrase), "stdout lacks '\(phrase)': \(result)", sourceLocation: sourceLocation)
        }
    }

    @Test func certificateSplittingALayerThatDoesNotExist() throws {
        let folder = try TemporaryFolder()
        try expectInvalid(try Self.certificate(Self.split("no_such_layer", 0), in: folder).path,
                          ["no value named 'no_such_layer'"])
    }

    @Test func certificateSplittingANeuronThatDoesNotExist() throws {
        let folder = try TemporaryFolder()
        let relu = try Self.firstRelu()
        try expectInvalid(try Self.certificate(Self.split(relu, 4_000_000_000), in: folder).path,
                          ["neuron 4000000000 of '\(relu)'", "which has"])
    }

    @Test func certificateClaimingAMillionNodesWithThreePresent() throws {
        let folder = try TemporaryFolder()
        let relu = try Self.firstRelu()
        let three = try Self.certificate(Self.split(relu, 0), in: folder).bytes
        // The node count is where the encodings of a 3-node and a 4-node tree first differ.
        let four = try Self.certificate(Self.split(relu, 0) + [ProofNode()], in: folder).bytes
        let offset = try #require(three.indices.first { three[$0] != four[$0] })
        #expect(three[offset] == 3 && three[offset + 1 ..< offset + 4].allSatisfy { $0 == 0 })
        var bytes = three
        bytes.replaceSubrange(offset ..< offset + 4, with: [0x40, 0x42, 0x0f, 0x00])  // 1,000,000
        let file = try folder.write("million.proof", Data(bytes))
        try expectRefusal(["check", file], naming: file, ["1000000", "remain"])
    }
}
