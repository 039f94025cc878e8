// The proof object: what the verifier assembles and the checker validates.
//
// A certificate binds one model file and (for verdicts) one property file by the SHA-256
// of their contents, and states one claim with everything needed to re-derive it without
// search. The binary layout is specified in Docs/certificates.md and implemented in
// CertificateCodec.swift. Numbers are stored exactly (IEEE 754 binary64 bit patterns);
// relaxation slopes are stored as bytes `q` meaning the slope `Double(q) / 255`.
//
// Names: a ReLU layer is named by the name of the ReLU node's output value (the value names
// of the model file; for ONNX, tensor names). Neuron indices are flat, row-major, within
// that value (the model's own shape, batch dimension included as the model declares it).

/// The file format's identification.
public enum CertificateFormat {
    /// The first eight bytes of every certificate.
    public static let magic: [UInt8] = Array("EVIDCERT".utf8)
    /// The newest layout this module writes (2: with the networks of a VNN-LIB 2.0 query);
    /// certificates without networks are written as version 1, and the reader accepts both.
    public static let version: UInt32 = 2
    /// The relaxation slope a stored byte stands for.
    @inline(__always)
    public static func slope(_ byte: UInt8) -> Double { Double(byte) / 255 }
}

/// A file a certificate is about: where it was (as recorded when the certificate was
/// written, relative to the certificate's folder when possible) and the SHA-256 of its
/// contents (after gzip decompression, so `x.onnx` and `x.onnx.gz` bind alike).
public struct FileBinding: Equatable, Sendable {
    public var path: String
    /// 32 bytes.
    public var sha256: [UInt8]

    public init(path: String, sha256: [UInt8]) {
        self.path = path
        self.sha256 = sha256
    }

    /// The digest in lowercase hexadecimal.
    public var hexDigest: String { sha256.map { String(format: "%02x", $0) }.joined() }
}

/// One model of a VNN-LIB 2.0 query: the declared network name and its file.
public struct NetworkBinding: Equatable, Sendable {
    public var name: String
    public var file: FileBinding

    public init(name: String, file: FileBinding) {
        self.name = name
        self.file = file
    }
}

/// A certificate: bindings and one claim.
public struct Certificate: Equatable, Sendable {
    /// The network (for a VNN-LIB 2.0 query, the model of its first declared network).
    public var model: FileBinding
    /// The property (`unsat` and `sat` claims always have one; bound claims may not): a 1.0
    /// property or a 2.0 query.
    public var property: FileBinding?
    /// For a VNN-LIB 2.0 query with ``property``: every declared network that has a model
    /// file (all but `equal-to` ones), in declaration order. The claim is about the network
    /// composed from them as the query lays it out. Empty otherwise.
    public var networks: [NetworkBinding] = []
    /// Who wrote it (informational, e.g. "evident 0.4"); the checker ignores it.
    public var producer: String
    public var claim: Claim

    public init(model: FileBinding, property: FileBinding?, networks: [NetworkBinding] = [], producer: String, claim: Claim) {
        self.model = model
        self.property = property
        self.networks = networks
        self.producer = producer
        self.claim = claim
    }
}

/// What a certificate asserts.
public enum Claim: Equatable, Sendable {
    /// The property holds: no input of any region reaches any of its unsafe clauses.
    case unsat(UnsatProof)
    /// A counterexample exists: the witness.
    case sat(Witness)
    /// Plain bound claims over boxes (EVA maps).
    case bounds(BoundClaims)

    /// `unsat`, `sat` or `bounds`.
    public var kind: String {
        switch self {
        case .unsat: "unsat"
        case .sat: "sat"
        case .bounds: "bounds"
        }
    }
}

// MARK: - unsat

/// One proof per input region of the property, in the property's region order.
public struct UnsatProof: Equatable, Sendable {
    public var regions: [RegionProof]

    public init(regions: [RegionProof]) { self.regions = regions }
}

/// The proof of one region: one or more trees over the region's box. A clause of the region
/// is refuted when some tree refutes it on every root-to-leaf path; the region is proved when
/// every clause is refuted.
public struct RegionProof: Equatable, Sendable {
    public var trees: [ProofTree]

    public init(trees: [ProofTree]) { self.trees = trees }
}

/// The neurons of one ReLU layer that carry explicit lower slopes in a tree (or a set of bound
/// claims); all other neurons use the default slope.
public struct SlopeLayer: Equatable, Sendable {
    /// The ReLU node's output value name.
    public var relu: String
    /// Flat neuron indices, strictly increasing.
    public var neurons: [UInt32]

    public init(relu: String, neurons: [UInt32]) {
        self.relu = relu
        self.neurons = neurons
    }
}

/// A branch-and-bound tree. `nodes[0]` is the root (the region's box, no split constraints);
/// every other node is the child of exactly one node with a smaller index.
public struct ProofTree: Equatable, Sendable {
    /// The neurons whose slopes refutations in this tree may set, layer by layer; a
    /// refutation's `slopes` has one byte per listed neuron, layers in this order.
    public var slopeLayers: [SlopeLayer]
    public var nodes: [ProofNode]

    public init(slopeLayers: [SlopeLayer], nodes: [ProofNode]) {
        self.slopeLayers = slopeLayers
        self.nodes = nodes
    }

    /// Total number of slope bytes a refutation with explicit slopes carries.
    public var slopeCount: Int { slopeLayers.reduce(0) { $0 + $1.neurons.count } }
}

/// One subdomain of a tree.
public struct ProofNode: Equatable, Sendable {
    /// Whether the node's intermediate bounds are recomputed (CROWN over the node's box with
    /// its split constraints) rather than inherited from the parent. Ignored at the root,
    /// which always computes them.
    public var refresh: Bool
    /// LP-derived tightenings of pre-activation bounds, checked in order before use.
    public var tightenings: [Tightening]
    /// Clauses this node refutes over its whole subdomain.
    public var refutations: [Refutation]
    /// `nil` for a leaf.
    public var branch: Branch?

    public init(refresh: Bool = false, tightenings: [Tightening] = [], refutations: [Refutation] = [],
                branch: Branch? = nil) {
        self.refresh = refresh
        self.tightenings = tightenings
        self.refutations = refutations
        self.branch = branch
    }
}

/// A split of a node into two children that cover it.
public struct Branch: Equatable, Sendable {
    public var split: Split
    /// Node indices of the two children: for an input split the lower part `[l, t]` then the
    /// upper part `[t, u]`; for a ReLU split the inactive side (`ẑ ≤ 0`) then the active side
    /// (`ẑ ≥ 0`).
    public var low: UInt32
    public var high: UInt32

    public init(split: Split, low: UInt32, high: UInt32) {
        self.split = split
        self.low = low
        self.high = high
    }
}

/// What a branch splits.
public enum Split: Equatable, Sendable {
    /// Input coordinate `dimension` at `point` (`l ≤ point ≤ u` of the node's box).
    case input(dimension: UInt32, point: Double)
    /// The sign of the pre-activation of neuron `neuron` of a ReLU layer.
    case relu(layer: String, neuron: UInt32)
}

/// A refutation of one clause at one node: a lower bound of one of the clause's constraints,
/// recomputed by the checker from these parameters, exceeds the constraint's threshold.
public struct Refutation: Equatable, Sendable {
    /// Clause index within the region.
    public var clause: UInt32
    /// Index of the constraint (within the clause) whose lower bound is shown to exceed its bound.
    public var constraint: UInt32
    /// Lower slopes for the tree's slope neurons (one byte each, slope = byte / 255), or `nil`
    /// for the default slopes everywhere.
    public var slopes: [UInt8]?
    /// One multiplier `β ≥ 0` per ReLU split on the path from the root to this node, in path order.
    public var betas: [Double]
    /// When set, the bound comes from the node's canonical LP instead of a backward pass: one
    /// multiplier per LP row (`slopes` and `betas` are then empty and unused).
    public var lpDual: [Double]?

    public init(clause: UInt32, constraint: UInt32, slopes: [UInt8]? = nil, betas: [Double] = [], lpDual: [Double]? = nil) {
        self.clause = clause
        self.constraint = constraint
        self.slopes = slopes
        self.betas = betas
        self.lpDual = lpDual
    }
}

/// Which side of a pre-activation bound a tightening improves.
public enum BoundSide: UInt8, Equatable, Sendable {
    case lower = 0
    case upper = 1
}

/// "Over this node's subdomain, the pre-activation of `neuron` of ReLU layer `layer` is at
/// least (at most) `value`", justified by a dual vector of the node's canonical LP
/// (Docs/certificates.md), checked with the Neumaier-Shcherbina bound.
public struct Tightening: Equatable, Sendable {
    public var layer: String
    public var neuron: UInt32
    public var side: BoundSide
    public var value: Double
    /// One multiplier per row of the canonical LP.
    public var dual: [Double]

    public init(layer: String, neuron: UInt32, side: BoundSide, value: Double, dual: [Double]) {
        self.layer = layer
        self.neuron = neuron
        self.side = side
        self.value = value
        self.dual = dual
    }
}

// MARK: - sat

/// A counterexample: an input inside a region's box whose outputs satisfy one of its clauses.
public struct Witness: Equatable, Sendable {
    public var region: UInt32
    public var clause: UInt32
    /// The input, flattened row-major.
    public var input: [Double]

    public init(region: UInt32, clause: UInt32, input: [Double]) {
        self.region = region
        self.clause = clause
        self.input = input
    }
}

// MARK: - bound claims

/// An input box.
public struct Box: Equatable, Sendable {
    public var lower: [Double]
    public var upper: [Double]

    public init(lower: [Double], upper: [Double]) {
        self.lower = lower
        self.upper = upper
    }
}

/// One coordinate of a base box replaced.
public struct BoxOverride: Hashable, Sendable {
    public var index: UInt32
    public var lower: Double
    public var upper: Double

    public init(index: UInt32, lower: Double, upper: Double) {
        self.index = index
        self.lower = lower
        self.upper = upper
    }
}

/// Whether a claim bounds a linear function from below or from above.
public enum ClaimSense: UInt8, Equatable, Sendable {
    /// `c · y ≥ value` on the region.
    case atLeast = 0
    /// `c · y ≤ value` on the region.
    case atMost = 1
}

/// "For every input of this region, `coefficients · y` is at least (at most) `value`."
public struct BoundClaim: Equatable, Sendable {
    /// Index into ``BoundClaims/boxes``: the base box.
    public var box: UInt32
    /// Coordinates of the base box replaced for this claim (each inside the base box's interval).
    public var overrides: [BoxOverride]
    /// One coefficient per network output.
    public var coefficients: [Double]
    public var sense: ClaimSense
    public var value: Double
    /// Lower slopes for the claims' slope neurons, or `nil` for the default slopes.
    public var slopes: [UInt8]?
    /// When set, intermediate bounds are those of the base box alone (valid on the claim's
    /// region, which lies inside it), not recomputed over the claim's region.
    public var reuseBaseIntermediates: Bool
    /// When set, the region's intermediate bounds are its own interval bounds intersected with
    /// the base box's bounds and with the base box's CROWN rows re-concretised over the region
    /// (Docs/certificates.md, "Bound claims"): tighter than reusing the base's, far cheaper
    /// than the region's own CROWN rows when the region differs from the base in few inputs.
    public var sharesBaseRows: Bool

    public init(box: UInt32, overrides: [BoxOverride] = [], coefficients: [Double], sense: ClaimSense, value: Double,
                slopes: [UInt8]? = nil, reuseBaseIntermediates: Bool = false, sharesBaseRows: Bool = false) {
        precondition(!(reuseBaseIntermediates && sharesBaseRows), "BoundClaim: reuse and share exclude each other")
        self.sharesBaseRows = sharesBaseRows
        self.box = box
        self.overrides = overrides
        self.coefficients = coefficients
        self.sense = sense
        self.value = value
        self.slopes = slopes
        self.reuseBaseIntermediates = reuseBaseIntermediates
    }
}

/// A set of bound claims over boxes of one network.
public struct BoundClaims: Equatable, Sendable {
    public var slopeLayers: [SlopeLayer]
    public var boxes: [Box]
    public var claims: [BoundClaim]

    public init(slopeLayers: [SlopeLayer], boxes: [Box], claims: [BoundClaim]) {
        self.slopeLayers = slopeLayers
        self.boxes = boxes
        self.claims = claims
    }

    public var slopeCount: Int { slopeLayers.reduce(0) { $0 + $1.neurons.count } }
}
