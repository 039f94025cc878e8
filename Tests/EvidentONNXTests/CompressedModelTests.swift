import EvidentIR
import EvidentONNX
import EvidentTestSupport
import Foundation
import Testing

@Suite struct CompressedModelTests {
    /// A gzip-compressed copy loads like the plain file (same graph, radii and counts).
    @Test(.enabled(if: gzipAvailable && SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)),
          arguments: ["cifar10_resnet/onnx/resnet_2b.onnx", "acasxu/ACASXU_run2a_1_1_batch_2000.onnx"])
    func sharedBenchmarkLoadsFromGzip(_ relative: String) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let plainPath = SharedBenchmarks.path(relative)
        let compressed = try gzipCopy(plainPath, into: folder, name: (relative as NSString).lastPathComponent + ".gz")
        let plain = try ONNXLoader.load(path: plainPath)
        let unzipped = try ONNXLoader.load(path: compressed)
        expectSameNetwork(plain, unzipped)
        #expect(unzipped.source == compressed)
    }

    @Test(.enabled(if: gzipAvailable))
    func repositoryNetworkLoadsFromGzip() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let compressed = try gzipCopy(digitsResnetPath, into: folder, name: "digits_resnet.onnx.gz")
        let plain = try ONNXLoader.load(path: digitsResnetPath)
        let unzipped = try ONNXLoader.load(path: compressed)
        expectSameNetwork(plain, unzipped)
        #expect(!unzipped.constantRadii.isEmpty)
    }

    /// Corrupt and truncated gzip data are unreadable files, named with the offset.
    @Test(.enabled(if: gzipAvailable))
    func damagedGzipIsAnUnreadableFile() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let compressed = try gzipCopy(digitsResnetPath, into: folder, name: "net.onnx.gz")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: compressed))
        let truncated = folder.appendingPathComponent("truncated.onnx.gz").path
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))
        for path in [truncated] {
            let error = #expect(throws: ONNXError.self) { try ONNXLoader.load(path: path) }
            guard case .unreadableFile(let source, let reason)? = error else {
                Issue.record("\(String(describing: error))")
                continue
            }
            #expect(source == path)
            #expect(reason.contains("truncated") && reason.contains("byte \(bytes.count / 2)"))
            #expect(error?.localizedDescription.contains(path) == true)
        }
    }
}

/// The two networks have the same graph, constants, radii and counts.
func expectSameNetwork(_ a: Network, _ b: Network, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.graph.nodes == b.graph.nodes, sourceLocation: sourceLocation)
    #expect(a.graph.values == b.graph.values, sourceLocation: sourceLocation)
    #expect(a.graph.input == b.graph.input && a.graph.output == b.graph.output, sourceLocation: sourceLocation)
    #expect(a.constantRadii == b.constantRadii, sourceLocation: sourceLocation)
    #expect(a.sourceOperatorCounts == b.sourceOperatorCounts && a.parameterCount == b.parameterCount, sourceLocation: sourceLocation)
    #expect(a.inputName == b.inputName && a.outputName == b.outputName && a.format == b.format, sourceLocation: sourceLocation)
}
