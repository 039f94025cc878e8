import Evident
import EvidentTestSupport
import Foundation

/// `evident eva` as a user runs it (whole process, load and the checker's recomputation
/// included) on resnet_2b around the centres of shared CIFAR properties, each property's box
/// as B: grid:8 (65 boxes) and pixels (1,025 boxes), CROWN and alpha-CROWN, full, independent
/// and reuse modes; and how much the modes' scores differ.
func benchmarkEVA(_ settings: BenchmarkSettings) {
    section("eva: evident eva on resnet_2b, property centres, the property's box as B (whole process)")
    guard sharedRoot(for: "eva") != nil else { return }
    let model = SharedBenchmarks.path("cifar10_resnet/onnx/resnet_2b.onnx")
    let properties = ["prop_0_eps_0.008", "prop_1_eps_0.008", "prop_2_eps_0.008"]
        .map { SharedBenchmarks.path("cifar10_resnet/vnnlib/\($0).vnnlib") }
    guard requireFile(model, for: "eva"), properties.allSatisfy({ requireFile($0, for: "eva") }) else { return }
    let executable = evidentExecutable()
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("evident-bench-eva-\(getpid())").path
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let runs = settings.runs(default: 3)
    let configurations: [(features: String, method: String, mode: String)] = [
        ("grid:8", "crown", "full"), ("grid:8", "crown", "reuse"), ("grid:8", "crown", "independent"),
        ("grid:8", "alpha-crown", "full"), ("grid:8", "alpha-crown", "reuse"),
        ("pixels", "crown", "full"), ("pixels", "crown", "reuse"), ("pixels", "alpha-crown", "reuse"),
    ]
    print("\(runs) run(s) per configuration and property (fewer for the slow ones); times are medians of wall time per process")
    print("configuration                     property            wall      bounds    check     aoFull     max score  guarantee")
    var scores = [String: [Double]]()
    var medians = [String: [Double]]()
    for (features, method, mode) in configurations {
        let name = "\(features) \(method) \(mode)"
        for property in properties {
            let slow = (mode == "independent" || (features == "pixels" && method == "alpha-crown"))
            let out = folder + "/" + name.replacingOccurrences(of: " ", with: "_") + "_" + (property as NSString).lastPathComponent
            var walls = [Double](), json: [String: Any] = [:]
            for _ in 0..<(slow ? 1 : runs) {
                let run = runProcess(executable, ["eva", model, "--center", property, "--features", features, "--method", method,
                                                  "--mode", mode, "--out", out, "--json"])
                guard run.status == 0, let data = run.output.data(using: .utf8),
                      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                    print("  \(name): evident eva failed (status \(run.status))")
                    break
                }
                walls.append(run.seconds)
                json = object
            }
            guard !walls.isEmpty, let s = json["scores"] as? [Double] else { continue }
            scores[name + " " + property] = s
            medians[name, default: []].append(median(walls))
            let label = name.padding(toLength: 33, withPad: " ", startingAt: 0)
            let prop = ((property as NSString).lastPathComponent as NSString).deletingPathExtension.padding(toLength: 19, withPad: " ", startingAt: 0)
            print("\(label) \(prop) \(formatSeconds(median(walls)).padding(toLength: 9, withPad: " ", startingAt: 0)) "
                  + "\(formatSeconds(json["boundSeconds"] as? Double ?? .nan).padding(toLength: 9, withPad: " ", startingAt: 0)) "
                  + "\(formatSeconds(json["checkSeconds"] as? Double ?? .nan).padding(toLength: 9, withPad: " ", startingAt: 0)) "
                  + "\(formatNumber(json["aoFull"] as? Double ?? .nan).padding(toLength: 10, withPad: " ", startingAt: 0)) "
                  + "\(formatNumber(s.max() ?? .nan).padding(toLength: 10, withPad: " ", startingAt: 0)) \(json["guarantee"] as? Bool ?? false)")
            flushOutput()
        }
    }
    print("\nmodes compared (same property, same features and method): max |score difference|, Spearman rank correlation")
    for (features, method) in [("grid:8", "crown"), ("grid:8", "alpha-crown"), ("pixels", "crown")] {
        for (a, b) in [("full", "reuse"), ("independent", "full"), ("independent", "reuse")] {
            for property in properties {
                guard let x = scores["\(features) \(method) \(a) \(property)"], let y = scores["\(features) \(method) \(b) \(property)"]
                else { continue }
                let difference = zip(x, y).map { abs($0 - $1) }.max() ?? .nan
                print("  \(features) \(method) \(a) vs \(b), \(((property as NSString).lastPathComponent as NSString).deletingPathExtension): "
                      + "max |Δ| \(formatNumber(difference)), max score \(formatNumber(x.max() ?? .nan)) vs \(formatNumber(y.max() ?? .nan)), "
                      + "Spearman \(formatNumber(spearman(x, y), "%.3f"))")
            }
        }
    }
    let grid = medians["grid:8 crown full"].map(median) ?? .nan, pixels = medians["pixels crown full"].map(median) ?? .nan
    summary("eva", "grid:8 CROWN full \(formatSeconds(grid)) (target 0.5 s), pixels CROWN full \(formatSeconds(pixels)) (target 10 s), "
            + "whole process, medians over properties")
}

/// Spearman's rank correlation (average ranks for ties).
func spearman(_ x: [Double], _ y: [Double]) -> Double {
    func ranks(_ v: [Double]) -> [Double] {
        let order = v.indices.sorted { v[$0] < v[$1] }
        var r = [Double](repeating: 0, count: v.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && v[order[j + 1]] == v[order[i]] { j += 1 }
            for k in i...j { r[order[k]] = Double(i + j) / 2 }
            i = j + 1
        }
        return r
    }
    let (a, b) = (ranks(x), ranks(y))
    let n = Double(a.count), ma = a.reduce(0, +) / n, mb = b.reduce(0, +) / n
    let cov = zip(a, b).reduce(0) { $0 + ($1.0 - ma) * ($1.1 - mb) }
    let va = a.reduce(0) { $0 + ($1 - ma) * ($1 - ma) }, vb = b.reduce(0) { $0 + ($1 - mb) * ($1 - mb) }
    return cov / (va * vb).squareRoot()
}
