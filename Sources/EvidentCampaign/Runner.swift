import EvidentIO
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `K/N`: the instances whose index `i` has `i mod N == K` (0 ≤ K < N). Round robin, so
/// every shard gets a share of each benchmark of a csv sorted by benchmark.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public init?(argument: String) {
        let parts = argument.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]), n > 0, k >= 0, k < n else { return nil }
        index = k
        count = n
    }

    public func contains(_ instanceIndex: Int) -> Bool { instanceIndex % count == index }

    public var description: String { "\(index)/\(count)" }
}

/// How a campaign runs its instances.
public struct CampaignSettings: Sendable {
    /// The `evident` executable whose `verify` decides each instance.
    public var executable: String
    /// Each instance's time limit is its csv timeout times this.
    public var timeoutScale = 1.0
    /// Instances run at once (each `evident verify` uses every core by itself).
    public var jobs = 1
    public var shard: Shard?
    /// A folder for each instance's VNN-COMP results file, certificate and log.
    public var artifacts: String?
    /// Passed to every `evident verify` (for example `--max-memory 4G`).
    public var verifyArguments: [String] = []
    /// Seconds past its limit after which a run that has not ended is killed (verify
    /// enforces the limit itself; this only catches a hung process).
    public var grace = 10.0

    public init(executable: String) { self.executable = executable }
}

/// What a campaign will do: the rows a previous run already finished, and the rest.
public struct CampaignPlan: Sendable {
    /// The instances of this shard (all of them without `--shard`).
    public var instances: [CampaignInstance]
    public var finished: [CampaignRow]
    public var pending: [CampaignInstance]
    /// Bytes of a line cut short by a killed run, removed from the results file.
    public var truncatedBytes: Int
}

/// One instance finished, with the campaign's counts at that moment.
public struct CampaignProgress: Sendable {
    public var row: CampaignRow
    /// Finished rows of this shard, earlier runs' included, out of `total`.
    public var finished: Int
    public var total: Int
    public var elapsed: Double
    /// A rough estimate of the seconds left (mean time per instance so far).
    public var remaining: Double
}

/// What a campaign run ended with.
public struct CampaignOutcome: Sendable {
    /// Every finished row of this shard, sorted by index.
    public var rows: [CampaignRow]
    public var resumed: Int
    public var ran: Int
    /// `stop()` was called before every instance finished.
    public var interrupted: Bool
}

/// Runs the instances of a csv through `evident verify`, one child process per instance
/// (so a crash, a leak or a hang in one instance cannot take the campaign down, and times are
/// whole-process times, as VNN-COMP measures them), appending each finished row to the
/// results file and flushing it to disk before the next is reported.
public final class Campaign: @unchecked Sendable {
    public let resultsPath: String
    public let settings: CampaignSettings
    let allInstances: [CampaignInstance]

    private let lock = NSLock()
    private var stopping = false
    private var running = [Int: Process]()

    public init(instances: [CampaignInstance], resultsPath: String, settings: CampaignSettings) {
        allInstances = instances
        self.resultsPath = resultsPath
        self.settings = settings
    }

    /// The time limit of `instance` in this campaign.
    public func limit(of instance: CampaignInstance) -> Double { instance.timeout * settings.timeoutScale }

    /// Reads what a previous run with the same results file finished (dropping a line a
    /// killed run left unfinished) and checks it belongs to this campaign: the same instance
    /// list, the same time limits, this shard.
    public func prepare() throws -> CampaignPlan {
        let instances = allInstances.filter { settings.shard?.contains($0.index) ?? true }
        var finished = [CampaignRow]()
        var truncated = 0
        if FileManager.default.fileExists(atPath: resultsPath) {
            truncated = try OutputFile.truncateToLastLine(path: resultsPath)
            let size = (try? FileManager.default.attributesOfItem(atPath: resultsPath)[.size] as? Int) ?? 0
            if size > 0 { finished = try ResultsFile.read(path: resultsPath) }
        }
        var seen = Set<Int>()
        for k in finished.indices {
            let row = finished[k]
            func fail(_ reason: String) -> CampaignError {
                CampaignError(file: resultsPath, "\(reason); it was written by another campaign: give this one another --out")
            }
            guard row.index < allInstances.count else {
                throw fail("a row is for instance \(row.index), but the instance list has \(allInstances.count)")
            }
            let instance = allInstances[row.index]
            guard instance.onnx == row.onnx, instance.vnnlib == row.vnnlib, instance.benchmark == row.benchmark else {
                throw fail("instance \(row.index) is \(row.onnx) \(row.vnnlib) there, but \(instance.onnx) \(instance.vnnlib) in the instance list")
            }
            guard limit(of: instance) == row.timeout else {
                throw fail("instance \(row.index) ran with a limit of \(row.timeout) s, this run gives it \(limit(of: instance)) s (another --timeout-scale)")
            }
            if let shard = settings.shard, !shard.contains(row.index) {
                throw fail("it holds instance \(row.index), which is not in shard \(shard)")
            }
            guard seen.insert(row.index).inserted else { throw fail("instance \(row.index) appears twice") }
            if instance.truth != nil { finished[k].truth = instance.truth }
        }
        return CampaignPlan(instances: instances, finished: finished.sorted { $0.index < $1.index },
                            pending: instances.filter { !seen.contains($0.index) }, truncatedBytes: truncated)
    }

    /// Runs the pending instances of `plan`, `settings.jobs` at a time.
    public func run(_ plan: CampaignPlan, progress: @escaping @Sendable (CampaignProgress) -> Void = { _ in }) throws -> CampaignOutcome {
        let isNew = !FileManager.default.fileExists(atPath: resultsPath)
            || ((try? FileManager.default.attributesOfItem(atPath: resultsPath)[.size] as? Int) ?? 0) == 0
        let appender = try OutputFile.Appender(path: resultsPath)
        if isNew { try appender.append(ResultsFile.header) }
        if let artifacts = settings.artifacts {
            do { try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true) } catch {
                throw CampaignError(file: artifacts, "cannot create the artifacts folder (\(error.localizedDescription))")
            }
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("evident-campaign-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }

        let start = DispatchTime.now().uptimeNanoseconds
        // Shared by the workers, under `lock`.
        final class Shared: @unchecked Sendable {
            var rows: [CampaignRow]
            var next = 0, ran = 0
            var failure: Error?
            init(rows: [CampaignRow]) { self.rows = rows }
        }
        let shared = Shared(rows: plan.finished)
        let group = DispatchGroup()
        for _ in 0..<max(1, min(settings.jobs, plan.pending.count)) {
            group.enter()
            Thread.detachNewThread { [self] in
                defer { group.leave() }
                while true {
                    lock.lock()
                    guard !stopping, shared.failure == nil, shared.next < plan.pending.count else {
                        lock.unlock()
                        return
                    }
                    let instance = plan.pending[shared.next]
                    shared.next += 1
                    lock.unlock()
                    let row = runInstance(instance, scratch: scratch)
                    lock.lock()
                    // A run ended by stop() is not an answer: the next run repeats it.
                    if stopping {
                        lock.unlock()
                        return
                    }
                    do {
                        try appender.append(ResultsFile.line(row))
                    } catch {
                        shared.failure = error
                        lock.unlock()
                        stop()
                        return
                    }
                    shared.rows.append(row)
                    shared.ran += 1
                    let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                    let left = plan.pending.count - shared.ran
                    progress(CampaignProgress(row: row, finished: shared.rows.count, total: plan.instances.count, elapsed: elapsed,
                                              remaining: elapsed / Double(shared.ran) * Double(left)))
                    lock.unlock()
                }
            }
        }
        group.wait()
        if let failure = shared.failure { throw failure }
        lock.lock()
        defer { lock.unlock() }
        return CampaignOutcome(rows: shared.rows.sorted { $0.index < $1.index }, resumed: plan.finished.count, ran: shared.ran,
                               interrupted: stopping)
    }

    /// Stops the campaign: running instances are terminated (SIGTERM, then SIGKILL 2 s later;
    /// they are not recorded), no new one starts. Safe to call from any thread, more than once.
    public func stop() {
        lock.lock()
        stopping = true
        let processes = Array(running.values)
        lock.unlock()
        for process in processes where process.isRunning {
            process.terminate()
            // A child that ignores SIGTERM (it may inherit an ignored disposition) is killed.
            let pid = process.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + 2) { if process.isRunning { kill(pid, SIGKILL) } }
        }
    }

    /// Runs one instance in its own `evident verify` process and reads its answer.
    func runInstance(_ instance: CampaignInstance, scratch: URL) -> CampaignRow {
        let limit = limit(of: instance)
        var row = CampaignRow(index: instance.index, benchmark: instance.benchmark, onnx: instance.onnx, vnnlib: instance.vnnlib,
                              timeout: limit, result: "error", seconds: 0, method: "", truth: instance.truth, note: "")
        var arguments = ["verify", instance.modelPath, instance.propertyPath, "--timeout", String(limit), "--json"]
        var logPath: String?
        if let artifacts = settings.artifacts {
            let base = (artifacts as NSString).appendingPathComponent(artifactName(instance))
            arguments += ["--results", base + ".results", "--certificate", base + ".proof"]
            logPath = base + ".log"
        }
        arguments += settings.verifyArguments
        let outURL = scratch.appendingPathComponent("\(instance.index).out")
        let errURL = logPath.map { URL(fileURLWithPath: $0) } ?? scratch.appendingPathComponent("\(instance.index).err")
        guard FileManager.default.createFile(atPath: outURL.path, contents: nil),
              FileManager.default.createFile(atPath: errURL.path, contents: nil),
              let out = try? FileHandle(forWritingTo: outURL), let err = try? FileHandle(forWritingTo: errURL)
        else {
            row.note = "cannot create the output files of the run in \(scratch.path)"
            return row
        }
        defer {
            try? out.close()
            try? err.close()
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: settings.executable)
        process.arguments = arguments
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        process.environment = ProcessInfo.processInfo.environment.merging([ParentWatch.variable: String(getpid())]) { $1 }
        let ended = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in ended.signal() }
        let start = DispatchTime.now()
        lock.lock()
        if stopping {
            lock.unlock()
            return row
        }
        do { try process.run() } catch {
            lock.unlock()
            row.note = "cannot start \(settings.executable): \(error.localizedDescription)"
            return row
        }
        running[instance.index] = process
        lock.unlock()
        var killed = false
        if ended.wait(timeout: start + limit + settings.grace) == .timedOut {
            killed = true
            process.terminate()
            if ended.wait(timeout: .now() + 5) == .timedOut {
                kill(process.processIdentifier, SIGKILL)
                ended.wait()
            }
        }
        process.waitUntilExit()
        lock.lock()
        running[instance.index] = nil
        lock.unlock()
        // Milliseconds, as the results file stores them: a reported row equals its line read back.
        row.seconds = (Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6).rounded() / 1000

        let output = (try? Data(contentsOf: outURL)) ?? Data()
        let json = (try? JSONSerialization.jsonObject(with: output)) as? [String: Any]
        let verdict = json?["verdict"] as? String
        row.method = json?["method"] as? String ?? ""
        if killed {
            row.result = "timeout"
            row.note = "killed by the campaign \(settings.grace) s after the limit"
        } else if process.terminationReason == .uncaughtSignal {
            row.note = "evident verify was killed by signal \(process.terminationStatus)"
        } else if let verdict, let expected = Self.exitStatus[verdict], expected == process.terminationStatus {
            row.result = verdict
            row.note = json?["reason"] as? String ?? ""
        } else {
            let message = (try? String(contentsOf: errURL, encoding: .utf8))?
                .split(separator: "\n").last { $0.hasPrefix("error") }.map(String.init)
            row.note = message ?? "evident verify exited with status \(process.terminationStatus) and no verdict"
        }
        return row
    }

    /// verify's exit status for each verdict.
    static let exitStatus: [String: Int32] = ["unsat": 0, "sat": 10, "unknown": 20, "timeout": 30]

    /// `<index>-<network>-<property>`, without folders and extensions.
    func artifactName(_ instance: CampaignInstance) -> String {
        func stem(_ path: String) -> String {
            var name = (path as NSString).lastPathComponent
            for suffix in [".gz", ".onnx", ".nnet", ".vnnlib"] where name.hasSuffix(suffix) { name = String(name.dropLast(suffix.count)) }
            return name
        }
        return "\(instance.index)-\(stem(instance.onnx))-\(stem(instance.vnnlib))"
    }
}
