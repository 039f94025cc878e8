import EvidentONNX
import Foundation
import Testing

/// The case name of an error, to check which case was thrown.
func caseName(_ error: ONNXError) -> String {
    switch error {
    case .unreadableFile: "unreadableFile"
    case .malformedModel: "malformedModel"
    case .unsupportedIRVersion: "unsupportedIRVersion"
    case .unsupportedOpset: "unsupportedOpset"
    case .unsupportedOperators: "unsupportedOperators"
    case .unsupportedAttribute: "unsupportedAttribute"
    case .unsupportedUsage: "unsupportedUsage"
    case .unsupportedDataType: "unsupportedDataType"
    case .invalidTensor: "invalidTensor"
    case .invalidNode: "invalidNode"
    case .invalidGraph: "invalidGraph"
    case .unknownTensor: "unknownTensor"
    case .constantTensor: "constantTensor"
    }
}

/// A malformed model under `Fixtures/errors`, the error case it must raise and text its
/// message must contain (besides the file name, which every message contains).
struct ErrorCase: Sendable, CustomTestStringConvertible {
    var file: String
    var expectedCase: String
    var fragments: [String]
    var testDescription: String { file }
}

let errorCases: [ErrorCase] = [
    ErrorCase(file: "unsupported_operator_sigmoid", expectedCase: "unsupportedOperators",
              fragments: ["my_sigmoid", "Sigmoid", "opset 13"]),
    ErrorCase(file: "float16_initializer", expectedCase: "unsupportedDataType", fragments: ["w_half", "FLOAT16"]),
    ErrorCase(file: "opset_6", expectedCase: "unsupportedOpset", fragments: ["opset 6"]),
    ErrorCase(file: "opset_22", expectedCase: "unsupportedOpset", fragments: ["opset 22"]),
    ErrorCase(file: "conv_group_3_of_4", expectedCase: "invalidNode",
              fragments: ["grouped_conv", "Conv", "opset 13", "group 3 does not divide 4 input channels"]),
    ErrorCase(file: "truncated", expectedCase: "malformedModel", fragments: ["truncated or corrupt"]),
    ErrorCase(file: "division_by_activation", expectedCase: "unsupportedUsage", fragments: ["c_over_x", "Div", "c / x"]),
    ErrorCase(file: "product_of_activations", expectedCase: "unsupportedUsage", fragments: ["square", "Mul", "not affine"]),
    ErrorCase(file: "second_graph_input_integer", expectedCase: "unsupportedDataType", fragments: ["'z'", "INT64"]),
    ErrorCase(file: "raw_data_too_short", expectedCase: "invalidTensor", fragments: ["'w'", "raw_data holds 20 bytes", "needs 24"]),
    ErrorCase(file: "dropout_mask_used", expectedCase: "unsupportedUsage", fragments: ["drop", "Dropout", "mask", "opset 11"]),
    ErrorCase(file: "maxpool_ceil_mode", expectedCase: "unsupportedAttribute", fragments: ["pool_ceil", "MaxPool", "ceil_mode"]),
    ErrorCase(file: "pad_reflect_single_element", expectedCase: "invalidNode",
              fragments: ["reflect_pad", "Pad", "reflect padding of axis 2 needs at least 2 elements"]),
    ErrorCase(file: "unknown_attribute", expectedCase: "unsupportedAttribute", fragments: ["relu_alpha", "Relu", "'alpha'"]),
    ErrorCase(file: "symbolic_feature_dimension", expectedCase: "invalidGraph", fragments: ["'x'", "dimension 1", "'F'"]),
    ErrorCase(file: "external_data", expectedCase: "invalidTensor", fragments: ["'w'", "external"]),
    ErrorCase(file: "ir_version_2", expectedCase: "unsupportedIRVersion", fragments: ["IR version 2"]),
    ErrorCase(file: "custom_domain", expectedCase: "unsupportedOperators", fragments: ["custom_relu", "com.microsoft.Relu"]),
    ErrorCase(file: "integer_input", expectedCase: "unsupportedDataType", fragments: ["'x'", "INT64"]),
    ErrorCase(file: "pads_crop_everything", expectedCase: "invalidNode", fragments: ["crop", "Pad", "to nothing"]),
    ErrorCase(file: "conv_3d", expectedCase: "unsupportedUsage", fragments: ["conv3d", "Conv", "only 1-D and 2-D"]),
    ErrorCase(file: "declared_output_shape_disagrees", expectedCase: "invalidGraph", fragments: ["'y'", "[1, 5]", "[1, 6]"]),
]

@Test(arguments: errorCases)
func malformedModelGivesTheRightError(_ expected: ErrorCase) throws {
    let path = Fixtures.path("errors/\(expected.file).onnx")
    #expect(FileManager.default.fileExists(atPath: path))
    guard let error = onnxError({ _ = try ONNXLoader.load(path: path) }) else { return }
    #expect(caseName(error) == expected.expectedCase, "\(error.localizedDescription)")
    #expect(error.source == path)
    let message = error.localizedDescription
    #expect(message.contains("\(expected.file).onnx"))
    for fragment in expected.fragments {
        #expect(message.contains(fragment), "'\(fragment)' missing from: \(message)")
    }
}

@Test func missingFileIsUnreadable() {
    let error = onnxError { _ = try ONNXLoader.load(path: "/nonexistent/model.onnx") }
    #expect(error.map(caseName) == "unreadableFile")
    #expect(error?.localizedDescription.contains("/nonexistent/model.onnx") == true)
}

@Test func emptyAndGarbageDataAreMalformed() {
    let empty = onnxError { _ = try ONNXLoader.load(data: Data(), source: "empty.onnx") }
    #expect(empty.map(caseName) == "malformedModel")
    #expect(empty?.localizedDescription.contains("empty.onnx") == true)
    let text = onnxError { _ = try ONNXLoader.load(data: Data("hello, world".utf8), source: "text.onnx") }
    #expect(text.map(caseName) == "malformedModel")
}

/// Every strict prefix of a valid file is rejected with an ONNXError (never a crash, never
/// a partial network).
@Test func everyTruncationIsRejected() throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("conv_asymmetric_pads.onnx")))
    for length in 0..<data.count {
        _ = onnxError { _ = try ONNXLoader.load(data: data.prefix(length), source: "prefix-\(length)") }
    }
}

/// Seeded random byte corruption either loads or throws an ONNXError; it never crashes.
@Test func corruptedBytesNeverCrash() throws {
    let original = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("residual_add.onnx")))
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    func next() -> UInt64 {  // splitmix64
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    for trial in 0..<300 {
        var data = original
        for _ in 0..<(1 + Int(next() % 4)) {
            let index = Int(next() % UInt64(data.count))
            data[index] = UInt8(truncatingIfNeeded: next())
        }
        do {
            _ = try ONNXLoader.load(data: data, source: "corrupt-\(trial)")
        } catch is ONNXError {
        } catch {
            Issue.record("trial \(trial): unexpected error type \(error)")
        }
    }
}
