/// A 2-D window geometry shared by convolution and pooling: kernel, strides,
/// dilations and explicit zero padding `(top, left, bottom, right)`.
public struct Window2D: Equatable, Sendable {
    public var kernel: (height: Int, width: Int)
    public var strides: (height: Int, width: Int)
    public var dilations: (height: Int, width: Int)
    /// Padding added before (`top`, `left`) and after (`bottom`, `right`) the image.
    public var pads: (top: Int, left: Int, bottom: Int, right: Int)

    public init(kernel: (Int, Int), strides: (Int, Int) = (1, 1), dilations: (Int, Int) = (1, 1),
                pads: (Int, Int, Int, Int) = (0, 0, 0, 0)) {
        self.kernel = (kernel.0, kernel.1)
        self.strides = (strides.0, strides.1)
        self.dilations = (dilations.0, dilations.1)
        self.pads = (pads.0, pads.1, pads.2, pads.3)
    }

    /// Output spatial size for an input of `height x width` (floor division, as ONNX
    /// specifies for convolution and for pooling with `ceil_mode = 0`).
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        let effH = dilations.height * (kernel.height - 1) + 1
        let effW = dilations.width * (kernel.width - 1) + 1
        return ((height + pads.top + pads.bottom - effH) / strides.height + 1,
                (width + pads.left + pads.right - effW) / strides.width + 1)
    }

    public static func == (a: Window2D, b: Window2D) -> Bool {
        a.kernel == b.kernel && a.strides == b.strides && a.dilations == b.dilations && a.pads == b.pads
    }
}

/// A 2-D convolution over an `N x C x H x W` activation (ONNX `Conv`).
public struct Convolution: Equatable, Sendable {
    /// Filters, shape `[M, C / group, kH, kW]`.
    public var weight: Tensor
    /// One bias per output channel, shape `[M]`.
    public var bias: Tensor
    public var window: Window2D
    /// Number of groups: 1 (dense) or the channel count (depthwise).
    public var group: Int

    public init(weight: Tensor, bias: Tensor?, window: Window2D, group: Int) {
        self.weight = weight
        self.bias = bias ?? Tensor(shape: [weight.shape[0]], repeating: 0)
        self.window = window
        self.group = group
    }

    public var outputChannels: Int { weight.shape[0] }
}

/// A selection of input elements: output element `e` (row-major in `shape`) is input
/// element `sources[e]` (row-major). No input element is selected twice, so the map's
/// transpose only moves numbers (`Slice`, `Split`, `Gather` with constant indices; an
/// operator that repeats elements reads its operand several times through a `concat`).
public struct Selection: Equatable, Sendable {
    public var shape: [Int]
    public var sources: [Int]

    public init(shape: [Int], sources: [Int]) {
        self.shape = shape
        self.sources = sources
    }
}

/// `y[..., n] = Σ_k weight[n, k] · x[..., k] + bias[n]`: an affine map on the last axis
/// (ONNX `Gemm`, and `MatMul` with a constant operand).
public struct Linear: Equatable, Sendable {
    /// Shape `[outFeatures, inFeatures]`.
    public var weight: Tensor
    /// Shape `[outFeatures]`.
    public var bias: Tensor

    public init(weight: Tensor, bias: Tensor?) {
        self.weight = weight
        self.bias = bias ?? Tensor(shape: [weight.shape[0]], repeating: 0)
    }

    public var outFeatures: Int { weight.shape[0] }
    public var inFeatures: Int { weight.shape[1] }
}

/// The operations of the IR. Every operation has one output; operands are values
/// of the graph (activations). Constants are held inside the operation, already
/// broadcast to the shape they act on, so no operation needs broadcasting rules.
public enum GraphOperation: Equatable, Sendable {
    /// 2-D convolution (NCHW).
    case convolution(Convolution)
    /// Affine map on the last axis.
    case linear(Linear)
    /// `x + c` elementwise; `c` has the output's shape.
    case addConstant(Tensor)
    /// `x · c` elementwise; `c` has the output's shape.
    case multiplyConstant(Tensor)
    /// `x / c` elementwise; `c` has the output's shape and no zero element.
    case divideConstant(Tensor)
    /// Per-channel affine map on axis 1: `y = x · scale[c] + shift[c]`
    /// (BatchNormalization in inference form).
    case channelAffine(scale: [Double], shift: [Double])
    /// `a + b` of two activations of equal shape.
    case add
    /// `a − b` of two activations of equal shape.
    case subtract
    /// `max(x, 0)`.
    case relu
    /// Same elements, new shape (Flatten, Reshape, Squeeze, Unsqueeze): a view.
    case reshape([Int])
    /// Axis permutation: output axis `i` is input axis `permutation[i]`.
    case transpose([Int])
    /// Chosen input elements, each at most once (see ``Selection``).
    case select(Selection)
    /// Concatenation of the operands along `axis`.
    case concat(axis: Int)
    /// Zero padding: `pads[i]` elements before and `pads[rank + i]` after axis `i`.
    case pad([Int])
    /// 2-D average pooling (NCHW). With `countIncludesPadding` false, padded
    /// cells are left out of each window's divisor.
    case averagePool(Window2D, countIncludesPadding: Bool)
    /// 2-D max pooling (NCHW); padded cells never win.
    case maxPool(Window2D)
    /// Mean over all spatial positions of each channel: `N x C x H x W -> N x C x 1 x 1`.
    case globalAveragePool

    /// A short name for listings and errors.
    public var name: String {
        switch self {
        case .convolution: "Conv"
        case .linear: "Linear"
        case .addConstant: "AddConstant"
        case .multiplyConstant: "MulConstant"
        case .divideConstant: "DivConstant"
        case .channelAffine: "ChannelAffine"
        case .add: "Add"
        case .subtract: "Sub"
        case .relu: "Relu"
        case .reshape: "Reshape"
        case .transpose: "Transpose"
        case .select: "Select"
        case .concat: "Concat"
        case .pad: "Pad"
        case .averagePool: "AveragePool"
        case .maxPool: "MaxPool"
        case .globalAveragePool: "GlobalAveragePool"
        }
    }

    /// True when the operation is affine in its operands (everything but ReLU and MaxPool).
    public var isAffine: Bool {
        switch self {
        case .relu, .maxPool: false
        default: true
        }
    }

    /// Number of stored parameters (weights, biases, constants).
    public var parameterCount: Int {
        switch self {
        case .convolution(let c): c.weight.count + c.bias.count
        case .linear(let l): l.weight.count + l.bias.count
        case .addConstant(let t), .multiplyConstant(let t), .divideConstant(let t): t.count
        case .channelAffine(let s, let b): s.count + b.count
        default: 0
        }
    }
}
