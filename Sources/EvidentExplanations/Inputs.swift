import Foundation
import EvidentIO

/// Per-channel normalisation of pixel values, `(value − mean) / std`, as image networks
/// take their input (one pair for every channel, or one pair for all).
public struct PixelNormalisation: Equatable, Sendable {
    public var mean: [Double]
    public var std: [Double]

    public init(mean: [Double], std: [Double]) {
        self.mean = mean
        self.std = std
    }

    func pair(_ channel: Int) -> (mean: Double, std: Double) {
        (mean.count == 1 ? mean[0] : mean[channel], std.count == 1 ? std[0] : std[channel])
    }
}

/// The centre, box and picture of an EVA map, in the network's input units.
public struct EVAInput: Sendable {
    public var center: [Double]
    public var lower: [Double]
    public var upper: [Double]
    /// What the picture shows, channel-major in [0, 1].
    public var display: [Double]
    public var shape: ImageShape
    /// The box's radius as given (raw pixel units for an image); for a property's box, its
    /// largest half-width (network units).
    public var epsilon: Double

    /// From a PNG: pixel values `sample / maxSample` in [0, 1], the box `[x − ε, x + ε]`
    /// clipped to `clip` (pixel units, default [0, 1]), both mapped through `normalise`.
    public static func image(_ png: PNGImage, path: String, networkShape: ImageShape, epsilon: Double,
                             normalise: PixelNormalisation?, clip: (Double, Double)?) throws -> EVAInput {
        let shape = ImageShape(channels: png.colourChannels, height: png.height, width: png.width)
        guard shape == networkShape else {
            throw EVAError("\(path): the image is \(shape.channels)×\(shape.height)×\(shape.width) (channels × height × width); "
                           + "the network takes \(networkShape.channels)×\(networkShape.height)×\(networkShape.width)")
        }
        try checkRadius(epsilon)
        let raw = png.planar
        let (lo, hi) = clip ?? (0, 1)
        guard lo <= hi else { throw EVAError("--clip: the lower end \(lo) is above the upper end \(hi)") }
        if let normalise {
            let channels = shape.channels
            for list in [normalise.mean, normalise.std] where list.count != 1 && list.count != channels {
                throw EVAError("--normalize: \(list.count) values for an image of \(channels) channels (give one or \(channels))")
            }
            guard normalise.std.allSatisfy({ $0 > 0 && $0.isFinite }), normalise.mean.allSatisfy(\.isFinite) else {
                throw EVAError("--normalize: every standard deviation must be positive and every value finite")
            }
        }
        var center = raw, lower = raw, upper = raw
        for i in raw.indices {
            let x = min(max(raw[i], lo), hi)
            var (l, u) = (max(x - epsilon, lo), min(x + epsilon, hi))
            var c = x
            if let normalise {
                let (m, s) = normalise.pair(i / shape.plane)
                (c, l, u) = ((c - m) / s, (l - m) / s, (u - m) / s)
            }
            (center[i], lower[i], upper[i]) = (c, min(l, c), max(u, c))
        }
        return EVAInput(center: center, lower: lower, upper: upper, display: raw, shape: shape, epsilon: epsilon)
    }

    /// From an input vector in network units: the box `[x − ε, x + ε]`, clipped to `clip`
    /// when given (network units).
    public static func vector(_ x: [Double], shape: ImageShape, epsilon: Double, clip: (Double, Double)?) throws -> EVAInput {
        try checkRadius(epsilon)
        var lower = x, upper = x
        for i in x.indices {
            lower[i] = x[i] - epsilon
            upper[i] = x[i] + epsilon
            if let (lo, hi) = clip {
                guard x[i] >= lo, x[i] <= hi else {
                    throw EVAError("input \(i) is \(x[i]), outside the --clip range [\(lo), \(hi)]")
                }
                lower[i] = max(lower[i], lo)
                upper[i] = min(upper[i], hi)
            }
        }
        return EVAInput(center: x, lower: lower, upper: upper, display: displayable(x), shape: shape, epsilon: epsilon)
    }

    /// From a property's box: its centre, and the box itself as `B`.
    public static func box(lower: [Double], upper: [Double], shape: ImageShape) -> EVAInput {
        let center = zip(lower, upper).map { ($0 + $1) / 2 }
        let radius = zip(lower, upper).map { ($1 - $0) / 2 }.max() ?? 0
        return EVAInput(center: center, lower: lower, upper: upper, display: displayable(center), shape: shape, epsilon: radius)
    }

    static func checkRadius(_ epsilon: Double) throws {
        guard epsilon >= 0, epsilon.isFinite else { throw EVAError("--epsilon must be a finite number ≥ 0, not \(epsilon)") }
    }

    /// Network-unit values rescaled to [0, 1] over the whole input, for the picture.
    static func displayable(_ x: [Double]) -> [Double] {
        let lo = x.min() ?? 0, hi = x.max() ?? 1
        return x.map { hi > lo ? ($0 - lo) / (hi - lo) : 0.5 }
    }
}
