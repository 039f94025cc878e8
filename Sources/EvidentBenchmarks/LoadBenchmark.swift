import Evident
import EvidentTestSupport
import Foundation

/// Load time (file read, decoding and conversion to the IR) of one network per format.
func benchmarkLoading(_ settings: BenchmarkSettings) {
    section("load: network loading (loadNetwork(path:))")
    guard sharedRoot(for: "load") != nil else { return }
    let runs = settings.runs(default: 20)
    let files = [
        "cifar10_resnet/onnx/resnet_2b.onnx",
        "oval21/onnx/cifar_base_kw.onnx",
        "acasxu/nnet/ACASXU_experimental_v2a_1_1.nnet",
        "acasxu/ACASXU_run2a_1_1_batch_2000.onnx",
    ]
    print("\(runs) runs per file")
    var table = Table("file", "KB", "nodes", "parameters", "median", "min")
    var medians = [String: Double]()
    for file in files {
        let path = SharedBenchmarks.path(file)
        guard requireFile(path, for: "load") else { continue }
        let kilobytes = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
        var network: Network?
        var failure: Error?
        let times = Sample(sampleSeconds(runs: runs) {
            do { network = try loadNetwork(path: path) } catch { failure = error }
        })
        if let failure {
            table.add(file, "\(kilobytes / 1024)", "error: \(failure.localizedDescription)")
            continue
        }
        medians[(file as NSString).lastPathComponent] = times.median
        table.add(file, "\(kilobytes / 1024)", "\(network?.graph.nodes.count ?? 0)", "\(network?.parameterCount ?? 0)",
                  formatSeconds(times.median), formatSeconds(times.min))
    }
    table.print()
    summary("load", medians.sorted { $0.key < $1.key }.map { "\($0.key) \(formatSeconds($0.value))" }.joined(separator: ", "))
}

/// Forward-evaluation throughput (images per second) at batch 1 and batch 64.
func benchmarkForward(_ settings: BenchmarkSettings) {
    section("forward: Evaluator.evaluate throughput")
    var networks = [(name: String, path: String)]()
    if sharedRoot(for: "forward (resnet_2b)") != nil {
        networks.append(("resnet_2b", SharedBenchmarks.path("cifar10_resnet/onnx/resnet_2b.onnx")))
    }
    networks.append(("digits_resnet", SharedBenchmarks.repositoryRoot.appendingPathComponent("Networks/digits_resnet/digits_resnet.onnx").path))
    print("at least 10 runs and 1 s per measurement (exactly --repeat runs when given); random inputs in [0, 1]")
    var table = Table("network", "batch", "runs", "median", "min", "images/s (median)", "images/s (best)")
    var summaries = [String]()
    for (name, path) in networks {
        guard requireFile(path, for: "forward") else { continue }
        let network: Network
        do { network = try loadNetwork(path: path) } catch {
            print("forward: \(name): cannot load: \(error.localizedDescription)")
            continue
        }
        let evaluator = Evaluator(graph: network.graph)
        var generator = SeededGenerator(seed: 2024)
        for batch in [1, 64] {
            let input = generator.uniforms(batch * evaluator.inputCount, 0...1)
            // Enough runs for about the same total work at both batch sizes.
            var failure: Error?
            _ = try? evaluator.evaluate(input, batch: batch)  // warm-up
            let samples = sampleSeconds(runs: settings.runs(default: 10), exact: settings.repeats != nil, minimumSeconds: 1) {
                do { _ = try evaluator.evaluate(input, batch: batch) } catch { failure = error }
            }
            let runs = samples.count, times = Sample(samples)
            if let failure {
                table.add(name, "\(batch)", "error: \(failure.localizedDescription)")
                continue
            }
            let rate = Double(batch) / times.median
            table.add(name, "\(batch)", "\(runs)", formatSeconds(times.median), formatSeconds(times.min),
                      String(format: "%.0f", rate), String(format: "%.0f", Double(batch) / times.min))
            summaries.append("\(name) b\(batch) \(String(format: "%.0f", rate)) img/s")
        }
    }
    table.print()
    summary("forward", summaries.joined(separator: ", "))
}
