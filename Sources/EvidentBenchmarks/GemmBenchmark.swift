import Evident
import EvidentTestSupport
import Foundation

/// GFLOP/s of `flops` floating-point operations done in `seconds`.
func gigaflops(_ flops: Double, _ seconds: Double) -> Double { flops / seconds / 1e9 }

/// Runs `body` with OpenBLAS limited to `threads` threads, restoring the setting afterwards.
func withBLASThreads<T>(_ threads: Int, _ body: () -> T) -> T {
    let saved = BLAS.threadCount
    BLAS.threadCount = threads
    defer { BLAS.threadCount = saved }
    return body()
}

/// OpenBLAS dgemm peak on square products, and the achieved rate of the convolution kernels
/// that dominate CROWN on resnet_2b (the transposed convolution) and evaluation (the forward one).
func benchmarkGemm(_ settings: BenchmarkSettings) {
    section("gemm: OpenBLAS dgemm and convolution kernels (GFLOP/s)")
    let defaultThreads = settings.defaultBLASThreads
    let exact = settings.repeats != nil
    print("best and median of at least 3 runs and 1 s per measurement (exactly --repeat runs when given)")
    let threadSettings = defaultThreads > 1 ? [1, defaultThreads] : [1]
    var generator = SeededGenerator(seed: 7)
    var table = Table("dgemm n x n x n", "threads", "runs", "best", "median", "GFLOP/s best", "GFLOP/s median")
    var peak = [Int: Double]()
    for n in [512, 1024, 2048] {
        let a = generator.uniforms(n * n), b = generator.uniforms(n * n)
        var c = [Double](repeating: 0, count: n * n)
        let flops = 2 * Double(n) * Double(n) * Double(n)
        for threads in threadSettings {
            var runs = 0
            let times = withBLASThreads(threads) { () -> Sample in
                a.withUnsafeBufferPointer { pa in
                    b.withUnsafeBufferPointer { pb in
                        c.withUnsafeMutableBufferPointer { buffer in
                            let pc = buffer.baseAddress!
                            let run = {
                                BLAS.gemm(.none, .none, m: n, n: n, k: n, a: pa.baseAddress!, b: pb.baseAddress!, c: pc)
                            }
                            run()  // warm-up (thread start, page faults)
                            let samples = sampleSeconds(runs: settings.runs(default: 3), exact: exact, minimumSeconds: 1, run)
                            runs = samples.count
                            return Sample(samples)
                        }
                    }
                }
            }
            let best = gigaflops(flops, times.min)
            peak[threads] = max(peak[threads] ?? 0, best)
            table.add("\(n)", "\(threads)", "\(runs)", formatSeconds(times.min), formatSeconds(times.median),
                      String(format: "%.1f", best), String(format: "%.1f", gigaflops(flops, times.median)))
        }
    }
    table.print()
    flushOutput()
    var line = threadSettings.map { "dgemm peak \(String(format: "%.1f", peak[$0] ?? 0)) GFLOP/s (\($0) thread\($0 == 1 ? "" : "s"))" }
    line += convolutionKernelFigures(settings, threadSettings: threadSettings)
    summary("gemm", line.joined(separator: ", "))
}

/// The resnet_2b 16→16 3x3 convolution's forward and transposed kernels; returns summary parts.
func convolutionKernelFigures(_ settings: BenchmarkSettings, threadSettings: [Int]) -> [String] {
    guard SharedBenchmarks.available else {
        print("convolution kernels: skipped: \(SharedBenchmarks.missingMessage)")
        return []
    }
    let network: Network
    do { network = try sharedNetwork("cifar10_resnet/onnx/resnet_2b.onnx").network } catch {
        print("convolution kernels: cannot load resnet_2b: \(error.localizedDescription)")
        return []
    }
    let graph = network.graph
    let found = graph.nodes.lazy.compactMap { node -> (Convolution, [Int], [Int])? in
        guard case .convolution(let conv) = node.operation else { return nil }
        let w = conv.weight.shape
        guard w.count == 4, w[0] == 16, w[1] == 16, w[2] == 3, w[3] == 3, conv.group == 1 else { return nil }
        return (conv, graph.values[node.inputs[0]].shape, graph.values[node.output].shape)
    }.first
    guard let (conv, inputShape, outputShape) = found, inputShape.count == 4, outputShape.count == 4 else {
        print("convolution kernels: resnet_2b has no 16->16 3x3 convolution; skipped")
        return []
    }
    let (m, oh, ow) = (outputShape[1], outputShape[2], outputShape[3])
    let (c, h, w) = (inputShape[1], inputShape[2], inputShape[3])
    let flopsPerColumn = 2 * Double(m * oh * ow) * Double(c / conv.group * 9)
    print("\nresnet_2b conv 16->16 3x3, input \(inputShape) -> output \(outputShape), "
          + "stride \(conv.window.strides.height), pad \(conv.window.pads.top); "
          + "flops = 2 * count * M*OH*OW * C/g*kH*kW = count * \(Int(flopsPerColumn))")
    flushOutput()
    var generator = SeededGenerator(seed: 11)
    let exact = settings.repeats != nil
    var table = Table("kernel", "count", "threads", "runs", "best", "median", "GFLOP/s best", "GFLOP/s median")
    var parts = [String]()
    var bestTranspose = [Int: Double](), bestForward = [Int: Double]()
    for count in [128, 1024] {
        // Transposed convolution on element-major coefficients (M·OH·OW × count), as in CROWN.
        let columns = generator.uniforms(m * oh * ow * count)
        let transposeShape = [1, c, h, w]
        // Forward convolution on `count` images.
        let images = generator.uniforms(count * c * h * w, 0...1)
        for threads in threadSettings {
            let runs = settings.runs(default: 3)
            let transposeTimes = withBLASThreads(threads) { () -> [Double] in
                _ = ConvolutionKernels.transpose(conv, columns: columns, count: count, inputShape: transposeShape)
                return sampleSeconds(runs: runs, exact: exact, minimumSeconds: 1) {
                    _ = ConvolutionKernels.transpose(conv, columns: columns, count: count, inputShape: transposeShape)
                }
            }
            let forwardTimes = withBLASThreads(threads) { () -> [Double] in
                _ = ConvolutionKernels.forward(conv, input: images, images: count, inputShape: transposeShape)
                return sampleSeconds(runs: runs, exact: exact, minimumSeconds: 1) {
                    _ = ConvolutionKernels.forward(conv, input: images, images: count, inputShape: transposeShape)
                }
            }
            let flops = flopsPerColumn * Double(count)
            for (name, samples) in [("transpose (CROWN)", transposeTimes), ("forward (images)", forwardTimes)] {
                let times = Sample(samples)
                table.add(name, "\(count)", "\(threads)", "\(samples.count)", formatSeconds(times.min), formatSeconds(times.median),
                          String(format: "%.1f", gigaflops(flops, times.min)),
                          String(format: "%.1f", gigaflops(flops, times.median)))
            }
            bestTranspose[count] = max(bestTranspose[count] ?? 0, gigaflops(flops, Sample(transposeTimes).min))
            bestForward[count] = max(bestForward[count] ?? 0, gigaflops(flops, Sample(forwardTimes).min))
        }
        parts.append("conv transpose n=\(count) \(String(format: "%.1f", bestTranspose[count] ?? 0)) GFLOP/s")
        parts.append("conv forward n=\(count) \(String(format: "%.1f", bestForward[count] ?? 0)) GFLOP/s")
    }
    table.print()
    return parts
}
