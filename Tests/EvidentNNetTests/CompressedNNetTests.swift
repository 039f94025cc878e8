import EvidentIR
import EvidentNNet
import EvidentTestSupport
import Foundation
import Testing

private let canRun = SharedBenchmarks.available && gzipAvailable

/// A gzip-compressed `.nnet` file loads like the plain one.
@Test(.enabled(if: canRun, Comment(rawValue: SharedBenchmarks.missingMessage)), arguments: [1, 9])
func gzipCompressedNNetLoadsLikeThePlainFile(_ n: Int) throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let compressed = try gzipCopy(nnetPath(n), into: folder, name: "ACASXU_1_\(n).nnet.gz")
    let plain = try NNetLoader.load(path: nnetPath(n))
    let unzipped = try NNetLoader.load(path: compressed)
    #expect(unzipped.network.graph.nodes == plain.network.graph.nodes)
    #expect(unzipped.network.graph.values == plain.network.graph.values)
    #expect(unzipped.network.parameterCount == plain.network.parameterCount)
    #expect(unzipped.normalization == plain.normalization)
    #expect(unzipped.network.source == compressed)

    // Truncated compressed data is an unreadable file naming the path and the offset.
    let bytes = try Data(contentsOf: URL(fileURLWithPath: compressed))
    let truncated = folder.appendingPathComponent("cut.nnet.gz")
    try bytes.prefix(bytes.count - 4).write(to: truncated)
    let error = nnetError { _ = try NNetLoader.load(path: truncated.path) }
    guard case let .unreadable(file, reason)? = error else {
        Issue.record("expected unreadable, got \(String(describing: error))")
        return
    }
    #expect(file == truncated.path)
    #expect(reason.contains("truncated") && reason.contains("byte \(bytes.count - 4)"))
}
