import Evident
import EvidentTestSupport
import Foundation

/// CROWN on 65 boxes of resnet_2b in one batched call (prop_0's box, and 64 boxes that each
/// fix one 4x4 patch of all channels at the box centre), against one call on the full box.
func benchmarkBatch(_ settings: BenchmarkSettings) {
    section("batch: CROWN on 65 boxes of resnet_2b in one call vs one box")
    guard sharedRoot(for: "batch") != nil else { return }
    let onnx = "cifar10_resnet/onnx/resnet_2b.onnx"
    let vnnlib = "cifar10_resnet/vnnlib/prop_0_eps_0.008.vnnlib"
    guard requireFile(SharedBenchmarks.path(onnx), for: "batch"),
          requireFile(SharedBenchmarks.path(vnnlib), for: "batch") else { return }
    let loaded: (network: Network, propagator: BoundPropagator)
    let property: Property
    do {
        loaded = try sharedNetwork(onnx)
        property = try loadProperty(path: SharedBenchmarks.path(vnnlib), for: loaded.network)
    } catch {
        print("batch: \(error.localizedDescription)")
        summary("batch", "error")
        return
    }
    let shape = loaded.network.graph.inputShape
    guard property.regions.count == 1, shape.count == 4, shape[1] == 3, shape[2] == 32, shape[3] == 32,
          let (spec, rowBounds) = specification(of: property.regions[0], outputs: loaded.network.graph.outputShape.elementCount)
    else {
        print("batch: expected one region, clauses and a 1x3x32x32 input; got \(property.regions.count) region(s), input \(shape)")
        summary("batch", "skipped (unexpected instance)")
        return
    }
    let region = property.regions[0]
    let centre = zip(region.lower, region.upper).map { ($0 + $1) / 2 }
    let patch = 4, side = 32, perSide = side / patch
    var lower = region.lower, upper = region.upper
    for py in 0..<perSide {
        for px in 0..<perSide {
            var l = region.lower, u = region.upper
            for c in 0..<3 {
                for y in (py * patch)..<((py + 1) * patch) {
                    for x in (px * patch)..<((px + 1) * patch) {
                        let i = (c * side + y) * side + x
                        l[i] = centre[i]
                        u[i] = centre[i]
                    }
                }
            }
            lower += l
            upper += u
        }
    }
    let batch = 1 + perSide * perSide
    let options = BoundOptions(method: .crown)
    let runs = settings.runs(default: 3)
    print("\(spec.rows) specification rows (one per clause), \(batch) boxes, \(runs) run(s) each; "
          + "time = propagator.bounds (propagator built once, untimed)")
    flushOutput()

    var single: BoundResult?
    let singleTimes = Sample(sampleSeconds(runs: runs) {
        single = loaded.propagator.bounds(of: spec, lower: region.lower, upper: region.upper, batch: 1, options: options)
    })
    print("  batch 1:  median \(formatSeconds(singleTimes.median)), min \(formatSeconds(singleTimes.min))")
    flushOutput()
    var batched: BoundResult?
    let batchTimes = Sample(sampleSeconds(runs: runs) {
        batched = loaded.propagator.bounds(of: spec, lower: lower, upper: upper, batch: batch, options: options)
    })
    print("  batch \(batch): median \(formatSeconds(batchTimes.median)), min \(formatSeconds(batchTimes.min))")
    guard let single, let batched else { return }

    // Consistency: box 0 of the batch is the single box. Fixing a patch usually tightens the
    // bounds, but need not: CROWN's adaptive ReLU slopes make it non-monotone in the box.
    let rows = spec.rows
    let deviation = (0..<rows).map { abs(batched.lower[$0] - single.lower[$0]) }.max() ?? .nan
    func boxMinMargin(_ b: Int) -> Double { (0..<rows).map { batched.lower[b * rows + $0] - rowBounds[$0] }.min() ?? .nan }
    let patchMargins = (1..<batch).map(boxMinMargin)
    let loosened = (1..<batch).filter { b in (0..<rows).contains { batched.lower[b * rows + $0] < batched.lower[$0] - 1e-9 } }
    print("  full box min margin \(formatNumber(boxMinMargin(0), "%.5f")) (single call: "
          + "\(formatNumber((0..<rows).map { single.lower[$0] - rowBounds[$0] }.min() ?? .nan, "%.5f")), "
          + "max |batched - single| over rows \(String(format: "%.2e", deviation)))")
    print("  patch boxes: min margin from \(formatNumber(patchMargins.min() ?? .nan, "%.5f")) to "
          + "\(formatNumber(patchMargins.max() ?? .nan, "%.5f")); \(patchMargins.filter { $0 > 0 }.count) of "
          + "\(patchMargins.count) verified; \(loosened.count) looser than the full box on some row (usually 0)")
    let ratio = batchTimes.median / singleTimes.median
    summary("batch", "\(batch) boxes \(formatSeconds(batchTimes.median)) vs 1 box \(formatSeconds(singleTimes.median)): "
            + "ratio \(String(format: "%.1f", ratio)) (target < 20), \(String(format: "%.1f", Double(batch) / ratio))x "
            + "the throughput of single calls")
}
