import Evident
import EvidentTestSupport
import Foundation
import Testing

/// `evident campaign` on the repository's network and properties (self-contained), and on
/// the shared `test/` instances when they are there.
@Suite("evident campaign")
struct CampaignCommandTests {
    /// Fast shipped instances (each settles in well under a second) with their answers.
    static let shipped = [("digits_resnet_img2_eps0.01", "unsat"), ("digits_resnet_img866_eps0.1", "sat"),
                          ("digits_resnet_img2_eps0.1", "sat"), ("digits_resnet_img866_eps0.01", "unsat")]

    /// An instances csv of `copies` rounds of the shipped instances, with a truth column,
    /// paths relative to the csv's folder (in the repository: Specs/).
    static func instances(_ folder: TemporaryFolder, copies: Int = 1) throws -> String {
        var text = "onnx,vnnlib,timeout,result\n"
        for _ in 0..<copies {
            for (property, truth) in shipped {
                text += "\(repositoryPath("Networks/digits_resnet/digits_resnet.onnx")),\(repositoryPath("Specs/\(property).vnnlib")),\(Int(60 * Sanitizer.slowdown)),\(truth)\n"
            }
        }
        return try folder.write("instances.csv", text)
    }

    static func rows(_ path: String) throws -> [CampaignRow] { try ResultsFile.read(path: path) }

    /// Starts `evident campaign csv --out out --quiet` in the background and returns once
    /// `out` holds `untilRows` rows (or the run ended, or two minutes passed).
    static func startCampaign(_ csv: String, out: String, untilRows: Int) throws -> Process {
        let executable = try #require(CLI.executable, CLI.notFoundMessage)
        let process = Process()
        process.executableURL = executable
        process.arguments = ["campaign", csv, "--out", out, "--quiet"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while ((try? rows(out))?.count ?? 0) < untilRows && process.isRunning && Date() < deadline { usleep(20_000) }
        return process
    }

    @Test("shards are disjoint and their merge equals a single run's rows; the summary counts them")
    func shardsMerge() throws {
        let folder = try TemporaryFolder()
        let csv = try Self.instances(folder)
        let single = folder.url.appendingPathComponent("single.csv").path
        let run = try CLI.run("campaign", csv, "--out", single)
        #expect(run.status == 0, "\(run)")
        #expect(run.standardOutput.hasPrefix("wrong answers: 0 (of 4 instances with a known answer)"), "\(run)")
        #expect(run.standardOutput.contains("| 4 | 2 | 2 | 0 | 0 | 0 | 4 | 0 |"), "\(run)")
        #expect(run.errorLines.filter { $0.hasPrefix("[") }.count == 4, "one progress line per instance")
        var shards = [[CampaignRow]]()
        for k in 0..<3 {
            let out = folder.url.appendingPathComponent("shard\(k).csv").path
            let shard = try CLI.run("campaign", csv, "--out", out, "--shard", "\(k)/3", "--quiet")
            #expect(shard.status == 0, "\(shard)")
            shards.append(try Self.rows(out))
        }
        let indices = shards.flatMap { $0.map(\.index) }
        #expect(indices.count == Set(indices).count, "the shards overlap")
        #expect(shards.map { $0.map(\.index) } == [[0, 3], [1], [2]])
        let merged = folder.url.appendingPathComponent("merged.csv").path
        let merge = try CLI.run(["campaign", "merge", "--out", merged] + (0..<3).map { folder.url.appendingPathComponent("shard\($0).csv").path })
        #expect(merge.status == 0, "\(merge)")
        let expected = try Self.rows(single).sorted { $0.index < $1.index }, got = try Self.rows(merged)
        #expect(got.count == expected.count && zip(got, expected).allSatisfy { $0.sameOutcome(as: $1) }, "\(got) vs \(expected)")
        #expect(got.map(\.result) == Self.shipped.map(\.1))
        #expect(merge.standardOutput.hasPrefix("wrong answers: 0 (of 4 instances with a known answer)"), "\(merge)")
        #expect(merge.standardOutput.contains("| 4 | 2 | 2 | 0 | 0 | 0 | 4 | 0 |"), "\(merge)")
    }

    @Test("a run killed with SIGKILL half-way and run again finishes with every instance exactly once")
    func killAndResume() throws {
        let folder = try TemporaryFolder()
        let csv = try Self.instances(folder, copies: 2)
        let out = folder.url.appendingPathComponent("results.csv").path
        let process = try Self.startCampaign(csv, out: out, untilRows: 2)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let before = try Self.rows(out).count
        #expect(before >= 2 && before < 8, "killed after \(before) of 8 rows")
        let resumed = try CLI.run("campaign", csv, "--out", out)
        #expect(resumed.status == 0, "\(resumed)")
        #expect(resumed.standardError.contains("\(before) already in"), "\(resumed)")
        let rows = try Self.rows(out)
        #expect(rows.map(\.index).sorted() == Array(0..<8), "every instance exactly once")
        #expect(rows.sorted { $0.index < $1.index }.map(\.result) == (0..<2).flatMap { _ in Self.shipped.map(\.1) })
    }

    /// The state letter and parent of process `pid` from `/proc/PID/stat`, or `nil` if it is gone.
    static func processStatus(_ pid: pid_t) -> (state: Character, parent: pid_t)? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 1, let state = fields[0].first, let parent = pid_t(fields[1]) else { return nil }
        return (state, parent)
    }

    @Test("the runs of a campaign killed with SIGKILL stop instead of computing on unrecorded",
          .enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
    func orphanedRunStops() throws {
        let folder = try TemporaryFolder()
        // An instance no tool settles (resnet_2b prop_0): its run would go on to its timeout.
        let csv = try folder.write("instances.csv", """
            onnx,vnnlib,timeout
            \(SharedBenchmarks.path("cifar10_resnet/onnx/resnet_2b.onnx")),\(SharedBenchmarks.path("cifar10_resnet/vnnlib/prop_0_eps_0.008.vnnlib")),300
            """)
        let campaign = try Self.startCampaign(csv, out: folder.url.appendingPathComponent("r.csv").path, untilRows: 0)
        defer { if campaign.isRunning { kill(campaign.processIdentifier, SIGKILL) } }
        func children() -> [pid_t] {
            ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(pid_t.init)
                .filter { Self.processStatus($0)?.parent == campaign.processIdentifier }
        }
        var run = children()
        let started = Date().addingTimeInterval(30)
        while run.isEmpty && Date() < started { usleep(50_000); run = children() }
        let child = try #require(run.first, "the campaign started no run within 30 s")
        usleep(500_000)  // the run is past its start-up checks
        kill(campaign.processIdentifier, SIGKILL)
        campaign.waitUntilExit()
        // Gone, or a zombie its new parent has not reaped yet.
        func running() -> Bool { (Self.processStatus(child)?.state).map { $0 != "Z" } ?? false }
        let deadline = Date().addingTimeInterval(10)
        while running() && Date() < deadline { usleep(50_000) }
        let stillRunning = running()
        if stillRunning { kill(child, SIGKILL) }
        #expect(!stillRunning, "the run (pid \(child)) was still computing 10 s after its campaign was killed")
    }

    @Test("SIGTERM stops the campaign with status 130; the same command resumes")
    func terminateAndResume() throws {
        let folder = try TemporaryFolder()
        let csv = try Self.instances(folder, copies: 2)
        let out = folder.url.appendingPathComponent("results.csv").path
        let process = try Self.startCampaign(csv, out: out, untilRows: 2)
        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationStatus == 130 || process.terminationStatus == 0)
        let resumed = try CLI.run("campaign", csv, "--out", out, "--quiet")
        #expect(resumed.status == 0, "\(resumed)")
        #expect(try Self.rows(out).map(\.index).sorted() == Array(0..<8))
    }

    @Test("bad input is refused with status 2 and a message naming the file", arguments: [
        (["campaign", "/nonexistent/instances.csv", "--out", "/tmp/x.csv"], "/nonexistent/instances.csv: no such file"),
        (["campaign", "CSV", "--out", "OUT", "--shard", "3/3"], "--shard must be K/N"),
        (["campaign", "CSV", "--out", "OUT", "--timeout-scale", "0"], "--timeout-scale must be a positive"),
        (["campaign", "merge", "/nonexistent/r.csv"], "/nonexistent/r.csv: no such file"),
        (["campaign", "merge", "CSV"], "not a campaign results file"),
    ])
    func badInput(_ arguments: [String], _ message: String) throws {
        let folder = try TemporaryFolder()
        let csv = try Self.instances(folder)
        let out = folder.url.appendingPathComponent("r.csv").path
        let run = try CLI.run(arguments.map { $0 == "CSV" ? csv : $0 == "OUT" ? out : $0 })
        #expect(run.status == 2, "\(run)")
        #expect(run.errorLines.last?.hasPrefix("error: ") == true && run.standardError.contains(message), "\(run)")
    }

    @Test("a wrong answer against the truth is listed first and gives status 1")
    func wrongAnswer() throws {
        let folder = try TemporaryFolder()
        let csv = try folder.write("instances.csv", """
            \(repositoryPath("Networks/digits_resnet/digits_resnet.onnx")),\(repositoryPath("Specs/digits_resnet_img2_eps0.01.vnnlib")),60
            """)
        let truth = try folder.write("truth.csv", """
            onnx,vnnlib,result
            \(repositoryPath("Networks/digits_resnet/digits_resnet.onnx")),\(repositoryPath("Specs/digits_resnet_img2_eps0.01.vnnlib")),sat
            """)
        let run = try CLI.run("campaign", csv, "--out", folder.url.appendingPathComponent("r.csv").path, "--truth", truth)
        #expect(run.status == 1, "\(run)")
        #expect(run.standardOutput.hasPrefix("WRONG ANSWERS: 1"), "\(run)")
        #expect(run.standardOutput.split(separator: "\n")[1].contains("answered unsat, the truth is sat"), "\(run)")
    }

    @Test("the shared test instances against the ground truth: no wrong answer",
          .enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
    func sharedTestInstances() throws {
        let folder = try TemporaryFolder()
        let out = folder.url.appendingPathComponent("r.csv").path
        let run = try CLI.run("campaign", SharedBenchmarks.path("test/test_instances.csv"), "--out", out,
                              "--truth", SharedBenchmarks.path("ground_truth.csv"), "--artifacts", folder.url.appendingPathComponent("a").path)
        #expect(run.status == 0, "\(run)")
        #expect(run.standardOutput.contains("| test | 5 | 4 | 1 | 0 | 0 | 0 | 5 | 0 |"), "\(run)")
        let artifacts = try FileManager.default.contentsOfDirectory(atPath: folder.url.appendingPathComponent("a").path)
        #expect(artifacts.contains("3-test_sat-test_prop.results") && artifacts.contains("3-test_sat-test_prop.proof"), "\(artifacts)")
    }
}
