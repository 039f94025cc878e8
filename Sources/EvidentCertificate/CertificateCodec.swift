import Foundation

// The binary layout (versions 1 and 2), little-endian throughout; Docs/certificates.md has
// the same grammar with a worked example.
//
//   certificate := "EVIDCERT" u32:version binding u8:hasProperty [binding] [networks] string:producer
//                  u8:kind (0 unsat | 1 sat | 2 bounds) body
//   networks    := u32:n { string:name binding }          (version 2 only: a VNN-LIB 2.0 query's models)
//   binding     := string:path byte[32]:sha256
//   string      := u32:n byte[n] (UTF-8)
//   unsat       := u32:regions { u32:trees { layers u32:nodes { node } } }
//   layers      := u32:n { string:relu u32:m u32[m]:neurons }
//   node        := u8:flags (1 refresh, 2 has branch) u32:n { tightening } u32:n { refutation } [branch]
//   tightening  := string:layer u32:neuron u8:side (0 lower | 1 upper) f64:value u32:n f64[n]:dual
//   refutation  := u32:clause u32:constraint u8:hasSlopes [u32:n byte[n]] u32:n f64[n]:betas
//                  u8:hasDual [u32:n f64[n]:lpDual]
//   branch      := u8:0 u32:dimension f64:point u32:low u32:high
//                | u8:1 string:layer u32:neuron u32:low u32:high
//   sat         := u32:region u32:clause u32:n f64[n]:input
//   bounds      := layers u32:n { u32:m f64[m]:lower f64[m]:upper }
//                  u32:n { claim }
//   claim       := u32:box u32:n { u32:index f64:lower f64:upper } u32:n f64[n]:coefficients
//                  u8:sense (0 at least | 1 at most) f64:value u8:flags (1 has slopes, 2 reuse base
//                  intermediates) [u32:n byte[n]]
//
// Every count is checked against the bytes that remain before anything is allocated, so a
// file that claims a million leaves and holds three is rejected without using memory; the
// file must end exactly where the grammar does.

/// Why a certificate could not be read.
public enum CertificateError: Error, LocalizedError, Equatable {
    /// The file could not be opened or read.
    case unreadable(file: String, reason: String)
    /// The file could not be written.
    case unwritable(file: String, reason: String)
    /// The first bytes are not a certificate's.
    case notACertificate(file: String)
    /// A version this reader does not know.
    case unsupportedVersion(file: String, version: UInt32)
    /// The file ends before the structure does.
    case truncated(file: String, offset: Int, reading: String)
    /// A field holds an impossible value.
    case malformed(file: String, offset: Int, detail: String)
    /// Bytes remain after the structure ended.
    case trailingBytes(file: String, offset: Int, count: Int)

    public var errorDescription: String? {
        switch self {
        case let .unreadable(file, reason):
            "\(file): cannot be read (\(reason))"
        case let .unwritable(file, reason):
            "\(file): cannot be written (\(reason))"
        case let .notACertificate(file):
            "\(file): not an Evident certificate (the file does not start with EVIDCERT)"
        case let .unsupportedVersion(file, version):
            "\(file): certificate format version \(version) is not supported (this build reads versions 1 to \(CertificateFormat.version))"
        case let .truncated(file, offset, reading):
            "\(file): truncated at byte \(offset) while reading \(reading)"
        case let .malformed(file, offset, detail):
            "\(file): malformed at byte \(offset): \(detail)"
        case let .trailingBytes(file, offset, count):
            "\(file): \(count) unexpected bytes after the end of the certificate at byte \(offset)"
        }
    }
}

extension Certificate {
    /// The certificate's bytes.
    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.bytes(CertificateFormat.magic)
        // Version 1 unless the certificate binds a 2.0 query's networks, so that certificates
        // of 1.0 properties stay byte for byte what earlier builds wrote.
        w.u32(networks.isEmpty ? 1 : CertificateFormat.version)
        w.binding(model)
        w.u8(property == nil ? 0 : 1)
        if let property { w.binding(property) }
        if !networks.isEmpty {
            w.u32(networks.count)
            for network in networks {
                w.string(network.name)
                w.binding(network.file)
            }
        }
        w.string(producer)
        switch claim {
        case .unsat(let proof):
            w.u8(0)
            w.u32(proof.regions.count)
            for region in proof.regions {
                w.u32(region.trees.count)
                for tree in region.trees { w.tree(tree) }
            }
        case .sat(let witness):
            w.u8(1)
            w.u32(Int(witness.region))
            w.u32(Int(witness.clause))
            w.doubles(witness.input)
        case .bounds(let claims):
            w.u8(2)
            w.layers(claims.slopeLayers)
            w.u32(claims.boxes.count)
            for box in claims.boxes {
                w.u32(box.lower.count)
                for x in box.lower { w.f64(x) }
                for x in box.upper { w.f64(x) }
            }
            w.u32(claims.claims.count)
            for claim in claims.claims { w.claim(claim) }
        }
        return w.data
    }

    /// Writes the certificate to `path`.
    public func write(to path: String) throws {
        do {
            try Data(encoded()).write(to: URL(fileURLWithPath: path))
        } catch {
            throw CertificateError.unwritable(file: path, reason: (error as NSError).localizedDescription)
        }
    }

    /// Decodes a certificate; `source` names it in error messages.
    public init(decoding bytes: [UInt8], source: String) throws {
        var r = ByteReader(bytes: bytes, file: source)
        guard bytes.count >= 8, Array(bytes[0..<8]) == CertificateFormat.magic else {
            throw CertificateError.notACertificate(file: source)
        }
        r.offset = 8
        let version = try r.u32("the format version")
        guard version == 1 || version == CertificateFormat.version else {
            throw CertificateError.unsupportedVersion(file: source, version: version)
        }
        model = try r.binding("the model binding")
        property = try r.flag("the property flag") ? try r.binding("the property binding") : nil
        networks = []
        if version >= 2 {
            let count = try r.count(minimumSize: 40, "the network count")
            for _ in 0..<count {
                let name = try r.string("a network name")
                networks.append(NetworkBinding(name: name, file: try r.binding("a network's model binding")))
            }
        }
        producer = try r.string("the producer")
        let kindOffset = r.offset
        switch try r.u8("the claim kind") {
        case 0:
            let regionCount = try r.count(minimumSize: 4, "the region count")
            var regions = [RegionProof]()
            for _ in 0..<regionCount {
                let treeCount = try r.count(minimumSize: 8, "a tree count")
                var trees = [ProofTree]()
                for _ in 0..<treeCount { trees.append(try r.tree()) }
                regions.append(RegionProof(trees: trees))
            }
            claim = .unsat(UnsatProof(regions: regions))
        case 1:
            let region = try r.u32("the witness region")
            let clause = try r.u32("the witness clause")
            claim = .sat(Witness(region: region, clause: clause, input: try r.doubles("the witness input")))
        case 2:
            let layers = try r.layers()
            let boxCount = try r.count(minimumSize: 4, "the box count")
            var boxes = [Box]()
            for _ in 0..<boxCount {
                let n = try r.count(minimumSize: 16, "a box size")
                var lower = [Double](), upper = [Double]()
                lower.reserveCapacity(n)
                upper.reserveCapacity(n)
                for _ in 0..<n { lower.append(try r.f64("a box bound")) }
                for _ in 0..<n { upper.append(try r.f64("a box bound")) }
                boxes.append(Box(lower: lower, upper: upper))
            }
            let claimCount = try r.count(minimumSize: 22, "the claim count")
            var claims = [BoundClaim]()
            for _ in 0..<claimCount { claims.append(try r.claim()) }
            claim = .bounds(BoundClaims(slopeLayers: layers, boxes: boxes, claims: claims))
        case let kind:
            throw CertificateError.malformed(file: source, offset: kindOffset, detail: "unknown claim kind \(kind)")
        }
        if r.offset != bytes.count {
            throw CertificateError.trailingBytes(file: source, offset: r.offset, count: bytes.count - r.offset)
        }
    }

    /// Reads a certificate file.
    public init(path: String) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw CertificateError.unreadable(file: path, reason: (error as NSError).localizedDescription)
        }
        try self.init(decoding: [UInt8](data), source: path)
    }
}

// MARK: - Writing

struct ByteWriter {
    var data = [UInt8]()

    mutating func bytes(_ b: [UInt8]) { data += b }
    mutating func u8(_ v: UInt8) { data.append(v) }
    mutating func u32(_ v: Int) {
        precondition(v >= 0 && v <= Int(UInt32.max), "certificate: count \(v) does not fit 32 bits")
        let x = UInt32(v)
        for k in 0..<4 { data.append(UInt8(truncatingIfNeeded: x >> (8 * k))) }
    }
    mutating func u32(_ v: UInt32) { u32(Int(v)) }
    mutating func f64(_ v: Double) {
        let bits = v.bitPattern
        for k in 0..<8 { data.append(UInt8(truncatingIfNeeded: bits >> (8 * k))) }
    }
    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        u32(utf8.count)
        data += utf8
    }
    mutating func doubles(_ values: [Double]) {
        u32(values.count)
        for x in values { f64(x) }
    }
    mutating func binding(_ b: FileBinding) {
        precondition(b.sha256.count == 32, "certificate: a SHA-256 digest has 32 bytes")
        string(b.path)
        bytes(b.sha256)
    }
    mutating func layers(_ layers: [SlopeLayer]) {
        u32(layers.count)
        for layer in layers {
            string(layer.relu)
            u32(layer.neurons.count)
            for n in layer.neurons { u32(n) }
        }
    }
    mutating func slopeBytes(_ slopes: [UInt8]) {
        u32(slopes.count)
        data += slopes
    }
    mutating func tree(_ tree: ProofTree) {
        layers(tree.slopeLayers)
        u32(tree.nodes.count)
        for node in tree.nodes {
            u8((node.refresh ? 1 : 0) | (node.branch != nil ? 2 : 0))
            u32(node.tightenings.count)
            for t in node.tightenings {
                string(t.layer)
                u32(t.neuron)
                u8(t.side.rawValue)
                f64(t.value)
                doubles(t.dual)
            }
            u32(node.refutations.count)
            for refutation in node.refutations {
                u32(refutation.clause)
                u32(refutation.constraint)
                u8(refutation.slopes == nil ? 0 : 1)
                if let slopes = refutation.slopes { slopeBytes(slopes) }
                doubles(refutation.betas)
                u8(refutation.lpDual == nil ? 0 : 1)
                if let dual = refutation.lpDual { doubles(dual) }
            }
            if let branch = node.branch {
                switch branch.split {
                case let .input(dimension, point):
                    u8(0)
                    u32(dimension)
                    f64(point)
                case let .relu(layer, neuron):
                    u8(1)
                    string(layer)
                    u32(neuron)
                }
                u32(branch.low)
                u32(branch.high)
            }
        }
    }
    mutating func claim(_ c: BoundClaim) {
        u32(c.box)
        u32(c.overrides.count)
        for o in c.overrides {
            u32(o.index)
            f64(o.lower)
            f64(o.upper)
        }
        doubles(c.coefficients)
        u8(c.sense.rawValue)
        f64(c.value)
        u8((c.slopes != nil ? 1 : 0) | (c.reuseBaseIntermediates ? 2 : 0) | (c.sharesBaseRows ? 4 : 0))
        if let slopes = c.slopes { slopeBytes(slopes) }
    }
}

// MARK: - Reading

struct ByteReader {
    let bytes: [UInt8]
    let file: String
    var offset = 0

    init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
    }

    var remaining: Int { bytes.count - offset }

    func malformed(_ detail: String, at position: Int? = nil) -> CertificateError {
        .malformed(file: file, offset: position ?? offset, detail: detail)
    }

    mutating func take(_ n: Int, _ what: String) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else { throw CertificateError.truncated(file: file, offset: offset, reading: what) }
        defer { offset += n }
        return bytes[offset..<(offset + n)]
    }

    mutating func u8(_ what: String) throws -> UInt8 { try take(1, what).first! }

    mutating func flag(_ what: String) throws -> Bool {
        let position = offset
        switch try u8(what) {
        case 0: return false
        case 1: return true
        case let v: throw malformed("\(what) is \(v), expected 0 or 1", at: position)
        }
    }

    mutating func u32(_ what: String) throws -> UInt32 {
        let b = try take(4, what)
        var v: UInt32 = 0
        for (k, byte) in b.enumerated() { v |= UInt32(byte) << (8 * k) }
        return v
    }

    mutating func f64(_ what: String) throws -> Double {
        let b = try take(8, what)
        var v: UInt64 = 0
        for (k, byte) in b.enumerated() { v |= UInt64(byte) << (8 * k) }
        return Double(bitPattern: v)
    }

    /// A count of elements that each take at least `minimumSize` bytes, checked against the
    /// bytes that remain.
    mutating func count(minimumSize: Int, _ what: String) throws -> Int {
        let position = offset
        let n = Int(try u32(what))
        guard n.multipliedReportingOverflow(by: max(minimumSize, 1)).partialValue <= remaining else {
            throw malformed("\(what) is \(n), but only \(remaining) bytes remain", at: position)
        }
        return n
    }

    mutating func string(_ what: String) throws -> String {
        let position = offset
        let n = try count(minimumSize: 1, what)
        guard let s = String(validating: try take(n, what), as: UTF8.self) else {
            throw malformed("\(what) is not valid UTF-8", at: position)
        }
        return s
    }

    mutating func doubles(_ what: String) throws -> [Double] {
        let n = try count(minimumSize: 8, what)
        var values = [Double]()
        values.reserveCapacity(n)
        for _ in 0..<n { values.append(try f64(what)) }
        return values
    }

    mutating func binding(_ what: String) throws -> FileBinding {
        let path = try string("the path of \(what)")
        return FileBinding(path: path, sha256: Array(try take(32, "the SHA-256 of \(what)")))
    }

    mutating func layers() throws -> [SlopeLayer] {
        let n = try count(minimumSize: 8, "the slope layer count")
        var layers = [SlopeLayer]()
        for _ in 0..<n {
            let relu = try string("a slope layer name")
            let m = try count(minimumSize: 4, "a slope layer's neuron count")
            var neurons = [UInt32]()
            neurons.reserveCapacity(m)
            for _ in 0..<m { neurons.append(try u32("a slope neuron index")) }
            layers.append(SlopeLayer(relu: relu, neurons: neurons))
        }
        return layers
    }

    mutating func slopeBytes() throws -> [UInt8] {
        let n = try count(minimumSize: 1, "the slope count")
        return Array(try take(n, "slopes"))
    }

    mutating func tree() throws -> ProofTree {
        let layers = try layers()
        let nodeCount = try count(minimumSize: 9, "the node count")
        var nodes = [ProofNode]()
        nodes.reserveCapacity(nodeCount)
        for _ in 0..<nodeCount {
            let flagsOffset = offset
            let flags = try u8("node flags")
            guard flags & ~3 == 0 else { throw malformed("node flags \(flags) have unknown bits", at: flagsOffset) }
            var node = ProofNode(refresh: flags & 1 != 0)
            let tighteningCount = try count(minimumSize: 21, "a tightening count")
            for _ in 0..<tighteningCount {
                let layer = try string("a tightening layer")
                let neuron = try u32("a tightening neuron")
                let sideOffset = offset
                guard let side = BoundSide(rawValue: try u8("a tightening side")) else {
                    throw malformed("a tightening side must be 0 or 1", at: sideOffset)
                }
                let value = try f64("a tightening value")
                node.tightenings.append(Tightening(layer: layer, neuron: neuron, side: side, value: value,
                                                   dual: try doubles("a dual vector")))
            }
            let refutationCount = try count(minimumSize: 14, "a refutation count")
            for _ in 0..<refutationCount {
                let clause = try u32("a refutation clause")
                let constraint = try u32("a refutation constraint")
                let slopes = try flag("a slope flag") ? try slopeBytes() : nil
                let betas = try doubles("split multipliers")
                let dual = try flag("an LP dual flag") ? try doubles("an LP dual vector") : nil
                node.refutations.append(Refutation(clause: clause, constraint: constraint, slopes: slopes, betas: betas,
                                                   lpDual: dual))
            }
            if flags & 2 != 0 {
                let kindOffset = offset
                let split: Split
                switch try u8("a branch kind") {
                case 0:
                    let dimension = try u32("a split dimension")
                    split = .input(dimension: dimension, point: try f64("a split point"))
                case 1:
                    let layer = try string("a split layer")
                    split = .relu(layer: layer, neuron: try u32("a split neuron"))
                case let kind:
                    throw malformed("unknown branch kind \(kind)", at: kindOffset)
                }
                let low = try u32("a child index")
                node.branch = Branch(split: split, low: low, high: try u32("a child index"))
            }
            nodes.append(node)
        }
        return ProofTree(slopeLayers: layers, nodes: nodes)
    }

    mutating func claim() throws -> BoundClaim {
        let box = try u32("a claim's box")
        let overrideCount = try count(minimumSize: 20, "an override count")
        var overrides = [BoxOverride]()
        overrides.reserveCapacity(overrideCount)
        for _ in 0..<overrideCount {
            let index = try u32("an override index")
            let lower = try f64("an override bound")
            overrides.append(BoxOverride(index: index, lower: lower, upper: try f64("an override bound")))
        }
        let coefficients = try doubles("claim coefficients")
        let senseOffset = offset
        guard let sense = ClaimSense(rawValue: try u8("a claim sense")) else {
            throw malformed("a claim sense must be 0 or 1", at: senseOffset)
        }
        let value = try f64("a claim value")
        let flagsOffset = offset
        let flags = try u8("claim flags")
        guard flags & ~7 == 0 else { throw malformed("claim flags \(flags) have unknown bits", at: flagsOffset) }
        guard flags & 6 != 6 else {
            throw malformed("claim flags \(flags) ask both to reuse the base box's intermediate bounds and to share its rows",
                            at: flagsOffset)
        }
        let slopes = flags & 1 != 0 ? try slopeBytes() : nil
        return BoundClaim(box: box, overrides: overrides, coefficients: coefficients, sense: sense, value: value,
                          slopes: slopes, reuseBaseIntermediates: flags & 2 != 0, sharesBaseRows: flags & 4 != 0)
    }
}
