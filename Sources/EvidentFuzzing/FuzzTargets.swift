import Foundation
import EvidentBounds
import EvidentCertificate
import EvidentChecker
import EvidentEval
import EvidentIO
import EvidentIR
import EvidentNNet
import EvidentONNX
import EvidentVNNLib

/// The readers that take untrusted files, as fuzz targets.
///
/// `run` feeds one input to a reader and, when the reader accepts it, what comes next for a
/// user: a loaded network is evaluated and bounded (IBP and CROWN) on a small box, with a
/// containment check of the evaluated points; a decoded certificate goes through the checker
/// against the shipped network; a VNN-LIB 2.0 query gives the names and layout the CLI reads
/// from it, and converts to 1.0 and back when it can (see ``exercise(_:text:)``). Errors thrown are the expected outcome for most inputs; a
/// crash, a hang, a sanitizer report or a failed containment is a bug.
///
/// `scripts/fuzz.sh` drives these under libFuzzer (`evident-fuzz`), and the regression tests
/// replay every input that once failed.
public enum FuzzTarget: String, CaseIterable, Sendable {
    case onnx, nnet, vnnlib, vnnlib2, png, certificate

    /// Runs one input; true when the reader accepted it.
    @discardableResult
    public func run(_ bytes: [UInt8]) -> Bool {
        switch self {
        case .onnx:
            guard let network = try? ONNXLoader.load(data: Data(bytes), source: "fuzz.onnx") else { return false }
            Self.exercise(network.graph)
        case .nnet:
            let text = String(decoding: bytes, as: UTF8.self)
            guard let loaded = try? NNetLoader.load(text: text, source: "fuzz.nnet") else { return false }
            Self.exercise(loaded.network.graph)
        case .vnnlib:
            // The smallest budget the CLI uses (`--max-memory` below 128 MiB), so that each
            // input stays fast in the instrumented build.
            guard (try? VNNLibParser.parse(text: String(decoding: bytes, as: UTF8.self), source: "fuzz.vnnlib",
                                           memoryBudget: VNNLibParser.minimumMemoryBudget)) != nil else {
                return false
            }
        case .vnnlib2:
            let text = String(decoding: bytes, as: UTF8.self)
            guard let document = try? VNNLibParser.parseDocument(text: text, source: "fuzz.vnnlib",
                                                                 memoryBudget: VNNLibParser.minimumMemoryBudget) else {
                return false
            }
            switch document {
            case .query(let query): Self.exercise(query, text: text)
            case .property(let property): Self.exercise(property, text: text)
            }
        case .png:
            guard (try? PNGImage.decode(bytes, path: "fuzz.png", maxSamples: 1 << 22)) != nil else { return false }
        case .certificate:
            guard let certificate = try? Certificate(decoding: bytes, source: "fuzz.proof") else { return false }
            // The digests are taken from the certificate so that the checker's structural
            // checks, not the file binding, decide.
            _ = Checker.check(certificate, network: Self.shipped.network, modelDigest: certificate.model.sha256,
                              property: Self.shipped.property, propertyDigest: certificate.property?.sha256, progress: nil)
        }
        return true
    }

    /// Networks larger than this (values' elements in total) are loaded but not bounded,
    /// so each input stays fast.
    static let exerciseLimit = 1 << 16

    /// Evaluates and bounds `graph` on the box [-1, 1]ⁿ and checks that the evaluated points
    /// lie in the bounds.
    ///
    /// Both the evaluation and the engine round to nearest (the engine is sound in real
    /// arithmetic; the checker is what charges rounding), so a miss counts only beyond the
    /// rounding either can make. A sum of terms of size T that cancels is off by about
    /// 1e-16·T, and every later weight multiplies that error: with mutated weights (a fuzzed
    /// network had 4e23 and then 4e37) a bound pre-activation of 505 computed from terms of
    /// 1e24 rounds to below 0, the ReLU is taken as dead, and the 4e37 weight after it turns
    /// the lost 505 into 2e40. So the containment check runs only on well-scaled networks,
    /// every constant (and reciprocal divisor) at most 1e4 in magnitude; the others are still
    /// evaluated and bounded, for crashes. The slack grows with the largest IBP magnitude of
    /// any value (which bounds the terms summed into it), times the number of nodes.
    static func exercise(_ graph: Graph) {
        let elements = graph.values.reduce(0) { $0 + $1.count }
        guard elements <= exerciseLimit, graph.values[graph.output].count <= 64 else { return }
        let n = graph.values[graph.input].count
        let lower = [Double](repeating: -1, count: n), upper = [Double](repeating: 1, count: n)
        let evaluator = Evaluator(graph: graph)
        var points = [[Double]]()
        for corner in [0.0, 1, -1, 0.5] {
            if let y = try? evaluator.evaluate([Double](repeating: corner, count: n)) { points.append(y) }
        }
        let propagator = BoundPropagator(graph: graph)
        let checked = graph.nodes.allSatisfy { largestConstant($0.operation) <= 1e4 }
        let termScale = propagator.intervalBounds(lower: lower, upper: upper, batch: 1).compactMap { $0 }
            .map { bounds in zip(bounds.lower, bounds.upper).reduce(0.0) { max($0, abs($1.0), abs($1.1)) } }
            .reduce(0.0) { max($0, $1) }
        guard termScale.isFinite else { return }
        let roundingSlack = 1e-12 * Double(graph.nodes.count + 1) * termScale
        let m = graph.values[graph.output].count
        let spec = LinearSpecification.identity(outputs: m)
        let negated = spec.negated
        for method in [BoundMethod.ibp, .crown] {
            var options = BoundOptions()
            options.method = method
            let low = propagator.bounds(of: spec, lower: lower, upper: upper, batch: 1, options: options).lower
            let high = propagator.bounds(of: negated, lower: lower, upper: upper, batch: 1, options: options).lower.map { -$0 }
            for y in points where checked {
                for i in 0..<m where y[i].isFinite && low[i].isFinite && high[i].isFinite {
                    let slack = 1e-9 * (1 + abs(y[i]) + abs(low[i]) + abs(high[i])) + roundingSlack
                    if y[i] < low[i] - slack || y[i] > high[i] + slack {
                        fatalError("\(method) bound [\(low[i]), \(high[i])] misses the evaluated output \(y[i]) at \(i)")
                    }
                }
            }
        }
    }

    /// Queries and properties with more declared elements than this are parsed and their
    /// layout checked, but not converted (a conversion writes a line per element).
    static let conversionLimit = 1 << 12

    /// What the CLI reads from a parsed 2.0 query, with the parser's layout invariants:
    /// every tensor's first and last element name and its lookup by name, the declared-input
    /// slots of both ends, the networks that need a model (`evident verify --network`), their
    /// hidden tensors and the check of exactly those `--network` names; the composed input and
    /// output counts against ``VNNLibQuery/inputClasses``, ``VNNLibQuery/passthrough`` and the
    /// regions. A small plain query (``VNNLibQuery/isPlainProperty``) without `!=` converts to
    /// 1.0 (`evident vnnlib convert`), and the 1.0 text must give the same box and clauses.
    static func exercise(_ query: VNNLibQuery, text: String) {
        func fail(_ message: String) -> Never { fatalError("vnnlib2: \(message)") }
        var elements = 0
        for network in query.networks {
            for tensor in network.tensors {
                guard tensor.elementCount >= 1 else { fail("\(tensor.name) has no element") }
                elements += tensor.elementCount
                for flat in Set([0, tensor.elementCount - 1]) { _ = tensor.elementName(flat) }
                _ = tensor.shapeText
                guard query.tensor(named: tensor.name)?.tensor == tensor else { fail("\(tensor.name) is not found by its name") }
            }
        }
        let inputElements = query.networks.flatMap(\.inputs).reduce(0) { $0 + $1.elementCount }
        guard query.declaredInputCount == inputElements, query.declaredInputCount >= 1 else {
            fail("\(query.declaredInputCount) declared-input slots for \(inputElements) declared input elements")
        }
        let property = query.property
        guard query.inputClasses.allSatisfy({ $0 >= 0 && $0 < property.inputCount }),
              query.inputClasses.max() == property.inputCount - 1,
              query.passthrough.allSatisfy({ $0 >= 0 && $0 < property.inputCount }),
              property.outputCount == query.declaredOutputCount + query.passthrough.count,
              property.regions.allSatisfy({ $0.lower.count == property.inputCount && $0.upper.count == property.inputCount })
        else { fail("the composed layout is inconsistent (\(property.inputCount) inputs, \(property.outputCount) outputs)") }
        for region in property.regions {
            for clause in region.clauses {
                for constraint in clause.constraints where constraint.terms.contains(where: { $0.output < 0 || $0.output >= property.outputCount }) {
                    fail("a constraint names an output outside 0..<\(property.outputCount)")
                }
            }
        }
        let models = query.modelNetworkNames
        guard !models.isEmpty else { fail("no network needs a model") }
        for network in query.networks where !models.contains(query.modelOwner(of: network.name)) {
            fail("network \(network.name) takes its model from \(query.modelOwner(of: network.name)), which needs none")
        }
        for name in models { _ = query.hiddenTensorNames(ofModel: name) }
        do {
            try query.checkNetworkArguments(models)
        } catch {
            fail("the networks that need a model are refused as --network names: \(error)")
        }

        guard query.isPlainProperty, elements <= conversionLimit else { return }
        let converted: String
        do {
            converted = try VNNLibConversion.versionOne(of: text, source: "fuzz.vnnlib")
        } catch VNNLibError.unsupportedConstraint(let reason, _) where reason.contains("!=") {
            return
        } catch {
            fail("a plain query does not convert to 1.0: \(error)")
        }
        do {
            let back = try VNNLibParser.parse(text: converted, source: "converted.vnnlib")
            guard sameBoxes(back, property) else { fail("its 1.0 conversion has other boxes or clauses:\n\(converted)") }
        } catch {
            fail("its 1.0 conversion does not parse: \(error)\n\(converted)")
        }
    }

    /// A 1.0 property read by the 2.0 entry point: a small one converts to a 2.0 query of one
    /// network with input `[n]` and output `[m]` (`evident vnnlib convert`), which must parse as
    /// a plain query with the same box and clauses.
    static func exercise(_ property: Property, text: String) {
        guard property.inputCount + property.outputCount <= conversionLimit, property.outputCount >= 1 else { return }
        let converted: String
        do {
            converted = try VNNLibConversion.versionTwo(of: text, source: "fuzz.vnnlib", inputShape: [property.inputCount],
                                                        outputShape: [property.outputCount])
        } catch VNNLibError.unsupportedConstraint(let reason, _) where reason.contains("without an exponent") {
            return  // a decimal longer than any double needs: refused, never rounded
        } catch {
            fatalError("vnnlib2: a parsed 1.0 property does not convert to 2.0: \(error)")
        }
        do {
            guard case .query(let query) = try VNNLibParser.parseDocument(text: converted, source: "converted.vnnlib") else {
                fatalError("vnnlib2: the 2.0 conversion reads as 1.0:\n\(converted)")
            }
            guard query.isPlainProperty, sameBoxes(query.property, property) else {
                fatalError("vnnlib2: the 2.0 conversion has other boxes or clauses:\n\(converted)")
            }
        } catch {
            fatalError("vnnlib2: the 2.0 conversion does not parse: \(error)\n\(converted)")
        }
    }

    /// Same counts, regions, outer boxes and clause counts. Inner bounds are left out: strict
    /// comparisons, which 1.0 reads as their closures and 2.0 strictly for witnesses, move them.
    static func sameBoxes(_ a: Property, _ b: Property) -> Bool {
        a.inputCount == b.inputCount && a.outputCount == b.outputCount && a.regions.count == b.regions.count
            && zip(a.regions, b.regions).allSatisfy { $0.lower == $1.lower && $0.upper == $1.upper && $0.clauses.count == $1.clauses.count }
    }

    /// The largest magnitude by which `operation` scales its operand.
    static func largestConstant(_ operation: GraphOperation) -> Double {
        let values: [Double]
        switch operation {
        case .convolution(let conv): values = conv.weight.scalars + conv.bias.scalars
        case .linear(let lin): values = lin.weight.scalars + lin.bias.scalars
        case .addConstant(let c), .multiplyConstant(let c): values = c.scalars
        case .divideConstant(let c): values = c.scalars.map { 1 / $0 }
        case .channelAffine(let scale, let shift): values = scale + shift
        default: values = []
        }
        return values.reduce(0.0) { max($0, abs($1)) }
    }

    /// The shipped network and one of its properties, which decoded certificates are checked against.
    static let shipped: (network: Network, property: Property) = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        do {
            let network = try ONNXLoader.load(path: root.appendingPathComponent("Networks/digits_resnet/digits_resnet.onnx").path)
            let property = try VNNLibParser.parse(path: root.appendingPathComponent("Specs/digits_resnet_img2_eps0.01.vnnlib").path)
            return (network, property)
        } catch {
            fatalError("fuzz setup: \(error)")
        }
    }()
}
