import Evident
import EvidentTestSupport
import Foundation

/// A network with its box and bounds of every value: CROWN pre-activation bounds (interval
/// bounds derived from them elsewhere), as `BoundPropagator` computes them.
struct BoundedNetwork {
    var network: Network
    var lower: [Double]
    var upper: [Double]
    /// Bounds of every value, indexed by ValueID.
    var bounds: [(lower: [Double], upper: [Double])]
    /// CROWN lower bounds of each output over the box (with the same intermediate bounds).
    var crownLower: [Double]
    /// CROWN upper bounds of each output.
    var crownUpper: [Double]

    var graph: Graph { network.graph }

    init(network: Network, lower: [Double], upper: [Double]) {
        self.network = network
        self.lower = lower
        self.upper = upper
        let graph = network.graph
        let propagator = BoundPropagator(graph: graph)
        let outputs = graph.values[graph.output].count
        let result = propagator.bounds(of: .identity(outputs: outputs), lower: lower, upper: upper, batch: 1,
                                       options: BoundOptions(method: .crown))
        let negated = propagator.bounds(of: LinearSpecification.identity(outputs: outputs).negated, lower: lower,
                                        upper: upper, batch: 1, options: BoundOptions(method: .crown))
        let intervals = propagator.intervalBounds(lower: lower, upper: upper, batch: 1)
        bounds = (0..<graph.values.count).map { v in
            let b = result.intermediate[v] ?? intervals[v]!
            return (b.lower, b.upper)
        }
        crownLower = result.lower
        crownUpper = negated.lower.map { -$0 }
    }

    /// `count` seeded points of the box: corners for even indices, uniform points otherwise.
    func samples(_ count: Int, seed: UInt64) -> [Double] {
        var rng = SeededGenerator(seed: seed)
        var points = [Double]()
        points.reserveCapacity(count * lower.count)
        for s in 0..<count {
            for i in lower.indices {
                points.append(s % 2 == 0 ? (Bool.random(using: &rng) ? lower[i] : upper[i]) : rng.uniform(lower[i]...upper[i]))
            }
        }
        return points
    }
}

/// The first box of an ACAS Xu property on one of the shared networks.
func acasXu(network n: Int, property: Int) throws -> BoundedNetwork {
    let network = try loadNetwork(path: SharedBenchmarks.path("acasxu/ACASXU_run2a_1_\(n)_batch_2000.onnx"))
    let spec = try loadProperty(path: SharedBenchmarks.path("acasxu/prop_\(property).vnnlib"), for: network)
    let region = spec.regions[0]
    return BoundedNetwork(network: network, lower: region.lower, upper: region.upper)
}

func network(_ graph: Graph) -> Network {
    Network(graph: graph, source: "test", format: "memory", sourceOperatorCounts: [:], parameterCount: 0)
}

/// `|a − b| ≤ tolerance · max(1, |a|, |b|)`.
func relativelyClose(_ a: Double, _ b: Double, _ tolerance: Double) -> Bool {
    abs(a - b) <= tolerance * max(1, abs(a), abs(b))
}

/// The Neumaier–Shcherbina right-hand side, written out independently of the module for
/// the tests: `Σ_i min(y_i lo_i, y_i hi_i) + Σ_j min(r_j l_j, r_j u_j)`, `r = c − Aᵀy`.
func referenceDualBound(_ lp: LinearProgram, y: [Double], c: [Double]) -> Double {
    var r = c
    var total = 0.0
    for i in 0..<lp.rowCount {
        for (column, a) in zip(lp.rowColumns[i], lp.rowCoefficients[i]) { r[column] -= a * y[i] }
        if y[i] > 0 { total += y[i] * lp.rowBounds[i].lower }
        if y[i] < 0 { total += y[i] * lp.rowBounds[i].upper }
    }
    for j in 0..<lp.columnCount {
        if r[j] > 0 { total += r[j] * lp.columnBounds[j].lower }
        if r[j] < 0 { total += r[j] * lp.columnBounds[j].upper }
    }
    return total
}

/// Runs `body` with the process's standard output sent to a temporary file and returns what
/// was written there (also passing it on to the real standard output afterwards, so that
/// other tests' reports written meanwhile are not lost).
func capturingStandardOutput(_ body: () throws -> Void) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("evident-lp-stdout-\(UUID().uuidString)").path
    let file = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard file >= 0 else { throw CocoaError(.fileWriteUnknown) }
    fflush(stdout)
    let saved = dup(STDOUT_FILENO)
    dup2(file, STDOUT_FILENO)
    var failure: Error?
    do { try body() } catch { failure = error }
    fflush(stdout)
    dup2(saved, STDOUT_FILENO)
    close(saved)
    close(file)
    defer { try? FileManager.default.removeItem(atPath: path) }
    if let failure { throw failure }
    let text = try String(contentsOfFile: path, encoding: .utf8)
    fputs(text, stdout)
    return text
}
