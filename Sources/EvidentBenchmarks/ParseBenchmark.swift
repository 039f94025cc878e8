import EvidentVNNLib
import Foundation

/// Times VNN-LIB parsing on the largest CIFAR-10 ResNet property and on every
/// oval21 property under `root` (the shared benchmarks folder), printing the
/// median and minimum wall time per file in milliseconds (file read included).
///
/// Run in release mode: `swift run -c release evident-bench`.
func benchmarkPropertyParsing(root: String) {
    let repetitions = 25
    let manager = FileManager.default
    func vnnlibFiles(in folder: String) -> [String] {
        let directory = root + "/" + folder
        let names = (try? manager.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".vnnlib") }.sorted().map { directory + "/" + $0 }
    }
    func size(_ path: String) -> Int {
        ((try? manager.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    var files: [String] = []
    if let largest = vnnlibFiles(in: "cifar10_resnet/vnnlib").max(by: { size($0) < size($1) }) { files.append(largest) }
    files += vnnlibFiles(in: "oval21/vnnlib")
    guard !files.isEmpty else {
        print("property parsing: no VNN-LIB files under \(root)/cifar10_resnet/vnnlib or \(root)/oval21/vnnlib; skipped")
        return
    }

    print("property parsing (VNNLibParser.parse(path:), \(repetitions) runs per file)")
    let width = files.map { $0.count - root.count - 1 }.max() ?? 0
    func padded(_ text: String) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
    print(padded("file") + "      KB regions clauses  median ms  min ms")
    var medians: [Double] = []
    for path in files {
        var times: [Double] = []
        var summary = "error"
        for _ in 0..<repetitions {
            let start = DispatchTime.now().uptimeNanoseconds
            let result = Result { try VNNLibParser.parse(path: path) }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            switch result {
            case .success(let property):
                summary = String(format: "%7d %7d", property.regions.count, property.outputClauseCount)
            case .failure(let error):
                summary = "error: \(error.localizedDescription)"
            }
        }
        times.sort()
        let median = times[times.count / 2]
        medians.append(median)
        let name = String(path.dropFirst(root.count + 1))
        print(padded(name) + String(format: " %6.0f ", Double(size(path)) / 1024) + summary
              + String(format: " %10.3f %7.3f", median, times[0]))
    }
    medians.sort()
    print(String(format: "median over files: %.3f ms (target: well under 50 ms per file)", medians[medians.count / 2]))
}
