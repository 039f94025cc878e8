// The certificate checker: the trusted kernel (Docs/certificates.md; Docs/Soundness.md,
// "The checker"). It imports nothing from the modules that search for proofs.
import Foundation
import EvidentIR
import EvidentONNX
import EvidentNNet
import EvidentVNNLib
import EvidentCertificate

/// Counts of what a check did.
public struct CheckStatistics: Sendable, Equatable {
    /// Tree nodes visited (all trees of all regions).
    public var nodes = 0
    /// Of which leaves.
    public var leaves = 0
    /// Refutations and bound claims recomputed (backward passes or LP bounds).
    public var refutations = 0
    /// Tightenings checked.
    public var tightenings = 0
    /// Intermediate-bound computations (roots, refreshed nodes, bound-claim boxes).
    public var boundComputations = 0
    /// CROWN rows of those computations.
    public var crownRows = 0
    /// Wall-clock time of the check (after loading), in seconds.
    public var seconds = 0.0

    public init() {}
}

/// The outcome of checking one certificate.
public struct CheckReport: Sendable {
    /// Whether the certificate proves its claim.
    public var valid: Bool
    /// For an invalid certificate, what failed: which tree, node, refutation or bound, and
    /// by how much.
    public var reason: String?
    /// The claim: `unsat`, `sat` or `bounds`.
    public var claim: String
    public var statistics: CheckStatistics

    public init(valid: Bool, reason: String?, claim: String, statistics: CheckStatistics) {
        self.valid = valid
        self.reason = reason
        self.claim = claim
        self.statistics = statistics
    }
}

/// Inputs the checker cannot read (an invalid certificate is a ``CheckReport``, not an error).
public enum CheckerError: Error, LocalizedError, Equatable {
    case unreadable(file: String, reason: String)
    case unknownModelType(file: String)
    case hiddenTensorsNeedONNX(file: String)
    case missingProperty(certificate: String)

    public var errorDescription: String? {
        switch self {
        case let .unreadable(file, reason): "\(file): cannot be read (\(reason))"
        case let .unknownModelType(file): "\(file): unknown model type (expected .onnx or .nnet, optionally .gz)"
        case let .hiddenTensorsNeedONNX(file): "\(file): the query declares hidden tensors of this network, which only ONNX models name"
        case let .missingProperty(certificate):
            "\(certificate): the certificate binds no property file and none was given (use --property)"
        }
    }
}

/// What ``Checker/certifiedBounds(_:network:)`` recomputed.
public struct CertifiedBounds: Sendable {
    /// One sound bound per claim, in claim order (empty on failure).
    public var values: [Double]
    /// Why the claims could not be evaluated, or `nil`.
    public var reason: String?
    public var statistics: CheckStatistics
}

/// The independent checker of Evident's certificates.
public enum Checker {
    /// Checks a certificate file. The model and property are the files given, else the paths
    /// the certificate records (relative to the certificate's folder unless absolute). Each
    /// file's SHA-256 (of its decompressed contents) must match the certificate's binding.
    ///
    /// - Throws: ``CheckerError`` or the loaders' errors when a file cannot be read or parsed
    ///   (an unreadable certificate included); a certificate that does not prove its claim is
    ///   a report with `valid == false`.
    public static func check(certificatePath: String, modelPath: String? = nil, propertyPath: String? = nil,
                             networkPaths: [String: String] = [:],
                             progress: ((String) -> Void)? = nil) throws -> CheckReport {
        let certificate = try Certificate(path: certificatePath)
        let folder = (certificatePath as NSString).deletingLastPathComponent
        func resolve(_ recorded: String) -> String {
            if recorded.hasPrefix("/") || folder.isEmpty { return recorded }
            return (folder as NSString).appendingPathComponent(recorded)
        }
        var report: CheckReport
        // The files checked against, to name them in a stale-file reason.
        var modelFile: String?
        var given: [String: String] = [:]
        if !certificate.networks.isEmpty {
            // A VNN-LIB 2.0 query: its models, composed as the query lays them out.
            guard let binding = certificate.property else { throw CheckerError.missingProperty(certificate: certificatePath) }
            let queryPath = propertyPath ?? resolve(binding.path)
            let propertyDigest = try ContentDigest.of(path: queryPath)
            guard case .query(let query) = try VNNLibParser.parseDocument(path: queryPath) else {
                return CheckReport(valid: false, reason: "the certificate binds the networks of a VNN-LIB 2.0 query but \(queryPath) is a 1.0 property",
                                   claim: certificate.claim.kind, statistics: CheckStatistics())
            }
            for network in certificate.networks { given[network.name] = networkPaths[network.name] ?? resolve(network.file.path) }
            if let modelPath, let first = certificate.networks.first { given[first.name] = modelPath }
            let (bound, digests) = try bindQuery(query, modelPaths: given)
            report = check(certificate, network: bound.network, modelDigest: digests[certificate.networks[0].name]!,
                           property: bound.property, propertyDigest: propertyDigest, networkDigests: digests, progress: progress)
        } else {
            let model = modelPath ?? resolve(certificate.model.path)
            modelFile = model
            let modelDigest = try ContentDigest.of(path: model)
            let network = try loadNetwork(path: model)
            var property: Property? = nil
            var propertyDigest: [UInt8]? = nil
            if let path = propertyPath ?? certificate.property.map({ resolve($0.path) }) {
                propertyDigest = try ContentDigest.of(path: path)
                property = try VNNLibParser.parse(path: path)
            } else if certificate.claim.kind != "bounds" {
                throw CheckerError.missingProperty(certificate: certificatePath)
            }
            report = check(certificate, network: network, modelDigest: modelDigest, property: property,
                           propertyDigest: propertyDigest, progress: progress)
        }
        if !report.valid, let reason = report.reason, reason.hasPrefix("stale") {
            var text = reason.replacingOccurrences(of: "the property file", with: propertyPath ?? certificate.property?.path ?? "")
            if let modelFile { text = text.replacingOccurrences(of: "the model file", with: modelFile) }
            for (name, path) in given {
                text = text.replacingOccurrences(of: "the model file of network '\(name)'", with: path)
            }
            report.reason = text
        }
        return report
    }

    /// Loads the models of a VNN-LIB 2.0 query (`modelPaths`: declared name → file, one per
    /// ``VNNLibQuery/modelNetworkNames``), each with the query's hidden tensors as extra
    /// outputs, and binds the query to them (``VNNLibQuery/bind(models:)``). Returns the
    /// bound query and the SHA-256 of each model file by declared name.
    ///
    /// - Throws: ``VNNLibError`` for a query that does not fit its models, the loaders'
    ///   errors for unreadable models.
    public static func bindQuery(_ query: VNNLibQuery, modelPaths: [String: String]) throws
        -> (bound: BoundQuery, digests: [String: [UInt8]]) {
        try query.checkNetworkArguments(Array(modelPaths.keys))
        var models: [String: Network] = [:]
        var digests: [String: [UInt8]] = [:]
        for name in query.modelNetworkNames {
            let path = modelPaths[name]!
            digests[name] = try ContentDigest.of(path: path)
            models[name] = try loadNetwork(path: path, hiddenOutputs: query.hiddenTensorNames(ofModel: name))
        }
        return (try query.bind(models: models), digests)
    }

    /// Loads a network by extension (`.onnx`, `.nnet`, each optionally `.gz`).
    static func loadNetwork(path: String, hiddenOutputs: [String] = []) throws -> Network {
        var name = (path as NSString).lastPathComponent.lowercased()
        if name.hasSuffix(".gz") { name.removeLast(3) }
        if name.hasSuffix(".onnx") { return try ONNXLoader.load(path: path, hiddenOutputs: hiddenOutputs) }
        if name.hasSuffix(".nnet") {
            guard hiddenOutputs.isEmpty else { throw CheckerError.hiddenTensorsNeedONNX(file: path) }
            return try NNetLoader.load(path: path).network
        }
        throw CheckerError.unknownModelType(file: path)
    }

    /// Checks a certificate against a network and property already in memory, given the
    /// digests of the files they came from (the verifier calls this before it prints a
    /// verdict). Never throws: every problem is a reason in the report.
    /// For a 2.0 query's certificate, `network` is the composed network and
    /// `networkDigests` the digest of each model file by declared name.
    public static func check(_ certificate: Certificate, network: Network, modelDigest: [UInt8], property: Property?,
                             propertyDigest: [UInt8]?, networkDigests: [String: [UInt8]] = [:],
                             progress: ((String) -> Void)?) -> CheckReport {
        let start = Date()
        var statistics = CheckStatistics()
        func report(_ failure: CheckFailure?) -> CheckReport {
            statistics.seconds = Date().timeIntervalSince(start)
            return CheckReport(valid: failure == nil, reason: failure?.message, claim: certificate.claim.kind,
                               statistics: statistics)
        }
        guard certificate.model.sha256 == modelDigest else {
            return report(CheckFailure("stale model: the model file has SHA-256 \(hex(modelDigest)), the certificate binds "
                                       + "\(certificate.model.hexDigest) (\(certificate.model.path))"))
        }
        for binding in certificate.networks {
            guard let digest = networkDigests[binding.name] else {
                return report(CheckFailure("the certificate binds network '\(binding.name)' (\(binding.file.path)) but no model was given for it"))
            }
            guard digest == binding.file.sha256 else {
                return report(CheckFailure("stale model: the model file of network '\(binding.name)' has SHA-256 \(hex(digest)), "
                                           + "the certificate binds \(binding.file.hexDigest) (\(binding.file.path))"))
            }
        }
        if let binding = certificate.property {
            guard let propertyDigest, property != nil else {
                return report(CheckFailure("the certificate binds a property (\(binding.path)) but none was given"))
            }
            guard binding.sha256 == propertyDigest else {
                return report(CheckFailure("stale property: the property file has SHA-256 \(hex(propertyDigest)), the "
                                           + "certificate binds \(binding.hexDigest) (\(binding.path))"))
            }
        } else if certificate.claim.kind != "bounds" {
            return report(CheckFailure("an \(certificate.claim.kind) certificate must bind a property file"))
        }
        let model: CheckerModel
        switch checkerModel(network) {
        case .failure(let failure): return report(failure)
        case .success(let m): model = m
        }
        if let property {
            guard property.inputCount == model.inputSize, property.outputCount <= model.outputSize else {
                return report(CheckFailure("the property declares \(property.inputCount) inputs and \(property.outputCount) "
                                           + "outputs; the network has \(model.inputSize) and \(model.outputSize)"))
            }
            for (r, region) in property.regions.enumerated() {
                for clause in region.clauses {
                    for constraint in clause.constraints where constraint.terms.contains(where: {
                        $0.output < 0 || $0.output >= model.outputSize || !$0.coefficient.isFinite
                    }) {
                        _ = constraint
                        return report(CheckFailure("region \(r) has a constraint on an output the network lacks, or a "
                                                   + "non-finite coefficient"))
                    }
                }
            }
        }
        switch certificate.claim {
        case .unsat(let proof):
            guard let property else { return report(CheckFailure("an unsat certificate needs a property")) }
            var checker = UnsatProofCheck(model: model, property: property, statistics: statistics, progress: progress)
            let failure = checker.check(proof)
            statistics = checker.statistics
            statistics.boundComputations += checker.work.computations
            statistics.crownRows += checker.work.crownRows
            return report(failure)
        case .sat(let witness):
            guard let property else { return report(CheckFailure("a sat certificate needs a property")) }
            return report(ClaimChecks.checkWitness(witness, model: model, property: property))
        case .bounds(let claims):
            var work = NodeBounds.Work()
            let failure = ClaimChecks.checkBoundClaims(claims, model: model, statistics: &statistics, work: &work)
            statistics.boundComputations += work.computations
            statistics.crownRows += work.crownRows
            return report(failure)
        }
    }

    /// The bounds that bound claims' parameters justify, recomputed soundly (each claim's
    /// `value` is ignored): per claim, a lower bound of `c · y` over its region (`atLeast`)
    /// or an upper bound (`atMost`), valid in real arithmetic. A producer of bound claims
    /// (EVA) states these numbers as its values, so its certificate holds by construction
    /// and its output is what a later `evident check` recomputes. `reason` is set, and
    /// `values` empty, when the claims are malformed or a bound is unusable.
    public static func certifiedBounds(_ claims: BoundClaims, network: Network) -> CertifiedBounds {
        let start = Date()
        var statistics = CheckStatistics()
        func result(_ values: [Double], _ reason: String?) -> CertifiedBounds {
            statistics.seconds = Date().timeIntervalSince(start)
            return CertifiedBounds(values: values, reason: reason, statistics: statistics)
        }
        let model: CheckerModel
        switch checkerModel(network) {
        case .failure(let failure): return result([], failure.message)
        case .success(let m): model = m
        }
        var work = NodeBounds.Work()
        let outcome = ClaimChecks.boundClaimValues(claims, model: model, statistics: &statistics, work: &work)
        statistics.boundComputations += work.computations
        statistics.crownRows += work.crownRows
        switch outcome {
        case .success(let values): return result(values, nil)
        case .failure(let failure): return result([], failure.message)
        }
    }

    /// The checker's view of a network, or why it does not support it.
    static func checkerModel(_ network: Network) -> Result<CheckerModel, CheckFailure> {
        do { return .success(try CheckerModel(network: network)) } catch let problem as ModelProblem {
            return .failure(CheckFailure("the network is not supported by the checker: \(problem.message)"))
        } catch {
            return .failure(CheckFailure("the network is not supported by the checker: \(error)"))
        }
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}
