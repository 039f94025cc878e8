import Evident
import EvidentTestSupport
import Foundation
import Testing

/// Tampered certificates, generated at random over the project's `Proofs/` (the digits_resnet
/// proofs bound to `Networks/` and `Specs/`) and over proofs the verifier writes for small
/// networks (input-split and ReLU-split trees with multipliers, LP duals and tightenings):
/// `Proofs/` holds four `unsat` proofs (one CROWN node each) and two `sat` witnesses; the
/// small networks add multi-node trees and a witness or two. Every mutation that makes a
/// certificate wrong or ill-formed must be rejected, by the
/// reader (it does not decode) or by the checker (it reports the certificate invalid).
///
/// `Tests/EvidentCheckerTests/TamperingTests.swift` checks one hand-made tampering per
/// rule with its exact reason; this suite draws many at random over real proofs, and only
/// counts rejections.
///
/// ## What must be rejected
/// Every mutation below is generated only where it makes the certificate wrong or
/// ill-formed, for a reason stated with it:
/// - bytes: truncation (the grammar needs every byte), trailing bytes, a changed bit of the
///   magic, the version or the claim kind, a property flag other than 1 (the layout is
///   deterministic: a changed byte in these fields leaves no valid parse of the original's
///   meaning);
/// - bindings: one bit of either SHA-256 (a stale binding);
/// - proof structure: a child index changed (every non-root node is exactly one node's child,
///   so the new index is out of range, not larger than its parent, or a second parent's
///   child, and the old child an orphan), the last node dropped, a region proof added or
///   dropped;
/// - refutations: dropped, or moved to another clause, where that leaves some clause
///   unrefuted on some path (decided structurally; a node counts as refuting every clause
///   unless a concrete input is known to lie in its subdomain, since an empty subdomain
///   refutes everything); a clause or constraint index out of range;
/// - numbers: a multiplier made negative or non-finite, any LP dual or tightening number made
///   non-finite (the specification requires finite numbers: not well-formed), an input
///   split point moved outside its node's interval, a count of slopes, multipliers or dual
///   entries that no longer matches;
/// - names and indices: a split or slope layer renamed to a value that is not a ReLU
///   output, a neuron index out of range, a slope layer's neurons out of order, a neuron
///   split again below its own split;
/// - false claims: a tightening inserted at a node without ReLU splits above it, claiming a
///   pre-activation bound that a concrete input of the node's box violates (with a
///   well-formed dual: zeros, or GLPK's own dual of that bound); the claim replaced by a
///   `sat` witness at a random point of the box (every property here is proved, so there is
///   none).
///
/// ## What need not be
/// Random single-bit flips anywhere in the file are also drawn and classified by what they
/// change after decoding: a flip in one of the fields above counts as "must reject"; a flip
/// that does not decode is a rejection. The remaining ones may leave a certificate that is
/// still a valid proof, so they are reported but not required to fail: the producer and
/// the recorded paths (the checker ignores them: the digests bind the files), a slope byte,
/// a refresh flag, a finite non-negative multiplier, a finite LP dual or tightening number,
/// a tightening's side, an input split point that stays inside its interval, a split or
/// slope neuron changed to another valid one, a refutation moved to another clause that
/// stays refuted elsewhere. (Lowering a slope or a multiplier usually weakens the bound and
/// fails; it may also leave a margin and hold.)
@Suite("Torture: tampered certificates")
struct CertificateMutationTests {
    static let count = Torture.size(ci: 240, full: 3000)

    @Test func everyTamperedCertificateIsRejected() throws {
        let start = Date()
        var subjects = try Self.projectProofs()
        let projectCount = subjects.count
        subjects += Self.smallNetworkProofs(Torture.size(ci: 5, full: 16))
        #expect(projectCount == 6, "Proofs/ should hold the six digits_resnet proofs of 1.0 properties in its manifest")
        for subject in subjects {
            let report = subject.check(subject.original)
            #expect(report.valid, "\(subject.name): the untampered certificate must be valid: \(report.reason ?? "")")
        }
        let setup = Date().timeIntervalSince(start)
        Torture.report("mutation subjects: " + subjects.map { "\($0.name): \($0.features)" }.joined(separator: "; "))
        // Mutations: half over Proofs/, half over the small networks' proofs.
        let plans = (0..<Self.count).map { i -> (subject: Int, seed: UInt64) in
            let s = i % 2 == 0 || subjects.count == projectCount ? i / 2 % projectCount
                : projectCount + (i / 2) % (subjects.count - projectCount)
            return (s, 0x7A_3D_00_00 &+ UInt64(i))
        }
        let results = Torture.parallelMap(plans.count) { k -> MutationResult in
            var rng = SeededGenerator(seed: plans[k].seed)
            return subjects[plans[k].subject].mutateAndCheck(&rng)
        }
        var byKind = [String: (total: Int, rejected: Int)]()
        var failures = [String]()
        var must = 0, mustRejected = 0, optional = 0, optionalRejected = 0, undecodable = 0, onProofs = 0
        for (k, r) in results.enumerated() {
            byKind[r.kind, default: (0, 0)].total += 1
            if r.rejected { byKind[r.kind, default: (0, 0)].rejected += 1 }
            if r.undecodable { undecodable += 1 }
            if r.mustReject {
                must += 1
                if plans[k].subject < projectCount { onProofs += 1 }
                if r.rejected { mustRejected += 1 } else {
                    failures.append("\(subjects[plans[k].subject].name), mutation \(k) (seed \(plans[k].seed)): \(r.kind): \(r.note) was accepted")
                }
            } else {
                optional += 1
                if r.rejected { optionalRejected += 1 }
            }
        }
        Torture.report("mutations: \(mustRejected) of \(must) must-reject mutations rejected (\(onProofs) over Proofs/, "
                       + "\(must - onProofs) over \(subjects.count - projectCount) small-network proofs; \(undecodable) did not decode); "
                       + "possibly harmless: \(optionalRejected) of \(optional) rejected; setup \(String(format: "%.1f", setup)) s, "
                       + "total \(Torture.seconds(since: start)) s")
        Torture.report("mutation kinds: " + byKind.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.rejected)/\($0.value.total)" }.joined(separator: ", "))
        #expect(failures.isEmpty, "\(failures.count) tampered certificates were accepted:\n\(failures.prefix(20).joined(separator: "\n"))")
        #expect(must >= Self.count * 3 / 5, "too few must-reject mutations: \(must) of \(Self.count)")
    }

    // MARK: - Subjects

    /// The certificates of `Proofs/manifest.csv` with their network and property.
    static func projectProofs() throws -> [Subject] {
        let folder = SharedBenchmarks.repositoryRoot.appendingPathComponent("Proofs")
        let manifest = try String(contentsOf: folder.appendingPathComponent("manifest.csv"), encoding: .utf8)
        var networks = [String: (Network, [UInt8])]()
        var subjects = [Subject]()
        for line in manifest.split(whereSeparator: \.isNewline).dropFirst() {
            let cells = line.split(separator: ",").map(String.init)
            guard cells.count == 3 else { continue }
            let certificatePath = folder.appendingPathComponent(cells[0]).path
            let modelPath = folder.appendingPathComponent(cells[1]).standardizedFileURL.path
            let propertyPath = folder.appendingPathComponent(cells[2]).standardizedFileURL.path
            if networks[modelPath] == nil {
                networks[modelPath] = (try loadNetwork(path: modelPath), try InputFile.contentDigest(path: modelPath))
            }
            let (network, modelDigest) = networks[modelPath]!
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: certificatePath)))
            let certificate = try Certificate(decoding: bytes, source: cells[0])
            // A VNN-LIB 2.0 query's certificate (version 2, binding its networks) is about the
            // composition of its networks; the mutations here address version-1 layouts, so it
            // is left to QueryCommandTests, CodecTests and `evident check Proofs/`.
            guard certificate.networks.isEmpty else { continue }
            subjects.append(Subject(name: cells[0], bytes: bytes, certificate: certificate,
                                    network: network, property: try loadProperty(path: propertyPath, for: network),
                                    modelDigest: modelDigest, propertyDigest: try InputFile.contentDigest(path: propertyPath),
                                    solveDuals: false))
        }
        return subjects
    }

    /// Proofs the verifier writes for small dense networks and true robustness properties
    /// (thresholds a little below the MILP's minimum): input-split trees, and ReLU-split
    /// trees with multipliers, LP refutations and tightenings.
    static func smallNetworkProofs(_ wanted: Int) -> [Subject] {
        let candidates = Torture.parallelMap(wanted * 2) { i -> Subject? in
            let seed = 0x5B_7E_00 &+ UInt64(i)
            var rng = SeededGenerator(seed: seed)
            let inputs = i % 2 == 0 ? rng.int(2..<4) : rng.int(4..<7)
            guard let graph = try? RandomNetworks.dense(seed: seed, inputs: inputs, hidden: [8, 8], outputs: 3) else { return nil }
            let network = Torture.network(graph, "small\(i)")
            let concrete = Concrete(graph)
            let centre = rng.uniforms(inputs)
            let radius = rng.uniform(0.2...0.6)
            let lower = centre.map { $0 - radius }, upper = centre.map { $0 + radius }
            guard let y = concrete.outputs(centre), let oracle = MILPOracle(network, lower: lower, upper: upper) else { return nil }
            let c = y.indices.max { y[$0] < y[$1] }!
            var clauses = [ClauseSpec]()
            for j in 0..<3 where j != c {
                var row = [Double](repeating: 0, count: 3)
                row[c] = 1
                row[j] = -1
                let probe = ClauseSpec(constraints: [(row, 0)])
                guard let milp = oracle.minimise(probe, lower: lower, upper: upper, seconds: 5), milp.status == .optimal,
                      let minimum = milp.objective else { return nil }
                // Every fifth property is false (a `sat` certificate to tamper with).
                let margin = 0.02 * max(0.1, abs(minimum))
                clauses.append(ClauseSpec(constraints: [(row, i % 5 == 4 ? minimum + margin : minimum - margin)]))
            }
            let spec = PropertySpec(regions: [(lower, upper, clauses)], outputs: 3)
            var settings = TortureVerifier.settings(variant: [0, 3, 1, 2][i % 4], timeout: 20)
            settings.reluBatch = 4
            let result = TortureVerifier.run(network, spec.property, settings: settings)
            guard result.verdict == (i % 5 == 4 ? .sat : .unsat), let certificate = result.certificate else { return nil }
            return Subject(name: "small network \(i) (\(inputs) inputs, \(TortureVerifier.variantName([0, 3, 1, 2][i % 4])))",
                           bytes: certificate.encoded(), certificate: certificate, network: network, property: spec.property,
                           modelDigest: Torture.modelDigest, propertyDigest: Torture.propertyDigest, solveDuals: true)
        }
        // Prefer proofs with more to tamper with (more nodes first), and keep a witness or two.
        let found = candidates.compactMap { $0 }
        let witnesses = found.filter { $0.witness != nil }.prefix(max(1, wanted / 5))
        let proofs = found.filter { $0.witness == nil }.sorted { $0.nodeCount > $1.nodeCount }.prefix(wanted - witnesses.count)
        return Array(proofs) + Array(witnesses)
    }
}

/// One mutation's outcome.
struct MutationResult {
    var kind: String
    var mustReject: Bool
    var rejected: Bool
    var undecodable: Bool
    var note: String
}

/// A certificate to tamper with, and what the mutations need to know about it.
struct Subject: @unchecked Sendable {
    let name: String
    let bytes: [UInt8]
    let original: Certificate
    let proof: UnsatProof
    /// The witness of a `sat` certificate (then ``proof`` has no regions).
    let witness: Witness?
    let network: Network
    let property: Property
    let modelDigest: [UInt8]
    let propertyDigest: [UInt8]
    /// ReLU output name -> (pre-activation value, neuron count).
    let relus: [String: (pre: ValueID, size: Int)]
    /// Names of values that are not ReLU outputs.
    let otherNames: [String]
    /// Rows of the network's canonical LP (the length of a well-formed dual).
    let lpRows: Int?
    /// Per region, tree, node: whether a concrete input is known in the node's subdomain.
    let nonEmpty: [[[Bool]]]
    /// Per region, tree, node: the node's input box (nil below a ReLU split: the box is the
    /// parent's, with split constraints).
    let boxes: [[[(lower: [Double], upper: [Double], reluSplits: [(layer: String, neuron: Int)])]]]
    /// Whether GLPK may be asked for duals (small networks only).
    let solveDuals: Bool
    let evaluator: Evaluator

    var nodeCount: Int { proof.regions.flatMap(\.trees).map(\.nodes.count).reduce(0, +) }

    /// What the certificate holds, in a few words.
    var features: String {
        if witness != nil { return "witness" }
        let nodes = proof.regions.flatMap(\.trees).flatMap(\.nodes)
        let refutations = nodes.flatMap(\.refutations)
        var parts = ["\(nodes.count) nodes"]
        let input = nodes.filter { if case .input? = $0.branch?.split { true } else { false } }.count
        let relu = nodes.filter { if case .relu? = $0.branch?.split { true } else { false } }.count
        if input > 0 { parts.append("\(input) input splits") }
        if relu > 0 { parts.append("\(relu) ReLU splits") }
        let tightenings = nodes.map(\.tightenings.count).reduce(0, +)
        if tightenings > 0 { parts.append("\(tightenings) tightenings") }
        let duals = refutations.filter { $0.lpDual != nil }.count
        if duals > 0 { parts.append("\(duals) LP refutations") }
        let betas = refutations.map(\.betas.count).reduce(0, +)
        if betas > 0 { parts.append("\(betas) multipliers") }
        let slopes = refutations.filter { $0.slopes != nil }.count
        if slopes > 0 { parts.append("\(slopes) with slopes") }
        return parts.joined(separator: ", ")
    }

    init(name: String, bytes: [UInt8], certificate: Certificate, network: Network, property: Property,
         modelDigest: [UInt8], propertyDigest: [UInt8], solveDuals: Bool) {
        self.name = name
        self.bytes = bytes
        original = certificate
        if case .unsat(let p) = certificate.claim { proof = p } else { proof = UnsatProof(regions: []) }
        if case .sat(let w) = certificate.claim { witness = w } else { witness = nil }
        self.network = network
        self.property = property
        self.modelDigest = modelDigest
        self.propertyDigest = propertyDigest
        self.solveDuals = solveDuals
        let graph = network.graph
        evaluator = Evaluator(graph: graph)
        var relus = [String: (pre: ValueID, size: Int)]()
        for node in graph.nodes where node.operation == .relu {
            relus[graph.values[node.output].name] = (node.inputs[0], graph.values[node.output].count)
        }
        self.relus = relus
        otherNames = graph.values.map(\.name).filter { relus[$0] == nil }
        // The canonical LP's row count, from any valid bounds (it does not depend on them).
        let region = property.regions[0]
        let bounds = BoundPropagator(graph: graph).intermediateBounds(lower: region.lower, upper: region.upper, batch: 1)
        let values = graph.values.indices.map { v -> (lower: [Double], upper: [Double]) in
            v == graph.input ? (region.lower, region.upper)
                : (bounds[v]!.lower.map { $0 - 1e-6 * (1 + abs($0)) }, bounds[v]!.upper.map { $0 + 1e-6 * (1 + abs($0)) })
        }
        lpRows = (try? NetworkLP(network: network, bounds: values))?.program.rowCount
        // Node boxes and split paths, then non-emptiness by sampling each region's box.
        var boxes = [[[(lower: [Double], upper: [Double], reluSplits: [(layer: String, neuron: Int)])]]]()
        var nonEmpty = [[[Bool]]]()
        var rng = SeededGenerator(seed: 0xB0C5)
        for (r, regionProof) in proof.regions.enumerated() where r < property.regions.count {
            let region = property.regions[r]
            var regionBoxes = [[(lower: [Double], upper: [Double], reluSplits: [(layer: String, neuron: Int)])]]()
            var regionNonEmpty = [[Bool]]()
            for tree in regionProof.trees {
                var info = [(lower: [Double], upper: [Double], reluSplits: [(layer: String, neuron: Int, active: Bool)])?](
                    repeating: nil, count: tree.nodes.count)
                info[0] = (region.lower, region.upper, [])
                for (i, node) in tree.nodes.enumerated() {
                    guard let here = info[i], let branch = node.branch else { continue }
                    let (low, high) = (Int(branch.low), Int(branch.high))
                    guard low < tree.nodes.count, high < tree.nodes.count else { continue }
                    switch branch.split {
                    case let .input(dimension, point):
                        var a = here, b = here
                        a.upper[Int(dimension)] = point
                        b.lower[Int(dimension)] = point
                        info[low] = a
                        info[high] = b
                    case let .relu(layer, neuron):
                        var a = here, b = here
                        a.reluSplits.append((layer, Int(neuron), false))
                        b.reluSplits.append((layer, Int(neuron), true))
                        info[low] = a
                        info[high] = b
                    }
                }
                // Non-empty: the node has no ReLU split, or a sampled input satisfies its splits.
                var known = info.map { $0 != nil && $0!.reluSplits.isEmpty }
                let split = info.indices.filter { info[$0] != nil && !info[$0]!.reluSplits.isEmpty }
                if !split.isEmpty {
                    let samples = (0..<Torture.size(ci: 64, full: 256)).map { _ in rng.point(region.lower, region.upper) }
                    if let all = try? evaluator.evaluateAll(samples.flatMap { $0 }, batch: samples.count) {
                        for i in split {
                            let node = info[i]!
                            known[i] = samples.indices.contains { s in
                                node.lower.indices.allSatisfy { k in node.lower[k] <= samples[s][k] && samples[s][k] <= node.upper[k] }
                                    && node.reluSplits.allSatisfy { split in
                                        guard let relu = relus[split.layer] else { return false }
                                        let z = all[relu.pre][s * relu.size + split.neuron]
                                        let margin = 1e-9 * (1 + abs(z))
                                        return split.active ? z > margin : z < -margin
                                    }
                            }
                        }
                    }
                }
                regionBoxes.append(info.map { $0.map { ($0.lower, $0.upper, $0.reluSplits.map { ($0.layer, $0.neuron) }) } ?? ([], [], []) })
                regionNonEmpty.append(known)
            }
            boxes.append(regionBoxes)
            nonEmpty.append(regionNonEmpty)
        }
        self.boxes = boxes
        self.nonEmpty = nonEmpty
    }

    func check(_ certificate: Certificate) -> CheckReport {
        Checker.check(certificate, network: network, modelDigest: modelDigest, property: property,
                      propertyDigest: propertyDigest, progress: nil)
    }

    /// Draws one mutation, applies it and checks the result.
    func mutateAndCheck(_ rng: inout SeededGenerator) -> MutationResult {
        for _ in 0..<64 {
            guard let mutation = Mutations.draw(self, &rng) else { continue }
            guard let decoded = try? Certificate(decoding: mutation.bytes, source: "mutant") else {
                return MutationResult(kind: mutation.kind, mustReject: mutation.mustReject, rejected: true, undecodable: true,
                                      note: mutation.note)
            }
            var must = mutation.mustReject, note = mutation.note
            if mutation.classifyByDiff {
                let c = Mutations.classify(self, decoded)
                must = c.mustReject
                note += ": \(c.field)"
            }
            let report = check(decoded)
            return MutationResult(kind: mutation.kind, mustReject: must, rejected: !report.valid, undecodable: false, note: note)
        }
        return MutationResult(kind: "none applicable", mustReject: false, rejected: true, undecodable: false, note: "")
    }

    /// How certainly `input` violates clause `clause` of region `region` (inner box and inner
    /// thresholds, Float64 with a margin far above rounding; the networks here are not all
    /// exactly evaluable).
    func judgeWitness(region r: Int, clause c: Int, input: [Double]) -> Concrete.Verdict {
        guard r < property.regions.count, c < property.regions[r].clauses.count, input.allSatisfy(\.isFinite),
              property.regions[r].containsInner(input), let y = try? evaluator.evaluate(input) else { return .safe }
        var worst = -Double.infinity, scale = 0.0
        for k in property.regions[r].clauses[c].constraints {
            worst = max(worst, k.value(outputs: y) - k.innerBound)
            scale = max(scale, k.terms.reduce(abs(k.innerBound)) { $0 + abs($1.coefficient * y[$1.output]) })
        }
        let tolerance = 1e-9 * (1 + scale)
        return worst <= -tolerance ? .counterexample : worst <= tolerance ? .ambiguous : .safe
    }

    /// Whether every clause of every region is refuted on every path of some tree, counting
    /// a node not known to be non-empty as refuting everything (as an empty subdomain does).
    func covers(_ proof: UnsatProof) -> Bool {
        guard proof.regions.count == property.regions.count else { return false }
        for (r, regionProof) in proof.regions.enumerated() {
            let clauses = property.regions[r].clauses
            var proved = Set<Int>()
            for (t, tree) in regionProof.trees.enumerated() {
                let n = tree.nodes.count
                var refuted = [Set<Int>](repeating: [], count: n)
                for i in stride(from: n - 1, through: 0, by: -1) {
                    let known = r < nonEmpty.count && t < nonEmpty[r].count && i < nonEmpty[r][t].count && nonEmpty[r][t][i]
                    if !known { refuted[i] = Set(clauses.indices) }
                    for f in tree.nodes[i].refutations where Int(f.clause) < clauses.count
                        && Int(f.constraint) < clauses[Int(f.clause)].constraints.count { refuted[i].insert(Int(f.clause)) }
                    if let b = tree.nodes[i].branch, Int(b.low) > i, Int(b.high) > i, Int(b.low) < n, Int(b.high) < n {
                        refuted[i].formUnion(refuted[Int(b.low)].intersection(refuted[Int(b.high)]))
                    }
                }
                if n > 0 { proved.formUnion(refuted[0]) }
            }
            if proved.count < clauses.count { return false }
        }
        return true
    }
}
