import EvidentTestSupport
import Foundation
import Testing

/// Runs the built `evident` executable as a subprocess, as a user would.
enum CLI {
    /// What one run of the command produced.
    struct Result: CustomStringConvertible {
        var arguments: [String]
        var status: Int32
        var standardOutput: String
        var standardError: String

        /// The lines written to standard error (a trailing newline does not make an empty line).
        var errorLines: [Substring] {
            standardError.split(separator: "\n", omittingEmptySubsequences: false).dropLast(standardError.hasSuffix("\n") ? 1 : 0)
                .map { $0 }
        }

        var description: String {
            "evident \(arguments.joined(separator: " ")) exited with \(status)\nstdout: \(standardOutput.prefix(2000))\nstderr: \(standardError.prefix(2000))"
        }
    }

    /// An anchor for `Bundle(for:)`: on macOS the test bundle (`*.xctest`) is a directory
    /// inside the build products folder.
    private final class BundleAnchor {}

    /// The `evident` executable: `$EVIDENT_EXECUTABLE` if set, else the one in the build products
    /// folder that holds the running tests (`swift test` builds every product of the package,
    /// executables included, into the same folder as the test binary), else
    /// `.build/debug/evident` of this checkout.
    static let executable: URL? = {
        var candidates = [URL]()
        if let path = ProcessInfo.processInfo.environment["EVIDENT_EXECUTABLE"], !path.isEmpty {
            candidates.append(URL(fileURLWithPath: path))
        }
        var productFolders = [URL]()
        // Linux: the tests run inside `<products>/EvidentPackageTests.xctest`, an executable.
        if let main = Bundle.main.executableURL { productFolders.append(main.resolvingSymlinksInPath().deletingLastPathComponent()) }
        if let first = CommandLine.arguments.first {
            productFolders.append(URL(fileURLWithPath: first).resolvingSymlinksInPath().deletingLastPathComponent())
        }
        // macOS: the tests are a bundle `<products>/EvidentPackageTests.xctest` loaded by a runner elsewhere.
        for bundle in [Bundle(for: BundleAnchor.self)] + Bundle.allBundles where bundle.bundleURL.pathExtension == "xctest" {
            productFolders.append(bundle.bundleURL.resolvingSymlinksInPath().deletingLastPathComponent())
        }
        candidates += productFolders.map { $0.appendingPathComponent("evident") }
        candidates.append(SharedBenchmarks.repositoryRoot.appendingPathComponent(".build/debug/evident"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    static let notFoundMessage: Comment =
        "the evident executable was not found beside the test binary (build it with `swift build`, or set EVIDENT_EXECUTABLE)"

    /// Runs `evident arguments...` to completion, capturing both output streams.
    static func run(_ arguments: String...) throws -> Result {
        try run(arguments)
    }

    /// Runs `evident arguments...` to completion, capturing both output streams; with
    /// `addressSpace`, under `prlimit --as` (bytes of virtual memory), so that a run that tries
    /// to allocate more fails instead of succeeding on a large machine.
    ///
    /// Under a sanitizer (`$EVIDENT_SANITIZER`, set by `scripts/sanitize.sh`) the executable is
    /// instrumented and its shadow memory alone needs terabytes of address space, so the limit
    /// becomes the sanitizer's own cap on any single allocation (`max_allocation_size_mb`): an
    /// allocation above it aborts the run, which the caller sees as a crash.
    static func run(_ arguments: [String], addressSpace: Int? = nil) throws -> Result {
        let evident = try #require(executable, notFoundMessage)
        var executable = evident, prefix = [String]()
        var environment = ProcessInfo.processInfo.environment
        if let addressSpace {
            if Sanitizer.active != nil {
                for key in ["ASAN_OPTIONS", "TSAN_OPTIONS"] {
                    let options = environment[key].map { $0.isEmpty ? [] : [$0] } ?? []
                    environment[key] = (options + ["max_allocation_size_mb=\(addressSpace >> 20)"]).joined(separator: ":")
                }
            } else {
                executable = URL(fileURLWithPath: "/usr/bin/prlimit")
                prefix = ["--as=\(addressSpace)", "--", evident.path]
            }
        }
        // Files rather than pipes: nothing can block on a full pipe buffer.
        let folder = try TemporaryFolder()
        let outURL = folder.url.appendingPathComponent("stdout"), errURL = folder.url.appendingPathComponent("stderr")
        try Data().write(to: outURL)
        try Data().write(to: errURL)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        defer {
            try? out.close()
            try? err.close()
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = prefix + arguments
        process.environment = environment
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return Result(arguments: arguments, status: process.terminationStatus,
                      standardOutput: try String(contentsOf: outURL, encoding: .utf8),
                      standardError: try String(contentsOf: errURL, encoding: .utf8))
    }

    /// Parses a run's standard output as a JSON object.
    static func jsonObject(_ result: Result) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8))
        return try #require(object as? [String: Any], "not a JSON object: \(result)")
    }
}

/// A fresh temporary folder, removed when the value is released.
final class TemporaryFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("evident-cli-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// Writes `contents` to a file of the folder and returns its path.
    func write(_ name: String, _ contents: Data) throws -> String {
        let file = url.appendingPathComponent(name)
        try contents.write(to: file)
        return file.path
    }

    func write(_ name: String, _ text: String) throws -> String {
        try write(name, Data(text.utf8))
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }
}
