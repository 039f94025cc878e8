import Foundation
import EvidentIR
import EvidentVNNLib
import EvidentEval
import EvidentBounds
import EvidentCertificate
import EvidentChecker


/// Settings of a verification run.
public struct VerifierSettings: Sendable {
    /// Wall-clock limit for the whole run, seconds.
    public var timeout: Double
    public var attack: AttackSettings
    /// Adam steps of α-CROWN on the final rows at each region's root.
    public var alphaIterations: Int
    /// Adam steps of α,β optimisation per batch of ReLU-split subdomains.
    public var babIterations: Int
    /// Subdomains split per batch of ReLU-split branch and bound (each gives two children).
    public var reluBatch: Int
    /// Boxes bounded per batch of input-split branch and bound.
    public var inputBatch: Int
    /// Largest number of open subdomains kept; reaching it ends the search with `unknown`.
    public var maxOpenDomains: Int
    /// Input splitting is used when at most this many input coordinates have a non-zero width.
    public var inputSplitDimensions: Int
    /// LP refutations at a region's root and LP tightenings at the root of a ReLU-split search
    /// run when the network's canonical LP has at most this many columns; leaves with every
    /// ReLU fixed are decided by the LP whatever its size (0: no LP at all). GLPK's simplex
    /// needs about 0.2 s on ACAS Xu's LP (925 columns), more than 6 s on `digits_resnet`'s
    /// (7,882) and more than 30 s on `resnet_2b`'s (19,666).
    public var lpColumns: Int
    /// Unstable neurons whose pre-activation bounds the LP tightens at the root of a ReLU-split
    /// search (when the network's LP has at most `lpColumns` columns; 0: none).
    public var lpTightenings: Int
    /// The MILP runs at a region's root when the network's LP is within `lpColumns` and has at
    /// most this many unstable neurons (binary columns; 0: never).
    public var milpBinaries: Int
    /// When the time limit starts, in `DispatchTime` uptime nanoseconds (`nil`: when the
    /// verifier is created). The CLI passes its process's start, so that loading counts.
    public var clockStart: UInt64?
    /// Working-memory budget of the bound computations in bytes (``BoundPropagator/memoryBudget``).
    public var memoryBudget: Int?
    /// Called with one-line progress reports (at most about once a second).
    public var progress: (@Sendable (String) -> Void)?

    public init(timeout: Double = 300, attack: AttackSettings = AttackSettings(), alphaIterations: Int = 20,
                babIterations: Int = 8, reluBatch: Int = 64, inputBatch: Int = 256, maxOpenDomains: Int = 400_000,
                inputSplitDimensions: Int = 12, lpColumns: Int = 5_000, lpTightenings: Int = 32, milpBinaries: Int = 40, clockStart: UInt64? = nil, progress: (@Sendable (String) -> Void)? = nil) {
        self.timeout = timeout
        self.attack = attack
        self.alphaIterations = alphaIterations
        self.babIterations = babIterations
        self.reluBatch = reluBatch
        self.inputBatch = inputBatch
        self.maxOpenDomains = maxOpenDomains
        self.inputSplitDimensions = inputSplitDimensions
        self.lpColumns = lpColumns
        self.lpTightenings = lpTightenings
        self.milpBinaries = milpBinaries
        self.clockStart = clockStart
        self.progress = progress
    }
}

/// Decides a property on a network: falsification first, then CROWN and α-CROWN at each
/// region's root, then branch and bound (input splits for low-dimensional inputs, ReLU splits
/// with β multipliers otherwise). Every `unsat` and `sat` goes through ``assemble``, the one
/// place where a verdict is made, and only after the independent checker accepted its
/// certificate.
public final class Verifier: @unchecked Sendable {
    public let network: Network
    public let property: Property
    public let modelBinding: FileBinding
    public let propertyBinding: FileBinding
    /// For a VNN-LIB 2.0 query: the model file of each declared network (the certificate
    /// binds them; ``network`` is their composition). Empty for a 1.0 property.
    public var networkBindings: [NetworkBinding] = []
    public let settings: VerifierSettings
    let propagator: BoundPropagator
    let attack: Attack
    var graph: Graph { network.graph }
    let start: UInt64
    /// When the time limit ends.
    let limit: UInt64
    /// When the search stops: a little before ``limit`` (5% of the time limit, at most
    /// 0.25 s), which leaves time to assemble the verdict, print it and exit.
    let deadline: UInt64
    var subdomains = 0
    /// Seconds spent in GLPK so far, and of them in MILPs.
    var lpSeconds = 0.0, milpSeconds = 0.0
    var lastProgress: UInt64 = 0
    /// α-CROWN stops after this many steps that improved no bound (auto_LiRPA's default).
    static let patience = 10

    public init(network: Network, property: Property, modelBinding: FileBinding, propertyBinding: FileBinding,
                settings: VerifierSettings = VerifierSettings()) {
        self.network = network
        self.property = property
        self.modelBinding = modelBinding
        self.propertyBinding = propertyBinding
        self.settings = settings
        propagator = BoundPropagator(graph: network.graph)
        propagator.memoryBudget = settings.memoryBudget
        attack = Attack(graph: network.graph, property: property)
        start = settings.clockStart ?? DispatchTime.now().uptimeNanoseconds
        let seconds = max(0, settings.timeout)
        limit = start + UInt64(seconds * 1e9)
        deadline = start + UInt64((seconds - min(0.25, 0.05 * seconds)) * 1e9)
    }

    var elapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
    var pastDeadline: Bool { DispatchTime.now().uptimeNanoseconds >= deadline }

    /// Whether a step taking `seconds` (for example as long as the previous batch of branch and
    /// bound) would end past the deadline: loops stop early rather than overrun it.
    func pastDeadline(after seconds: Double) -> Bool {
        DispatchTime.now().uptimeNanoseconds + UInt64(max(0, seconds) * 1e9) >= deadline
    }

    func report(_ message: @autoclosure () -> String, force: Bool = false) {
        guard let progress = settings.progress else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        guard force || now - lastProgress >= 1_000_000_000 else { return }
        lastProgress = now
        progress(message())
    }

    /// How a search over the property ended, before any verdict.
    enum Outcome {
        case proved(UnsatProof, method: String, margin: Double)
        case counterexample(Counterexample, method: String)
        case open(reason: String, timedOut: Bool, margin: Double?)
    }

    /// Runs the whole verification.
    public func run() -> VerificationResult {
        let outcome = search()
        return assemble(outcome)
    }

    // MARK: - The one place a verdict is made

    /// Turns a search outcome into a verdict: `unsat` only with a certificate the checker
    /// accepted, `sat` only with a witness the checker confirmed, otherwise `unknown` or
    /// `timeout` with the reason.
    func assemble(_ outcome: Outcome) -> VerificationResult {
        var result = VerificationResult(verdict: .unknown, method: "", reason: nil, margin: nil, subdomains: subdomains,
                                        seconds: 0, checkSeconds: 0, counterexample: nil, certificate: nil, check: nil)
        /// Builds the certificate of `claim`, runs the checker on it and records both; `nil`
        /// when the check did not finish in time.
        func check(_ claim: Claim, method: String) -> CheckReport? {
            let certificate = Certificate(model: modelBinding, property: propertyBinding, networks: networkBindings,
                                          producer: Evident.producer, claim: claim)
            let t0 = DispatchTime.now().uptimeNanoseconds
            // The check runs on its own thread and gets until half a second past the time
            // limit; a check still running then leaves the answer at `timeout` (the thread
            // finishes its work unobserved, or dies with the process).
            final class Box: @unchecked Sendable { var report: CheckReport? }
            let box = Box(), done = DispatchSemaphore(value: 0)
            let (network, property, model, propertyDigest) = (network, property, modelBinding.sha256, propertyBinding.sha256)
            var digests: [String: [UInt8]] = [:]
            for binding in networkBindings { digests[binding.name] = binding.file.sha256 }
            DispatchQueue.global().async { [digests] in
                box.report = Checker.check(certificate, network: network, modelDigest: model, property: property,
                                           propertyDigest: propertyDigest, networkDigests: digests, progress: nil)
                done.signal()
            }
            let finished = done.wait(timeout: DispatchTime(uptimeNanoseconds: limit + 500_000_000)) == .success
            let report = finished ? box.report : nil
            result.checkSeconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            result.certificate = certificate
            result.check = report
            result.method = method
            return report
        }
        switch outcome {
        case let .proved(proof, method, margin):
            result.margin = margin
            if let report = check(.unsat(proof), method: method) {
                if report.valid {
                    result.verdict = .unsat
                } else {
                    result.reason = "the proof was found but the checker rejected it: \(report.reason ?? "no reason given")"
                }
            } else {
                result.verdict = .timeout
                result.reason = "a proof was found, but its check did not finish within the time limit"
            }
        case .counterexample(var counterexample, let method):
            // The outputs reported are those of one unbatched evaluation at the witness
            // (batched products may sum in another order).
            if let outputs = try? attack.evaluator.evaluate(counterexample.input) { counterexample.outputs = outputs }
            result.counterexample = counterexample
            let witness = Witness(region: UInt32(counterexample.region), clause: UInt32(counterexample.clause),
                                  input: counterexample.input)
            if let report = check(.sat(witness), method: method) {
                if report.valid {
                    result.verdict = .sat
                } else {
                    result.reason = "a candidate counterexample was found but the checker did not confirm it "
                        + "(\(report.reason ?? "no reason given")); it may lie within rounding of the unsafe set's boundary"
                }
            } else {
                result.verdict = .timeout
                result.reason = "a counterexample was found, but its check did not finish within the time limit"
            }
        case let .open(reason, timedOut, margin):
            result.verdict = timedOut ? .timeout : .unknown
            result.reason = reason
            result.margin = margin
            result.method = "none"
        }
        result.subdomains = subdomains
        result.seconds = elapsed
        return result
    }

    // MARK: - Search

    func search() -> Outcome {
        report("attack: PGD on \(property.outputClauseCount) clauses", force: true)
        let attackDeadline = min(deadline, start + UInt64(max(0.5, settings.timeout * 0.1) * 1e9))
        if let found = attack.run(settings: settings.attack, deadline: attackDeadline) {
            return .counterexample(found, method: "PGD attack")
        }
        var regions = [RegionProof]()
        var methods = Set<String>()
        var margin = Double.infinity
        for r in property.regions.indices {
            if pastDeadline { return .open(reason: "the time limit was reached", timedOut: true, margin: nil) }
            switch proveRegion(r) {
            case let .proved(proof, method, m):
                regions.append(proof.regions[0])
                methods.insert(method)
                margin = min(margin, m)
            case let other:
                return other
            }
        }
        let order = ["CROWN", "alpha-CROWN", "LP (GLPK)", "input-split branch and bound", "ReLU-split branch and bound (beta-CROWN)"]
        let method = order.last { methods.contains($0) } ?? (methods.first ?? "no clauses")
        return .proved(UnsatProof(regions: regions), method: method, margin: margin)
    }

    /// The rows of a region's specification: clause `c`'s constraint `k` is row `offset[c] + k`.
    struct RegionRows {
        var spec: LinearSpecification?
        var thresholds: [Double]
        var offset: [Int]
        /// The clause of every row (so that looking it up is not a search over the clauses).
        var clauseOfRow: [Int]

        init(_ region: InputRegion, outputs: Int) {
            let built = specification(of: region, outputs: outputs)
            spec = built?.spec
            thresholds = built?.bounds ?? []
            var running = 0
            offset = region.clauses.map { clause in
                defer { running += clause.constraints.count }
                return running
            }
            clauseOfRow = region.clauses.indices.flatMap { c in repeatElement(c, count: region.clauses[c].constraints.count) }
        }

        /// The coefficients of row `row` over the outputs.
        func coefficients(_ row: Int) -> [Double] {
            let outputs = spec!.coefficients.count / spec!.rows
            return Array(spec!.coefficients[(row * outputs)..<((row + 1) * outputs)])
        }

        /// Stops α-CROWN on the rows `columns` (indices into this region's rows, in the call's
        /// order) once every clause of `clauses` has a constraint refuted, or after
        /// ``Verifier/patience`` steps without improvement.
        func earlyStop(_ clauses: [Int], columns: [Int]) -> EarlyStop {
            let column = Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1, $0) })
            let groups = clauses.map { c in
                (offset[c]..<(c + 1 < offset.count ? offset[c + 1] : thresholds.count)).map { (column: column[$0]!, threshold: thresholds[$0]) }
            }
            return EarlyStop(patience: Verifier.patience, satisfied: everyClauseRefuted(groups))
        }

        /// The specification of some rows.
        func rows(_ indices: [Int], outputs: Int) -> LinearSpecification {
            let c = spec!.coefficients
            return LinearSpecification(rows: indices.count, coefficients: indices.flatMap { Array(c[($0 * outputs)..<(($0 + 1) * outputs)]) })
        }
    }

    /// Proves one region, or finds a counterexample in it.
    func proveRegion(_ r: Int) -> Outcome {
        let region = property.regions[r]
        let outputs = graph.outputShape.elementCount
        let rows = RegionRows(region, outputs: outputs)
        guard rows.spec != nil else {
            // No clause with a constraint: every clause is empty (`true`) or there is none.
            if region.clauses.isEmpty { return .proved(UnsatProof(regions: [RegionProof(trees: [])]), method: "no clauses", margin: .infinity) }
            return .open(reason: "region \(r) has a clause without constraints, but its inner box is empty", timedOut: false, margin: nil)
        }
        report("region \(r): CROWN", force: true)
        let intermediate = propagator.intermediateBounds(lower: region.lower, upper: region.upper, batch: 1)
        subdomains += 1
        let layout = SlopeLayout(graph: graph, bounds: intermediate)
        var tree = TreeBuilder(layout: layout)
        let root = tree.addNode(refresh: true)
        var margin = Double.infinity
        var method = "CROWN"

        // CROWN on every row.
        let allRows = Array(0..<rows.thresholds.count)
        let crown = propagator.finalBounds(of: rows.spec!, lower: region.lower, upper: region.upper, batch: 1,
                                           intermediate: intermediate, settings: FinalBoundSettings(iterations: 0))
        var pending = [Int]()
        for (c, clause) in region.clauses.enumerated() {
            let best = (0..<clause.constraints.count).max { crown.lower[rows.offset[c] + $0] - rows.thresholds[rows.offset[c] + $0]
                < crown.lower[rows.offset[c] + $1] - rows.thresholds[rows.offset[c] + $1] }
            if let k = best, crown.lower[rows.offset[c] + k] > rows.thresholds[rows.offset[c] + k] {
                tree.nodes[root].refutations.append(Refutation(clause: UInt32(c), constraint: UInt32(k)))
                margin = min(margin, crown.lower[rows.offset[c] + k] - rows.thresholds[rows.offset[c] + k])
            } else {
                pending.append(c)
            }
        }
        if let found = confirmCorners(crown.inputCoefficients, rows: allRows.count, lower: region.lower, upper: region.upper,
                                      candidateRows: pending.flatMap { c in (0..<region.clauses[c].constraints.count).map { rows.offset[c] + $0 } },
                                      region: r, clauseOfRow: { rows.clauseOfRow[$0] }) {
            return .counterexample(found, method: "bound-corner evaluation")
        }
        if pending.isEmpty { return .proved(UnsatProof(regions: [RegionProof(trees: [tree.build()])]), method: method, margin: margin) }

        // α-CROWN on the rows of the clauses CROWN left open.
        var alphaMargins = [Int: (constraint: Int, margin: Double, slopes: [Float])]()
        if settings.alphaIterations > 0 && !pastDeadline {
            report("region \(r): alpha-CROWN on \(pending.count) clauses", force: true)
            let pendingRows = pending.flatMap { c in (0..<region.clauses[c].constraints.count).map { rows.offset[c] + $0 } }
            let alpha = propagator.finalBounds(of: rows.rows(pendingRows, outputs: outputs), lower: region.lower,
                                               upper: region.upper, batch: 1, intermediate: intermediate,
                                               settings: FinalBoundSettings(iterations: settings.alphaIterations,
                                                                            earlyStop: rows.earlyStop(pending, columns: pendingRows)))
            var still = [Int]()
            var column = 0  // pendingRows lists the rows of the pending clauses in order
            for c in pending {
                var bestK = 0, bestMargin = -Double.infinity, bestColumn = 0
                for k in region.clauses[c].constraints.indices {
                    defer { column += 1 }
                    let m = alpha.lower[column] - rows.thresholds[rows.offset[c] + k]
                    if m > bestMargin { (bestK, bestMargin, bestColumn) = (k, m, column) }
                }
                if bestMargin > 0 {
                    tree.nodes[root].refutations.append(Refutation(
                        clause: UInt32(c), constraint: UInt32(bestK),
                        slopes: layout.bytes(alpha.slopeBytes, rows: pendingRows.count, column: bestColumn, defaults: intermediate)))
                    margin = min(margin, bestMargin)
                    method = "alpha-CROWN"
                } else {
                    still.append(c)
                    alphaMargins[c] = (bestK, bestMargin, layout.compact(alpha.slopes, rows: pendingRows.count, column: bestColumn))
                }
            }
            pending = still
            if let found = confirmCorners(alpha.inputCoefficients, rows: pendingRows.count, lower: region.lower, upper: region.upper,
                                          candidateRows: Array(0..<pendingRows.count), region: r,
                                          clauseOfRow: { column in rows.clauseOfRow[pendingRows[column]] }) {
                return .counterexample(found, method: "bound-corner evaluation")
            }
        }
        if pending.isEmpty { return .proved(UnsatProof(regions: [RegionProof(trees: [tree.build()])]), method: method, margin: margin) }

        // The LP over the same intermediate bounds, for small networks.
        report("region \(r): LP on \(pending.count) clauses", force: true)
        let lpRefuted = lpRefute(pending, region: r, rows: rows, lower: region.lower, upper: region.upper,
                                 bounds: intermediate, first: alphaMargins.mapValues(\.constraint), tree: &tree, node: root)
        if !lpRefuted.isEmpty {
            method = "LP (GLPK)"
            margin = lpRefuted.reduce(margin) { min($0, $1.margin) }
            pending.removeAll { c in lpRefuted.contains { $0.clause == c } }
        }
        if pending.isEmpty { return .proved(UnsatProof(regions: [RegionProof(trees: [tree.build()])]), method: method, margin: margin) }
        let milp = milpSearch(pending, region: r, rows: rows, bounds: intermediate)
        if let found = milp.counterexample { return .counterexample(found, method: "MILP (GLPK)") }
        if !milp.holds.isEmpty {
            report("region \(r): the MILP finds no counterexample for clauses \(milp.holds) (not certified); branch and bound proves them",
                   force: true)
        }
        if pastDeadline { return .open(reason: "the time limit was reached", timedOut: true, margin: nil) }

        // Branch and bound.
        let wide = zip(region.lower, region.upper).filter { $0 < $1 }.count
        if wide <= settings.inputSplitDimensions {
            let outcome = inputSplit(region: r, rows: rows, pending: pending, tree: &tree, root: root)
            if case .proved = outcome {
                return .proved(UnsatProof(regions: [RegionProof(trees: [tree.build()])]), method: "input-split branch and bound",
                               margin: margin)
            }
            return withMILPNote(outcome, milp.holds)
        }
        var trees = [tree.build()]
        // Hardest clause first: a counterexample is likeliest there.
        for c in pending.sorted(by: { (alphaMargins[$0]?.margin ?? 0) < (alphaMargins[$1]?.margin ?? 0) }) {
            let start = alphaMargins[c] ?? (0, -Double.infinity, [])
            switch reluSplit(region: r, clause: c, constraint: start.constraint, rows: rows, intermediate: intermediate,
                             layout: layout, rootSlopes: start.slopes, rootMargin: start.margin) {
            case .proved(let proof, _, _):
                trees += proof.regions[0].trees
            case let other:
                return withMILPNote(other, milp.holds)
            }
        }
        return .proved(UnsatProof(regions: [RegionProof(trees: trees)]), method: "ReLU-split branch and bound (beta-CROWN)",
                       margin: margin)
    }

    /// An open outcome's reason, with the clauses the (uncertified) MILP found to hold.
    func withMILPNote(_ outcome: Outcome, _ holds: [Int]) -> Outcome {
        guard case let .open(reason, timedOut, margin) = outcome, !holds.isEmpty else { return outcome }
        return .open(reason: reason + "; GLPK's MILP found no counterexample for clause\(holds.count > 1 ? "s" : "") "
                     + holds.map(String.init).joined(separator: ", ") + " (not certified)", timedOut: timedOut, margin: margin)
    }

    /// Evaluates the minimising corners of some rows' linear bounds as candidate counterexamples.
    func confirmCorners(_ inputCoefficients: [Double], rows: Int, lower: [Double], upper: [Double], candidateRows: [Int],
                        region: Int, clauseOfRow: (Int) -> Int, boxOfRow: (Int) -> Int = { _ in 0 }) -> Counterexample? {
        guard !candidateRows.isEmpty, !inputCoefficients.isEmpty else { return nil }
        let n = graph.values[graph.input].count
        var byClause = [Int: [[Double]]]()
        for row in candidateRows {
            let b = boxOfRow(row)
            var x = [Double](repeating: 0, count: n)
            for i in 0..<n { x[i] = inputCoefficients[i * rows + row] >= 0 ? lower[b * n + i] : upper[b * n + i] }
            byClause[clauseOfRow(row), default: []].append(x)
        }
        for (clause, candidates) in byClause.sorted(by: { $0.key < $1.key }) {
            if let found = attack.confirm(candidates: candidates, region: region, clause: clause) { return found }
        }
        return nil
    }
}

/// The producer string written into certificates.
public enum Evident {
    public static let producer = "evident 0.5"
}

// MARK: - Proof trees

/// The neurons whose slopes a tree's refutations set: every neuron unstable under the root's
/// intermediate bounds (a subdomain's unstable neurons are among them). EVA's bound claims
/// use it the same way, with the full box's bounds.
public struct SlopeLayout {
    var layers: [(relu: ValueID, pre: ValueID, name: String, neurons: [Int])]
    public var count: Int { layers.reduce(0) { $0 + $1.neurons.count } }

    public init(graph: Graph, bounds: [IntervalBounds?]) {
        layers = []
        for node in graph.nodes where node.operation == .relu {
            guard let b = bounds[node.inputs[0]] else { continue }
            let neurons = (0..<graph.values[node.inputs[0]].count).filter { b.lower[$0] < 0 && b.upper[$0] > 0 }
            if !neurons.isEmpty { layers.append((node.output, node.inputs[0], graph.values[node.output].name, neurons)) }
        }
    }

    public var slopeLayers: [SlopeLayer] { layers.map { SlopeLayer(relu: $0.name, neurons: $0.neurons.map(UInt32.init)) } }

    /// One row's slope bytes over the listed neurons, or `nil` when every one is the default
    /// slope under `defaults` (box 0: `1` where `u > −l`, else `0`), so the refutation needs none.
    public func bytes(_ all: [ValueID: [UInt8]], rows: Int, column: Int, defaults: [IntervalBounds?]) -> [UInt8]? {
        var out = [UInt8]()
        out.reserveCapacity(count)
        var allDefault = true
        for layer in layers {
            let values = all[layer.relu]
            let bounds = defaults[layer.pre]
            for j in layer.neurons {
                let fallback: UInt8 = (bounds.map { $0.upper[j] > -$0.lower[j] } ?? false) ? 255 : 0
                let q = values?[j * rows + column] ?? fallback
                out.append(q)
                if q != fallback { allDefault = false }
            }
        }
        return allDefault ? nil : out
    }

    /// One row's continuous slopes over the listed neurons.
    func compact(_ all: [ValueID: [Double]], rows: Int, column: Int) -> [Float] {
        var out = [Float]()
        out.reserveCapacity(count)
        for layer in layers {
            let values = all[layer.relu]
            for j in layer.neurons { out.append(Float(values?[j * rows + column] ?? 0)) }
        }
        return out
    }

    /// Full slope matrices (`size × rows`) from one compact vector per row (zeros elsewhere:
    /// those neurons are stable in every subdomain, where slopes are ignored).
    func expand(_ compacts: [[Float]], graph: Graph) -> [ValueID: [Double]] {
        let rows = compacts.count
        var result = [ValueID: [Double]]()
        var offset = 0
        for layer in layers {
            var a = [Double](repeating: 0, count: graph.values[layer.relu].count * rows)
            for (k, j) in layer.neurons.enumerated() {
                for r in 0..<rows where !compacts[r].isEmpty { a[j * rows + r] = Double(compacts[r][offset + k]) }
            }
            result[layer.relu] = a
            offset += layer.neurons.count
        }
        return result
    }
}

/// Builds one proof tree node by node.
struct TreeBuilder {
    let layout: SlopeLayout
    var nodes: [ProofNode] = []

    init(layout: SlopeLayout) { self.layout = layout }

    mutating func addNode(refresh: Bool) -> Int {
        nodes.append(ProofNode(refresh: refresh))
        return nodes.count - 1
    }

    /// Splits `parent`; returns the low and high children.
    mutating func branch(_ parent: Int, _ split: Split, refresh: Bool) -> (low: Int, high: Int) {
        let low = addNode(refresh: refresh), high = addNode(refresh: refresh)
        nodes[parent].branch = Branch(split: split, low: UInt32(low), high: UInt32(high))
        return (low, high)
    }

    func build() -> ProofTree { ProofTree(slopeLayers: layout.slopeLayers, nodes: nodes) }
}
