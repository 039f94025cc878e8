import Evident
import EvidentTestSupport
import Foundation
import Testing

/// VNN-LIB 2.0 semantics end to end in the verifier: queries over several networks, tied and
/// free inputs, hidden tensors, coupled input constraints and `!=`, on networks whose exact
/// ranges are known, each verdict checked by the certificate checker.
@Suite struct QueryVerdictTests {
    /// `y = a·x + b` on one input and one output, shapes `[1,1]`.
    static func affine(_ a: Double, _ b: Double, name: String = "affine") throws -> Network {
        var builder = GraphBuilder(inputName: "x", inputShape: [1, 1])
        let y = try builder.add(.linear(Linear(weight: Tensor(shape: [1, 1], scalars: [a]), bias: Tensor(shape: [1], scalars: [b]))),
                                inputs: [builder.inputValue], name: "fc")
        return Network(graph: try builder.build(output: y), source: name, format: "memory", sourceOperatorCounts: [:], parameterCount: 2)
    }

    /// `y = x0 + x1` on `[1,2]`.
    static func sum() throws -> Network {
        var builder = GraphBuilder(inputName: "x", inputShape: [1, 2])
        let y = try builder.add(.linear(Linear(weight: Tensor(shape: [1, 2], scalars: [1, 1]), bias: Tensor(shape: [1], scalars: [0]))),
                                inputs: [builder.inputValue], name: "fc")
        return Network(graph: try builder.build(output: y), source: "sum", format: "memory", sourceOperatorCounts: [:], parameterCount: 3)
    }

    static let binding = FileBinding(path: "memory", sha256: [UInt8](repeating: 0, count: 32))

    /// The verdict of `text` on `models`, with the checker's report of its certificate.
    func verdict(_ text: String, _ models: [String: Network], timeout: Double = 30) throws -> VerificationResult {
        guard case .query(let query) = try VNNLibParser.parseDocument(text: text, source: "q.vnnlib") else {
            throw VNNLibError.syntax(message: "not a query", location: VNNLibLocation(file: "", line: 0, column: 0))
        }
        let bound = try query.bind(models: models)
        let verifier = Verifier(network: bound.network, property: bound.property, modelBinding: Self.binding,
                                propertyBinding: Self.binding, settings: VerifierSettings(timeout: timeout))
        verifier.networkBindings = query.modelNetworkNames.map { NetworkBinding(name: $0, file: Self.binding) }
        let result = verifier.run()
        if result.verdict == .sat || result.verdict == .unsat {
            #expect(result.check?.valid == true, "the checker refused the \(result.verdict) certificate: \(result.check?.reason ?? "none")")
        }
        if result.verdict == .sat, let witness = result.counterexample {
            // Every assertion holds at the witness: the composed outputs satisfy a clause.
            #expect(bound.property.isCounterexample(input: witness.input, outputs: witness.outputs))
        }
        return result
    }

    static let twoAffine = """
        (vnnlib-version <2.0>)
        (declare-network f (declare-input A Real [1,1]) (declare-output B Real [1,1]))
        (declare-network g (declare-input C Real [1,1]) (declare-output D Real [1,1]))
        (assert (and (>= A[0,0] 0) (<= A[0,0] 1) (>= C[0,0] 0) (<= C[0,0] 1)))

        """

    /// f = 2x − 1 and g = −x on [0,1]: B ∈ [−1, 1], D ∈ [−1, 0]. "B ≥ 0.5" can happen and
    /// "D ≥ 0.5" cannot; a conjunction is sat only when both parts are, a disjunction when either is.
    @Test func independentNetworksCombineAsConjunctionAndDisjunction() throws {
        let models = ["f": try Self.affine(2, -1), "g": try Self.affine(-1, 0)]
        let cases: [(String, Verdict)] = [
            ("(assert (>= B[0,0] 0.5))\n(assert (>= D[0,0] -0.5))", .sat),
            ("(assert (>= B[0,0] 0.5))\n(assert (>= D[0,0] 0.5))", .unsat),
            ("(assert (or (>= B[0,0] 0.5) (>= D[0,0] 0.5)))", .sat),
            ("(assert (or (>= B[0,0] 1.5) (>= D[0,0] 0.5)))", .unsat),
        ]
        for (assertions, expected) in cases {
            #expect(try verdict(Self.twoAffine + assertions, models).verdict == expected, "\(assertions)")
        }
    }

    /// `equal-to`: the same model evaluated twice. With the inputs tied the outputs are equal
    /// (unsat); with free inputs they can differ (sat).
    @Test func equalToWithTiedAndFreeInputs() throws {
        let relu = try RandomNetworks.dense(seed: 5, inputs: 3, hidden: [6], outputs: 2)
        let network = Network(graph: relu, source: "relu", format: "memory", sourceOperatorCounts: [:], parameterCount: 0)
        let head = """
            (vnnlib-version <2.0>)
            (declare-network f (declare-input X Real [1,3]) (declare-output Y Real [1,2]))
            (declare-network g (equal-to f) (declare-input U Real [1,3]) (declare-output Z Real [1,2]))
            (assert (and (>= X[0,0] -1) (<= X[0,0] 1) (>= X[0,1] -1) (<= X[0,1] 1) (>= X[0,2] -1) (<= X[0,2] 1)))
            (assert (and (>= U[0,0] -1) (<= U[0,0] 1) (>= U[0,1] -1) (<= U[0,1] 1) (>= U[0,2] -1) (<= U[0,2] 1)))
            (assert (>= (- Y[0,0] Z[0,0]) 0.01))

            """
        let tied = head + "(assert (== U[0,0] X[0,0]))\n(assert (== U[0,1] X[0,1]))\n(assert (== X[0,2] U[0,2]))\n"
        #expect(try verdict(tied, ["f": network]).verdict == .unsat)
        #expect(try verdict(head, ["f": network]).verdict == .sat)
    }

    /// A constraint on a coupled input sum turns a sat query unsat: y = x0 + x1 ≥ 0.8 happens
    /// on [0,1]², but not where x0 + x1 ≤ 0.5.
    @Test func coupledInputConstraint() throws {
        let head = """
            (vnnlib-version <2.0>)
            (declare-network s (declare-input X Real [1,2]) (declare-output Y Real [1,1]))
            (assert (and (>= X[0,0] 0) (<= X[0,0] 1) (>= X[0,1] 0) (<= X[0,1] 1)))
            (assert (>= Y[0,0] 0.8))

            """
        #expect(try verdict(head, ["s": try Self.sum()]).verdict == .sat)
        let coupled = try verdict(head + "(assert (<= (+ X[0,0] X[0,1]) 0.5))", ["s": try Self.sum()])
        #expect(coupled.verdict == .unsat)
        // Inputs and outputs in one constraint: x0 ≤ y − 0.9 means x1 ≥ 0.9 here, which is possible.
        let across = try verdict(head + "(assert (<= X[0,0] (- Y[0,0] 0.9)))", ["s": try Self.sum()])
        #expect(across.verdict == .sat)
        if let witness = across.counterexample { #expect(witness.input[1] >= 0.9) }
    }

    /// `!=` is its closure for proofs (nothing to refute) and strict for witnesses: with y
    /// pinned to 0.5 by the other assertions no witness exists, so the answer is not sat;
    /// with room around 0.5 a witness away from it is found.
    @Test func notEqual() throws {
        let head = """
            (vnnlib-version <2.0>)
            (declare-network f (declare-input A Real [1,1]) (declare-output B Real [1,1]))
            (assert (and (>= A[0,0] 0) (<= A[0,0] 1)))

            """
        let models = ["f": try Self.affine(1, 0)]
        let pinned = try verdict(head + "(assert (and (>= B[0,0] 0.5) (<= B[0,0] 0.5) (!= B[0,0] 0.5)))", models, timeout: 5)
        #expect(pinned.verdict != .sat && pinned.verdict != .unsat, "\(pinned.verdict): \(pinned.reason ?? "")")
        let free = try verdict(head + "(assert (!= B[0,0] 0.5))", models)
        #expect(free.verdict == .sat)
        if let witness = free.counterexample { #expect(witness.outputs[0] != 0.5) }
    }

    /// Binding refuses models that do not fit: counts, shapes, element types, `--network` names.
    @Test func bindingErrors() throws {
        let f = try Self.affine(2, -1)
        func bindError(_ text: String, _ models: [String: Network]) -> String {
            do {
                guard case .query(let query) = try VNNLibParser.parseDocument(text: text, source: "q.vnnlib") else { return "not a query" }
                _ = try query.bind(models: models)
                return "no error"
            } catch {
                return (error as? LocalizedError)?.errorDescription ?? "\(error)"
            }
        }
        let one = "(vnnlib-version <2.0>)\n(declare-network f (declare-input A Real [1,1]) (declare-output B Real [1,1]))\n(assert (>= A[0,0] 0))\n(assert (<= A[0,0] 1))\n"
        #expect(bindError(one, [:]).contains("no model for network 'f'"))
        #expect(bindError(one, ["f": f, "g": f]).contains("--network g=… names no network of the query"))
        let shape = one.replacingOccurrences(of: "A Real [1,1]", with: "A Real [2]").replacingOccurrences(of: "A[0,0]", with: "A[0]")
            + "(assert (>= A[1] 0))\n(assert (<= A[1] 1))\n"
        #expect(bindError(shape, ["f": f]).contains("input A is declared with shape [2] but the model's tensor 'x' of affine has shape [1,1]"))
        let typed = one.replacingOccurrences(of: "A Real", with: "A float32")
        #expect(bindError(typed, ["f": f]).contains("input A is declared float32 but the model's tensor 'x' is float64"))
        let exact = one.replacingOccurrences(of: "A Real", with: "A float64")
        #expect(bindError(exact, ["f": f]).contains("does not analyse soundly; declare it Real"))
        let equal = one + "(declare-network g (equal-to f) (declare-input C Real [1,1]) (declare-output D Real [1,1]))"
        #expect(bindError(equal.replacingOccurrences(of: "(assert (<= A[0,0] 1))\n", with: ""), ["f": f]).contains("declare-network after an assertion"))
        let two = "(vnnlib-version <2.0>)\n(declare-network f (declare-input A Real [1,1]) (declare-output B Real [1,1]))\n"
            + "(declare-network g (equal-to f) (declare-input C Real [1,1]) (declare-output D Real [1,1]))\n"
            + "(assert (and (>= A[0,0] 0) (<= A[0,0] 1) (>= C[0,0] 0) (<= C[0,0] 1)))\n"
        #expect(bindError(two, ["f": f, "g": f]).contains("--network g=… is unnecessary: network 'g' is declared equal-to 'f'"))
        let outputs = one.replacingOccurrences(of: "(declare-output B Real [1,1])", with: "(declare-output B Real [1,1]) (declare-output B2 Real [1])")
        #expect(bindError(outputs, ["f": f]).contains("declares 2 outputs but its model affine has 1"))
    }
}
