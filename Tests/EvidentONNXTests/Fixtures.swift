import EvidentONNX
import Foundation
import Testing

/// The committed fixtures beside this file (made by `Fixtures/make_operator_fixtures.py`).
enum Fixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func path(_ relative: String) -> String { folder.appendingPathComponent(relative).path }

    /// One operator model with onnxruntime's output on a seeded input.
    struct OperatorRecord: Decodable, Sendable, CustomTestStringConvertible {
        var name: String
        var file: String
        var opset: Int
        var evaluator: String
        var inputShape: [Int]
        var outputShape: [Int]
        var input: [Double]
        var output: [Double]

        enum CodingKeys: String, CodingKey {
            case name, file, opset, evaluator, input, output
            case inputShape = "input_shape"
            case outputShape = "output_shape"
        }

        var testDescription: String { name }
    }

    /// onnxruntime's output of a shared benchmark network on the input `float32(0.5 sin(0.1 i))`.
    struct BenchmarkRecord: Decodable, Sendable, CustomTestStringConvertible {
        var file: String
        var inputShape: [Int]
        var output: [Double]

        enum CodingKeys: String, CodingKey {
            case file, output
            case inputShape = "input_shape"
        }

        var testDescription: String { file }

        var input: [Double] {
            (0..<inputShape.reduce(1, *)).map { Double(Float(0.5 * sin(0.1 * Double($0)))) }
        }
    }

    private struct Listing<Record: Decodable>: Decodable { var models: [Record] }

    private static func decode<Record: Decodable>(_ file: String, as: Record.Type) -> [Record] {
        guard let data = FileManager.default.contents(atPath: path(file)),
              let listing = try? JSONDecoder().decode(Listing<Record>.self, from: data) else { return [] }
        return listing.models
    }

    static let operators: [OperatorRecord] = decode("operator_fixtures.json", as: OperatorRecord.self)
    static let benchmarks: [BenchmarkRecord] = decode("benchmark_outputs.json", as: BenchmarkRecord.self)
}

/// Records an issue unless `actual` and `expected` agree elementwise within
/// `absolute + relative · |expected|`.
func expectClose(_ actual: [Double], _ expected: [Double], relative: Double, absolute: Double,
                 _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
    guard actual.count == expected.count else {
        Issue.record("\(label): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    var worst: (index: Int, excess: Double)? = nil
    for (index, (a, e)) in zip(actual, expected).enumerated() {
        let excess = abs(a - e) - (absolute + relative * abs(e))
        if !(excess <= 0), excess > worst?.excess ?? -.infinity || excess.isNaN {
            worst = (index, excess)
        }
    }
    if let worst {
        Issue.record("\(label): element \(worst.index) is \(actual[worst.index]), expected \(expected[worst.index])",
                     sourceLocation: sourceLocation)
    }
}

/// The `ONNXError` that `body` throws, or `nil` (recording an issue) when it throws none or another type.
func onnxError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> ONNXError? {
    do {
        try body()
        Issue.record("expected an ONNXError, nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as ONNXError {
        return error
    } catch {
        Issue.record("expected an ONNXError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}
