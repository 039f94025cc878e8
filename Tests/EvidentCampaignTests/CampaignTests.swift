@testable import EvidentCampaign
import Foundation
import Testing

/// A scratch folder with a stand-in for `evident`: its `verify` reads the model file's first
/// word and answers like the real command (JSON on stdout, verify's exit status), hangs,
/// fails with an error or dies by a signal. It lets the runner's handling of each case be
/// checked without the time a real verifier takes.
final class Scratch {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("evident-campaign-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let script = """
        #!/bin/sh
        # verify MODEL PROPERTY --timeout T --json ...
        [ "$1" = verify ] || exit 3
        set -- $(cat "$2")
        case "$1" in
          unsat) echo '{"verdict":"unsat","method":"fake CROWN"}'; exit 0 ;;
          sat) echo '{"verdict":"sat","method":"fake PGD"}'; exit 10 ;;
          unknown) echo '{"verdict":"unknown","method":"","reason":"fake reason, with a comma"}'; exit 20 ;;
          slow) sleep "$2"; echo '{"verdict":"unsat","method":"slow"}'; exit 0 ;;
          hang) exec sleep 1000 ;;
          error) echo 'error: model.onnx: unsupported operator Foo' >&2; exit 2 ;;
          crash) kill -SEGV $$ ;;
          lie) echo '{"verdict":"unsat","method":"x"}'; exit 10 ;;
        esac
        exit 4
        """
        let path = url.appendingPathComponent("evident").path
        try write("evident", script)
        chmod(path, 0o755)
    }

    var executable: String { url.appendingPathComponent("evident").path }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let file = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: file)
        return file.path
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// An instances csv whose rows are `behaviour` networks (the file's first word).
    func instances(_ behaviours: [String], timeout: Double = 60, name: String = "bench/instances.csv") throws -> String {
        var rows = ""
        for (k, behaviour) in behaviours.enumerated() {
            try write("bench/net\(k).onnx", behaviour)
            rows += "net\(k).onnx,prop.vnnlib,\(timeout)\n"
        }
        try write("bench/prop.vnnlib", "")
        return try write(name, rows)
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

@Suite("instance lists")
struct InstanceListTests {
    @Test("a headerless VNN-COMP csv: paths relative to the csv, the folder names the benchmark")
    func headerless() throws {
        let scratch = try Scratch()
        let csv = try scratch.write("acas/instances.csv", "a.onnx,p1.vnnlib,116\nsub/b.onnx.gz , /abs/p2.vnnlib, 2.5\n\n")
        let list = try InstanceList.read(path: csv)
        #expect(list.map(\.index) == [0, 1])
        #expect(list.map(\.benchmark) == ["acas", "acas"])
        #expect(list.map(\.onnx) == ["a.onnx", "sub/b.onnx.gz"])
        #expect(list[0].modelPath == scratch.path("acas/a.onnx"))
        #expect(list[1].propertyPath == "/abs/p2.vnnlib")
        #expect(list.map(\.timeout) == [116, 2.5])
        #expect(list.allSatisfy { $0.truth == nil })
    }

    @Test("a header names the columns in any order; benchmark and result are read")
    func header() throws {
        let scratch = try Scratch()
        let csv = try scratch.write("gt.csv", "result,benchmark,vnnlib,onnx,timeout\nsat,x,x/p.vnnlib,x/n.onnx,10\nholds,y,y/p.vnnlib,y/n.onnx,20\n,z,p,n,1\n")
        let list = try InstanceList.read(path: csv)
        #expect(list.map(\.benchmark) == ["x", "y", "z"])
        #expect(list.map(\.truth) == [.sat, .unsat, .unknown])
        #expect(list[1].modelPath == scratch.path("y/n.onnx"))
    }

    @Test("malformed rows are refused with the file and line", arguments: [
        ("a.onnx,p.vnnlib\n", ":1: expected onnx,vnnlib,timeout"),
        ("a.onnx,p.vnnlib,10\na.onnx,p.vnnlib,-1\n", ":2: the timeout '-1' is not a positive"),
        ("a.onnx,p.vnnlib,10\n\na.onnx,p.vnnlib,inf\n", ":3: the timeout 'inf'"),
        ("onnx,vnnlib,timeout,result\na,b,1,maybe\n", ":2: the answer 'maybe'"),
        ("onnx,vnnlib\na,b\n", ":1: the header names no timeout column"),
        ("onnx,vnnlib,timeout\n", "no instances (only a header)"),
        ("", "no instances (the file is empty)"),
        ("a.onnx,\"p.vnnlib,10\n", ":1: a quoted field is never closed"),
    ])
    func malformed(_ text: String, _ message: String) throws {
        let scratch = try Scratch()
        let csv = try scratch.write("bad.csv", text)
        let error = try #require(throws: CampaignError.self) { try InstanceList.read(path: csv) }
        #expect(error.message.hasPrefix(csv), "\(error.message)")
        #expect(error.message.contains(message), "\(error.message)")
    }

    @Test("a truth file in another folder matches instances by their files, .gz aside")
    func truth() throws {
        let scratch = try Scratch()
        let csv = try scratch.write("bench/acas/instances.csv", "n1.onnx,p.vnnlib,1\nn2.onnx.gz,p.vnnlib,1\nn3.onnx,p.vnnlib,1\n")
        let truth = try scratch.write("bench/gt.csv", "benchmark,onnx,vnnlib,timeout,result\nacas,acas/n1.onnx,acas/p.vnnlib,1,unsat\nacas,acas/n2.onnx,acas/p.vnnlib.gz,1,sat\n")
        var list = try InstanceList.read(path: csv)
        #expect(try InstanceList.applyTruth(path: truth, to: &list) == 2)
        #expect(list.map(\.truth) == [.unsat, .sat, nil])
        let headerless = try scratch.write("bench/plain.csv", "a,b,sat\n")
        #expect(throws: CampaignError.self) { try InstanceList.applyTruth(path: headerless, to: &list) }
    }
}

@Suite("shards and results files")
struct ResultsFileTests {
    @Test("the shards K/N are disjoint and together hold every instance")
    func shardsPartition() throws {
        for n in 1...7 {
            let shards = (0..<n).map { Shard(argument: "\($0)/\(n)")! }
            for i in 0..<50 { #expect(shards.filter { $0.contains(i) }.count == 1) }
        }
        for bad in ["2/2", "-1/2", "1/0", "1", "a/b", "1/2/3", ""] { #expect(Shard(argument: bad) == nil, "\(bad)") }
    }

    static func row(_ index: Int, _ result: String = "unsat", note: String = "") -> CampaignRow {
        CampaignRow(index: index, benchmark: "b", onnx: "n\(index).onnx", vnnlib: "p.vnnlib", timeout: 116, result: result,
                    seconds: 1.25, method: "CROWN", truth: .unsat, note: note)
    }

    @Test("rows round-trip through the file, notes with commas, quotes and line breaks included")
    func roundTrip() throws {
        let scratch = try Scratch()
        let rows = [Self.row(2, "timeout", note: "open, \"2240\"\nsubdomains"), Self.row(0), Self.row(1, "sat")]
        try ResultsFile.write(rows, to: scratch.path("r.csv"))
        #expect(try ResultsFile.read(path: scratch.path("r.csv")) == rows.sorted { $0.index < $1.index })
        #expect(rows[1].wrong == false && rows[2].wrong == true)
    }

    @Test("merge sorts shards by index and refuses overlapping or foreign shards")
    func merge() throws {
        let scratch = try Scratch()
        try ResultsFile.write([Self.row(0), Self.row(2)], to: scratch.path("a.csv"))
        try ResultsFile.write([Self.row(3), Self.row(1)], to: scratch.path("b.csv"))
        #expect(try ResultsFile.merge(paths: [scratch.path("b.csv"), scratch.path("a.csv")]).map(\.index) == [0, 1, 2, 3])
        try ResultsFile.write([Self.row(2, "unknown")], to: scratch.path("c.csv"))
        let overlap = try #require(throws: CampaignError.self) { try ResultsFile.merge(paths: [scratch.path("a.csv"), scratch.path("c.csv")]) }
        #expect(overlap.message.contains("shards overlap"))
        var foreign = Self.row(1)
        foreign.onnx = "other.onnx"
        try ResultsFile.write([foreign], to: scratch.path("d.csv"))
        let different = try #require(throws: CampaignError.self) { try ResultsFile.merge(paths: [scratch.path("b.csv"), scratch.path("d.csv")]) }
        #expect(different.message.contains("different instance lists"))
        try scratch.write("e.csv", "index,result\n0,sat\n")
        #expect(throws: CampaignError.self) { try ResultsFile.read(path: scratch.path("e.csv")) }
        try scratch.write("f.csv", ResultsFile.header + "0,b,n,p,116,proved,1,x,,\n")
        let bad = try #require(throws: CampaignError.self) { try ResultsFile.read(path: scratch.path("f.csv")) }
        #expect(bad.message.contains("f.csv:2: the result 'proved'"), "\(bad.message)")
    }
}

@Suite("campaign runs")
struct CampaignRunTests {
    static func campaign(_ csv: String, _ scratch: Scratch, out: String = "results.csv",
                         _ configure: (inout CampaignSettings) -> Void = { _ in }) throws -> Campaign {
        var settings = CampaignSettings(executable: scratch.executable)
        configure(&settings)
        return Campaign(instances: try InstanceList.read(path: csv), resultsPath: scratch.path(out), settings: settings)
    }

    @Test("each way a verify run can end gives its row; every row is on disk when reported")
    func outcomes() throws {
        let scratch = try Scratch()
        let csv = try scratch.instances(["unsat", "sat", "unknown", "error", "crash", "lie", "hang"], timeout: 0.3)
        let campaign = try Self.campaign(csv, scratch) { $0.grace = 0.3; $0.jobs = 2 }
        let onDisk = Locked(0)
        let outcome = try campaign.run(try campaign.prepare()) { progress in
            let rows = (try? ResultsFile.read(path: scratch.path("results.csv"))) ?? []
            onDisk.update { $0 = rows.contains(progress.row) ? $0 + 1 : $0 }
        }
        #expect(onDisk.value == 7)
        #expect(!outcome.interrupted && outcome.ran == 7 && outcome.resumed == 0)
        let rows = outcome.rows
        #expect(rows.map(\.index) == Array(0..<7))
        #expect(rows.map(\.result) == ["unsat", "sat", "unknown", "error", "error", "error", "timeout"])
        #expect(rows[0].method == "fake CROWN")
        #expect(rows[2].note == "fake reason, with a comma")
        #expect(rows[3].note == "error: model.onnx: unsupported operator Foo")
        #expect(rows[4].note.contains("signal 11"))
        #expect(rows[5].note.contains("status 10"), "the verdict word must agree with the exit status: \(rows[5].note)")
        #expect(rows[6].note.contains("killed by the campaign"))
        #expect(rows[6].seconds >= 0.6 && rows[6].seconds < 10, "\(rows[6].seconds)")
        #expect(rows.allSatisfy { $0.timeout == 0.3 })
        #expect(try ResultsFile.read(path: scratch.path("results.csv")).sorted { $0.index < $1.index } == rows)
    }

    @Test("a rerun resumes: finished rows are kept, a cut-off last line is dropped, only the rest runs")
    func resume() throws {
        let scratch = try Scratch()
        let csv = try scratch.instances(["unsat", "sat", "unsat", "unknown", "sat"])
        let first = try Self.campaign(csv, scratch) { $0.shard = Shard(argument: "0/2") }
        _ = try first.run(try first.prepare())
        // What a kill in the middle of a write leaves: rows 0, 2 and 4, then part of a line.
        let path = scratch.path("results.csv")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("1,bench,net1.onnx,prop.vnn".utf8))
        try handle.close()
        let second = try Self.campaign(csv, scratch)
        let plan = try second.prepare()
        #expect(plan.truncatedBytes == 26)
        #expect(plan.finished.map(\.index) == [0, 2, 4])
        #expect(plan.pending.map(\.index) == [1, 3])
        let outcome = try second.run(plan)
        #expect(outcome.resumed == 3 && outcome.ran == 2)
        let rows = try ResultsFile.read(path: path)
        #expect(rows.map(\.index).sorted() == [0, 1, 2, 3, 4], "every instance exactly once")
        #expect(rows.sorted { $0.index < $1.index }.map(\.result) == ["unsat", "sat", "unsat", "unknown", "sat"])
        #expect(try second.prepare().pending.isEmpty)
    }

    @Test("a results file from another campaign is refused")
    func foreignResults() throws {
        let scratch = try Scratch()
        let csv = try scratch.instances(["unsat", "sat", "unsat"])
        let campaign = try Self.campaign(csv, scratch)
        _ = try campaign.run(try campaign.prepare())
        let scaled = try Self.campaign(csv, scratch) { $0.timeoutScale = 0.5 }
        #expect(throws: CampaignError.self) { try scaled.prepare() }
        let sharded = try Self.campaign(csv, scratch) { $0.shard = Shard(argument: "1/2") }
        #expect(throws: CampaignError.self) { try sharded.prepare() }
        let other = try scratch.instances(["unsat", "unsat"], name: "bench/other.csv")
        try scratch.write("bench/other.csv", "net1.onnx,prop.vnnlib,60\nnet0.onnx,prop.vnnlib,60\n")
        #expect(throws: CampaignError.self) { try Self.campaign(other, scratch).prepare() }
    }

    @Test("stop() ends the running instances without recording them; a rerun finishes the rest")
    func stop() throws {
        let scratch = try Scratch()
        let csv = try scratch.instances(["unsat", "hang", "unsat"])
        let campaign = try Self.campaign(csv, scratch)
        let plan = try campaign.prepare()
        DispatchQueue.global().asyncAfter(deadline: .now() + 1) { campaign.stop() }
        let started = Date()
        let outcome = try campaign.run(plan)
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(outcome.interrupted)
        #expect(outcome.rows.map(\.index) == [0])
        #expect(try ResultsFile.read(path: scratch.path("results.csv")).map(\.index) == [0])
        try scratch.write("bench/net1.onnx", "sat")
        let rerun = try Self.campaign(csv, scratch)
        let rows = try rerun.run(try rerun.prepare()).rows
        #expect(rows.map(\.result) == ["unsat", "sat", "unsat"])
    }

    @Test("the summary lists wrong answers first and counts per benchmark")
    func summary() throws {
        var rows = [ResultsFileTests.row(0), ResultsFileTests.row(1, "sat"), ResultsFileTests.row(2, "timeout")]
        rows[2].benchmark = "other"
        rows[2].seconds = 3
        let text = CampaignSummary(rows: rows).text
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0] == "WRONG ANSWERS: 1 (of 3 instances with a known answer)")
        #expect(lines[1].contains("1 b n1.onnx p.vnnlib: answered sat, the truth is unsat"))
        #expect(lines.contains("| b | 2 | 1 | 1 | 0 | 0 | 0 | 1 | 1 | 1.25 | 2.5 |"))
        #expect(lines.contains("| other | 1 | 0 | 0 | 0 | 1 | 0 | 0 | 0 | 3.00 | 3.0 |"))
        #expect(lines.contains("| all | 3 | 1 | 1 | 0 | 1 | 0 | 1 | 1 | 1.25 | 5.5 |"))
        #expect(CampaignSummary(rows: [rows[0]]).text.hasPrefix("wrong answers: 0 (of 1 instance with a known answer)"))
    }
}

/// A value shared with a callback that runs on other threads.
final class Locked<Value>: @unchecked Sendable {
    private var stored: Value
    private let lock = NSLock()
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func update(_ body: (inout Value) -> Void) { lock.withLock { body(&stored) } }
}
