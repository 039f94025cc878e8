import Evident
import EvidentTestSupport
import Foundation

// The architecture sweep: CROWN and α-CROWN on generated networks of the families users
// bring (residual with identity and projection shortcuts, BatchNorm, plain deep CNNs, wide
// shallow CNNs, MLPs) and on the real networks at hand, with the cost per backward pass,
// the achieved GEMM rate and the growth of cost with depth and width.

/// One network of the sweep.
struct SweepNetwork {
    var family: String
    var name: String
    var graph: Graph
    /// ReLU layers (the depth the growth fits use).
    var reluLayers: Int
    /// Channels (or hidden width) for the width series.
    var width: Int
    /// Centre of the input box, and a fixed ε when the network comes with one.
    var centre: [Double]
    var epsilon: Double?
}

/// Seeded generators of the sweep's networks. Weights are He-scaled (uniform with the
/// variance 2/fan-in), biases small, so activations keep their scale through depth.
enum SweepNetworks {
    struct Builder {
        var rng: SeededGenerator
        var b: GraphBuilder
        var v: ValueID
        var relus = 0
        var count = 0

        init(seed: UInt64, shape: [Int]) {
            rng = SeededGenerator(seed: seed)
            b = GraphBuilder(inputName: "x", inputShape: shape)
            v = b.inputValue
        }

        mutating func name(_ prefix: String) -> String {
            count += 1
            return "\(prefix)\(count)"
        }

        mutating func conv(_ input: ValueID, _ outChannels: Int, kernel k: Int, stride s: Int, pad p: Int) throws -> ValueID {
            let inChannels = b.shape(of: input)[1]
            let limit = (6 / Double(inChannels * k * k)).squareRoot()
            let op = GraphOperation.convolution(Convolution(
                weight: rng.tensor([outChannels, inChannels, k, k], -limit...limit), bias: rng.tensor([outChannels], -0.05...0.05),
                window: Window2D(kernel: (k, k), strides: (s, s), pads: (p, p, p, p)), group: 1))
            return try b.add(op, inputs: [input], name: name("conv"))
        }

        mutating func batchNorm(_ input: ValueID) throws -> ValueID {
            let c = b.shape(of: input)[1]
            return try b.add(.channelAffine(scale: rng.uniforms(c, 0.5...1.5), shift: rng.uniforms(c, -0.1...0.1)),
                             inputs: [input], name: name("bn"))
        }

        mutating func relu(_ input: ValueID) throws -> ValueID {
            relus += 1
            return try b.add(.relu, inputs: [input], name: name("relu"))
        }

        mutating func dense(_ input: ValueID, _ outputs: Int) throws -> ValueID {
            var x = input
            if b.shape(of: x).count != 2 { x = try b.add(.reshape([1, b.shape(of: x).elementCount]), inputs: [x], name: name("flat")) }
            let inputs = b.shape(of: x)[1]
            let limit = (6 / Double(inputs)).squareRoot()
            return try b.add(.linear(Linear(weight: rng.tensor([outputs, inputs], -limit...limit),
                                            bias: rng.tensor([outputs], -0.05...0.05))), inputs: [x], name: name("fc"))
        }

        /// A dense head `hidden -> ReLU -> 10`, and the graph.
        mutating func finish(hidden: Int) throws -> Graph {
            var y = try relu(try dense(v, hidden))
            y = try dense(y, 10)
            return try b.build(output: y)
        }
    }

    /// Residual network: a stride-2 stem, then `blocks` basic blocks (two 3×3 convolutions,
    /// optional BatchNorm before each ReLU); the first block halves the resolution with a
    /// stride-2 1×1 projection shortcut, the others have identity shortcuts.
    static func residual(blocks: Int, channels: Int, image: Int, batchNorm: Bool, seed: UInt64) throws -> SweepNetwork {
        var n = Builder(seed: seed, shape: [1, 3, image, image])
        func activate(_ x: ValueID, _ n: inout Builder) throws -> ValueID {
            try n.relu(batchNorm ? try n.batchNorm(x) : x)
        }
        n.v = try activate(try n.conv(n.v, channels, kernel: 3, stride: 2, pad: 1), &n)
        for block in 0..<blocks {
            let stride = block == 0 ? 2 : 1
            var r = try activate(try n.conv(n.v, channels, kernel: 3, stride: stride, pad: 1), &n)
            r = try n.conv(r, channels, kernel: 3, stride: 1, pad: 1)
            if batchNorm { r = try n.batchNorm(r) }
            let shortcut = block == 0 ? try n.conv(n.v, channels, kernel: 1, stride: 2, pad: 0) : n.v
            n.v = try n.relu(try n.b.add(.add, inputs: [r, shortcut], name: n.name("add")))
        }
        let graph = try n.finish(hidden: 100)
        var rng = SeededGenerator(seed: seed ^ 0xC0FFEE)
        return SweepNetwork(family: batchNorm ? "residual+BN" : "residual", name: "res\(blocks)b-\(channels)c-\(image)px\(batchNorm ? "-bn" : "")",
                            graph: graph, reluLayers: n.relus, width: channels, centre: rng.uniforms(3 * image * image, 0...1))
    }

    /// Plain deep CNN: `layers` 3×3 convolutions (stride 2 on every other one), two Gemm.
    static func plainCNN(layers: Int, channels: Int, seed: UInt64) throws -> SweepNetwork {
        var n = Builder(seed: seed, shape: [1, 3, 32, 32])
        var c = channels
        for layer in 0..<layers {
            let stride = layer % 2 == 0 && n.b.shape(of: n.v)[2] > 4 ? 2 : 1
            n.v = try n.relu(try n.conv(n.v, c, kernel: 3, stride: stride, pad: 1))
            if stride == 2 && layer > 0 { c *= 2 }
        }
        let graph = try n.finish(hidden: 256)
        var rng = SeededGenerator(seed: seed ^ 0xC0FFEE)
        return SweepNetwork(family: "plain CNN", name: "cnn\(layers)-\(channels)c", graph: graph, reluLayers: n.relus,
                            width: channels, centre: rng.uniforms(3 * 32 * 32, 0...1))
    }

    /// Wide shallow CNN (oval21-like): two 4×4 stride-2 convolutions and one large Gemm.
    static func wideCNN(channels: Int, hidden: Int, seed: UInt64) throws -> SweepNetwork {
        var n = Builder(seed: seed, shape: [1, 3, 32, 32])
        n.v = try n.relu(try n.conv(n.v, channels, kernel: 4, stride: 2, pad: 1))
        n.v = try n.relu(try n.conv(n.v, 2 * channels, kernel: 4, stride: 2, pad: 1))
        let graph = try n.finish(hidden: hidden)
        var rng = SeededGenerator(seed: seed ^ 0xC0FFEE)
        return SweepNetwork(family: "wide CNN", name: "wide-\(channels)c-fc\(hidden)", graph: graph, reluLayers: n.relus,
                            width: channels, centre: rng.uniforms(3 * 32 * 32, 0...1))
    }

    /// MLP on 784 inputs: `layers` hidden layers of `width`.
    static func mlp(layers: Int, width: Int, seed: UInt64) throws -> SweepNetwork {
        var n = Builder(seed: seed, shape: [1, 784])
        for _ in 0..<(layers - 1) { n.v = try n.relu(try n.dense(n.v, width)) }
        let graph = try n.finish(hidden: width)
        var rng = SeededGenerator(seed: seed ^ 0xC0FFEE)
        return SweepNetwork(family: "MLP", name: "mlp\(layers)x\(width)", graph: graph, reluLayers: n.relus, width: width,
                            centre: rng.uniforms(784, 0...1))
    }

    /// The generated part of the sweep.
    static func all() throws -> [SweepNetwork] {
        var list = [SweepNetwork]()
        for blocks in [2, 4, 8] { list.append(try residual(blocks: blocks, channels: 16, image: 32, batchNorm: false, seed: 10 + UInt64(blocks))) }
        list.append(try residual(blocks: 4, channels: 16, image: 32, batchNorm: true, seed: 20))
        for channels in [16, 32, 64, 128] {
            list.append(try residual(blocks: 2, channels: channels, image: 16, batchNorm: false, seed: 30 + UInt64(channels)))
        }
        list.append(try plainCNN(layers: 4, channels: 16, seed: 40))
        list.append(try plainCNN(layers: 6, channels: 16, seed: 41))
        list.append(try wideCNN(channels: 16, hidden: 512, seed: 50))
        for (layers, width) in [(5, 100), (6, 200), (6, 500)] { list.append(try mlp(layers: layers, width: width, seed: 60 + UInt64(width))) }
        return list
    }
}

/// Figures of one network.
struct SweepRow {
    var network: SweepNetwork
    var epsilon: Double
    var neurons: Int
    var unstable: Int
    var crownSeconds: Double
    var crownPasses: Int
    var crownRows: Int
    var crownFlops: Int
    var alphaSeconds: Double
    var alphaEvaluations: Int
    var finalSeconds: Double
    var finalEvaluations: Int
    var crownMargin: Double
    var alphaMargin: Double
    var finalMargin: Double
    var peakBytes: Int?
    var alphaPhases: AlphaPhases?

    /// One α-CROWN evaluation (a sweep of intermediate bounds and the final rows).
    var alphaIteration: Double { alphaSeconds / Double(max(1, alphaEvaluations)) }
}

#if os(Linux)
/// glibc's `malloc_trim` (not exported by the Glibc module).
@_silgen_name("malloc_trim")
func mallocTrim(_ pad: Int) -> Int32
#endif

/// Returns freed memory to the system (`malloc_trim`) and resets the peak resident set
/// (VmHWM) to the current one (Linux `clear_refs`), so that a peak read later belongs to what
/// ran since, on top of what is still allocated.
func resetPeakMemory() {
    #if os(Linux)
    _ = mallocTrim(0)
    #endif
    guard let file = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return }
    file.write(Data("5".utf8))
    try? file.close()
}

/// ε (L∞ radius around the centre, clipped to nothing) at which CROWN leaves 8–25% of the
/// ReLU neurons unstable: geometric bisection from 1e-5 to 0.3, at most 10 CROWN sweeps.
func calibrateEpsilon(_ propagator: BoundPropagator, centre: [Double]) -> Double {
    var (low, high) = (1e-5, 0.3)
    var epsilon = 1e-3
    for _ in 0..<10 {
        let bounds = propagator.intermediateBounds(lower: centre.map { $0 - epsilon }, upper: centre.map { $0 + epsilon }, batch: 1)
        let (unstable, total) = unstableReluNeurons(propagator.graph, bounds)
        let fraction = Double(unstable) / Double(max(1, total))
        if fraction >= 0.08 && fraction <= 0.25 { return epsilon }
        if fraction < 0.08 { low = epsilon } else { high = epsilon }
        epsilon = (low * high).squareRoot()
    }
    return epsilon
}

/// Margins specification `y_label − y_j` for every other class j.
func marginSpecification(label: Int, outputs: Int) -> LinearSpecification {
    var coefficients = [Double]()
    for j in 0..<outputs where j != label {
        var row = [Double](repeating: 0, count: outputs)
        row[label] = 1
        row[j] = -1
        coefficients += row
    }
    return LinearSpecification(rows: outputs - 1, coefficients: coefficients)
}

func measureSweep(_ network: SweepNetwork, settings: BenchmarkSettings) throws -> SweepRow {
    let propagator = BoundPropagator(graph: network.graph)
    let epsilon = network.epsilon ?? calibrateEpsilon(propagator, centre: network.centre)
    let lower = network.centre.map { $0 - epsilon }, upper = network.centre.map { $0 + epsilon }
    let output = try Evaluator(graph: network.graph).evaluate(network.centre)
    let label = output.indices.max { output[$0] < output[$1] }!
    let spec = marginSpecification(label: label, outputs: output.count)
    resetPeakMemory()
    // CROWN: median of runs; counters from the last.
    var crown: BoundResult?
    var counts = (passes: 0, rows: 0, flops: 0)
    let crownTimes = try sampleSeconds(runs: settings.runs(default: 3)) {
        WorkCounters.reset()
        crown = propagator.bounds(of: spec, lower: lower, upper: upper, batch: 1, options: BoundOptions(method: .crown))
        let passes = WorkCounters.passes
        counts = (passes.count, passes.rows, WorkCounters.flops)
        if crown!.lower.contains(where: { !$0.isFinite }) { throw BenchmarkError.nonFinite(network.name) }
    }
    let (unstable, total) = unstableReluNeurons(network.graph, crown!.intermediate)
    let alphaOptions = BoundOptions(method: .alphaCrown, iterations: 20)
    var finalOptions = alphaOptions
    finalOptions.alphaScope = .final
    let (alphaSeconds, alpha) = timed { propagator.bounds(of: spec, lower: lower, upper: upper, batch: 1, options: alphaOptions) }
    let (finalSeconds, final) = timed { propagator.bounds(of: spec, lower: lower, upper: upper, batch: 1, options: finalOptions) }
    return SweepRow(network: network, epsilon: epsilon, neurons: total, unstable: unstable, crownSeconds: median(crownTimes),
                    crownPasses: counts.passes, crownRows: counts.rows, crownFlops: counts.flops,
                    alphaSeconds: alphaSeconds, alphaEvaluations: alpha.evaluations, finalSeconds: finalSeconds,
                    finalEvaluations: final.evaluations, crownMargin: crown!.lower.min()!, alphaMargin: alpha.lower.min()!,
                    finalMargin: final.lower.min()!, peakBytes: memoryUsage()?.peak, alphaPhases: alpha.alphaPhases)
}

enum BenchmarkError: Error, CustomStringConvertible {
    case nonFinite(String)
    var description: String {
        switch self { case .nonFinite(let name): "\(name): a CROWN bound is not finite" }
    }
}

/// The real networks at hand: the shipped digits_resnet (its example input, ε 0.02), and,
/// with the shared benchmarks, resnet_2b and cifar_base_kw on their first property's box.
func realSweepNetworks() -> [SweepNetwork] {
    var list = [SweepNetwork]()
    func add(_ family: String, _ name: String, model: String, property: String) {
        guard let network = try? loadNetwork(path: model), let p = try? loadProperty(path: property, for: network),
              let region = p.regions.first else {
            print("  \(name): \(model) or \(property) not readable; left out")
            return
        }
        let centre = zip(region.lower, region.upper).map { ($0 + $1) / 2 }
        let radius = zip(region.lower, region.upper).map { ($1 - $0) / 2 }.max() ?? 0
        let relus = network.graph.nodes.filter { $0.operation == .relu }.count
        list.append(SweepNetwork(family: family, name: name, graph: network.graph, reluLayers: relus, width: 0, centre: centre,
                                 epsilon: radius))
    }
    add("real", "digits_resnet", model: "Networks/digits_resnet/digits_resnet.onnx", property: "Specs/digits_resnet_img2_eps0.02.vnnlib")
    if let root = SharedBenchmarks.root?.path {
        add("real", "resnet_2b", model: "\(root)/cifar10_resnet/onnx/resnet_2b.onnx",
            property: "\(root)/cifar10_resnet/vnnlib/prop_0_eps_0.008.vnnlib")
        add("real", "cifar_base_kw", model: "\(root)/oval21/onnx/cifar_base_kw.onnx",
            property: "\(root)/oval21/vnnlib/cifar_base_kw-img2908-eps0.019869281045751634.vnnlib")
    } else {
        print("  \(SharedBenchmarks.missingMessage): resnet_2b and cifar_base_kw left out")
    }
    return list
}

/// Least-squares slope of log(y) against log(x): the exponent of a power-law fit.
func fittedExponent(_ points: [(x: Double, y: Double)]) -> Double? {
    let p = points.filter { $0.x > 0 && $0.y > 0 }.map { (log($0.x), log($0.y)) }
    guard p.count >= 2 else { return nil }
    let mx = p.map(\.0).reduce(0, +) / Double(p.count), my = p.map(\.1).reduce(0, +) / Double(p.count)
    let sxx = p.map { ($0.0 - mx) * ($0.0 - mx) }.reduce(0, +), sxy = p.map { ($0.0 - mx) * ($0.1 - my) }.reduce(0, +)
    return sxx > 0 ? sxy / sxx : nil
}

/// The one-thread OpenBLAS dgemm rate on a 1024³ product (best of 3), in GFLOP/s.
func dgemmPeak() -> Double {
    var generator = SeededGenerator(seed: 7)
    let n = 1024
    let a = generator.uniforms(n * n), b = generator.uniforms(n * n)
    var best = Double.infinity
    withBLASThreads(1) {
        for _ in 0..<3 {
            let (seconds, _) = timed { BLAS.multiply(a, .none, b, .none, m: n, n: n, k: n) }
            best = min(best, seconds)
        }
    }
    return gigaflops(2 * Double(n * n * n), best)
}

func benchmarkSweep(_ settings: BenchmarkSettings) {
    section("sweep: CROWN and alpha-CROWN across architectures")
    let peak = dgemmPeak()
    print("dgemm peak (1 thread, 1024^3): \(String(format: "%.1f", peak)) GFLOP/s; CROWN: median of \(settings.runs(default: 3)) runs; "
          + "alpha-CROWN: 20 iterations, one run, all targets (full) and final rows only (final)")
    BLAS.threadCount = 1
    var networks: [SweepNetwork]
    do { networks = try SweepNetworks.all() } catch {
        print("sweep: could not build the networks: \(error)")
        return
    }
    if let filter = settings.verifyFilter { networks = networks.filter { $0.name.contains(filter) || $0.family.contains(filter) } }
    networks += realSweepNetworks().filter { settings.verifyFilter == nil || $0.name.contains(settings.verifyFilter!) }
    var rows = [SweepRow]()
    var table = Table("family", "network", "ReLU layers", "neurons", "unstable", "eps", "CROWN s", "passes", "s/pass", "GFLOP/s",
                      "% peak", "alpha full s", "full iter / CROWN", "sweep/final/grad/step %", "alpha final s", "final iter / CROWN",
                      "margin CROWN", "full", "final", "peak mem")
    for network in networks {
        do {
            let row = try measureSweep(network, settings: settings)
            rows.append(row)
            let gflops = gigaflops(Double(row.crownFlops), row.crownSeconds)
            table.add(network.family, network.name, "\(network.reluLayers)", "\(row.neurons)",
                      String(format: "%.1f%%", 100 * Double(row.unstable) / Double(max(1, row.neurons))),
                      String(format: "%.2g", row.epsilon), formatNumber(row.crownSeconds), "\(row.crownPasses)",
                      String(format: "%.2g", row.crownSeconds / Double(max(1, row.crownPasses))),
                      String(format: "%.1f", gflops), String(format: "%.0f%%", 100 * gflops / peak),
                      formatNumber(row.alphaSeconds), String(format: "%.2f", row.alphaIteration / row.crownSeconds),
                      row.alphaPhases.map { p in
                          [p.sweeps, p.finalRows, p.gradients, p.steps].map { String(format: "%.0f", 100 * $0 / max(1e-9, row.alphaSeconds)) }
                              .joined(separator: "/")
                      } ?? "-",
                      formatNumber(row.finalSeconds),
                      String(format: "%.2f", row.finalSeconds / Double(max(1, row.finalEvaluations)) / row.crownSeconds),
                      formatNumber(row.crownMargin), formatNumber(row.alphaMargin), formatNumber(row.finalMargin),
                      row.peakBytes.map(formatBytes) ?? "n/a")
            print("  \(network.name): CROWN \(formatSeconds(row.crownSeconds)), alpha \(formatSeconds(row.alphaSeconds))")
            flushOutput()
        } catch {
            print("  \(network.name): \(error)")
        }
    }
    table.print()
    // Growth of cost with depth (residual series) and width.
    var growth = Table("series", "x", "CROWN exponent", "alpha iteration exponent")
    func fit(_ series: String, _ x: String, _ selected: [SweepRow], _ value: (SweepRow) -> Double) {
        guard selected.count >= 2 else { return }
        let crown = fittedExponent(selected.map { (value($0), $0.crownSeconds) })
        let alpha = fittedExponent(selected.map { (value($0), $0.alphaIteration) })
        growth.add(series, x, crown.map { String(format: "%.2f", $0) } ?? "-", alpha.map { String(format: "%.2f", $0) } ?? "-")
    }
    fit("residual 2/4/8 blocks, 16 channels", "ReLU layers",
        rows.filter { $0.network.family == "residual" && $0.network.name.hasSuffix("-16c-32px") }, { Double($0.network.reluLayers) })
    fit("residual 2 blocks, 16-128 channels", "channels",
        rows.filter { $0.network.family == "residual" && $0.network.name.hasPrefix("res2b-") && $0.network.name.hasSuffix("-16px") },
        { Double($0.network.width) })
    fit("MLP 6 layers, 200-500 wide", "width", rows.filter { $0.network.family == "MLP" && $0.network.name.hasPrefix("mlp6") },
        { Double($0.network.width) })
    print("\ngrowth of cost (power-law exponent of time against x; 1 = linear):")
    growth.print()
    if let path = settings.markdownPath {
        let text = "Measured \(ISO8601DateFormatter().string(from: Date())) on \(ProcessInfo.processInfo.activeProcessorCount) cores "
            + "(load average at the end \(loadAverage())); dgemm peak (1 thread) \(String(format: "%.1f", peak)) GFLOP/s.\n\n"
            + table.markdown + "\n\nGrowth of cost (power-law exponent of time against x; 1 = linear):\n\n" + growth.markdown
        do {
            try replaceGeneratedSection("sweep", in: path, with: text)
            print("wrote the tables into \(path)")
        } catch {
            print("sweep: \(error.localizedDescription)")
        }
    }
    let worst = rows.map { $0.alphaIteration / $0.crownSeconds }.max() ?? 0
    summary("sweep", "\(rows.count) networks; worst alpha iteration / CROWN pass \(String(format: "%.2f", worst)); dgemm peak \(String(format: "%.1f", peak)) GFLOP/s")
}
