import EvidentIR
import Foundation

/// A tensor whose value is known at load time: an initializer, a `Constant` node's
/// value, or the result of folding a node all of whose operands are constants.
///
/// Floating-point elements are held as `Double` (float32 values convert exactly);
/// integer elements as `Int64`, so shape arithmetic stays exact.
struct ConstantTensor: Equatable {
    /// ONNX element types the loader reads.
    enum ElementType: Equatable {
        case float, double, int64, int32

        /// The ONNX `TensorProto.DataType` name.
        var onnxName: String {
            switch self {
            case .float: "FLOAT"
            case .double: "DOUBLE"
            case .int64: "INT64"
            case .int32: "INT32"
            }
        }

        var isInteger: Bool { self == .int64 || self == .int32 }

        /// The element type for an ONNX `TensorProto.DataType` code, or `nil` when unsupported.
        init?(onnxCode: Int) {
            switch onnxCode {
            case 1: self = .float
            case 11: self = .double
            case 7: self = .int64
            case 6: self = .int32
            default: return nil
            }
        }
    }

    /// Row-major elements, either floating point or integer.
    enum Elements: Equatable {
        case real([Double])
        case integer([Int64])

        var count: Int {
            switch self {
            case .real(let v): v.count
            case .integer(let v): v.count
            }
        }
    }

    var elementType: ElementType
    var shape: [Int]
    var elements: Elements

    init(elementType: ElementType, shape: [Int], elements: Elements) {
        self.elementType = elementType
        self.shape = shape
        self.elements = elements
    }

    /// A floating-point constant.
    init(real values: [Double], shape: [Int], type: ElementType = .float) {
        self.init(elementType: type, shape: shape, elements: .real(values))
    }

    /// An INT64 constant.
    init(int64 values: [Int64], shape: [Int]) {
        self.init(elementType: .int64, shape: shape, elements: .integer(values))
    }

    var count: Int { elements.count }

    /// The elements as doubles (integers convert; exact below 2^53).
    var doubles: [Double] {
        switch elements {
        case .real(let v): v
        case .integer(let v): v.map { Double($0) }
        }
    }

    /// The elements as integers, or `nil` for a floating-point tensor.
    var integers: [Int64]? {
        if case .integer(let v) = elements { return v }
        return nil
    }

    /// The constant as an IR tensor of doubles.
    var irTensor: Tensor { Tensor(shape: shape, scalars: doubles) }

    /// The same elements with another shape of equal element count.
    func reshaped(_ newShape: [Int]) -> ConstantTensor {
        ConstantTensor(elementType: elementType, shape: newShape, elements: elements)
    }

    /// Elements picked by flat source index, in the order given.
    func gathering(_ indices: [Int], shape newShape: [Int]) -> ConstantTensor {
        switch elements {
        case .real(let v):
            ConstantTensor(elementType: elementType, shape: newShape, elements: .real(indices.map { v[$0] }))
        case .integer(let v):
            ConstantTensor(elementType: elementType, shape: newShape, elements: .integer(indices.map { v[$0] }))
        }
    }
}

// MARK: - Reading TensorProto

/// ONNX `TensorProto.DataType` names, for error messages.
func onnxDataTypeName(_ code: Int) -> String {
    let names = [
        0: "UNDEFINED", 1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64",
        8: "STRING", 9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64", 14: "COMPLEX64",
        15: "COMPLEX128", 16: "BFLOAT16", 17: "FLOAT8E4M3FN", 18: "FLOAT8E4M3FNUZ", 19: "FLOAT8E5M2",
        20: "FLOAT8E5M2FNUZ", 21: "UINT4", 22: "INT4", 23: "FLOAT4E2M1", 24: "FLOAT8E8M0", 25: "UINT2",
        26: "INT2", 27: "FLOAT6E2M3", 28: "FLOAT6E3M2",
    ]
    return names[code] ?? "unknown data type \(code)"
}

/// VNN-LIB 2.0's name of an ONNX `TensorProto.DataType` (the ONNX IR's lower-case names:
/// "float32" for FLOAT, "float64" for DOUBLE, ...), for ``TensorPart/elementType``.
func elementTypeName(_ code: Int) -> String {
    let names = [
        1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string",
        9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 14: "complex64", 15: "complex128",
        16: "bfloat16",
    ]
    return names[code] ?? onnxDataTypeName(code).lowercased()
}

extension ConstantTensor {
    /// Decodes a stored tensor (`raw_data` in little-endian order, or the typed
    /// `float_data` / `double_data` / `int64_data` / `int32_data` fields).
    ///
    /// - Throws: ``ONNXError/unsupportedDataType(source:tensor:dataType:)`` for element types
    ///   other than FLOAT, DOUBLE, INT64 and INT32; ``ONNXError/invalidTensor(source:tensor:detail:)``
    ///   when the data does not fill the shape exactly, lives in an external file or holds a
    ///   NaN or infinite value.
    init(proto: Onnx_TensorProto, name: String, source: String) throws {
        func invalid(_ detail: String) -> ONNXError { .invalidTensor(source: source, tensor: name, detail: detail) }

        guard let type = ElementType(onnxCode: Int(proto.dataType)) else {
            throw ONNXError.unsupportedDataType(source: source, tensor: name, dataType: onnxDataTypeName(Int(proto.dataType)))
        }
        if proto.dataLocation == .external || !proto.externalData.isEmpty {
            throw invalid("data stored in an external file is not supported")
        }
        if proto.hasSegment { throw invalid("segmented tensors are not supported") }
        var shape = [Int]()
        var count = 1
        for dim in proto.dims {
            guard dim >= 0 else { throw invalid("negative dimension \(dim) in shape \(proto.dims)") }
            let (product, overflow) = count.multipliedReportingOverflow(by: Int(dim))
            guard !overflow, product <= Int(Int32.max) else { throw invalid("shape \(proto.dims) is too large") }
            count = product
            shape.append(Int(dim))
        }

        let raw = proto.rawData
        let typedCount: Int
        switch type {
        case .float: typedCount = proto.floatData.count
        case .double: typedCount = proto.doubleData.count
        case .int64: typedCount = proto.int64Data.count
        case .int32: typedCount = proto.int32Data.count
        }
        if !raw.isEmpty && typedCount > 0 {
            throw invalid("holds both raw_data and typed data fields")
        }
        elementType = type
        self.shape = shape
        if !raw.isEmpty || typedCount == 0 {
            let width = (type == .float || type == .int32) ? 4 : 8
            guard raw.count == count * width else {
                throw invalid("raw_data holds \(raw.count) bytes, but shape \(shape) of \(type.onnxName) needs \(count * width)")
            }
            elements = Self.decodeLittleEndian(raw, type: type, count: count)
        } else {
            guard typedCount == count else {
                throw invalid("holds \(typedCount) values, but shape \(shape) needs \(count)")
            }
            switch type {
            case .float: elements = .real(proto.floatData.map { Double($0) })
            case .double: elements = .real(proto.doubleData)
            case .int64: elements = .integer(proto.int64Data)
            case .int32: elements = .integer(proto.int32Data.map { Int64($0) })
            }
        }
        // A NaN or infinite weight makes the network's outputs NaN or infinite somewhere, and
        // no bound about them means anything.
        if case .real(let values) = elements, let bad = values.firstIndex(where: { !$0.isFinite }) {
            var index = [Int](), rest = bad
            for size in shape.reversed() {
                index.insert(rest % size, at: 0)
                rest /= size
            }
            throw invalid("holds \(values[bad].isNaN ? "NaN" : "\(values[bad])") at index \(index); non-finite constants are not supported")
        }
    }

    /// Reads `count` little-endian elements from `raw` (which has exactly the right length).
    private static func decodeLittleEndian(_ raw: Data, type: ElementType, count: Int) -> Elements {
        raw.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) -> Elements in
            switch type {
            case .float:
                return .real((0..<count).map {
                    Double(Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))))
                })
            case .double:
                return .real((0..<count).map {
                    Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self)))
                })
            case .int64:
                return .integer((0..<count).map {
                    Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))
                })
            case .int32:
                return .integer((0..<count).map {
                    Int64(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)))
                })
            }
        }
    }
}
