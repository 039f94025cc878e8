import EvidentCertificate
import Testing

@Suite struct CodecTests {
    static let binding = FileBinding(path: "m.onnx", sha256: [UInt8](repeating: 7, count: 32))

    static let unsat = Certificate(
        model: binding, property: FileBinding(path: "p.vnnlib", sha256: Array(0..<32)), producer: "test",
        claim: .unsat(UnsatProof(regions: [RegionProof(trees: [ProofTree(
            slopeLayers: [SlopeLayer(relu: "r1", neurons: [0, 3, 9])],
            nodes: [
                ProofNode(refresh: true, refutations: [Refutation(clause: 0, constraint: 1, slopes: [0, 128, 255])],
                          branch: Branch(split: .relu(layer: "r1", neuron: 3), low: 1, high: 2)),
                ProofNode(tightenings: [Tightening(layer: "r1", neuron: 9, side: .upper, value: -0.25, dual: [1, -2.5])],
                          refutations: [Refutation(clause: 1, constraint: 0, betas: [0.5])]),
                ProofNode(refresh: true, refutations: [Refutation(clause: 1, constraint: 0, betas: [0], lpDual: [0.1, 0.2])],
                          branch: Branch(split: .input(dimension: 2, point: 0.1), low: 3, high: 4)),
                ProofNode(), ProofNode(),
            ])])])))

    @Test func roundTripsEveryClaimKind() throws {
        let sat = Certificate(model: Self.binding, property: Self.binding, producer: "",
                              claim: .sat(Witness(region: 1, clause: 2, input: [0.1, -0.0, .leastNonzeroMagnitude])))
        let bounds = Certificate(model: Self.binding, property: nil, producer: "eva",
                                 claim: .bounds(BoundClaims(slopeLayers: [], boxes: [Box(lower: [0, 1], upper: [1, 2])],
                                                            claims: [BoundClaim(box: 0, overrides: [BoxOverride(index: 1, lower: 1.5, upper: 1.5)],
                                                                                coefficients: [1, -1], sense: .atMost, value: 3,
                                                                                slopes: [9], reuseBaseIntermediates: true)])))
        for certificate in [Self.unsat, sat, bounds] {
            let decoded = try Certificate(decoding: certificate.encoded(), source: "memory")
            #expect(decoded == certificate)
        }
    }

    @Test func rejectsEveryTruncation() throws {
        let bytes = Self.unsat.encoded()
        for length in 0..<bytes.count {
            #expect(throws: CertificateError.self) { try Certificate(decoding: Array(bytes[0..<length]), source: "t") }
        }
    }

    @Test func rejectsTrailingBytesAndOtherVersions() throws {
        var bytes = Self.unsat.encoded()
        #expect(throws: CertificateError.trailingBytes(file: "t", offset: bytes.count, count: 1)) {
            try Certificate(decoding: bytes + [0], source: "t")
        }
        bytes[8] = 3
        #expect(throws: CertificateError.unsupportedVersion(file: "t", version: 3)) { try Certificate(decoding: bytes, source: "t") }
        // Version 2 expects the network list after the property binding: this version-1 body is malformed as 2.
        bytes[8] = 2
        #expect(throws: CertificateError.self) { try Certificate(decoding: bytes, source: "t") }
        #expect(throws: CertificateError.notACertificate(file: "t")) { try Certificate(decoding: Array("hello world".utf8), source: "t") }
    }

    /// A 2.0 query's networks round-trip (version 2); without networks the bytes are version 1.
    @Test func networksRoundTripAsVersionTwo() throws {
        #expect(Self.unsat.encoded()[8] == 1)
        var certificate = Self.unsat
        certificate.networks = [NetworkBinding(name: "f", file: FileBinding(path: "f.onnx", sha256: [UInt8](repeating: 7, count: 32))),
                                NetworkBinding(name: "g", file: FileBinding(path: "g.onnx", sha256: [UInt8](repeating: 9, count: 32)))]
        let bytes = certificate.encoded()
        #expect(bytes[8] == 2)
        #expect(try Certificate(decoding: bytes, source: "t") == certificate)
        for length in 0..<bytes.count {
            #expect(throws: CertificateError.self) { try Certificate(decoding: Array(bytes[0..<length]), source: "t") }
        }
    }

    @Test func rejectsCountsLargerThanTheFile() throws {
        // A region count of 2^32 - 1 in a file of a few dozen bytes.
        var w = [UInt8]()
        w += CertificateFormat.magic + [1, 0, 0, 0]
        w += [6, 0, 0, 0] + Array("m.onnx".utf8) + [UInt8](repeating: 0, count: 32) + [0] + [0, 0, 0, 0] + [0]
        w += [255, 255, 255, 255]
        #expect(throws: CertificateError.self) { try Certificate(decoding: w, source: "t") }
    }
}
