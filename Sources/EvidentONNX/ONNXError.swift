import Foundation

/// Everything that can go wrong while loading an ONNX model.
///
/// Every case carries the file (`source`) and, where one is involved, the node's name,
/// its `op_type` and the model's default-domain opset, so that the message alone tells a
/// user which part of which file the loader could not handle. Unnamed nodes are called
/// `<op_type>#<index>` after their position in the graph's node list.
public enum ONNXError: Error, LocalizedError, Equatable {
    /// The file could not be read.
    case unreadableFile(source: String, reason: String)
    /// The bytes are not a well-formed ONNX protobuf (for example a truncated file).
    case malformedModel(source: String, detail: String)
    /// The model's `ir_version` is older than 3.
    case unsupportedIRVersion(source: String, version: Int)
    /// The model imports no default-domain opset, or one outside 7...17.
    case unsupportedOpset(source: String, domain: String, version: Int)
    /// Nodes use operators the loader does not convert: every such operator of the graph,
    /// each with the nodes that use it.
    case unsupportedOperators(source: String, opset: Int, operators: [UnsupportedOperator])
    /// A node's attribute has a value the loader does not convert (for example `group = 2`).
    case unsupportedAttribute(source: String, node: String, op: String, opset: Int, attribute: String, detail: String)
    /// A node is used in a way the loader does not convert (for example `c / x`, or a
    /// product of two activations).
    case unsupportedUsage(source: String, node: String, op: String, opset: Int, detail: String)
    /// A tensor (initializer, constant or graph input) has an element type the loader does not read.
    case unsupportedDataType(source: String, tensor: String, dataType: String)
    /// A stored tensor is inconsistent (data length does not match its shape) or stored in a way
    /// the loader does not read (external data).
    case invalidTensor(source: String, tensor: String, detail: String)
    /// A node's operands or attributes contradict the ONNX operator specification.
    case invalidNode(source: String, node: String, op: String, opset: Int, detail: String)
    /// The graph as a whole does not fit: wrong number of inputs or outputs, undefined values, ...
    case invalidGraph(source: String, detail: String)
    /// A tensor asked for as a hidden output is no tensor of the model; `suggestions` holds up
    /// to three names of the model close to it.
    case unknownTensor(source: String, name: String, suggestions: [String])
    /// A tensor asked for as a hidden output is a constant: an initializer (`initializer`), or
    /// computed from constants at load time.
    case constantTensor(source: String, name: String, initializer: Bool)

    /// The file the error concerns.
    public var source: String {
        switch self {
        case let .unreadableFile(source, _), let .malformedModel(source, _), let .unsupportedIRVersion(source, _),
             let .unsupportedOpset(source, _, _), let .unsupportedOperators(source, _, _),
             let .unsupportedAttribute(source, _, _, _, _, _), let .unsupportedUsage(source, _, _, _, _),
             let .unsupportedDataType(source, _, _), let .invalidTensor(source, _, _),
             let .invalidNode(source, _, _, _, _), let .invalidGraph(source, _),
             let .unknownTensor(source, _, _), let .constantTensor(source, _, _):
            source
        }
    }

    /// A sentence naming the file and, where relevant, the node, operator and opset.
    public var errorDescription: String? {
        func nodeText(_ node: String, _ op: String, _ opset: Int) -> String {
            "node '\(node)' (\(op), opset \(opset))"
        }
        switch self {
        case let .unreadableFile(source, reason):
            return "\(source): cannot read the ONNX file: \(reason)"
        case let .malformedModel(source, detail):
            return "\(source): not a valid ONNX model (the file may be truncated or corrupt): \(detail)"
        case let .unsupportedIRVersion(source, version):
            return "\(source): ONNX IR version \(version) is not supported (3 or later is needed)"
        case let .unsupportedOpset(source, domain, version):
            let name = domain.isEmpty ? "default-domain" : "'\(domain)'"
            return "\(source): \(name) opset \(version) is not supported (default-domain opsets \(ONNXLoader.supportedOpsets.lowerBound) to \(ONNXLoader.supportedOpsets.upperBound) are)"
        case let .unsupportedOperators(source, opset, operators):
            if operators.count == 1, let only = operators.first, only.nodes.count == 1 {
                return "\(source): \(nodeText(only.nodes[0], only.op, opset)): operator \(only.op) is not supported"
            }
            let list = operators.map { entry -> String in
                let shown = entry.nodes.prefix(4).map { "'\($0)'" }.joined(separator: ", ")
                let more = entry.nodes.count > 4 ? " and \(entry.nodes.count - 4) more" : ""
                return "\(entry.op) (\(entry.nodes.count == 1 ? "node" : "\(entry.nodes.count) nodes"): \(shown)\(more))"
            }
            return "\(source): \(operators.count == 1 ? "an operator is" : "\(operators.count) operators are") not supported "
                + "(opset \(opset)): \(list.joined(separator: "; "))"
        case let .unsupportedAttribute(source, node, op, opset, attribute, detail):
            return "\(source): \(nodeText(node, op, opset)): attribute '\(attribute)' is not supported: \(detail)"
        case let .unsupportedUsage(source, node, op, opset, detail):
            return "\(source): \(nodeText(node, op, opset)): unsupported: \(detail)"
        case let .unsupportedDataType(source, tensor, dataType):
            return "\(source): tensor '\(tensor)' has data type \(dataType), which the loader does not read "
                + "(stored tensors may be FLOAT, DOUBLE, INT64 or INT32; the network input FLOAT or DOUBLE)"
        case let .invalidTensor(source, tensor, detail):
            return "\(source): tensor '\(tensor)': \(detail)"
        case let .invalidNode(source, node, op, opset, detail):
            return "\(source): \(nodeText(node, op, opset)): \(detail)"
        case let .invalidGraph(source, detail):
            return "\(source): \(detail)"
        case let .unknownTensor(source, name, suggestions):
            let close = suggestions.isEmpty ? "" : "; did you mean " + suggestions.map { "'\($0)'" }.joined(separator: ", ") + "?"
            return "\(source): the model has no tensor named '\(name)' (asked for as a hidden output)\(close)"
        case let .constantTensor(source, name, initializer):
            let what = initializer ? "is an initializer, a stored constant," : "is computed from constants at load time,"
            return "\(source): tensor '\(name)' \(what) not an activation, so it cannot be a hidden output"
        }
    }
}

/// Where in the file a node conversion happens, to build errors that name it.
struct NodeContext {
    var source: String
    /// The node's name, or `<op_type>#<index>` for unnamed nodes.
    var name: String
    var op: String
    var opset: Int

    func invalid(_ detail: String) -> ONNXError {
        .invalidNode(source: source, node: name, op: op, opset: opset, detail: detail)
    }

    func unsupported(_ detail: String) -> ONNXError {
        .unsupportedUsage(source: source, node: name, op: op, opset: opset, detail: detail)
    }

    func unsupportedAttribute(_ attribute: String, _ detail: String) -> ONNXError {
        .unsupportedAttribute(source: source, node: name, op: op, opset: opset, attribute: attribute, detail: detail)
    }

    var unsupportedOperator: ONNXError {
        .unsupportedOperators(source: source, opset: opset, operators: [UnsupportedOperator(op: op, nodes: [name])])
    }
}

/// An operator the loader does not convert and the nodes (names) that use it.
public struct UnsupportedOperator: Equatable, Sendable {
    public var op: String
    public var nodes: [String]

    public init(op: String, nodes: [String]) {
        self.op = op
        self.nodes = nodes
    }
}
