import Foundation

/// Typed access to a node's attributes that remembers which ones were read, so that
/// ``finish()`` can reject any attribute the converter did not understand instead of
/// silently ignoring it.
struct NodeAttributes {
    private let context: NodeContext
    private let byName: [String: Onnx_AttributeProto]
    private var consumed = Set<String>()

    init(_ node: Onnx_NodeProto, context: NodeContext) throws {
        self.context = context
        var byName = [String: Onnx_AttributeProto]()
        for attribute in node.attribute {
            guard byName[attribute.name] == nil else {
                throw context.invalid("attribute '\(attribute.name)' is given twice")
            }
            if !attribute.refAttrName.isEmpty {
                throw context.unsupportedAttribute(attribute.name, "references to function attributes are not supported")
            }
            byName[attribute.name] = attribute
        }
        self.byName = byName
    }

    /// True when the attribute is present.
    func has(_ name: String) -> Bool { byName[name] != nil }

    private mutating func take(_ name: String, _ type: Onnx_AttributeProto.AttributeType) throws -> Onnx_AttributeProto? {
        guard let attribute = byName[name] else { return nil }
        consumed.insert(name)
        // Files older than IR version 0.0.2 may omit `type`; the value field then decides.
        if attribute.hasType && attribute.type != type {
            throw context.invalid("attribute '\(name)' has type \(attribute.type), expected \(type)")
        }
        return attribute
    }

    mutating func int(_ name: String) throws -> Int? {
        guard let a = try take(name, .int) else { return nil }
        return Int(a.i)
    }

    mutating func int(_ name: String, default value: Int) throws -> Int {
        try int(name) ?? value
    }

    mutating func ints(_ name: String) throws -> [Int]? {
        guard let a = try take(name, .ints) else { return nil }
        return a.ints.map { Int($0) }
    }

    /// A FLOAT attribute, widened exactly to `Double`.
    mutating func float(_ name: String) throws -> Double? {
        guard let a = try take(name, .float) else { return nil }
        return Double(a.f)
    }

    mutating func float(_ name: String, default value: Double) throws -> Double {
        try float(name) ?? value
    }

    mutating func floats(_ name: String) throws -> [Double]? {
        guard let a = try take(name, .floats) else { return nil }
        return a.floats.map { Double($0) }
    }

    mutating func string(_ name: String) throws -> String? {
        guard let a = try take(name, .string) else { return nil }
        guard let text = String(data: a.s, encoding: .utf8) else {
            throw context.invalid("attribute '\(name)' is not UTF-8 text")
        }
        return text
    }

    mutating func tensor(_ name: String) throws -> Onnx_TensorProto? {
        try take(name, .tensor)?.t
    }

    /// Marks attributes as read although they do not affect inference (for example
    /// BatchNormalization's `momentum`).
    mutating func ignore(_ names: String...) {
        for name in names { consumed.insert(name) }
    }

    /// Throws for the first attribute (in name order) that was present but never read.
    func finish() throws {
        if let unknown = byName.keys.filter({ !consumed.contains($0) }).sorted().first {
            throw context.unsupportedAttribute(unknown, "this attribute is not understood by the loader")
        }
    }
}
