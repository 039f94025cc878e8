import EvidentIO
import EvidentIR
import Foundation

/// Reads networks in the `.nnet` text format (Kyle Julian, Stanford 2016), the format in
/// which the ACAS Xu networks are distributed.
///
/// ## The format
/// ```
/// // any number of comment lines at the top
/// numLayers, inputSize, outputSize, maxLayerSize,
/// size_0, size_1, ..., size_numLayers,          (size_0 = inputSize, last = outputSize)
/// flag,                                          (unused; historically "symmetric", always 0)
/// min_0, ..., min_{inputSize-1},                 (input minimums, raw units)
/// max_0, ..., max_{inputSize-1},                 (input maximums, raw units)
/// mean_0, ..., mean_{inputSize-1}, outputMean,
/// range_0, ..., range_{inputSize-1}, outputRange,
/// then for each layer k = 1 ... numLayers:
///   size_k rows of size_{k-1} weights (row n holds the weights into neuron n),
///   size_k lines of one bias each.
/// ```
/// Numbers are comma separated; trailing commas, surrounding whitespace, blank lines and
/// Windows line endings are tolerated. Every other deviation (a non-numeric or non-finite
/// token, a row with the wrong count of numbers, sizes that disagree, a section missing at
/// the end of the file, text after the last bias) throws an ``NNetError`` naming the file
/// and the 1-based line.
///
/// ## Which function the graph computes
/// The loaded ``NNetNetwork/network`` is the network *as stored*: its input is the
/// **normalised** input and its output is the **raw (not denormalised)** output:
///
///     graph(x) = W_L · relu(… relu(W_1 · x + b_1) …) + b_L
///
/// This is exactly what the VNN-COMP ACAS Xu ONNX files (`ACASXU_run2a_*_batch_2000.onnx`)
/// compute, and the VNN-LIB properties of VNN-COMP are written in that space (prop_1's
/// `X_0 >= 0.6` is (55947.691 − 19791.091) / 60261, its `Y_0 >= 3.9911…` is
/// (1500 − 7.5188…) / 373.94992). To evaluate the network on a physical input `u`, apply
/// ``NNetNormalization/normalize(input:)`` first and ``NNetNormalization/denormalize(output:)``
/// to the result. The normalisation is kept beside the graph rather than folded into it so
/// that properties and bounds stay in the space the benchmarks use, and because the input
/// clamp is not affine.
///
/// ## Shapes and names
/// The graph input is named `"input"` with shape `[inputSize]` and the output `"output"` with
/// shape `[outputSize]` (no batch axis; evaluators add their own). Layer `k` becomes a
/// ``GraphOperation/linear(_:)`` node `"linear_k"` with weight shape `[size_k, size_{k-1}]`,
/// followed by a ``GraphOperation/relu`` node `"relu_k"` for every layer except the last.
///
/// ## Numbers
/// Every weight is parsed from its decimal text into the nearest `Double` (correctly
/// rounded). The ACAS Xu ONNX files hold the same decimals rounded to `Float`; their weights
/// equal `Float(nnetWeight)` exactly, so the two graphs differ by at most one float32
/// rounding (relative 2⁻²⁴) per weight.
public enum NNetLoader {
    /// Loads the `.nnet` file at `path`, plain or gzip-compressed (`x.nnet.gz`: content
    /// starting with the gzip magic is decompressed, see ``InputFile/read(path:limit:)``).
    /// - Throws: ``NNetError`` when the file cannot be read (corrupt or truncated gzip data
    ///   included), is not UTF-8 text, or is malformed.
    public static func load(path: String) throws -> NNetNetwork {
        let bytes: Data
        do {
            bytes = try InputFile.readData(path: path)
        } catch let error as InputFileError {
            throw NNetError.unreadable(file: path, reason: error.reason)
        }
        guard let text = String(data: bytes, encoding: .utf8) else {
            throw NNetError.unreadable(file: path, reason: "the file is not UTF-8 text")
        }
        return try load(text: text, source: path)
    }

    /// Parses `.nnet` text; `source` names the file in errors and in ``Network/source``.
    /// - Throws: ``NNetError`` when the text is malformed.
    public static func load(text: String, source: String) throws -> NNetNetwork {
        var reader = NNetLineReader(text: text, file: source)
        return try parse(&reader)
    }

    private static func parse(_ reader: inout NNetLineReader) throws -> NNetNetwork {
        let file = reader.file

        // Header: numLayers, inputSize, outputSize, maxLayerSize.
        let header = try reader.integers(section: "header (numLayers, inputSize, outputSize, maxLayerSize)", count: 4)
        let (layerCount, inputSize, outputSize, maxLayerSize) = (header.values[0], header.values[1], header.values[2], header.values[3])
        guard layerCount >= 1 else {
            throw NNetError.inconsistentSizes(file: file, line: header.line, detail: "the number of layers is \(layerCount); at least 1 is needed")
        }
        // Every number takes at least one character, so no honest count exceeds the text's
        // length; checking this first keeps absurd headers from overflowing the counts computed
        // from them. (A file that is merely truncated passes, and is reported as truncated.)
        guard layerCount <= reader.characterCount, inputSize <= reader.characterCount, outputSize <= reader.characterCount else {
            throw NNetError.inconsistentSizes(file: file, line: header.line,
                                              detail: "the header announces more layers or neurons than the file can hold")
        }
        let sizes = try reader.integers(section: "layer sizes", count: layerCount + 1)
        if let bad = sizes.values.first(where: { $0 < 1 || $0 > reader.characterCount }) {
            throw NNetError.inconsistentSizes(file: file, line: sizes.line,
                                              detail: "layer size \(bad) is not positive or exceeds what the file can hold")
        }
        guard sizes.values[0] == inputSize else {
            throw NNetError.inconsistentSizes(file: file, line: sizes.line,
                                              detail: "the first layer size \(sizes.values[0]) differs from the input size \(inputSize) in the header")
        }
        guard sizes.values[layerCount] == outputSize else {
            throw NNetError.inconsistentSizes(file: file, line: sizes.line,
                                              detail: "the last layer size \(sizes.values[layerCount]) differs from the output size \(outputSize) in the header")
        }
        // maxLayerSize is a buffer size for C readers: larger is harmless, smaller is wrong.
        if let largest = sizes.values.max(), largest > maxLayerSize {
            throw NNetError.inconsistentSizes(file: file, line: header.line,
                                              detail: "maxLayerSize \(maxLayerSize) is smaller than the largest layer (\(largest))")
        }

        _ = try reader.numbers(section: "flag line", count: 1)

        let minimums = try reader.numbers(section: "input minimums", count: inputSize)
        let maximums = try reader.numbers(section: "input maximums", count: inputSize)
        for i in 0..<inputSize where minimums.values[i] > maximums.values[i] {
            throw NNetError.invalidValue(file: file, line: maximums.line,
                                         detail: "input \(i) has minimum \(minimums.values[i]) above its maximum \(maximums.values[i])")
        }
        let means = try reader.numbers(section: "means", count: inputSize + 1)
        let ranges = try reader.numbers(section: "ranges", count: inputSize + 1)
        if let i = ranges.values.firstIndex(of: 0) {
            throw NNetError.invalidValue(file: file, line: ranges.line, detail: "range \(i) is zero, so normalisation would divide by zero")
        }

        var builder = GraphBuilder(inputName: "input", inputShape: [inputSize])
        var current = builder.inputValue
        var parameterCount = 0
        for layer in 1...layerCount {
            let inFeatures = sizes.values[layer - 1], outFeatures = sizes.values[layer]
            // No reserveCapacity: the sizes are still unchecked against the rows actually present.
            var weights = [Double]()
            for row in 0..<outFeatures {
                weights += try reader.numbers(section: "weights of layer \(layer), row \(row + 1) of \(outFeatures)", count: inFeatures).values
            }
            var biases = [Double]()
            for row in 0..<outFeatures {
                biases += try reader.numbers(section: "biases of layer \(layer), bias \(row + 1) of \(outFeatures)", count: 1).values
            }
            parameterCount += weights.count + biases.count
            let linear = Linear(weight: Tensor(shape: [outFeatures, inFeatures], scalars: weights),
                                bias: Tensor(shape: [outFeatures], scalars: biases))
            let isLast = layer == layerCount
            do {
                current = try builder.add(.linear(linear), inputs: [current], name: "linear_\(layer)",
                                          outputName: isLast ? "output" : nil)
                if !isLast { current = try builder.add(.relu, inputs: [current], name: "relu_\(layer)") }
            } catch {
                throw NNetError.invalidGraph(file: file, detail: String(describing: error))
            }
        }
        if let extra = reader.nextContentLine() {
            throw NNetError.trailingContent(file: file, line: extra)
        }

        let graph: Graph
        do {
            graph = try builder.build(output: current)
        } catch {
            throw NNetError.invalidGraph(file: file, detail: String(describing: error))
        }
        let network = Network(graph: graph, source: file, format: "nnet",
                              sourceOperatorCounts: layerCount > 1 ? ["Linear": layerCount, "Relu": layerCount - 1] : ["Linear": 1],
                              parameterCount: parameterCount)
        let normalization = NNetNormalization(
            inputMinimums: minimums.values, inputMaximums: maximums.values,
            inputMeans: Array(means.values.prefix(inputSize)), inputRanges: Array(ranges.values.prefix(inputSize)),
            outputMean: means.values[inputSize], outputRange: ranges.values[inputSize])
        return NNetNetwork(network: network, normalization: normalization)
    }
}

/// A network read from a `.nnet` file: the stored graph and the normalisation beside it.
public struct NNetNetwork: Sendable {
    /// The graph as stored: normalised inputs in, raw (not denormalised) outputs out.
    /// See ``NNetLoader`` for why the normalisation is not folded in.
    public var network: Network
    /// How physical inputs map to the graph's inputs and the graph's outputs to physical outputs.
    public var normalization: NNetNormalization

    public init(network: Network, normalization: NNetNormalization) {
        self.network = network
        self.normalization = normalization
    }
}

/// The input and output scaling a `.nnet` file stores beside its weights.
///
/// The network was trained on `(clamp(u, min, max) − mean) / range` for a physical input `u`,
/// and its outputs are scaled by `y · outputRange + outputMean` to physical units. One mean
/// and one range are shared by all outputs, as the format stores.
public struct NNetNormalization: Sendable, Equatable {
    /// Lowest physical value of each input; smaller inputs are clamped to it.
    public var inputMinimums: [Double]
    /// Highest physical value of each input; larger inputs are clamped to it.
    public var inputMaximums: [Double]
    /// Subtracted from each (clamped) input.
    public var inputMeans: [Double]
    /// Divides each centred input; never zero for a loaded file.
    public var inputRanges: [Double]
    /// Added to every scaled output.
    public var outputMean: Double
    /// Multiplies every raw output.
    public var outputRange: Double

    public init(inputMinimums: [Double], inputMaximums: [Double], inputMeans: [Double], inputRanges: [Double],
                outputMean: Double, outputRange: Double) {
        self.inputMinimums = inputMinimums
        self.inputMaximums = inputMaximums
        self.inputMeans = inputMeans
        self.inputRanges = inputRanges
        self.outputMean = outputMean
        self.outputRange = outputRange
    }

    /// Number of inputs the normalisation applies to.
    public var inputCount: Int { inputMeans.count }

    /// `(clamp(u_i, min_i, max_i) − mean_i) / range_i` for each physical input `u_i`: the point
    /// the loaded graph takes. Computed in `Double` with two correctly rounded operations per
    /// element (subtraction, then division), so the result is within about 2 ulp of the real
    /// value. NaN inputs stay NaN.
    /// - Throws: ``NNetError/inputCountMismatch(expected:found:)`` when `input` does not have
    ///   one value per network input.
    public func normalize(input: [Double]) throws -> [Double] {
        guard input.count == inputCount else { throw NNetError.inputCountMismatch(expected: inputCount, found: input.count) }
        return input.indices.map { i in
            let u = input[i]
            let clamped = u.isNaN ? u : Swift.min(Swift.max(u, inputMinimums[i]), inputMaximums[i])
            return (clamped - inputMeans[i]) / inputRanges[i]
        }
    }

    /// `y_j · outputRange + outputMean` for each raw graph output `y_j`: the physical output.
    /// Applies to any number of outputs (the format stores one mean and range for all).
    /// Rounds twice per element (product, then sum; no fused multiply-add).
    public func denormalize(output: [Double]) -> [Double] {
        output.map { $0 * outputRange + outputMean }
    }
}

/// Errors from reading `.nnet` files. Each names the file and, where one applies, the 1-based line.
public enum NNetError: Error, LocalizedError, Equatable {
    /// The file could not be read (missing, unreadable, not UTF-8).
    case unreadable(file: String, reason: String)
    /// The file ends before `section`; `line` is the last line of the file.
    case missingSection(file: String, line: Int, section: String)
    /// A token on `line` is not a finite decimal number (or, in the size lines, not an integer).
    case nonNumericToken(file: String, line: Int, section: String, token: String)
    /// A line holds the wrong count of numbers for its section.
    case wrongCount(file: String, line: Int, section: String, expected: Int, found: Int)
    /// Layer sizes disagree with each other or with the header.
    case inconsistentSizes(file: String, line: Int, detail: String)
    /// A number is out of its allowed range (zero range, minimum above maximum).
    case invalidValue(file: String, line: Int, detail: String)
    /// Non-blank text follows the last bias.
    case trailingContent(file: String, line: Int)
    /// The graph could not be built from the parsed layers (should not happen for a file that parsed).
    case invalidGraph(file: String, detail: String)
    /// ``NNetNormalization/normalize(input:)`` got the wrong number of values.
    case inputCountMismatch(expected: Int, found: Int)

    public var errorDescription: String? {
        switch self {
        case let .unreadable(file, reason):
            "cannot read the .nnet file \(file): \(reason)"
        case let .missingSection(file, line, section):
            "\(file):\(line): the file ends before the \(section) (truncated .nnet file?)"
        case let .nonNumericToken(file, line, section, token):
            "\(file):\(line): '\(token)' in the \(section) is not a valid number"
        case let .wrongCount(file, line, section, expected, found):
            "\(file):\(line): the \(section) should hold \(expected) number(s) but the line has \(found)"
        case let .inconsistentSizes(file, line, detail):
            "\(file):\(line): inconsistent sizes: \(detail)"
        case let .invalidValue(file, line, detail):
            "\(file):\(line): \(detail)"
        case let .trailingContent(file, line):
            "\(file):\(line): unexpected text after the last layer's biases"
        case let .invalidGraph(file, detail):
            "\(file): cannot build the network graph: \(detail)"
        case let .inputCountMismatch(expected, found):
            "the network takes \(expected) input(s) but \(found) value(s) were given"
        }
    }
}

/// Walks the content lines of a `.nnet` text, skipping the leading `//` comments and blank
/// lines, and splits each line into numbers.
struct NNetLineReader {
    let file: String
    private let lines: [Substring]
    /// Number of UTF-8 bytes in the text: an upper bound on how many numbers it can hold.
    let characterCount: Int
    private var next = 0
    private var inHeader = true

    init(text: String, file: String) {
        self.file = file
        characterCount = text.utf8.count
        // `Character.isNewline` treats "\r\n" as one newline, so Windows files split cleanly.
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        // A final newline ends the last line; it does not start another one.
        if lines.last?.isEmpty == true { lines.removeLast() }
        self.lines = lines
    }

    /// 1-based number of the next content line, skipping comments (at the top only) and
    /// blank lines, without consuming it; `nil` at the end of the text.
    mutating func nextContentLine() -> Int? {
        while next < lines.count {
            let trimmed = lines[next].trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || (inHeader && trimmed.hasPrefix("//")) {
                next += 1
                continue
            }
            return next + 1
        }
        return nil
    }

    /// The tokens of the next content line: split on commas, trimmed, trailing empty tokens
    /// (from trailing commas) dropped.
    private mutating func tokens(section: String) throws -> (line: Int, tokens: [Substring]) {
        guard let line = nextContentLine() else {
            throw NNetError.missingSection(file: file, line: lines.count, section: section)
        }
        inHeader = false
        next = line
        var tokens = lines[line - 1].split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces)[...] }
        while let last = tokens.last, last.isEmpty { tokens.removeLast() }
        return (line, tokens)
    }

    /// Reads one line of exactly `count` finite numbers.
    mutating func numbers(section: String, count: Int) throws -> (line: Int, values: [Double]) {
        let (line, tokens) = try tokens(section: section)
        // Tokens are checked before the count, so a stray text line reads as text, not as a short row.
        var values = [Double]()
        values.reserveCapacity(tokens.count)
        for token in tokens {
            guard let value = Double(token), value.isFinite else {
                throw NNetError.nonNumericToken(file: file, line: line, section: section, token: String(token))
            }
            values.append(value)
        }
        guard values.count == count else {
            throw NNetError.wrongCount(file: file, line: line, section: section, expected: count, found: values.count)
        }
        return (line, values)
    }

    /// Reads one line of exactly `count` integers (sizes).
    mutating func integers(section: String, count: Int) throws -> (line: Int, values: [Int]) {
        let (line, tokens) = try tokens(section: section)
        var values = [Int]()
        values.reserveCapacity(tokens.count)
        for token in tokens {
            guard let value = Int(token) else {
                throw NNetError.nonNumericToken(file: file, line: line, section: section, token: String(token))
            }
            values.append(value)
        }
        guard values.count == count else {
            throw NNetError.wrongCount(file: file, line: line, section: section, expected: count, found: values.count)
        }
        return (line, values)
    }
}
