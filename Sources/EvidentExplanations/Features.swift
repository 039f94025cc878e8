import Foundation

/// How an input is divided into the features an explanation scores.
public enum FeatureKind: Equatable, Sendable, CustomStringConvertible {
    /// `G × G` rectangular patches over the image plane (all channels of a patch together).
    case grid(Int)
    /// One feature per pixel position, across its channels (a flat input: one per element).
    case pixels
    /// About `N` superpixels from a deterministic SLIC-style segmentation of the image.
    case superpixels(Int)

    /// Parses `grid:G`, `pixels` or `superpixels:N`.
    public init?(argument: String) {
        let parts = argument.split(separator: ":", maxSplits: 1).map(String.init)
        switch (parts.first, parts.count) {
        case ("pixels", 1): self = .pixels
        case ("grid", 2):
            guard let g = Int(parts[1]), g > 0 else { return nil }
            self = .grid(g)
        case ("superpixels", 2):
            guard let n = Int(parts[1]), n > 0 else { return nil }
            self = .superpixels(n)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .grid(let g): "grid:\(g)"
        case .pixels: "pixels"
        case .superpixels(let n): "superpixels:\(n)"
        }
    }
}

/// The shape of an image input: `channels × height × width`, channel-major (a flat input of
/// `n` numbers is one channel of height 1 and width `n`).
public struct ImageShape: Equatable, Sendable {
    public var channels: Int
    public var height: Int
    public var width: Int

    public init(channels: Int, height: Int, width: Int) {
        self.channels = channels
        self.height = height
        self.width = width
    }

    /// The image shape of a network input of `shape`: `[N=1, C, H, W]`, `[C, H, W]`, or flat.
    public init(inputShape shape: [Int]) {
        let s = shape.first == 1 && shape.count == 4 ? Array(shape.dropFirst()) : shape
        if s.count == 3 {
            self.init(channels: s[0], height: s[1], width: s[2])
        } else {
            self.init(channels: 1, height: 1, width: s.reduce(1, *))
        }
    }

    public var plane: Int { height * width }
    public var count: Int { channels * plane }
}

/// Why features could not be made.
public struct FeatureError: Error, LocalizedError, Equatable, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var errorDescription: String? { message }
}

/// A division of an image's pixel positions into features: `label[p]` is the feature of
/// position `p` (row-major over the plane); a feature covers every channel of its positions.
/// Features are numbered in the order of their first position in row-major order, so a
/// grid's patches are numbered row by row.
public struct FeatureMap: Equatable, Sendable {
    public var kind: FeatureKind
    public var shape: ImageShape
    public var label: [Int]
    public var count: Int

    /// Makes the features of `kind` for an image of `shape`; superpixels follow the colours
    /// of `image` (channel-major, `shape.count` numbers).
    public init(_ kind: FeatureKind, shape: ImageShape, image: [Double]) throws {
        self.kind = kind
        self.shape = shape
        switch kind {
        case .pixels:
            label = Array(0..<shape.plane)
        case .grid(let g):
            guard g <= shape.height, g <= shape.width else {
                throw FeatureError("grid:\(g) needs an image of at least \(g)×\(g) pixels; this one is \(shape.height)×\(shape.width)")
            }
            label = (0..<shape.plane).map { p in
                let (y, x) = (p / shape.width, p % shape.width)
                return (y * g / shape.height) * g + x * g / shape.width
            }
        case .superpixels(let n):
            guard n <= shape.plane else {
                throw FeatureError("superpixels:\(n) asks for more superpixels than the image's \(shape.plane) pixels")
            }
            label = Segmentation.slic(image, shape: shape, segments: n)
        }
        // Number features by first appearance in row-major order.
        var renumber = [Int: Int]()
        for p in label.indices {
            if renumber[label[p]] == nil { renumber[label[p]] = renumber.count }
            label[p] = renumber[label[p]]!
        }
        count = renumber.count
    }

    /// The pixel positions of every feature.
    public var positions: [[Int]] {
        var out = [[Int]](repeating: [], count: count)
        for (p, f) in label.enumerated() { out[f].append(p) }
        return out
    }

    /// The input elements of every feature (every channel of its positions), ascending.
    public var inputIndices: [[Int]] {
        positions.map { ps in (0..<shape.channels).flatMap { c in ps.map { c * shape.plane + $0 } }.sorted() }
    }
}

/// SLIC-style superpixels (Achanta et al. 2012), simplified and deterministic: cluster
/// centres start on a regular grid of step `S = √(HW/N)`; ten rounds assign every pixel
/// within `2S × 2S` of a centre to the nearest centre under
/// `D² = ‖colour − colour_k‖² / C + (‖position − position_k‖ / S)² · m²` (colours rescaled to
/// [0, 1] over the image, `C` channels, compactness `m = 0.25`), then move each centre to its
/// pixels' mean; finally every connected piece of a label (4-neighbourhood) becomes its own
/// superpixel, and pieces smaller than `S²/4` pixels join the neighbour met first in
/// row-major order. No randomness and no ties broken by hashing: the same image gives the
/// same superpixels.
enum Segmentation {
    static let compactness = 0.25
    static let rounds = 10

    static func slic(_ image: [Double], shape: ImageShape, segments n: Int) -> [Int] {
        let (h, w, c, plane) = (shape.height, shape.width, shape.channels, shape.plane)
        // Colours rescaled to [0, 1] over the whole image.
        let lo = image.min() ?? 0, hi = image.max() ?? 1
        let scale = hi > lo ? 1 / (hi - lo) : 1
        func colour(_ p: Int, _ k: Int) -> Double { (image[k * plane + p] - lo) * scale }
        let step = max(1, (Double(plane) / Double(n)).squareRoot())
        let rowsOfCentres = max(1, Int((Double(h) / step).rounded())), colsOfCentres = max(1, Int((Double(w) / step).rounded()))
        var cy = [Double](), cx = [Double](), cc = [[Double]]()
        for i in 0..<rowsOfCentres {
            for j in 0..<colsOfCentres {
                let y = (Double(i) + 0.5) * Double(h) / Double(rowsOfCentres), x = (Double(j) + 0.5) * Double(w) / Double(colsOfCentres)
                let p = min(h - 1, Int(y)) * w + min(w - 1, Int(x))
                cy.append(y)
                cx.append(x)
                cc.append((0..<c).map { colour(p, $0) })
            }
        }
        var label = [Int](repeating: 0, count: plane)
        let m2 = compactness * compactness
        for _ in 0..<rounds {
            var best = [Double](repeating: .infinity, count: plane)
            for k in cy.indices {
                let y0 = max(0, Int(cy[k] - 2 * step)), y1 = min(h - 1, Int(cy[k] + 2 * step))
                let x0 = max(0, Int(cx[k] - 2 * step)), x1 = min(w - 1, Int(cx[k] + 2 * step))
                guard y0 <= y1, x0 <= x1 else { continue }
                for y in y0...y1 {
                    for x in x0...x1 {
                        let p = y * w + x
                        var dc = 0.0
                        for q in 0..<c { let d = colour(p, q) - cc[k][q]; dc += d * d }
                        let dy = (Double(y) + 0.5 - cy[k]) / step, dx = (Double(x) + 0.5 - cx[k]) / step
                        let d = dc / Double(c) + (dy * dy + dx * dx) * m2
                        if d < best[p] { best[p] = d; label[p] = k }
                    }
                }
            }
            var sy = [Double](repeating: 0, count: cy.count), sx = sy, counts = sy
            var sc = [[Double]](repeating: [Double](repeating: 0, count: c), count: cy.count)
            for p in 0..<plane {
                let k = label[p]
                sy[k] += Double(p / w) + 0.5
                sx[k] += Double(p % w) + 0.5
                for q in 0..<c { sc[k][q] += colour(p, q) }
                counts[k] += 1
            }
            for k in cy.indices where counts[k] > 0 {
                cy[k] = sy[k] / counts[k]
                cx[k] = sx[k] / counts[k]
                cc[k] = sc[k].map { $0 / counts[k] }
            }
        }
        return connectedPieces(label, height: h, width: w, minimum: max(1, Int(step * step / 4)))
    }

    /// Splits labels into 4-connected pieces; pieces under `minimum` pixels join the label of
    /// the neighbouring piece found first (scanning the piece's pixels in row-major order).
    static func connectedPieces(_ label: [Int], height h: Int, width w: Int, minimum: Int) -> [Int] {
        var piece = [Int](repeating: -1, count: label.count)
        var pieces = [[Int]]()
        for start in label.indices where piece[start] < 0 {
            let id = pieces.count
            var members = [start], queue = [start]
            piece[start] = id
            while let p = queue.popLast() {
                let (y, x) = (p / w, p % w)
                for (ny, nx) in [(y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)] where ny >= 0 && ny < h && nx >= 0 && nx < w {
                    let q = ny * w + nx
                    if piece[q] < 0 && label[q] == label[p] {
                        piece[q] = id
                        members.append(q)
                        queue.append(q)
                    }
                }
            }
            pieces.append(members.sorted())
        }
        // Merge small pieces into a neighbour, in piece order (deterministic).
        var parent = Array(pieces.indices)
        func root(_ i: Int) -> Int { var i = i; while parent[i] != i { i = parent[i] }; return i }
        for (id, members) in pieces.enumerated() where members.count < minimum && pieces.count > 1 {
            search: for p in members {
                let (y, x) = (p / w, p % w)
                for (ny, nx) in [(y - 1, x), (y, x - 1), (y, x + 1), (y + 1, x)] where ny >= 0 && ny < h && nx >= 0 && nx < w {
                    let other = piece[ny * w + nx]
                    if root(other) != root(id) {
                        parent[root(id)] = root(other)
                        break search
                    }
                }
            }
        }
        return piece.map { root($0) }
    }
}
