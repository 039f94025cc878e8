import EvidentTestSupport
import EvidentVNNLib
import Foundation
import Testing

private let canRun = SharedBenchmarks.available && gzipAvailable

@Suite struct CompressedPropertyTests {
    /// A gzip-compressed property parses like the plain file; messages name the compressed path.
    @Test(.enabled(if: canRun, Comment(rawValue: SharedBenchmarks.missingMessage)),
          arguments: ["acasxu/prop_6.vnnlib", "cifar10_resnet/vnnlib/prop_0_eps_0.008.vnnlib"])
    func gzipCompressedPropertyParsesLikeThePlainFile(_ relative: String) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let compressed = try gzipCopy(SharedBenchmarks.path(relative), into: folder, name: "p.vnnlib.gz")
        let plain = try VNNLibParser.parse(path: SharedBenchmarks.path(relative))
        let unzipped = try VNNLibParser.parse(path: compressed)
        #expect(unzipped.regions == plain.regions)
        #expect(unzipped.inputCount == plain.inputCount && unzipped.outputCount == plain.outputCount)
        #expect(unzipped.source == compressed)
        #expect(unzipped.inputDeclarations.map(\.line) == plain.inputDeclarations.map(\.line))
        #expect(unzipped.inputDeclarations.allSatisfy { $0.file == compressed })

        // Corrupt compressed data is an unreadable file naming the path.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: compressed)))
        bytes[bytes.count - 6] ^= 0xff  // inside the CRC-32
        let corrupt = folder.appendingPathComponent("bad.vnnlib.gz").path
        try Data(bytes).write(to: URL(fileURLWithPath: corrupt))
        let error = #expect(throws: VNNLibError.self) { try VNNLibParser.parse(path: corrupt) }
        guard case let .unreadableFile(path, reason)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(path == corrupt && reason.contains("corrupt"))
        #expect(error?.errorDescription?.hasPrefix(corrupt) == true)
    }
}
