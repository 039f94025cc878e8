import Evident
import EvidentTestSupport
import Foundation
import Testing

/// onnxruntime's outputs at points of the benchmark input regions, from
/// `Fixtures/onnxruntime_outputs.json` (made by `Fixtures/make_onnxruntime_fixtures.py`;
/// `Fixtures/README.md` gives the recipe that rebuilds each input from its VNN-LIB box).
enum OnnxruntimeFixture {
    struct Record: Decodable, Sendable {
        var onnx: String
        var vnnlib: String
        var region: Int
        /// `"centre"`, or a hexadecimal corner (bit `i` set: `X_i` at its upper bound).
        var point: String
        /// `"float64"` or `"float32"` (inputs rounded to Float before onnxruntime ran).
        var precision: String
        var outputs: [Double]
    }

    struct File: Decodable {
        var onnxruntime: String
        var records: [Record]
    }

    static let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/onnxruntime_outputs.json")

    static func load() throws -> File {
        try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
    }

    /// The records, or none when the fixture cannot be read (``fixtureIsComplete`` then fails).
    static let records: [Record] = (try? load().records) ?? []

    /// Paths starting with `Networks/` or `Specs/` are in this repository; the others in the shared benchmarks.
    static func isInRepository(_ relative: String) -> Bool {
        relative.hasPrefix("Networks/") || relative.hasPrefix("Specs/")
    }

    static func path(_ relative: String) -> String {
        isInRepository(relative) ? SharedBenchmarks.repositoryRoot.appendingPathComponent(relative).path
            : SharedBenchmarks.path(relative)
    }

    /// The networks of the records, in fixture order, without repetition.
    static func networks(inRepository: Bool) -> [String] {
        var seen = Set<String>()
        return records.map(\.onnx).filter { isInRepository($0) == inRepository && seen.insert($0).inserted }
    }

    /// Rebuilds a record's input from its input box (README, "Rebuilding the input of a record").
    static func input(of record: Record, lower: [Double], upper: [Double]) throws -> [Double] {
        let n = lower.count
        var x: [Double]
        if record.point == "centre" {
            x = zip(lower, upper).map { ($0 + $1) / 2 }
        } else {
            let digits = Array(record.point.utf8)
            guard digits.count == (n + 3) / 4 else {
                throw FixtureError.malformedPoint(record.point, inputs: n)
            }
            x = try (0..<n).map { i in
                // The last character holds X_0..X_3, the one before it X_4..X_7, and so on.
                guard let nibble = Int(String(UnicodeScalar(digits[digits.count - 1 - i / 4])), radix: 16) else {
                    throw FixtureError.malformedPoint(record.point, inputs: n)
                }
                return (nibble >> (i % 4)) & 1 == 1 ? upper[i] : lower[i]
            }
        }
        if record.precision == "float32" { x = x.map { Double(Float($0)) } }
        return x
    }

    enum FixtureError: Error, CustomStringConvertible {
        case malformedPoint(String, inputs: Int)
        var description: String {
            switch self {
            case let .malformedPoint(point, n): "corner '\(point.prefix(16))…' does not describe \(n) inputs"
            }
        }
    }

    /// The agreement required: `|ours − ort| ≤ max(1e-6, 1e-5 |ort|)`.
    static func tolerance(_ reference: Double) -> Double { max(1e-6, 1e-5 * abs(reference)) }
}

@Suite("onnxruntime agreement")
struct OnnxruntimeAgreementTests {
    @Test("the fixture holds every instance's records")
    func fixtureIsComplete() throws {
        let file = try OnnxruntimeFixture.load()
        #expect(file.records.count == 313)
        #expect(Set(file.records.map(\.precision)) == ["float32", "float64"])
        #expect(file.records.allSatisfy { !$0.outputs.isEmpty })
    }

    @Test("shared benchmark networks agree with onnxruntime",
          .enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)),
          arguments: OnnxruntimeFixture.networks(inRepository: false))
    func sharedNetwork(_ onnx: String) throws {
        try checkAgreement(onnx)
    }

    @Test("repository networks agree with onnxruntime", arguments: OnnxruntimeFixture.networks(inRepository: true))
    func repositoryNetwork(_ onnx: String) throws {
        try checkAgreement(onnx)
    }

    /// Evaluates every record of `onnx` in one batch and compares with onnxruntime, output by output.
    private func checkAgreement(_ onnx: String) throws {
        let records = OnnxruntimeFixture.records.filter { $0.onnx == onnx }
        try #require(!records.isEmpty)
        let network = try loadNetwork(path: OnnxruntimeFixture.path(onnx))
        let evaluator = Evaluator(graph: network.graph)
        var properties = [String: Property]()
        var inputs = [Double]()
        for record in records {
            if properties[record.vnnlib] == nil {
                properties[record.vnnlib] = try loadProperty(path: OnnxruntimeFixture.path(record.vnnlib), for: network)
            }
            let property = try #require(properties[record.vnnlib])
            let region = try #require(property.regions.indices.contains(record.region) ? property.regions[record.region] : nil,
                                      "\(record.vnnlib) has no region \(record.region)")
            inputs += try OnnxruntimeFixture.input(of: record, lower: region.lower, upper: region.upper)
        }
        let outputs = try evaluator.evaluate(inputs, batch: records.count)
        let m = evaluator.outputCount
        // Figures for the log: the worst ratio to the tolerance, the worst absolute difference,
        // and the worst relative difference where the relative part of the tolerance binds (|Y| ≥ 0.1).
        var worstRatio = 0.0, worstAbsolute = 0.0, worstRelative = 0.0, failures = 0
        for (k, record) in records.enumerated() {
            try #require(record.outputs.count == m, "\(record.vnnlib) \(record.point): output count")
            for j in 0..<m {
                let ours = outputs[k * m + j], reference = record.outputs[j]
                let difference = abs(ours - reference)
                worstRatio = max(worstRatio, difference / OnnxruntimeFixture.tolerance(reference))
                worstAbsolute = max(worstAbsolute, difference)
                if abs(reference) >= 0.1 { worstRelative = max(worstRelative, difference / abs(reference)) }
                if !(difference <= OnnxruntimeFixture.tolerance(reference)) {
                    failures += 1
                    // One message per record is enough to locate a disagreement.
                    if failures <= 5 {
                        Issue.record("\(onnx) at \(record.vnnlib) region \(record.region) point \(record.point.prefix(12)) (\(record.precision)): Y_\(j) = \(ours), onnxruntime \(reference)")
                    }
                }
            }
        }
        #expect(failures == 0, "\(failures) outputs of \(onnx) disagree with onnxruntime")
        print("onnxruntime agreement: \((onnx as NSString).lastPathComponent): \(records.count) points, worst relative error \(String(format: "%.2e", worstRelative)) (outputs ≥ 0.1), worst absolute error \(String(format: "%.2e", worstAbsolute)), worst error/tolerance \(String(format: "%.3f", worstRatio))")
    }
}
