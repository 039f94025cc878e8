import EvidentTestSupport
import Foundation
import Testing

/// The contents of a temporary file, shown by its label in test listings.
struct FileText: Sendable, CustomTestStringConvertible {
    var label: String
    var text: String
    init(_ label: String, _ text: String) {
        self.label = label
        self.text = text
    }
    var testDescription: String { label }
}

/// Every failure exits non-zero with one line on stderr that names the offending file.
@Suite("evident errors")
struct CommandErrorTests {
    static let model = repositoryPath("Networks/digits_resnet/digits_resnet.onnx")
    static let property = repositoryPath("Specs/digits_resnet_img2_eps0.05.vnnlib")

    /// Checks a failed run: non-zero status, nothing on stdout, one line on stderr mentioning `file`.
    private func expectOneLineFailure(_ result: CLI.Result, naming file: String?,
                                      sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status != 0, "\(result)", sourceLocation: sourceLocation)
        #expect(result.standardOutput.isEmpty, "\(result)", sourceLocation: sourceLocation)
        #expect(result.errorLines.count == 1, "\(result)", sourceLocation: sourceLocation)
        if let file {
            #expect(result.standardError.contains(file), "stderr does not name \(file): \(result)",
                    sourceLocation: sourceLocation)
        }
    }

    @Test("a file that does not exist", arguments: ["missing.onnx", "missing.nnet", "missing.vnnlib"])
    func missingFile(_ name: String) throws {
        let folder = try TemporaryFolder()
        let path = folder.url.appendingPathComponent(name).path
        expectOneLineFailure(try CLI.run("info", path), naming: path)
    }

    @Test("a missing input file or property for eval")
    func missingEvalFiles() throws {
        let folder = try TemporaryFolder()
        let input = folder.url.appendingPathComponent("missing.txt").path
        expectOneLineFailure(try CLI.run("eval", Self.model, "--input", input), naming: input)
        let property = folder.url.appendingPathComponent("missing.vnnlib").path
        expectOneLineFailure(try CLI.run("eval", Self.model, "--center", property), naming: property)
        let model = folder.url.appendingPathComponent("missing.onnx").path
        expectOneLineFailure(try CLI.run("eval", model, "--center", Self.property), naming: model)
    }

    @Test("a truncated ONNX file", arguments: [16, 1000, 20_000])
    func truncatedONNX(_ length: Int) throws {
        let folder = try TemporaryFolder()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.model))
        try #require(bytes.count > length)
        let path = try folder.write("truncated.onnx", bytes.prefix(length))
        expectOneLineFailure(try CLI.run("info", path), naming: path)
        expectOneLineFailure(try CLI.run("eval", path, "--center", Self.property), naming: path)
    }

    @Test("a malformed VNN-LIB file", arguments: [
        FileText("unclosed", "(declare-const X_0 Real)\n(assert (<= X_0 \n"),
        FileText("undeclared constant", "(declare-const X_0 Real)\n(assert (<= X_0 one))\n"),
        FileText("extra parenthesis", "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (<= X_0 1.0)))\n"),
    ])
    func malformedVNNLib(_ file: FileText) throws {
        let folder = try TemporaryFolder()
        let path = try folder.write("malformed.vnnlib", file.text)
        expectOneLineFailure(try CLI.run("info", path), naming: path)
        expectOneLineFailure(try CLI.run("eval", Self.model, "--center", path), naming: path)
    }

    @Test("an input file with a bad token or the wrong count of numbers", arguments: [
        FileText("bad token", (["0.5", "abc"] + Array(repeating: "0.1", count: 62)).joined(separator: " ")),
        FileText("infinity", (["inf"] + Array(repeating: "0.1", count: 63)).joined(separator: "\n")),
        FileText("too few", Array(repeating: "0.1", count: 63).joined(separator: "\n")),
        FileText("too many", Array(repeating: "0.1", count: 65).joined(separator: ", ")),
        FileText("empty", ""),
    ])
    func badInputFile(_ file: FileText) throws {
        let folder = try TemporaryFolder()
        let path = try folder.write("input.txt", file.text)
        expectOneLineFailure(try CLI.run("eval", Self.model, "--input", path), naming: path)
    }

    @Test("a property whose inputs do not fit the network")
    func propertyForAnotherNetwork() throws {
        let folder = try TemporaryFolder()
        let path = try folder.write("five_inputs.vnnlib", (0..<5).map { "(declare-const X_\($0) Real)\n" }.joined()
            + "(declare-const Y_0 Real)\n" + (0..<5).map { "(assert (<= X_\($0) 1))\n(assert (>= X_\($0) 0))\n" }.joined()
            + "(assert (>= Y_0 0))\n")
        expectOneLineFailure(try CLI.run("eval", Self.model, "--center", path), naming: path)
    }

    @Test("a file of an unknown type")
    func unknownFileType() throws {
        let folder = try TemporaryFolder()
        let path = try folder.write("network.txt", "0.5\n")
        expectOneLineFailure(try CLI.run("info", path), naming: path)
    }

    @Test("both --input and --center")
    func bothInputAndCentre() throws {
        let input = repositoryPath("Networks/digits_resnet/example_input.txt")
        let result = try CLI.run("eval", Self.model, "--input", input, "--center", Self.property)
        #expect(result.status != 0, "\(result)")
        #expect(result.standardOutput.isEmpty, "\(result)")
        #expect(result.standardError.contains("--input") && result.standardError.contains("--center"), "\(result)")
        #expect(result.errorLines.count == 1, "\(result)")
    }

    @Test("neither --input nor --center")
    func neitherInputNorCentre() throws {
        let result = try CLI.run("eval", Self.model)
        #expect(result.status != 0, "\(result)")
        #expect(result.standardOutput.isEmpty, "\(result)")
        #expect(!result.standardError.isEmpty, "\(result)")
    }
}

@Suite("evident help")
struct HelpTests {
    @Test("help of the root command and of each subcommand", arguments: [[], ["info"], ["eval"], ["bounds"]])
    func help(_ subcommand: [String]) throws {
        let result = try CLI.run(subcommand + ["--help"])
        #expect(result.status == 0, "\(result)")
        #expect(result.standardError.isEmpty, "\(result)")
        #expect(result.standardOutput.contains("USAGE:"), "\(result)")
        if subcommand.isEmpty {
            for name in ["info", "eval", "bounds"] { #expect(result.standardOutput.contains(name), "\(result)") }
        }
        if subcommand == ["bounds"] { #expect(result.standardOutput.contains("--method"), "\(result)") }
    }
}
