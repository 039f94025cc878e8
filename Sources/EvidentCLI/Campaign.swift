import ArgumentParser
import Dispatch
import Evident
import Foundation

struct CampaignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaign",
        abstract: "Run many instances through evident verify, resumably and in shards; merge shard results.",
        discussion: """
        evident campaign INSTANCES.csv --out RESULTS.csv [--timeout-scale X] [--jobs N] [--shard K/N] \
        [--truth FILE] [--artifacts DIR] [--max-memory SIZE] [--quiet] runs a campaign (`evident help \
        campaign run` explains every option); evident campaign merge RESULTS.csv... [--out FILE] \
        joins the results of its shards. Docs/campaigns.md covers clusters (Slurm, Kubernetes).
        """,
        subcommands: [CampaignRun.self, CampaignMerge.self],
        defaultSubcommand: CampaignRun.self)
}

struct CampaignRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the instances of a csv (the default: `evident campaign INSTANCES.csv --out RESULTS.csv`).",
        discussion: """
        INSTANCES.csv is VNN-COMP's instances.csv (rows onnx,vnnlib,timeout, paths relative to \
        the csv), or a csv whose header names the columns onnx, vnnlib, timeout and optionally \
        benchmark and result (the form of ground_truth.csv); a result column, or --truth FILE, \
        gives the right answers to compare against.
        Each instance runs in its own `evident verify` process with the csv's timeout times \
        --timeout-scale; the campaign kills a run still going 10 s after its limit. Each finished \
        instance is appended to RESULTS.csv and flushed to disk at once (columns index, benchmark, \
        onnx, vnnlib, timeout, result, seconds, method, truth, note). Rerunning the same command \
        resumes: rows already in RESULTS.csv are kept and only the missing instances run; a line \
        cut short by a killed run is dropped first. A results file written for another instance \
        list, timeout scale or shard is refused.
        --shard K/N runs the instances whose 0-based index i has i mod N = K; `evident campaign \
        merge` joins the shards' files. Progress goes to standard error, one line per instance; \
        the summary (wrong answers first, then counts and times per benchmark) to standard output.
        Exit codes: 0 finished with no wrong answer, 1 a wrong answer, 2 error, 130 interrupted \
        (SIGINT or SIGTERM: running instances are stopped and rerun on resume).
        """)

    @Argument(help: "The instances csv.")
    var instances: String

    @Option(help: "The results csv (appended; resumed when it exists).")
    var out: String

    @Option(help: ArgumentHelp("Multiply every instance's timeout by this.", valueName: "x"))
    var timeoutScale: Double = 1

    @Option(help: "Instances run at once (each verify uses every core by itself, so 1 gives the fairest times).")
    var jobs: Int = 1

    @Option(help: ArgumentHelp("Run only shard K of N (0 <= K < N): the instances with index mod N = K.", valueName: "K/N"))
    var shard: String?

    @Option(help: ArgumentHelp("Right answers: a csv with a header naming onnx, vnnlib and result (paths relative to it).", valueName: "file"))
    var truth: String?

    @Option(help: ArgumentHelp("Keep each instance's VNN-COMP results file, certificate and log in this folder.", valueName: "dir"))
    var artifacts: String?

    @Option(help: ArgumentHelp("Working-memory budget of each verify's bound computations (bytes, or with K, M, G).", valueName: "size"))
    var maxMemory: MemorySize?

    @Flag(help: "No progress lines on standard error.")
    var quiet = false

    func run() throws {
        var outcome: CampaignOutcome?
        try reportingErrors {
            guard timeoutScale > 0 && timeoutScale.isFinite else { throw UsageError("--timeout-scale must be a positive number") }
            guard jobs >= 1 else { throw UsageError("--jobs must be at least 1") }
            var settings = CampaignSettings(executable: Bundle.main.executablePath ?? CommandLine.arguments[0])
            settings.timeoutScale = timeoutScale
            settings.jobs = jobs
            settings.artifacts = artifacts
            if let shard {
                guard let value = Shard(argument: shard) else { throw UsageError("--shard must be K/N with 0 <= K < N, not '\(shard)'") }
                settings.shard = value
            }
            if let maxMemory { settings.verifyArguments += ["--max-memory", String(maxMemory.bytes)] }
            var list = try InstanceList.read(path: instances)
            if let truth {
                let found = try InstanceList.applyTruth(path: truth, to: &list)
                note("\(truth): answers for \(found) of \(list.count) instances")
            }
            let campaign = Campaign(instances: list, resultsPath: out, settings: settings)
            let plan = try campaign.prepare()
            if plan.truncatedBytes > 0 { note("\(out): dropped an unfinished last line (\(plan.truncatedBytes) bytes) left by a killed run") }
            let scope = settings.shard.map { "shard \($0): \(plan.instances.count) of \(list.count) instances" } ?? "\(list.count) instances"
            note("\(scope); \(plan.finished.count) already in \(out), \(plan.pending.count) to run")
            let signals = stopOnSignals(campaign)
            defer { signals.forEach { $0.cancel() } }
            let quiet = self.quiet
            outcome = try campaign.run(plan) { progress in
                if !quiet { FileHandle.standardError.write(Data((progress.line + "\n").utf8)) }
            }
        }
        guard let outcome else { return }
        print(CampaignSummary(rows: outcome.rows).text, terminator: "")
        if outcome.interrupted {
            note("interrupted: \(outcome.rows.count) instances finished; run the same command again to resume")
            throw ExitCode(130)
        }
        if !CampaignSummary(rows: outcome.rows).wrong.isEmpty { throw ExitCode(1) }
    }
}

struct CampaignMerge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the results files of a campaign's shards into one, sorted by index, and print its summary.",
        discussion: """
        An instance found in two files with different answers, or files from different instance \
        lists or timeout scales, are refused. Exit codes: 0 no wrong answer, 1 a wrong answer, 2 error.
        """)

    @Argument(help: "The shards' results files.")
    var results: [String]

    @Option(help: "Write the merged results csv here (atomically); without it only the summary is printed.")
    var out: String?

    func run() throws {
        var rows = [CampaignRow]()
        try reportingErrors {
            guard !results.isEmpty else { throw UsageError("give at least one results file") }
            rows = try ResultsFile.merge(paths: results)
            if let out { try ResultsFile.write(rows, to: out) }
        }
        note("\(rows.count) rows from \(results.count) file\(results.count == 1 ? "" : "s")")
        let summary = CampaignSummary(rows: rows)
        print(summary.text, terminator: "")
        if !summary.wrong.isEmpty { throw ExitCode(1) }
    }
}

/// A line on standard error.
private func note(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// SIGINT and SIGTERM stop the campaign (its running instances are terminated, not recorded).
private func stopOnSignals(_ campaign: Campaign) -> [DispatchSourceSignal] {
    [SIGINT, SIGTERM].map { number in
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler {
            note("stopping on signal \(number): running instances are ended and will run again on resume")
            campaign.stop()
        }
        source.resume()
        return source
    }
}
