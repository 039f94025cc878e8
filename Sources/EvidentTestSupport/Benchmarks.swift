import Foundation

/// Locates the shared third-party benchmarks (`../shared/benchmarks` beside the checkout)
/// and the repository's own folders, for tests and benchmark commands.
///
/// A user's fresh clone has no `../shared`; tests that need it are disabled with
/// a visible message instead of failing (see ``SharedBenchmarks/missingMessage``).
public enum SharedBenchmarks {
    /// The repository root, derived from this source file's location.
    public static let repositoryRoot: URL = {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // EvidentTestSupport
            .deletingLastPathComponent()  // Sources
            .deletingLastPathComponent()  // repository root
    }()

    /// `../shared/benchmarks`, or `nil` when it is not there.
    public static let root: URL? = {
        let url = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/benchmarks")
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue ? url : nil
    }()

    /// True when the shared benchmarks are present.
    public static var available: Bool { root != nil }

    /// The message shown for tests skipped because the benchmarks are missing.
    public static let missingMessage =
        "SKIPPED: ../shared/benchmarks is not beside this checkout (CI always has it)"

    /// Path of a file under `../shared/benchmarks` (e.g. `"cifar10_resnet/onnx/resnet_2b.onnx"`).
    public static func path(_ relative: String) -> String {
        (root ?? repositoryRoot.appendingPathComponent("../shared/benchmarks")).appendingPathComponent(relative).path
    }

    /// Every file under the benchmarks with one of the given extensions, sorted, as relative paths.
    public static func files(withExtension extensions: Set<String>) -> [String] {
        guard let root, let enumerator = FileManager.default.enumerator(atPath: root.path) else { return [] }
        return enumerator.compactMap { $0 as? String }
            .filter { extensions.contains(($0 as NSString).pathExtension) }
            .sorted()
    }

    /// Rows of a CSV file under the benchmarks, split on commas. `header` says whether the
    /// first line names the columns (VNN-COMP's `instances.csv` files have none).
    public static func csvRows(_ relative: String, header: Bool = true) -> [[String]] {
        guard let text = try? String(contentsOfFile: path(relative), encoding: .utf8) else { return [] }
        return text.split(whereSeparator: \.isNewline).dropFirst(header ? 1 : 0)
            .map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    }
}
