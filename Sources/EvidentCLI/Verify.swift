import ArgumentParser
import Evident
import Foundation

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decide a property: sat (with a witness), unsat (with a checked proof), unknown or timeout.",
        discussion: """
        Runs a PGD attack, then CROWN and alpha-CROWN on every input region, then branch and \
        bound (input splitting when at most 12 inputs vary, ReLU splitting with beta multipliers \
        otherwise). An unsat answer is printed only after the independent checker accepted its \
        certificate, and a sat answer only after the checker confirmed the witness with sound \
        arithmetic; otherwise the answer is unknown with the reason.
        The first line of standard output is the verdict word; the lines after it say which \
        method settled it, the margin, the subdomains visited and the time.
        Exit codes: 0 unsat, 10 sat, 20 unknown, 30 timeout, 2 error (bad input).
        --results writes the VNN-COMP results file (the verdict word, and for sat the witness \
        ((X_0 v) ... (Y_0 w) ...)); --witness writes the witness alone in the same form; \
        --certificate writes the proof or witness certificate (evident check validates it).
        JSON keys: verdict, method, reason, margin, subdomains, seconds, checkSeconds, witness \
        ({input, output}), certificate (the path written, if any), certificateBytes.

        VNN-LIB 2.0 queries, the standard's interface: evident verify QUERY --network NAME=MODEL ... \
        [--timeout S], one --network per declared network not marked equal-to (a one-network \
        query may also be given as evident verify MODEL QUERY). The networks are composed into \
        one graph. Standard output is then only the verdict (sat, unsat, unknown or timed-out) \
        and, for sat, the assignment of every declared tensor in declaration order (a line \
        NAME TYPE [dims], then one value per line, row-major), unless --serialise-assignments \
        DIR writes each tensor as DIR/NAME.pb (an ONNX TensorProto, DOUBLE for Real tensors); \
        the details go to standard error. Docs/vnnlib.md says what 2.0 constructs mean.
        """)

    @Argument(help: ArgumentHelp("MODEL PROPERTY, or a VNN-LIB 2.0 QUERY alone with --network.",
                                 valueName: "files"))
    var files: [String]

    @Option(name: .customLong("network"),
            help: ArgumentHelp("A 2.0 query's network: its declared name and model file (repeat for each).",
                               valueName: "name=model"))
    var networks: [String] = []

    @Option(help: ArgumentHelp("For a sat 2.0 query, write each declared tensor's value to DIR/NAME.pb (ONNX TensorProto) instead of standard output.",
                               valueName: "dir"))
    var serialiseAssignments: String?

    @Option(help: "Time limit in seconds for the whole run.")
    var timeout: Double = 300

    @Option(help: "Write the VNN-COMP results file here.")
    var results: String?

    @Option(help: "Write the counterexample (sat only) here, in VNN-COMP form.")
    var witness: String?

    @Option(help: "Write the certificate (unsat proof or sat witness) here.")
    var certificate: String?

    @Flag(help: "Report progress on standard error.")
    var progress = false

    @Option(help: ArgumentHelp("Use LP refutations (GLPK) where the network's LP has at most this many columns; 0 turns them off.",
                               valueName: "columns"))
    var lpColumns: Int = VerifierSettings().lpColumns

    @Option(help: ArgumentHelp("Working-memory budget of the bound computations (bytes, or with K, M, G): their rows are chunked to fit it.", valueName: "size"))
    var maxMemory: MemorySize?

    @OptionGroup var output: OutputOptions

    struct WitnessJSON: Encodable {
        var input: [Double]
        var output: [Double]
    }

    struct Result: Encodable {
        var verdict: String
        var method: String
        var reason: String?
        var margin: Double?
        var subdomains: Int
        var seconds: Double
        var checkSeconds: Double
        var witness: WitnessJSON?
        var certificate: String?
        var certificateBytes: Int?
    }

    func run() throws {
        var verdict = Verdict.unknown
        try reportingErrors {
            guard timeout > 0 && timeout.isFinite else { throw UsageError("--timeout must be a positive number of seconds") }
            guard files.count == 1 || files.count == 2 else {
                throw UsageError("expected MODEL PROPERTY, or a VNN-LIB 2.0 QUERY with --network NAME=MODEL")
            }
            let modelPaths = try networkArguments(networks)
            let property = files.last!
            let problem = try loadProblem(model: files.count == 2 ? files[0] : nil, property: property, networks: modelPaths,
                                          maxMemory: maxMemory?.bytes)
            guard lpColumns >= 0 else { throw UsageError("--lp-columns must be 0 or more") }
            if problem.query == nil, serialiseAssignments != nil {
                throw UsageError("--serialise-assignments is for VNN-LIB 2.0 queries")
            }
            var settings = VerifierSettings(timeout: timeout, lpColumns: lpColumns, clockStart: processStart,
                                            progress: progressReporter(always: progress))
            settings.memoryBudget = maxMemory?.bytes
            for note in problem.query?.notes ?? [] { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
            let verifier = Verifier(network: problem.network, property: problem.property, modelBinding: problem.modelBinding,
                                    propertyBinding: problem.propertyBinding, settings: settings)
            verifier.networkBindings = problem.networkBindings
            let outcome = verifier.run()
            verdict = outcome.verdict
            var written: (path: String, bytes: Int)? = nil
            if let certificatePath = certificate, var proof = outcome.certificate, outcome.verdict == .sat || outcome.verdict == .unsat {
                let folder = (certificatePath as NSString).deletingLastPathComponent
                proof.model.path = relativePath(of: problem.modelBinding.path, from: folder)
                proof.property?.path = relativePath(of: property, from: folder)
                for k in proof.networks.indices {
                    proof.networks[k].file.path = relativePath(of: proof.networks[k].file.path, from: folder)
                }
                let bytes = proof.encoded()
                try OutputFile.writeAtomically(bytes, to: certificatePath)
                written = (certificatePath, bytes.count)
            }
            let counterexample = outcome.verdict == .sat ? outcome.counterexample : nil
            if let results {
                try write(vnncompResults(outcome.verdict, counterexample), to: results)
            }
            if let witness, let counterexample {
                try write(vnncompWitness(counterexample), to: witness)
            }
            if output.json {
                return try printJSON(Result(verdict: outcome.verdict.rawValue, method: outcome.method, reason: outcome.reason,
                                            margin: outcome.margin.flatMap { $0.isFinite ? $0 : nil },
                                            subdomains: outcome.subdomains, seconds: outcome.seconds,
                                            checkSeconds: outcome.checkSeconds,
                                            witness: counterexample.map { WitnessJSON(input: $0.input, output: $0.outputs) },
                                            certificate: written?.path, certificateBytes: written?.bytes))
            }
            if let query = problem.query {
                // The standard's interface: the verdict and the assignment on stdout, details on stderr.
                print(outcome.verdict == .timeout ? "timed-out" : outcome.verdict.rawValue)
                if outcome.verdict == .sat, let counterexample {
                    let assignment = query.assignment(input: counterexample.input, output: counterexample.outputs)
                    if let folder = serialiseAssignments {
                        try serialise(assignment, to: folder)
                    } else {
                        var text = ""
                        for (tensor, values) in assignment {
                            text += "\(tensor.name) \(tensor.elementType) \(tensor.shapeText)\n"
                            for value in values { text += "\(value)\n" }
                        }
                        print(text, terminator: "")
                    }
                }
                var details = "\(outcome.verdict.rawValue) by \(outcome.method.isEmpty ? "-" : outcome.method)"
                if let reason = outcome.reason { details += "; reason: \(reason)" }
                details += "; subdomains: \(outcome.subdomains), time: \(String(format: "%.3f", outcome.seconds)) s"
                if let written { details += "; certificate: \(written.path) (\(written.bytes) bytes)" }
                FileHandle.standardError.write(Data((details + "\n").utf8))
                return
            }
            print(outcome.verdict.rawValue)
            switch outcome.verdict {
            case .unsat:
                print("proved by \(outcome.method); certificate checked in \(String(format: "%.3f", outcome.checkSeconds)) s")
                if let margin = outcome.margin, margin.isFinite { print("smallest root margin: \(margin)") }
            case .sat:
                print("counterexample found by \(outcome.method) in region \(counterexample!.region), clause \(counterexample!.clause); "
                      + "witness confirmed by the checker")
            case .unknown, .timeout:
                if let reason = outcome.reason { print("reason: \(reason)") }
                if let margin = outcome.margin, margin.isFinite { print("worst open margin: \(margin)") }
            }
            print("subdomains: \(outcome.subdomains), time: \(String(format: "%.3f", outcome.seconds)) s")
            if let written { print("certificate: \(written.path) (\(written.bytes) bytes)") }
        }
        throw ExitCode(verdict.exitCode)
    }

    /// Written atomically and flushed: a run killed mid-write leaves no partial file.
    func write(_ text: String, to path: String) throws {
        try OutputFile.writeAtomically(text, to: path)
    }

    /// The standard's serialised assignment: `folder/NAME.pb`, one ONNX TensorProto per tensor.
    func serialise(_ assignment: [(tensor: DeclaredTensor, values: [Double])], to folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for (tensor, values) in assignment {
            let bytes = try ONNXTensorFile.serialized(name: tensor.name, shape: tensor.shape, values: values)
            try OutputFile.writeAtomically(bytes, to: (folder as NSString).appendingPathComponent(tensor.name + ".pb"))
        }
    }
}

/// The VNN-COMP results file: the verdict word, and for sat the witness.
func vnncompResults(_ verdict: Verdict, _ counterexample: Counterexample?) -> String {
    var text = verdict.rawValue + "\n"
    if let counterexample { text += vnncompWitness(counterexample) }
    return text
}

/// `((X_0 v) (X_1 v) ... (Y_0 w) ...)`, one pair per line, numbers in shortest round-trip form.
func vnncompWitness(_ c: Counterexample) -> String {
    let pairs = c.input.enumerated().map { "(X_\($0.offset) \($0.element))" } + c.outputs.enumerated().map { "(Y_\($0.offset) \($0.element))" }
    return "(" + pairs.joined(separator: "\n") + ")\n"
}

/// `file` relative to `directory` when both are on the same tree, else absolute.
func relativePath(of file: String, from directory: String) -> String {
    let fileURL = URL(fileURLWithPath: file).standardizedFileURL.resolvingSymlinksInPath()
    let folderURL = URL(fileURLWithPath: directory.isEmpty ? "." : directory, isDirectory: true).standardizedFileURL
        .resolvingSymlinksInPath()
    let target = fileURL.pathComponents, base = folderURL.pathComponents
    var common = 0
    while common < min(target.count, base.count) && target[common] == base[common] { common += 1 }
    guard common > 1 else { return fileURL.path }
    let ups = [String](repeating: "..", count: base.count - common)
    return (ups + target[common...]).joined(separator: "/")
}
