import EvidentIR
import EvidentONNX
import EvidentTestSupport
import Foundation
import Testing

/// `Fixtures/constant_radii.json` (made by `Fixtures/make_constant_radius_fixtures.py`): the
/// held constants of derived nodes and upper bounds of their exact rounding errors, computed
/// with high-precision decimal and exact rational arithmetic in Python.
struct ConstantRadiusFixture: Decodable {
    struct BatchNormalization: Decodable {
        var node: String
        var scale: [String]
        var shift: [String]
        var scaleError: [String]
        var shiftError: [String]
        var rounded: [[Bool]]
        /// `|β| + |μ · scale|` per channel: the shift's radius is relative to its terms (cancellation).
        var shiftMagnitude: [String]
    }

    struct Gemm: Decodable {
        var file: String
        var weightError: [String]
        var biasError: [String]
    }

    var digitsResnet: [BatchNormalization]
    var gemm: Gemm

    enum CodingKeys: String, CodingKey {
        case digitsResnet = "digits_resnet", gemm
    }

    static let shared: ConstantRadiusFixture? = {
        guard let data = FileManager.default.contents(atPath: Fixtures.path("constant_radii.json")) else { return nil }
        return try? JSONDecoder().decode(ConstantRadiusFixture.self, from: data)
    }()
}

func double(_ hex: String) -> Double { Double(bitPattern: UInt64(hex, radix: 16) ?? 0) }

let digitsResnetPath = SharedBenchmarks.repositoryRoot.appendingPathComponent("Networks/digits_resnet/digits_resnet.onnx").path

@Suite struct ConstantRadiusTests {
    /// Every BatchNormalization node of the shipped network has radii that contain the exact
    /// rounding error (Python reference), are non-zero where rounding occurred and tiny.
    @Test func digitsResnetBatchNormalizationRadii() throws {
        let fixture = try #require(ConstantRadiusFixture.shared, "constant_radii.json is missing")
        let network = try ONNXLoader.load(path: digitsResnetPath)
        let affine = network.graph.nodes.indices.filter {
            if case .channelAffine = network.graph.nodes[$0].operation { return true }
            return false
        }
        #expect(affine.count == 6)
        #expect(fixture.digitsResnet.count == 6)
        #expect(Set(network.constantRadii.keys) == Set(affine), "only the BatchNormalization nodes have radii")
        for (index, reference) in zip(affine, fixture.digitsResnet) {
            let node = network.graph.nodes[index]
            #expect(node.name == reference.node)
            guard case let .channelAffine(scale, shift) = node.operation,
                  let radius = network.constantRadii[index] else {
                Issue.record("\(node.name): no channelAffine or no radius")
                continue
            }
            #expect(radius.coefficients.count == scale.count && radius.offsets.count == shift.count)
            for c in scale.indices {
                // The held constants are the ones the reference recomputed with the same operations.
                #expect(scale[c].bitPattern == double(reference.scale[c]).bitPattern, "\(node.name) scale[\(c)]")
                #expect(shift[c].bitPattern == double(reference.shift[c]).bitPattern, "\(node.name) shift[\(c)]")
                // The exact error lies within the radius.
                #expect(double(reference.scaleError[c]) <= radius.coefficients[c], "\(node.name) scale[\(c)]")
                #expect(double(reference.shiftError[c]) <= radius.offsets[c], "\(node.name) shift[\(c)]")
                // Non-zero where the value was rounded; small (a few ulps).
                if reference.rounded[c][0] { #expect(radius.coefficients[c] > 0) }
                if reference.rounded[c][1] { #expect(radius.offsets[c] > 0) }
                #expect(radius.coefficients[c] < 1e-15 * abs(scale[c]), "\(node.name) scale[\(c)]: \(radius.coefficients[c])")
                #expect(radius.offsets[c] < 1e-15 * double(reference.shiftMagnitude[c]), "\(node.name) shift[\(c)]: \(radius.offsets[c])")
            }
        }
        // At least most channels were rounded (the reference says so), so the radii are not vacuous.
        let rounded = fixture.digitsResnet.flatMap(\.rounded).filter { $0[0] }.count
        #expect(rounded > 40)
    }

    /// The BatchNormalization fixtures of the operator tests (float32 parameters, an explicit
    /// and the default epsilon) get radii of a few ulps for every channel.
    @Test(arguments: ["batchnorm_opset13.onnx", "batchnorm_opset7_default_epsilon.onnx"])
    func operatorFixtureRadiiArePresentAndSmall(_ file: String) throws {
        let network = try ONNXLoader.load(path: Fixtures.path(file))
        let nodes = network.graph.nodes.indices.filter {
            if case .channelAffine = network.graph.nodes[$0].operation { return true }
            return false
        }
        #expect(nodes.count == 1)
        for index in nodes {
            guard case let .channelAffine(scale, shift) = network.graph.nodes[index].operation,
                  let radius = network.constantRadii[index] else {
                Issue.record("\(file): no radius")
                continue
            }
            for c in scale.indices {
                // A held value is within a few ulps of the exact one.
                #expect(radius.coefficients[c] <= 4 * scale[c].ulp, "\(file) scale[\(c)]")
                #expect(radius.offsets[c] >= 0 && radius.offsets[c].isFinite)
                #expect(radius.offsets[c] <= 8 * Swift.max(shift[c].ulp, (abs(shift[c]) + 10 * abs(scale[c])).ulp), "\(file) shift[\(c)]")
            }
        }
    }

    /// DOUBLE Gemm with alpha = 0.3f, beta = 0.7f: the products are inexact; the radii of the
    /// linear node contain the exact errors (Python fractions) and are at most half an ulp.
    @Test func gemmAlphaBetaRadii() throws {
        let fixture = try #require(ConstantRadiusFixture.shared, "constant_radii.json is missing")
        let network = try ONNXLoader.load(path: Fixtures.path(fixture.gemm.file))
        let index = try #require(network.graph.nodes.firstIndex {
            if case .linear = $0.operation { return true }
            return false
        })
        guard case let .linear(linear) = network.graph.nodes[index].operation else { return }
        let radius = try #require(network.constantRadii[index])
        #expect(radius.coefficients.count == linear.weight.scalars.count && radius.offsets.count == linear.outFeatures)
        for (k, error) in fixture.gemm.weightError.enumerated() {
            #expect(double(error) <= radius.coefficients[k], "weight \(k)")
            #expect(radius.coefficients[k] <= linear.weight.scalars[k].ulp, "weight \(k)")
        }
        for (n, error) in fixture.gemm.biasError.enumerated() {
            #expect(double(error) <= radius.offsets[n], "bias \(n)")
            #expect(radius.offsets[n] <= linear.bias.scalars[n].ulp, "bias \(n)")
        }
        #expect(radius.coefficients.contains { $0 > 0 } && radius.offsets.contains { $0 > 0 })
    }

    /// beta · C added as a full constant cannot carry a radius: an inexact product is rejected.
    @Test func inexactFullCIsRejected() throws {
        let path = Fixtures.path("gemm_double_full_C_inexact_beta.onnx")
        let error = #expect(throws: ONNXError.self) { try ONNXLoader.load(path: path) }
        #expect(error?.localizedDescription.contains("beta") == true)
        #expect(error?.localizedDescription.contains(path) == true)
    }

    /// Float32 Gemm fixtures with alpha/beta other than 1: products of two float32 values are
    /// exact in Double, so the recorded radii are all zero; with alpha = beta = 1 none are recorded.
    @Test(arguments: ["gemm_transA_alpha_beta.onnx", "gemm_constant_A.onnx", "gemm_transB_bias.onnx", "gemm_no_C.onnx"])
    func float32GemmRadiiAreZero(_ file: String) throws {
        let network = try ONNXLoader.load(path: Fixtures.path(file))
        for radius in network.constantRadii.values {
            #expect(radius.coefficients.allSatisfy { $0 == 0 } && radius.offsets.allSatisfy { $0 == 0 }, "\(file)")
        }
        if file == "gemm_transB_bias.onnx" || file == "gemm_no_C.onnx" { #expect(network.constantRadii.isEmpty) }
        if file == "gemm_transA_alpha_beta.onnx" { #expect(network.constantRadii.count == 1) }
    }
}
