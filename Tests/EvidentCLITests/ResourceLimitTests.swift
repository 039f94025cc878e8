import Evident
import EvidentTestSupport
import Foundation
import Testing

/// `--timeout` holds when both cores are busy with other processes, and a run that times out
/// leaves no output file; `--max-memory` chunks the work without changing the results.
@Suite("Time and memory limits", .serialized)
struct ResourceLimitTests {
    static let model = repositoryPath("Networks/digits_resnet/digits_resnet.onnx")
    /// An instance verify cannot settle in a minute (it times out with hundreds of open subdomains).
    static let hard = repositoryPath("Specs/digits_resnet_img866_eps0.05.vnnlib")

    /// Runs `body` while one busy-looping process per core competes for the CPU.
    static func underLoad<T>(_ body: () throws -> T) throws -> T {
        let cores = max(2, ProcessInfo.processInfo.activeProcessorCount)
        let spinners = try (0..<cores).map { _ -> Process in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "while :; do :; done"]
            try p.run()
            return p
        }
        defer {
            // SIGKILL: children of the test runner ignore SIGTERM.
            for p in spinners {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
            }
        }
        return try body()
    }

    /// Runs `evident arguments` and returns the result and its wall-clock time.
    static func timed(_ arguments: [String]) throws -> (CLI.Result, Double) {
        let start = Date()
        let result = try CLI.run(arguments)
        return (result, Date().timeIntervalSince(start))
    }

    /// Slack over the limit: the process start, the end of the bound computation in progress
    /// and the exit, on a loaded machine (longer for instrumented code under a sanitizer).
    static let slack = 5.0 * Sanitizer.slowdown

    @Test func verifyTimeoutUnderLoad() throws {
        let limit = 3.0
        let (result, seconds) = try Self.underLoad { try Self.timed(["verify", Self.model, Self.hard, "--timeout", "\(limit)"]) }
        #expect(result.status == 30, "\(result)")
        #expect(result.standardOutput.hasPrefix("timeout"), "\(result)")
        #expect(seconds < limit + Self.slack, "verify --timeout \(limit) took \(seconds) s under load")
    }

    @Test func evaTimeoutUnderLoadWritesNothing() throws {
        let folder = try TemporaryFolder()
        let out = folder.url.appendingPathComponent("map").path
        let limit = 2.0
        let (result, seconds) = try Self.underLoad {
            try Self.timed(["eva", Self.model, "--center", Self.hard, "--features", "pixels", "--method", "alpha-crown",
                            "--iterations", "5000", "--timeout", "\(limit)", "--out", out])
        }
        #expect(result.status == 30, "\(result)")
        #expect(result.standardError.contains("timed out after 2.0 s"), "\(result)")
        #expect(seconds < limit + Self.slack, "eva --timeout \(limit) took \(seconds) s under load")
        let written = (try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []
        #expect(written.isEmpty, "a timed-out eva wrote \(written)")
    }

    @Test func campaignTimeoutUnderLoad() throws {
        let folder = try TemporaryFolder()
        let csv = try folder.write("instances.csv", "onnx,vnnlib,timeout\n\(Self.model),\(Self.hard),3\n")
        let out = folder.url.appendingPathComponent("results.csv").path
        let (result, seconds) = try Self.underLoad { try Self.timed(["campaign", csv, "--out", out, "--quiet"]) }
        #expect(result.status == 0, "\(result)")
        let rows = try ResultsFile.read(path: out)
        #expect(rows.count == 1 && rows.first?.result == "timeout", "\(rows)")
        #expect(seconds < 3 + Self.slack, "a campaign of one 3 s instance took \(seconds) s under load")
    }

    @Test func evaMaxMemoryChunksWithoutChangingTheMap() throws {
        let folder = try TemporaryFolder()
        func scores(_ extra: [String]) throws -> [Double] {
            let out = folder.url.appendingPathComponent("map\(extra.count)").path
            let result = try CLI.run(["eva", Self.model, "--center", repositoryPath("Specs/digits_resnet_img2_eps0.01.vnnlib"),
                                      "--features", "grid:4", "--out", out, "--json"] + extra)
            #expect(result.status == 0, "\(result)")
            return try #require(try CLI.jsonObject(result)["scores"] as? [Double])
        }
        let free = try scores([]), budgeted = try scores(["--max-memory", "1M"])
        #expect(free.count == 16 && free == budgeted, "\(free) vs \(budgeted)")
    }

    /// Starts `evident arguments`, kills it with SIGKILL after `delay` seconds (or lets it
    /// finish first) and waits for it.
    static func killed(_ arguments: [String], after delay: Double) throws {
        let process = Process()
        process.executableURL = try #require(CLI.executable, CLI.notFoundMessage)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        usleep(UInt32(delay * 1e6))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    @Test("SIGKILL at any moment leaves each output file absent or whole")
    func killedRunsLeaveNoPartialOutput() throws {
        let folder = try TemporaryFolder()
        let property = repositoryPath("Specs/digits_resnet_img2_eps0.01.vnnlib")
        func verify(_ step: Int) -> [String] {
            ["verify", Self.model, property, "--certificate", folder.url.appendingPathComponent("p\(step).proof").path,
             "--results", folder.url.appendingPathComponent("r\(step).txt").path]
        }
        func eva(_ step: Int) -> [String] {
            ["eva", Self.model, "--center", property, "--features", "grid:4", "--out", folder.url.appendingPathComponent("map\(step)").path]
        }
        // Kill times spread from the process start to past a whole run (timed first).
        let steps = 10
        let whole = (verify: try Self.timed(verify(-1)).1, eva: try Self.timed(eva(-1)).1)
        var kept = (certificates: 0, maps: 0)
        for step in 0..<steps {
            let fraction = Double(step) / Double(steps - 4)  // 0 to 1.5 runs
            try Self.killed(verify(step), after: fraction * whole.verify)
            let proof = verify(step)[4], results = verify(step)[6]
            if FileManager.default.fileExists(atPath: proof) {
                kept.certificates += 1
                let check = try CLI.run("check", proof)
                #expect(check.status == 0, "a certificate left by a run killed after \(fraction) of a run: \(check)")
            }
            if let text = try? String(contentsOfFile: results, encoding: .utf8) {
                #expect(text == "unsat\n", "results left by a run killed after \(fraction) of a run: '\(text)'")
            }
            try Self.killed(eva(step), after: fraction * whole.eva)
            let map = eva(step)[7]
            if let data = FileManager.default.contents(atPath: map + "/scores.json") {
                kept.maps += 1
                let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
                #expect((object?["scores"] as? [Double])?.count == 16, "scores.json left by a run killed after \(fraction) of a run")
            }
            if let png = FileManager.default.contents(atPath: map + "/heatmap.png") {
                #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.suffix(8).starts(with: [0x49, 0x45, 0x4E, 0x44]),
                        "heatmap.png left by a run killed after \(fraction) of a run is not a whole PNG")
            }
        }
        // Some runs were killed before writing and some finished (else the delays missed the point).
        #expect(kept.certificates > 0 && kept.certificates < steps && kept.maps > 0 && kept.maps < steps, "\(kept)")
    }
}
