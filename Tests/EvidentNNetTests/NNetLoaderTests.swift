import EvidentIR
import EvidentNNet
import EvidentTestSupport
import Foundation
import Testing

/// Path of ACAS Xu network `1_n` in `.nnet` form.
func nnetPath(_ n: Int) -> String {
    SharedBenchmarks.path("acasxu/nnet/ACASXU_experimental_v2a_1_\(n).nnet")
}

/// A plain forward pass over a graph made only of `.linear` and `.relu` nodes, in `Double`,
/// with sequential sums: a reference independent of EvidentEval.
func mlpForward(_ graph: Graph, _ input: [Double]) -> [Double] {
    var values = [[Double]](repeating: [], count: graph.values.count)
    values[graph.input] = input
    for node in graph.nodes {
        let x = values[node.inputs[0]]
        switch node.operation {
        case .linear(let linear):
            let n = linear.inFeatures
            values[node.output] = (0..<linear.outFeatures).map { row in
                var sum = linear.bias.scalars[row]
                for k in 0..<n { sum += linear.weight.scalars[row * n + k] * x[k] }
                return sum
            }
        case .relu:
            values[node.output] = x.map { Swift.max($0, 0) }
        default:
            Issue.record("unexpected operation \(node.operation.name) in an .nnet graph")
            return []
        }
    }
    return values[graph.output]
}

/// The error `body` throws, or `nil` (recording an issue) when it throws none or another type.
func nnetError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> NNetError? {
    do {
        try body()
        Issue.record("expected an NNetError, nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as NNetError {
        return error
    } catch {
        Issue.record("expected an NNetError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

// MARK: - A small hand-written file

/// 2 inputs -> 3 hidden -> 1 output, with the format's tolerated irregularities: comments,
/// missing and present trailing commas, spaces and tabs around numbers, a blank line, CRLF
/// line endings on some lines.
let tinyNNet = """
// a tiny test network
// second comment line
2,2,1,3,
2,3,1,\r
0,
-1.0, -2.0,
 1.0,  2.0 ,
0.5,0.0,10.0
2.0,4.0,0.25,

1.0,-1.0,
0.5,\t0.25
-2.0,1.0,
0.1,
-0.2,\r
0.0,
1.0,2.0,-3.0,
0.75,

"""

@Test func tinyNetworkParsesExactly() throws {
    let loaded = try NNetLoader.load(text: tinyNNet, source: "tiny.nnet")
    let network = loaded.network
    let graph = network.graph
    #expect(network.format == "nnet")
    #expect(network.source == "tiny.nnet")
    #expect(network.sourceOperatorCounts == ["Linear": 2, "Relu": 1])
    #expect(network.parameterCount == 2 * 3 + 3 + 3 * 1 + 1)
    #expect(network.inputName == "input")
    #expect(network.outputName == "output")
    #expect(graph.inputShape == [2])
    #expect(graph.outputShape == [1])
    #expect(graph.nodes.map(\.operation.name) == ["Linear", "Relu", "Linear"])
    #expect(graph.nodes.map(\.name) == ["linear_1", "relu_1", "linear_2"])
    #expect(graph.reluNeuronCount == 3)

    guard case .linear(let first) = graph.nodes[0].operation, case .linear(let last) = graph.nodes[2].operation else {
        Issue.record("expected linear layers")
        return
    }
    // Exactness is the claim: each value is the correctly rounded parse of its decimal text.
    #expect(first.weight == Tensor(shape: [3, 2], scalars: [1.0, -1.0, 0.5, 0.25, -2.0, 1.0]))
    #expect(first.bias == Tensor(shape: [3], scalars: [0.1, -0.2, 0.0]))
    #expect(last.weight == Tensor(shape: [1, 3], scalars: [1.0, 2.0, -3.0]))
    #expect(last.bias == Tensor(shape: [1], scalars: [0.75]))

    let norm = loaded.normalization
    #expect(norm.inputMinimums == [-1, -2])
    #expect(norm.inputMaximums == [1, 2])
    #expect(norm.inputMeans == [0.5, 0])
    #expect(norm.inputRanges == [2, 4])
    #expect(norm.outputMean == 10)
    #expect(norm.outputRange == 0.25)

    // x = (0.5, 1): hidden = relu(0.1 - 0.5, -0.2 + 0.25 + 0.25, 0 - 1 + 1) = (0, 0.3, 0).
    let y = mlpForward(graph, [0.5, 1])
    #expect(y.count == 1)
    #expect(abs(y[0] - (0.75 + 2 * 0.3)) < 1e-15)
}

@Test func normalizationClampsCentresAndScales() throws {
    let norm = try NNetLoader.load(text: tinyNNet, source: "tiny.nnet").normalization
    // Inside the box: (u - mean) / range. Powers of two keep these exact.
    #expect(try norm.normalize(input: [0.5, 1]) == [0, 0.25])
    // Outside the box: clamped to [min, max] first.
    #expect(try norm.normalize(input: [5, -100]) == [0.25, -0.5])
    #expect(try norm.normalize(input: [-.infinity, .infinity]) == [-0.75, 0.5])
    #expect(try norm.normalize(input: [.nan, 0])[0].isNaN)
    #expect(norm.denormalize(output: [4, -8]) == [11, 8])
    #expect(throws: NNetError.inputCountMismatch(expected: 2, found: 3)) {
        try norm.normalize(input: [0, 0, 0])
    }
    #expect(NNetError.inputCountMismatch(expected: 2, found: 3).errorDescription?.contains("2 input") == true)
}

// MARK: - The ACAS Xu networks

@Test(.enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)),
      arguments: 1...9)
func loadsACASXuNetwork(_ n: Int) throws {
    let loaded = try NNetLoader.load(path: nnetPath(n))
    let network = loaded.network
    let graph = network.graph
    #expect(network.format == "nnet")
    #expect(graph.inputShape == [5])
    #expect(graph.outputShape == [5])
    #expect(graph.reluNeuronCount == 300)
    #expect(graph.operationCounts == ["Linear": 7, "Relu": 6])
    #expect(network.sourceOperatorCounts == ["Linear": 7, "Relu": 6])
    // 5·50 + 50, five times 50·50 + 50, 50·5 + 5.
    #expect(network.parameterCount == 300 + 5 * 2550 + 255)
    let hidden = graph.nodes.filter { $0.operation == .relu }.map { graph.values[$0.output].shape }
    #expect(hidden == Array(repeating: [50], count: 6))

    let norm = loaded.normalization
    #expect(norm.inputMinimums == [0.0, -3.141593, -3.141593, 100.0, 0.0])
    #expect(norm.inputMaximums == [60760.0, 3.141593, 3.141593, 1200.0, 1200.0])
    #expect(norm.inputMeans == [19791.091, 0.0, 0.0, 650.0, 600.0])
    #expect(norm.inputRanges == [60261.0, 6.28318530718, 6.28318530718, 1100.0, 1200.0])
    #expect(norm.outputMean == 7.5188840201005975)
    #expect(norm.outputRange == 373.94992)
}

/// The VNN-COMP properties are stated in the space of the stored network: prop_1's bounds are
/// the normalised images of its physical bounds (Katz et al. 2017, property φ1).
@Test(.enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
func prop1IsStatedInTheNormalisedSpace() throws {
    let norm = try NNetLoader.load(path: nnetPath(1)).normalization
    // φ1: ρ ≥ 55947.691, v_own ≥ 1145, v_int ≤ 60; output: COC ≤ 1500.
    let x = try norm.normalize(input: [55947.691, 0, 0, 1145, 60])
    #expect(abs(x[0] - 0.6) < 1e-15)
    #expect(abs(x[3] - 0.45) < 1e-15)
    #expect(abs(x[4] - -0.45) < 1e-15)
    let rawThreshold = 3.991125645861615  // prop_1.vnnlib: (assert (>= Y_0 3.991125645861615))
    #expect(abs(norm.denormalize(output: [rawThreshold])[0] - 1500) < 1e-10)
}

/// The ONNX files store the same weights rounded to float32: every ONNX weight is exactly
/// `Float(nnetWeight)`. Checked through sums taken in the same order on both sides (so `==`
/// is the claim), against the fixture made from the ONNX files with Python.
@Test(.enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)),
      arguments: ONNXReference.entries.map(\.network))
func weightsRoundToTheONNXWeights(_ n: Int) throws {
    let graph = try NNetLoader.load(path: nnetPath(n)).network.graph
    let linears = graph.nodes.compactMap { node -> Linear? in
        if case .linear(let l) = node.operation { return l } else { return nil }
    }
    let reference = try #require(ONNXReference.entries.first { $0.network == n })
    #expect(linears.count == reference.layers.count)
    for (linear, expected) in zip(linears, reference.layers) {
        var weightSum = 0.0, biasSum = 0.0
        for w in linear.weight.scalars { weightSum += Double(Float(w)) }
        for b in linear.bias.scalars { biasSum += Double(Float(b)) }
        #expect(weightSum == expected.weightSum)
        #expect(biasSum == expected.biasSum)
    }
}

/// The stored .nnet network computes what onnxruntime computes on the ONNX file (float32
/// weights, float32 arithmetic), on seeded random points of prop_1's box and of the whole
/// normalised domain. Tolerance 1e-6 · max(1, ‖y‖∞): observed worst 1.4e-8, the sum of
/// float32 weight rounding (relative 2⁻²⁴ per weight) and float32 evaluation.
@Test(.enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)),
      arguments: ONNXReference.entries.map(\.network))
func agreesWithOnnxruntime(_ n: Int) throws {
    let graph = try NNetLoader.load(path: nnetPath(n)).network.graph
    let reference = try #require(ONNXReference.entries.first { $0.network == n })
    for sample in reference.samples {
        let y = mlpForward(graph, sample.input)
        let scale = Swift.max(1, sample.output.map(abs).max() ?? 0)
        let error = zip(y, sample.output).map { abs($0 - $1) }.max() ?? .infinity
        #expect(y.count == 5)
        #expect(error <= 1e-6 * scale, "network 1_\(n) at \(sample.input): \(y) vs \(sample.output)")
    }
}

// MARK: - Errors on corrupt variants of a real file

/// The lines of network 1_1 (620 lines: 3 comments, 7 header lines, 7 layers of weight rows and biases).
func acasLines() throws -> [String] {
    try String(contentsOfFile: nnetPath(1), encoding: .utf8).components(separatedBy: "\n").dropLast().map { $0 }
}

/// Loads `lines` joined as a file named "corrupt.nnet".
func loadCorrupt(_ lines: [String]) throws {
    _ = try NNetLoader.load(text: lines.joined(separator: "\n") + "\n", source: "corrupt.nnet")
}

@Test(.enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
func realFileLayoutIsAsExpected() throws {
    let lines = try acasLines()
    #expect(lines.count == 620)
    #expect(lines[3] == "7,5,5,50,")
    // Reformatted (no trailing commas, spaces after commas, CRLF) it loads to the same graph.
    let reformatted = lines.map { line in
        line.hasPrefix("//") ? line : line.split(separator: ",").joined(separator: ", ") + " \r"
    }
    let original = try NNetLoader.load(path: nnetPath(1))
    let variant = try NNetLoader.load(text: reformatted.joined(separator: "\n"), source: "variant.nnet")
    #expect(variant.network.graph.nodes == original.network.graph.nodes)
    #expect(variant.normalization == original.normalization)
}

@Test(.enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
func truncatedFileNamesTheMissingSection() throws {
    let lines = try acasLines()
    // Cut inside the last layer's biases: the file has 617 lines, bias 3 of layer 7 is missing.
    let cut = nnetError { try loadCorrupt(Array(lines.prefix(617))) }
    #expect(cut == .missingSection(file: "corrupt.nnet", line: 617, section: "biases of layer 7, bias 3 of 5"))
    #expect(cut?.errorDescription?.contains("corrupt.nnet:617") == true)

    // Cut after the flag line: the input minimums are missing.
    let header = nnetError { try loadCorrupt(Array(lines.prefix(6))) }
    guard case .missingSection(_, _, let section) = header else {
        Issue.record("expected missingSection, got \(String(describing: header))")
        return
    }
    #expect(section == "input minimums")

    // Nothing but comments.
    let empty = nnetError { try loadCorrupt(Array(lines.prefix(3))) }
    if case .missingSection(_, _, let section) = empty {
        #expect(section.hasPrefix("header"))
    } else {
        Issue.record("expected missingSection, got \(String(describing: empty))")
    }
}

@Test(.enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
func nonNumericTokensAreReportedWithTheirLine() throws {
    var lines = try acasLines()
    lines[14] = lines[14].replacingOccurrences(of: "e-", with: "x-")  // line 15: weights of layer 1, row 5
    let bad = nnetError { try loadCorrupt(lines) }
    guard case .nonNumericToken(let file, let line, let section, let token) = bad else {
        Issue.record("expected nonNumericToken, got \(String(describing: bad))")
        return
    }
    #expect(file == "corrupt.nnet")
    #expect(line == 15)
    #expect(section == "weights of layer 1, row 5 of 50")
    #expect(token.contains("x-"))

    for token in ["nan", "inf", "-infinity", "1.0.0", ""] {
        var variant = try acasLines()
        // Line 612, 50 tokens; an empty token at the start is not a trailing comma.
        variant[611] = ([token] + Array(repeating: "0.0", count: 49)).joined(separator: ",") + ","
        let error = nnetError { try loadCorrupt(variant) }
        #expect(error == .nonNumericToken(file: "corrupt.nnet", line: 612, section: "weights of layer 7, row 2 of 5", token: token))
    }

    var sizes = try acasLines()
    sizes[3] = "7,5,5,99999999999999999999999,"  // does not fit an Int
    #expect(nnetError { try loadCorrupt(sizes) } == .nonNumericToken(
        file: "corrupt.nnet", line: 4, section: "header (numLayers, inputSize, outputSize, maxLayerSize)",
        token: "99999999999999999999999"))
}

@Test(.enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
func rowsWithTheWrongCountOfNumbersAreReported() throws {
    var lines = try acasLines()
    lines[20] = lines[20].split(separator: ",").dropLast().joined(separator: ",") + ","  // line 21: 4 of 5 weights
    #expect(nnetError { try loadCorrupt(lines) } == .wrongCount(
        file: "corrupt.nnet", line: 21, section: "weights of layer 1, row 11 of 50", expected: 5, found: 4))

    var twoBiases = try acasLines()
    twoBiases[60] += "0.5,"  // line 61: first bias of layer 1
    #expect(nnetError { try loadCorrupt(twoBiases) } == .wrongCount(
        file: "corrupt.nnet", line: 61, section: "biases of layer 1, bias 1 of 50", expected: 1, found: 2))

    // A missing flag line shifts every section: the minimums land in the flag's place.
    var noFlag = try acasLines()
    noFlag.remove(at: 5)
    #expect(nnetError { try loadCorrupt(noFlag) } == .wrongCount(
        file: "corrupt.nnet", line: 6, section: "flag line", expected: 1, found: 5))

    var shortMeans = try acasLines()
    shortMeans[8] = "1.9791091e+04,0.0,0.0,650.0,600.0,"  // the output mean is missing
    #expect(nnetError { try loadCorrupt(shortMeans) } == .wrongCount(
        file: "corrupt.nnet", line: 9, section: "means", expected: 6, found: 5))
}

@Test(.enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
func inconsistentSizesAreReported() throws {
    func sizesError(header: String? = nil, sizes: String? = nil) throws -> NNetError? {
        var lines = try acasLines()
        if let header { lines[3] = header }
        if let sizes { lines[4] = sizes }
        return nnetError { try loadCorrupt(lines) }
    }
    let cases: [(String?, String?, Int)] = [
        ("7,6,5,50,", nil, 5),              // input size disagrees with the first layer size
        ("7,5,4,50,", nil, 5),              // output size disagrees with the last layer size
        ("7,5,5,40,", nil, 4),              // maxLayerSize below the largest layer
        ("0,5,5,50,", nil, 4),              // no layers
        ("999999999,5,5,50,", nil, 4),      // more layers than the file has characters
        ("7,5,5,50,", "5,50,50,0,50,50,50,5,", 5),                 // an empty layer
        ("7,5,5,50,", "5,50,50,99999999999,50,50,50,5,", 5),       // an absurd layer
    ]
    for (header, sizes, line) in cases {
        let error = try sizesError(header: header, sizes: sizes)
        guard case .inconsistentSizes(let file, let reported, _) = error else {
            Issue.record("\(header ?? "") \(sizes ?? ""): expected inconsistentSizes, got \(String(describing: error))")
            continue
        }
        #expect(file == "corrupt.nnet")
        #expect(reported == line, "\(header ?? "") \(sizes ?? "")")
    }
    // Wrong count of sizes for the announced layers.
    #expect(try sizesError(sizes: "5,50,50,50,50,50,5,") == .wrongCount(
        file: "corrupt.nnet", line: 5, section: "layer sizes", expected: 8, found: 7))
    // Sizes that are consistent with each other but not with the rows present.
    let shifted = try sizesError(header: "7,5,5,60,", sizes: "5,60,50,50,50,50,50,5,")
    #expect(shifted == .wrongCount(file: "corrupt.nnet", line: 61, section: "weights of layer 1, row 51 of 60", expected: 5, found: 1))
}

@Test(.enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
func invalidValuesAndTrailingTextAreReported() throws {
    var zeroRange = try acasLines()
    zeroRange[9] = "60261.0,6.28318530718,0,1100.0,1200.0,373.94992,"
    if case .invalidValue(_, let line, let detail) = nnetError({ try loadCorrupt(zeroRange) }) {
        #expect(line == 10)
        #expect(detail.contains("range 2"))
    } else {
        Issue.record("expected invalidValue for a zero range")
    }

    var crossed = try acasLines()
    crossed[6] = "0.0,-3.141593,-3.141593,1300.0,0.0,"  // minimum 1300 above maximum 1200
    if case .invalidValue(_, let line, _) = nnetError({ try loadCorrupt(crossed) }) {
        #expect(line == 8)
    } else {
        Issue.record("expected invalidValue for a minimum above its maximum")
    }

    var extra = try acasLines()
    extra += ["", "1.0,"]
    #expect(nnetError { try loadCorrupt(extra) } == .trailingContent(file: "corrupt.nnet", line: 622))

    // A comment after the header is not a comment any more.
    var lateComment = try acasLines()
    lateComment.insert("// late", at: 10)
    if case .nonNumericToken(_, let line, _, _) = nnetError({ try loadCorrupt(lateComment) }) {
        #expect(line == 11)
    } else {
        Issue.record("expected nonNumericToken for a comment inside the weights")
    }
}

@Test func unreadableFileIsReported() throws {
    let path = "/nonexistent/evident/missing.nnet"
    let error = nnetError { _ = try NNetLoader.load(path: path) }
    guard case .unreadable(let file, _) = error else {
        Issue.record("expected unreadable, got \(String(describing: error))")
        return
    }
    #expect(file == path)
    #expect(error?.errorDescription?.contains(path) == true)
}
