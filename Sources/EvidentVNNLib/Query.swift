// The parsed form of a VNN-LIB 2.0 query: its network declarations and, over one flat layout
// of all declared tensors, the same ``Property`` a 1.0 file gives.
//
// A 2.0 query declares networks (each with input, hidden and output tensors) and asserts a
// formula over their elements. The parser lays every declared element out flat:
//
//  - the *composed input*: the declared inputs of all networks, in declaration order,
//    row-major, except that inputs the query ties with a top-level equality (`(== XB[0,3]
//    XA[0,3])`) share one element (see ``VNNLibQuery/inputClasses``);
//  - the *composed output*: per network in declaration order, its declared outputs, then its
//    hidden tensors (each row-major), then the *passthrough* elements: copies of the composed
//    input elements that appear in a constraint other than a bound of one input by a
//    constant (`(<= (+ X[0,1] X[0,2]) 1.0)`, `(<= X[0] Y[0])`).
//
// Over that layout every assertion is a box bound or an output constraint, so the query is a
// ``Property``: bounds, branch and bound, certificates and EVA work on it unchanged, once the
// networks are composed into one graph in this layout (``VNNLibQuery/composition``).

/// One declared tensor of a VNN-LIB 2.0 network.
public struct DeclaredTensor: Hashable, Sendable {
    /// Which part of the network the tensor is.
    public enum Kind: String, Hashable, Sendable {
        case input, hidden, output
    }

    public var name: String
    public var kind: Kind
    /// As written: `Real` (or `real`) or an ONNX element type name (`float32`, `float64`, …).
    public var elementType: String
    /// The declared shape; `[]` for a scalar.
    public var shape: [Int]
    /// The ONNX tensor name given in the declaration (mandatory for hidden tensors).
    public var onnxName: String?
    public var location: VNNLibLocation
    /// The first element's position: a declared-input slot for inputs (before tied inputs are
    /// merged, see ``VNNLibQuery/inputClasses``), a composed-output index for outputs and
    /// hidden tensors.
    public var offset: Int

    /// Number of elements (1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }

    /// Whether the type lets the verifier read the model as a function of real numbers.
    public var isReal: Bool { elementType == "Real" || elementType == "real" }

    /// `X[0,2,5,7]`: the element at flat (row-major) index `flat`.
    public func elementName(_ flat: Int) -> String { Self.elementName(name, shape: shape, flat: flat) }

    /// `name[i,j,…]`: the element of a tensor of `shape` at row-major index `flat` (`name`
    /// alone for a scalar).
    public static func elementName(_ name: String, shape: [Int], flat: Int) -> String {
        guard !shape.isEmpty else { return name }
        var indices = [Int](repeating: 0, count: shape.count)
        var rest = flat
        for axis in shape.indices.reversed() {
            indices[axis] = rest % shape[axis]
            rest /= shape[axis]
        }
        return name + "[" + indices.map(String.init).joined(separator: ",") + "]"
    }

    /// `[1,3,32,32]`.
    public var shapeText: String { "[" + shape.map(String.init).joined(separator: ",") + "]" }
}

/// One `declare-network` block.
public struct NetworkDeclaration: Hashable, Sendable {
    /// `(equal-to N)` or `(isomorphic-to N)`.
    public enum Equivalence: Hashable, Sendable {
        /// The same model file as network `N`, evaluated on its own inputs.
        case equalTo(String)
        /// A model with the same graph as network `N`'s, with other weights.
        case isomorphicTo(String)
    }

    public var name: String
    public var location: VNNLibLocation
    public var equivalence: Equivalence?
    public var inputs: [DeclaredTensor]
    public var hidden: [DeclaredTensor]
    public var outputs: [DeclaredTensor]

    /// Whether the network takes its model from another declaration (so needs no `--network`).
    public var isEqualToAnother: Bool {
        if case .equalTo = equivalence { return true }
        return false
    }

    /// All declared tensors, in declaration order (inputs, hidden, outputs).
    public var tensors: [DeclaredTensor] { inputs + hidden + outputs }
}

/// A parsed VNN-LIB 2.0 query.
public struct VNNLibQuery: Hashable, Sendable {
    /// The version the file declares (`2.0`).
    public var version: String
    public var networks: [NetworkDeclaration]
    /// The assertions over the composed layout (see the top of this file): inputs are the
    /// composed input elements, outputs the composed outputs (declared outputs and hidden
    /// tensors of every network, then the passthrough copies).
    public var property: Property
    /// For each declared-input slot (all networks' declared inputs, flattened in declaration
    /// order), its composed input element. Slots the query ties share an element; the
    /// composed elements are numbered in order of their first slot.
    public var inputClasses: [Int]
    /// Composed input elements copied to the end of the composed output, in order (output
    /// ``declaredOutputCount`` + k is a copy of input `passthrough[k]`).
    public var passthrough: [Int]
    /// Composed-output elements that the networks produce (their outputs and hidden tensors).
    public var declaredOutputCount: Int
    /// Number of assertions in the file.
    public var assertionCount: Int
    /// The file path or source name.
    public var source: String

    /// Number of declared-input slots (before tied inputs are merged).
    public var declaredInputCount: Int { inputClasses.count }

    /// The declared tensor with this name, and its network.
    public func tensor(named name: String) -> (network: NetworkDeclaration, tensor: DeclaredTensor)? {
        for network in networks {
            if let tensor = network.tensors.first(where: { $0.name == name }) { return (network, tensor) }
        }
        return nil
    }

    /// Whether the query is a 1.0 property in another spelling: one network, one input and
    /// one output tensor, no hidden tensor, no tied or passthrough inputs. Such a query
    /// binds to a model like a 1.0 file (its property's inputs and outputs are the model's).
    public var isPlainProperty: Bool {
        networks.count == 1 && networks[0].hidden.isEmpty && networks[0].inputs.count == 1
            && networks[0].outputs.count == 1 && passthrough.isEmpty
            && inputClasses.enumerated().allSatisfy { $0.offset == $0.element }
    }
}

/// What ``VNNLibParser/parseDocument(path:memoryBudget:)`` read: a 1.0 property or a 2.0 query.
public enum VNNLibDocument: Sendable {
    case property(Property)
    case query(VNNLibQuery)

    /// The property over the file's own layout (for a 2.0 query, the composed layout).
    public var property: Property {
        switch self {
        case .property(let property): return property
        case .query(let query): return query.property
        }
    }
}
