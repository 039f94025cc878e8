import ArgumentParser
import Evident
import EvidentChecker
import Foundation

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate certificates with the independent checker (the trusted kernel).",
        discussion: """
        Checks one certificate written by `evident verify --certificate` (or another producer), \
        or every certificate listed in DIR/manifest.csv. The checker recomputes every bound the \
        certificate relies on with sound floating-point arithmetic (rounding errors bounded and \
        charged, never ignored) and checks that the proof trees cover their regions; it runs no \
        search. See Docs/certificates.md.
        The model and property are the files the certificate records (relative to its folder) \
        unless --model or --property name others; their SHA-256 must match the certificate's \
        bindings, so a changed file makes the certificate invalid ("stale model: ..."). A \
        certificate of a VNN-LIB 2.0 query binds the query and every declared network's model; \
        --network NAME=MODEL checks against another file for one of them, and the checker \
        composes the networks again from the query.
        Single certificate: the first line of standard output is `valid` or `invalid: REASON`; \
        the lines after it give the claim and statistics. Exit codes: 0 valid, 1 invalid, 2 a \
        file could not be read or parsed.
        Manifest mode (PATH is a folder): DIR/manifest.csv has the header \
        `certificate,model,property` and one row per certificate, paths relative to DIR (an \
        empty model or property uses the path the certificate records). A progress line per \
        certificate goes to standard error, then a summary (counts of valid, invalid and \
        unreadable, total time) to standard output. Exit code 0 only if every certificate is \
        valid, 2 if the manifest or some certificate could not be read, else 1. --junit FILE \
        writes JUnit XML: one testcase per certificate, a failure (invalid, message = reason) \
        or error (unreadable) element where it did not pass.
        JSON keys (single): valid, reason, claim, statistics {nodes, leaves, refutations, \
        tightenings, boundComputations, crownRows, seconds}. JSON (manifest): certificates \
        [{certificate, status (valid | invalid | unreadable), reason, claim, seconds}], valid, \
        invalid, unreadable, seconds.
        """)

    @Argument(help: "A certificate file, or a folder holding manifest.csv.")
    var path: String

    @Option(help: "The model to check against (default: the path recorded in the certificate).")
    var model: String?

    @Option(help: "The property to check against (default: the path recorded in the certificate).")
    var property: String?

    @Option(name: .customLong("network"),
            help: ArgumentHelp("For a 2.0 query's certificate: a declared network and the model to check against.", valueName: "name=model"))
    var networks: [String] = []

    @Option(help: "Manifest mode: write a JUnit XML report here.")
    var junit: String?

    @Flag(help: "Report progress of long checks on standard error.")
    var progress = false

    @OptionGroup var output: OutputOptions

    struct StatisticsJSON: Encodable {
        var nodes, leaves, refutations, tightenings, boundComputations, crownRows: Int
        var seconds: Double
        init(_ s: CheckStatistics) {
            (nodes, leaves, refutations, tightenings) = (s.nodes, s.leaves, s.refutations, s.tightenings)
            (boundComputations, crownRows, seconds) = (s.boundComputations, s.crownRows, s.seconds)
        }
    }

    struct SingleJSON: Encodable {
        var valid: Bool
        var reason: String?
        var claim: String
        var statistics: StatisticsJSON
    }

    struct EntryJSON: Encodable {
        var certificate: String
        var status: String
        var reason: String?
        var claim: String?
        var seconds: Double
    }

    struct ManifestJSON: Encodable {
        var certificates: [EntryJSON]
        var valid, invalid, unreadable: Int
        var seconds: Double
    }

    func validate() throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            if model != nil || property != nil || !networks.isEmpty {
                throw UsageError("--model, --property and --network apply to a single certificate, not to a manifest folder")
            }
        } else if junit != nil {
            throw UsageError("--junit applies to manifest mode (PATH must be a folder holding manifest.csv)")
        }
    }

    func run() throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            try runManifest()
            return
        }
        var valid = false
        try reportingErrors {
            let report = try EvidentChecker.Checker.check(certificatePath: path, modelPath: model, propertyPath: property,
                                                          networkPaths: try networkArguments(networks),
                                                          progress: progressReporter(always: progress))
            valid = report.valid
            if output.json {
                return try printJSON(SingleJSON(valid: report.valid, reason: report.reason, claim: report.claim,
                                                statistics: StatisticsJSON(report.statistics)))
            }
            print(report.valid ? "valid" : "invalid: \(report.reason ?? "unknown reason")")
            let s = report.statistics
            print("claim: \(report.claim)")
            if report.claim == "unsat" {
                print("nodes: \(s.nodes) (\(s.leaves) leaves), refutations: \(s.refutations), tightenings: \(s.tightenings)")
            } else if report.claim == "bounds" {
                print("bound claims: \(s.refutations)")
            }
            print("bound computations: \(s.boundComputations) (\(s.crownRows) CROWN rows), time: "
                  + String(format: "%.3f", s.seconds) + " s")
        }
        throw ExitCode(valid ? 0 : 1)
    }

    func runManifest() throws {
        let folder = URL(fileURLWithPath: path)
        let manifest = folder.appendingPathComponent("manifest.csv").path
        var rows = [(certificate: String, model: String?, property: String?)]()
        try reportingErrors {
            let text: String
            do { text = try String(contentsOfFile: manifest, encoding: .utf8) } catch {
                throw EvidentError.unreadable(file: manifest, reason: (error as NSError).localizedDescription)
            }
            let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            guard let header = lines.first, header.replacingOccurrences(of: " ", with: "") == "certificate,model,property" else {
                throw UsageError("\(manifest): the first line must be the header certificate,model,property")
            }
            for (k, line) in lines.dropFirst().enumerated() where !line.isEmpty {
                let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                    .map { $0.trimmingCharacters(in: .whitespaces) }
                guard fields.count == 3, !fields[0].isEmpty else {
                    throw UsageError("\(manifest):\(k + 2): expected certificate,model,property")
                }
                func resolved(_ f: String) -> String? {
                    f.isEmpty ? nil : (f.hasPrefix("/") ? f : folder.appendingPathComponent(f).path)
                }
                rows.append((resolved(fields[0])!, resolved(fields[1]), resolved(fields[2])))
            }
        }
        let start = Date()
        var entries = [EntryJSON]()
        for (k, row) in rows.enumerated() {
            let began = Date()
            var entry = EntryJSON(certificate: row.certificate, status: "unreadable", reason: nil, claim: nil, seconds: 0)
            do {
                let report = try EvidentChecker.Checker.check(certificatePath: row.certificate, modelPath: row.model,
                                                              propertyPath: row.property, progress: nil)
                entry.status = report.valid ? "valid" : "invalid"
                entry.reason = report.reason
                entry.claim = report.claim
            } catch {
                entry.reason = ((error as? LocalizedError)?.errorDescription ?? String(describing: error))
                    .replacingOccurrences(of: "\n", with: " ")
            }
            entry.seconds = Date().timeIntervalSince(began)
            entries.append(entry)
            var line = "[\(k + 1)/\(rows.count)] \(row.certificate): \(entry.status)"
            if let reason = entry.reason { line += ": \(reason)" }
            FileHandle.standardError.write(Data((line + String(format: " (%.3f s)\n", entry.seconds)).utf8))
        }
        let seconds = Date().timeIntervalSince(start)
        let counts = ["valid", "invalid", "unreadable"].map { s in entries.filter { $0.status == s }.count }
        if let junit { try writeJUnit(entries, seconds: seconds, to: junit) }
        if output.json {
            try printJSON(ManifestJSON(certificates: entries, valid: counts[0], invalid: counts[1], unreadable: counts[2],
                                       seconds: seconds))
        } else {
            print("\(entries.count) certificates: \(counts[0]) valid, \(counts[1]) invalid, \(counts[2]) unreadable, "
                  + String(format: "%.3f s", seconds))
            for entry in entries where entry.status != "valid" {
                print("\(entry.status): \(entry.certificate): \(entry.reason ?? "no reason given")")
            }
        }
        throw ExitCode(counts[2] > 0 ? 2 : (counts[1] > 0 ? 1 : 0))
    }

    func writeJUnit(_ entries: [EntryJSON], seconds: Double, to file: String) throws {
        func escaped(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        let failures = entries.filter { $0.status == "invalid" }.count, errors = entries.filter { $0.status == "unreadable" }.count
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        xml += "<testsuite name=\"evident check\" tests=\"\(entries.count)\" failures=\"\(failures)\" errors=\"\(errors)\" "
            + "time=\"\(String(format: "%.3f", seconds))\">\n"
        for e in entries {
            xml += "  <testcase classname=\"evident.check\" name=\"\(escaped(e.certificate))\" time=\"\(String(format: "%.3f", e.seconds))\""
            switch e.status {
            case "valid": xml += "/>\n"
            case "invalid": xml += ">\n    <failure message=\"\(escaped(e.reason ?? ""))\"/>\n  </testcase>\n"
            default: xml += ">\n    <error message=\"\(escaped(e.reason ?? ""))\"/>\n  </testcase>\n"
            }
        }
        xml += "</testsuite>\n"
        do { try xml.write(toFile: file, atomically: true, encoding: .utf8) } catch {
            FileHandle.standardError.write(Data("error: \(file): cannot be written (\(error.localizedDescription))\n".utf8))
            throw ExitCode(2)
        }
    }
}
