import Evident
import EvidentTestSupport
import Foundation

// evident-bench: prints timing, throughput and bound figures of the engine on the shared
// VNN-COMP benchmarks. Benchmarks are not tests: nothing here passes or fails; run in
// release mode, e.g.
//   swift build -c release --scratch-path .build-bench --product evident-bench
//   .build-bench/release/evident-bench all

/// The benchmarks, in the order `all` runs them.
enum BenchmarkName: String, CaseIterable {
    case parse, vnnlib2, load, forward, crown, alpha, batch, gemm, scale, sweep, verify, eva, large

    var help: String {
        switch self {
        case .parse: "VNN-LIB parsing time (largest CIFAR property, every oval21 property)"
        case .vnnlib2: "VNN-LIB 2.0 parsing of generated 100,000-assertion queries (CIFAR box, two tied networks, box), median of 5"
        case .load: "network load time (resnet_2b, cifar_base_kw, an ACAS Xu .nnet), median of 20"
        case .forward: "forward evaluation throughput (images/s) at batch 1 and 64"
        case .crown: "CROWN (Float64, Float32) and IBP margins and times on resnet_2b and oval21 vs auto_LiRPA"
        case .alpha: "alpha-CROWN (20 iterations) on resnet_2b (Float64, Float32) and oval21 vs auto_LiRPA"
        case .batch: "CROWN on 65 boxes of resnet_2b in one batched call vs one box"
        case .gemm: "OpenBLAS dgemm GFLOP/s and the convolution kernels' achieved GFLOP/s"
        case .scale: "load, IBP and CROWN on a ResNet-18-shaped 3x224x224 network (time, memory)"
        case .sweep: "CROWN and alpha-CROWN on generated residual, BatchNorm, plain and wide CNN and MLP networks and the real ones"
        case .verify: "evident verify on the 70 ground-truth instances (or --instances CSV): verdicts, times, certificates"
        case .eva: "evident eva on resnet_2b property centres: grid and pixel maps, CROWN and alpha-CROWN, every mode"
        case .large: "parse and CROWN margins of generated 120,000-disjunct properties (output-only, lindex-style) on small MLPs"
        }
    }
}

/// Where `scripts/make_resnet18.py` writes its network by default.
let defaultScaleModel = "/tmp/resnet18.onnx"

let usage = """
    usage: evident-bench [all|parse|vnnlib2|load|forward|crown|alpha|batch|scale|gemm|sweep|verify|eva|large]... [--repeat N] [--model PATH]
                         [--instances CSV]... [--filter TEXT] [--timeout-scale X] [--markdown FILE] [--disjuncts N]

    Prints benchmark figures (run the release build). Benchmarks:
    \(BenchmarkName.allCases.map { "  " + $0.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0) + $0.help }
        .joined(separator: "\n"))
      all      everything above but sweep, verify, eva and large; scale only when its network file exists

    Options:
      --repeat N    timed runs per measurement (default depends on the benchmark)
      --model PATH  scale: the ResNet-18-shaped network (default \(defaultScaleModel));
                    make it with: python3 scripts/make_resnet18.py --classes 10 \(defaultScaleModel)
      --instances CSV   verify: an instances csv (onnx,vnnlib,timeout[,truth], paths relative to it)
                        instead of ../shared/benchmarks/ground_truth.csv; may repeat
      --filter TEXT     verify: only ground-truth rows whose family or property contains TEXT;
                        sweep: only networks whose family or name contains TEXT
      --timeout-scale X verify: multiply every timeout by X (default 1)
      --markdown FILE   sweep: also write the tables between <!-- sweep:begin --> and
                        <!-- sweep:end --> in FILE (Docs/Performance.md)
      --disjuncts N     large: disjuncts of each generated property (default 120000)
      -h, --help    this message
    The shared benchmarks are looked up at ../shared/benchmarks beside the checkout;
    benchmarks that need them are skipped with a message when they are missing.
    """


/// Settings parsed from the command line.
struct BenchmarkSettings {
    var repeats: Int?
    /// OpenBLAS's thread count at start-up (its default: one per core). `BoundPropagator`
    /// switches OpenBLAS to one thread process-wide; evaluation and GEMM benchmarks start
    /// from this count again.
    var defaultBLASThreads = BLAS.threadCount
    var scaleModel = defaultScaleModel
    var verifyInstances = [String]()
    var verifyFilter: String?
    var timeoutScale = 1.0
    /// sweep: the Markdown file whose generated section receives the tables.
    var markdownPath: String?
    /// large: disjuncts of each generated property.
    var disjuncts = 120_000

    /// The run count to use: `--repeat` when given, else the benchmark's default.
    func runs(default value: Int) -> Int { repeats ?? value }
}

func exitWithUsage(_ message: String) -> Never {
    FileHandle.standardError.write(Data("evident-bench: \(message)\n\n\(usage)\n".utf8))
    exit(2)
}

var settings = BenchmarkSettings()
// The heap settings of the `evident` executable (large blocks kept in the heap, not mapped
// and unmapped at every step), so that timings are the command's; OpenBLAS's thread count
// is set per benchmark below.
configureProcess()
var selected = [BenchmarkName]()
var runAll = false
var arguments = Array(CommandLine.arguments.dropFirst())[...]
while let argument = arguments.popFirst() {
    switch argument {
    case "-h", "--help", "help":
        print(usage)
        exit(0)
    case "--repeat":
        guard let text = arguments.popFirst(), let n = Int(text), n >= 1 else {
            exitWithUsage("--repeat needs a positive integer")
        }
        settings.repeats = n
    case "--model":
        guard let path = arguments.popFirst() else { exitWithUsage("--model needs a path") }
        settings.scaleModel = path
    case "--instances":
        guard let path = arguments.popFirst() else { exitWithUsage("--instances needs a csv path") }
        settings.verifyInstances.append(path)
    case "--filter":
        guard let text = arguments.popFirst() else { exitWithUsage("--filter needs a text") }
        settings.verifyFilter = text
    case "--timeout-scale":
        guard let text = arguments.popFirst(), let x = Double(text), x > 0 else { exitWithUsage("--timeout-scale needs a positive number") }
        settings.timeoutScale = x
    case "--markdown":
        guard let path = arguments.popFirst() else { exitWithUsage("--markdown needs a path") }
        settings.markdownPath = path
    case "--disjuncts":
        guard let text = arguments.popFirst(), let n = Int(text), n >= 1 else { exitWithUsage("--disjuncts needs a positive integer") }
        settings.disjuncts = n
    case "all":
        runAll = true
    default:
        if let name = BenchmarkName(rawValue: argument) {
            selected.append(name)
        } else if argument.hasSuffix(".onnx"), selected.last == .scale {
            settings.scaleModel = argument  // `evident-bench scale PATH`
        } else {
            exitWithUsage("unknown argument '\(argument)'")
        }
    }
}
if runAll {
    selected = BenchmarkName.allCases.filter { $0 != .scale && $0 != .verify && $0 != .sweep && $0 != .eva && $0 != .large }
    if FileManager.default.fileExists(atPath: settings.scaleModel) {
        selected.append(.scale)
    } else {
        print("all: \(settings.scaleModel) not found, so the scale benchmark is left out "
              + "(make it with: python3 scripts/make_resnet18.py --classes 10 \(settings.scaleModel))")
    }
}
if selected.isEmpty { exitWithUsage("no benchmark named") }

/// Set in the child process that runs `scale` for `all`: the parent prints the frame.
let isChildRun = ProcessInfo.processInfo.environment[childRunVariable] != nil

#if DEBUG
print("WARNING: this is a debug build; figures are meaningless. Build with -c release.")
#endif
if !isChildRun {
    print("evident-bench: \(ProcessInfo.processInfo.activeProcessorCount) cores, OpenBLAS threads \(BLAS.threadCount), "
          + "load average \(loadAverage()), shared benchmarks: \(SharedBenchmarks.root?.path ?? "missing")")
}

let benchmarkStart = now()
for name in selected {
    let start = now()
    // Evaluation and GEMM figures use OpenBLAS's own threads; bound propagation runs
    // OpenBLAS single-threaded under its own threads (as BoundPropagator sets it up).
    switch name {
    case .crown, .alpha, .batch, .scale, .sweep, .large: BLAS.threadCount = 1
    default: BLAS.threadCount = settings.defaultBLASThreads
    }
    switch name {
    case .parse:
        section("parse: VNN-LIB parsing")
        if let root = sharedRoot(for: "parse") {
            benchmarkPropertyParsing(root: root)
            summary("parse", "done (see median over files above)")
        }
    case .vnnlib2:
        section("vnnlib2: VNN-LIB 2.0 query parsing")
        benchmarkQueryParsing(settings)
    case .load: benchmarkLoading(settings)
    case .forward: benchmarkForward(settings)
    case .crown: benchmarkCrown(settings)
    case .alpha: benchmarkAlphaCrown(settings)
    case .batch: benchmarkBatch(settings)
    case .gemm: benchmarkGemm(settings)
    case .verify: benchmarkVerify(settings)
    case .eva: benchmarkEVA(settings)
    case .sweep: benchmarkSweep(settings)
    case .large:
        section("large: very large disjunctive properties")
        benchmarkLargeProperties(settings)
    case .scale:
        // Alongside other benchmarks, a child process keeps the peak-memory figures (VmHWM)
        // to this benchmark alone, and a crash in it from taking the others' output down.
        if selected.count > 1 { runScaleInChildProcess(settings) } else { benchmarkScale(settings) }
    }
    if isChildRun { break }
    print("(\(name.rawValue) took \(formatSeconds(now() - start)); load average now \(loadAverage()))")
    flushOutput()
}
if !isChildRun {
    print("\nevident-bench finished in \(formatSeconds(now() - benchmarkStart)); \(memoryLine())")
}
