import Evident
import EvidentTestSupport
import Foundation
import Testing

@Suite("evident info on gzip-compressed files")
struct CompressedInfoTests {
    @Test("x.onnx.gz, x.nnet.gz and x.vnnlib.gz are summarised like the plain files",
          .enabled(if: gzipAvailable && SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)),
          arguments: ["Networks/digits_resnet/digits_resnet.onnx", "acasxu/nnet/ACASXU_experimental_v2a_1_1.nnet",
                      "acasxu/prop_6.vnnlib", "test/test_small.onnx"])
    func compressedFiles(_ relative: String) throws {
        let plain = relative.hasPrefix("Networks/") ? repositoryPath(relative) : SharedBenchmarks.path(relative)
        let folder = try TemporaryFolder()
        let compressed = try folder.write((relative as NSString).lastPathComponent + ".gz", try gzipped(plain))
        let expected = try CLI.run("info", plain, "--json")
        let actual = try CLI.run("info", compressed, "--json")
        #expect(expected.status == 0 && actual.status == 0, "\(actual)")
        #expect(actual.standardError.isEmpty, "\(actual)")
        #expect(NSDictionary(dictionary: try CLI.jsonObject(actual)) == NSDictionary(dictionary: try CLI.jsonObject(expected)))
        let text = try CLI.run("info", compressed)
        #expect(text.status == 0 && text.standardOutput.contains(compressed), "\(text)")
    }

    @Test("the network format ignores a .gz suffix")
    func networkFormat() throws {
        #expect(try NetworkFormat(path: "a/x.onnx.gz") == .onnx)
        #expect(try NetworkFormat(path: "x.ONNX.GZ") == .onnx)
        #expect(try NetworkFormat(path: "x.nnet.gz") == .nnet)
        #expect(try NetworkFormat(path: "x.nnet") == .nnet)
        #expect(throws: EvidentError.self) { try NetworkFormat(path: "x.gz") }
        #expect(throws: EvidentError.self) { try NetworkFormat(path: "x.vnnlib.gz") }
    }

    @Test("a truncated x.onnx.gz is one error line naming the file", .enabled(if: gzipAvailable))
    func truncatedCompressedNetwork() throws {
        let folder = try TemporaryFolder()
        let bytes = try gzipped(repositoryPath("Networks/digits_resnet/digits_resnet.onnx"))
        let path = try folder.write("net.onnx.gz", bytes.prefix(bytes.count / 3))
        let result = try CLI.run("info", path)
        #expect(result.status != 0, "\(result)")
        #expect(result.errorLines.count == 1 && result.standardError.contains(path) && result.standardError.contains("truncated"),
                "\(result)")
    }
}
