import Foundation
import SwiftProtobuf

/// Single tensors as serialised ONNX `TensorProto` messages (the `.pb` files of the VNN-LIB 2.0
/// standard's serialised assignments, and of the ONNX test suites).
public enum ONNXTensorFile {
    /// A `TensorProto` named `name` with `shape` holding `values` (row-major) as DOUBLE
    /// elements, so that no value is rounded.
    public static func serialized(name: String, shape: [Int], values: [Double]) throws -> [UInt8] {
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dims = shape.map(Int64.init)
        tensor.dataType = Int32(Onnx_TensorProto.DataType.double.rawValue)
        tensor.doubleData = values
        return try [UInt8](tensor.serializedBytes() as Data)
    }

    /// The name, shape and values (as doubles) of a serialised `TensorProto` of a
    /// floating-point type (FLOAT, DOUBLE); `source` names it in errors.
    public static func read(_ bytes: [UInt8], source: String) throws -> (name: String, shape: [Int], values: [Double]) {
        let tensor: Onnx_TensorProto
        do {
            tensor = try Onnx_TensorProto(serializedBytes: bytes)
        } catch {
            throw ONNXError.malformedModel(source: source, detail: "not a serialised TensorProto (\(error))")
        }
        let constant = try ConstantTensor(proto: tensor, name: tensor.name, source: source)
        return (tensor.name, tensor.dims.map(Int.init), constant.doubles)
    }
}
