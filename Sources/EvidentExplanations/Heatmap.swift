import Foundation
import EvidentIO

/// Pictures of an attribution map: the image, the scores over it, and a colour bar, side by
/// side, as an 8-bit RGB raster (written as PNG) and as SVG.
public struct Heatmap: Sendable {
    /// The image as shown, channel-major in [0, 1] (1 or 3 channels).
    public var image: [Double]
    public var shape: ImageShape
    /// Feature of every pixel position.
    public var label: [Int]
    /// One score per feature.
    public var scores: [Double]
    /// Panel titles.
    public var imageTitle: String
    public var mapTitle: String
    /// The line under the panels that says how to read the map.
    public var caption = "BRIGHT: FIXING THIS REGION SHRINKS THE WORST CASE MOST"

    public init(image: [Double], shape: ImageShape, label: [Int], scores: [Double], imageTitle: String = "IMAGE",
                mapTitle: String = "EVA SCORE") {
        precondition(image.count == shape.count && label.count == shape.plane, "Heatmap: sizes do not match")
        self.image = image
        self.shape = shape
        self.label = label
        self.scores = scores
        self.imageTitle = imageTitle
        self.mapTitle = mapTitle
    }

    /// The colour scale's ends: from `min(0, smallest score)` to the largest score (a map of
    /// zeros gets the range [0, 1]).
    public var range: (low: Double, high: Double) {
        let finite = scores.filter(\.isFinite)
        let low = min(0, finite.min() ?? 0), high = max(finite.max() ?? 1, low)
        return high > low ? (low, high) : (low, low + 1)
    }

    /// A perceptually ordered colour scale (dark blue-purple for the lowest, through red and
    /// orange, to light yellow for the highest), by linear interpolation between stops.
    public static func colour(_ t: Double) -> (UInt8, UInt8, UInt8) {
        let x = max(0, min(1, t.isFinite ? t : 0)) * Double(stops.count - 1)
        let i = min(stops.count - 2, Int(x)), f = x - Double(i)
        func mix(_ a: Double, _ b: Double) -> UInt8 { UInt8(max(0, min(255, (a + (b - a) * f).rounded()))) }
        return (mix(stops[i].0, stops[i + 1].0), mix(stops[i].1, stops[i + 1].1), mix(stops[i].2, stops[i + 1].2))
    }

    /// Lower-case hexadecimal digits, as SVG colours are written.
    static let hexDigits = Array("0123456789abcdef".utf8)

    /// The colour scale's stops, evenly spaced from 0 to 1.
    static let stops: [(Double, Double, Double)] = [(0, 0, 4), (40, 11, 84), (101, 21, 110), (159, 42, 99), (212, 72, 66),
                                                    (245, 125, 21), (250, 193, 39), (252, 255, 164)]

    /// Pixel scale so that the panels are at least 256 pixels on their longer side.
    var scale: Int { max(1, Int((256.0 / Double(max(shape.height, shape.width))).rounded(.up))) }

    /// Layout in output pixels.
    struct Layout {
        var scale, panelWidth, panelHeight, margin, titleHeight, barWidth, barLabelWidth, width, height: Int
        var imageX: Int { margin }
        var mapX: Int { 2 * margin + panelWidth }
        var barX: Int { 3 * margin + 2 * panelWidth }
        var panelY: Int { margin + titleHeight }
        var captionY: Int { panelY + panelHeight + margin }
    }

    var layout: Layout {
        let s = scale, pw = shape.width * s, ph = shape.height * s, margin = 12, title = 7 * Glyphs.size + 8
        let bar = 18, labels = 10 * 6 * Glyphs.size + 8
        return Layout(scale: s, panelWidth: pw, panelHeight: ph, margin: margin, titleHeight: title, barWidth: bar,
                      barLabelWidth: labels, width: 3 * margin + 2 * pw + margin + bar + labels,
                      height: margin + title + ph + margin + 7 * Glyphs.size + margin)
    }

    /// The image panel's pixels (grey images as grey).
    func imagePixel(_ p: Int) -> (UInt8, UInt8, UInt8) {
        func byte(_ v: Double) -> UInt8 { UInt8(max(0, min(255, (v * 255).rounded()))) }
        if shape.channels >= 3 {
            return (byte(image[p]), byte(image[shape.plane + p]), byte(image[2 * shape.plane + p]))
        }
        let g = byte(image[p])
        return (g, g, g)
    }

    /// The map panel's pixels: the score's colour, lightly blended with the image's brightness
    /// (80% colour) so that the picture's shapes stay visible under the map.
    /// `range` is ``range``, passed in so that a picture computes it once.
    func mapPixel(_ p: Int, range: (low: Double, high: Double)) -> (UInt8, UInt8, UInt8) {
        let (low, high) = range
        let (r, g, b) = Heatmap.colour((scores[label[p]] - low) / (high - low))
        let (ir, ig, ib) = imagePixel(p)
        let grey = (Double(ir) + Double(ig) + Double(ib)) / 3
        func blend(_ c: UInt8) -> UInt8 { UInt8((0.8 * Double(c) + 0.2 * grey).rounded()) }
        return (blend(r), blend(g), blend(b))
    }

    /// Whether position `p` lies on a feature boundary (its right or lower neighbour differs).
    func onBoundary(_ p: Int) -> Bool {
        let (y, x) = (p / shape.width, p % shape.width)
        return (x + 1 < shape.width && label[p + 1] != label[p]) || (y + 1 < shape.height && label[p + shape.width] != label[p])
    }

    /// The tick values of the colour bar: its ends and its middle.
    var ticks: [Double] {
        let (low, high) = range
        var t = [high, (low + high) / 2, low]
        // Zero gets its own tick unless it would overlap another label (within 8% of the bar).
        if low < 0 && high > 0, t.allSatisfy({ abs($0) > 0.08 * (high - low) }) { t.append(0) }
        return t
    }

    /// The picture as 8-bit RGB, row-major.
    public func raster() -> (pixels: [UInt8], width: Int, height: Int) {
        let l = layout
        var pixels = [UInt8](repeating: 255, count: l.width * l.height * 3)
        func put(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
            guard x >= 0, y >= 0, x < l.width, y < l.height else { return }
            let i = (y * l.width + x) * 3
            pixels[i] = c.0
            pixels[i + 1] = c.1
            pixels[i + 2] = c.2
        }
        let scoreRange = range
        for p in 0..<shape.plane {
            let (py, px) = (p / shape.width, p % shape.width)
            let a = imagePixel(p), m = mapPixel(p, range: scoreRange)
            for dy in 0..<l.scale {
                for dx in 0..<l.scale {
                    put(l.imageX + px * l.scale + dx, l.panelY + py * l.scale + dy, a)
                    put(l.mapX + px * l.scale + dx, l.panelY + py * l.scale + dy, m)
                }
            }
        }
        // Thin feature boundaries on the map when features are larger than a pixel.
        if Set(label).count < shape.plane && l.scale >= 2 {
            for p in 0..<shape.plane {
                let (py, px) = (p / shape.width, p % shape.width), (y, x) = (p / shape.width, p % shape.width)
                if x + 1 < shape.width && label[p + 1] != label[p] {
                    for dy in 0..<l.scale { put(l.mapX + (px + 1) * l.scale - 1, l.panelY + py * l.scale + dy, (255, 255, 255)) }
                }
                if y + 1 < shape.height && label[p + shape.width] != label[p] {
                    for dx in 0..<l.scale { put(l.mapX + px * l.scale + dx, l.panelY + (py + 1) * l.scale - 1, (255, 255, 255)) }
                }
            }
        }
        // The colour bar, highest at the top, with a black frame.
        for y in 0..<l.panelHeight {
            let t = 1 - Double(y) / Double(max(1, l.panelHeight - 1))
            for x in 0..<l.barWidth { put(l.barX + x, l.panelY + y, Heatmap.colour(t)) }
        }
        for x in -1...l.barWidth {
            put(l.barX + x, l.panelY - 1, (0, 0, 0))
            put(l.barX + x, l.panelY + l.panelHeight, (0, 0, 0))
        }
        for y in -1...l.panelHeight {
            put(l.barX - 1, l.panelY + y, (0, 0, 0))
            put(l.barX + l.barWidth, l.panelY + y, (0, 0, 0))
        }
        let text = (0, 0, 0) as (UInt8, UInt8, UInt8)
        let (low, high) = range
        for t in ticks {
            let y = l.panelY + Int(((high - t) / (high - low) * Double(l.panelHeight - 1)).rounded())
            for x in 0..<4 { put(l.barX + l.barWidth + 1 + x, y, text) }
            Glyphs.draw(Heatmap.tickLabel(t), x: l.barX + l.barWidth + 8, y: y - 3 * Glyphs.size, put: { put($0, $1, text) })
        }
        Glyphs.draw(imageTitle, x: l.imageX, y: l.margin, put: { put($0, $1, text) })
        Glyphs.draw(mapTitle, x: l.mapX, y: l.margin, put: { put($0, $1, text) })
        Glyphs.draw(caption, x: l.imageX, y: l.captionY, put: { put($0, $1, text) })
        return (pixels, l.width, l.height)
    }

    /// PNG bytes of ``raster()``.
    public func png() throws -> [UInt8] {
        let r = raster()
        return try PNGImage.encodeRGB(r.pixels, width: r.width, height: r.height)
    }

    /// Several pictures one above the other (each keeps its own colour scale), as PNG bytes.
    public static func stackedPNG(_ maps: [Heatmap]) throws -> [UInt8] {
        let rasters = maps.map { $0.raster() }
        let width = rasters.map(\.width).max() ?? 1, height = rasters.reduce(0) { $0 + $1.height }
        var pixels = [UInt8](repeating: 255, count: width * height * 3)
        var top = 0
        for r in rasters {
            for y in 0..<r.height {
                let source = y * r.width * 3, target = ((top + y) * width) * 3
                pixels.replaceSubrange(target..<(target + r.width * 3), with: r.pixels[source..<(source + r.width * 3)])
            }
            top += r.height
        }
        return try PNGImage.encodeRGB(pixels, width: width, height: height)
    }

    /// The picture as SVG: the two panels as one rectangle per feature run (so the map stays
    /// sharp at any zoom), the colour bar as a gradient, text as text.
    public func svg() -> String {
        let l = layout
        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(l.width)" height="\(l.height)" viewBox="0 0 \(l.width) \(l.height)" \
        shape-rendering="crispEdges" font-family="sans-serif" font-size="13">
        <rect width="100%" height="100%" fill="white"/>

        """
        func hex(_ c: (UInt8, UInt8, UInt8)) -> String {
            let digits = Self.hexDigits
            let bytes = [UInt8(ascii: "#")] + [c.0, c.1, c.2].flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }
            return String(decoding: bytes, as: UTF8.self)
        }
        // Runs of equal colour along each row keep the file small.
        let scoreRange = range
        for (panelX, pixel) in [(l.imageX, imagePixel), (l.mapX, { mapPixel($0, range: scoreRange) })]
            as [(Int, (Int) -> (UInt8, UInt8, UInt8))] {
            for y in 0..<shape.height {
                var x = 0
                while x < shape.width {
                    let c = pixel(y * shape.width + x)
                    var end = x + 1
                    while end < shape.width && pixel(y * shape.width + end) == c { end += 1 }
                    out += "<rect x=\"\(panelX + x * l.scale)\" y=\"\(l.panelY + y * l.scale)\" width=\"\((end - x) * l.scale)\" "
                        + "height=\"\(l.scale)\" fill=\"\(hex(c))\"/>\n"
                    x = end
                }
            }
        }
        out += "<defs><linearGradient id=\"bar\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">\n"
        for k in 0...10 {
            out += "<stop offset=\"\(Double(k) / 10)\" stop-color=\"\(hex(Heatmap.colour(Double(k) / 10)))\"/>\n"
        }
        out += "</linearGradient></defs>\n"
        out += "<rect x=\"\(l.barX)\" y=\"\(l.panelY)\" width=\"\(l.barWidth)\" height=\"\(l.panelHeight)\" fill=\"url(#bar)\" "
            + "stroke=\"black\"/>\n"
        let (low, high) = range
        for t in ticks {
            let y = Double(l.panelY) + (high - t) / (high - low) * Double(l.panelHeight - 1)
            out += "<line x1=\"\(l.barX + l.barWidth)\" y1=\"\(y)\" x2=\"\(l.barX + l.barWidth + 5)\" y2=\"\(y)\" stroke=\"black\"/>\n"
            out += "<text x=\"\(l.barX + l.barWidth + 8)\" y=\"\(y + 4)\">\(Heatmap.tickLabel(t))</text>\n"
        }
        out += "<text x=\"\(l.imageX)\" y=\"\(l.margin + 12)\">\(escaped(imageTitle))</text>\n"
        out += "<text x=\"\(l.mapX)\" y=\"\(l.margin + 12)\">\(escaped(mapTitle))</text>\n"
        out += "<text x=\"\(l.imageX)\" y=\"\(l.captionY + 12)\">\(escaped(caption))</text>\n"
        out += "</svg>\n"
        return out
    }

    func escaped(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    /// A short label: three significant digits, exponent form for very small or large values.
    static func tickLabel(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        return a >= 1e-3 && a < 1e4 ? String(format: "%.3g", v) : String(format: "%.2e", v)
    }
}

/// A 5×7 bitmap font for the raster's titles and tick labels (digits, capitals and a few
/// signs), drawn at `size` pixels per dot.
enum Glyphs {
    static let size = 2

    static let table: [Character: [String]] = [
        "0": ["01110", "10001", "10011", "10101", "11001", "10001", "01110"],
        "1": ["00100", "01100", "00100", "00100", "00100", "00100", "01110"],
        "2": ["01110", "10001", "00001", "00010", "00100", "01000", "11111"],
        "3": ["11110", "00001", "00001", "01110", "00001", "00001", "11110"],
        "4": ["00010", "00110", "01010", "10010", "11111", "00010", "00010"],
        "5": ["11111", "10000", "11110", "00001", "00001", "10001", "01110"],
        "6": ["00110", "01000", "10000", "11110", "10001", "10001", "01110"],
        "7": ["11111", "00001", "00010", "00100", "01000", "01000", "01000"],
        "8": ["01110", "10001", "10001", "01110", "10001", "10001", "01110"],
        "9": ["01110", "10001", "10001", "01111", "00001", "00010", "01100"],
        ".": ["00000", "00000", "00000", "00000", "00000", "01100", "01100"],
        "-": ["00000", "00000", "00000", "11111", "00000", "00000", "00000"],
        "+": ["00000", "00100", "00100", "11111", "00100", "00100", "00000"],
        ":": ["00000", "01100", "01100", "00000", "01100", "01100", "00000"],
        "(": ["00010", "00100", "01000", "01000", "01000", "00100", "00010"],
        ")": ["01000", "00100", "00010", "00010", "00010", "00100", "01000"],
        "=": ["00000", "00000", "11111", "00000", "11111", "00000", "00000"],
        " ": ["00000", "00000", "00000", "00000", "00000", "00000", "00000"],
        "e": ["00000", "00000", "01110", "10001", "11111", "10000", "01110"],
        "A": ["01110", "10001", "10001", "11111", "10001", "10001", "10001"],
        "B": ["11110", "10001", "10001", "11110", "10001", "10001", "11110"],
        "C": ["01110", "10001", "10000", "10000", "10000", "10001", "01110"],
        "D": ["11100", "10010", "10001", "10001", "10001", "10010", "11100"],
        "E": ["11111", "10000", "10000", "11110", "10000", "10000", "11111"],
        "F": ["11111", "10000", "10000", "11110", "10000", "10000", "10000"],
        "G": ["01110", "10001", "10000", "10111", "10001", "10001", "01111"],
        "H": ["10001", "10001", "10001", "11111", "10001", "10001", "10001"],
        "I": ["01110", "00100", "00100", "00100", "00100", "00100", "01110"],
        "K": ["10001", "10010", "10100", "11000", "10100", "10010", "10001"],
        "L": ["10000", "10000", "10000", "10000", "10000", "10000", "11111"],
        "M": ["10001", "11011", "10101", "10101", "10001", "10001", "10001"],
        "N": ["10001", "10001", "11001", "10101", "10011", "10001", "10001"],
        "O": ["01110", "10001", "10001", "10001", "10001", "10001", "01110"],
        "P": ["11110", "10001", "10001", "11110", "10000", "10000", "10000"],
        "R": ["11110", "10001", "10001", "11110", "10100", "10010", "10001"],
        "S": ["01111", "10000", "10000", "01110", "00001", "00001", "11110"],
        "T": ["11111", "00100", "00100", "00100", "00100", "00100", "00100"],
        "U": ["10001", "10001", "10001", "10001", "10001", "10001", "01110"],
        "V": ["10001", "10001", "10001", "10001", "10001", "01010", "00100"],
        "W": ["10001", "10001", "10001", "10101", "10101", "10101", "01010"],
        "X": ["10001", "10001", "01010", "00100", "01010", "10001", "10001"],
        "Y": ["10001", "10001", "01010", "00100", "00100", "00100", "00100"],
    ]

    /// Draws `text` (capitalised; unknown characters as blanks) with its top-left corner at (x, y).
    static func draw(_ text: String, x: Int, y: Int, put: (Int, Int) -> Void) {
        var cx = x
        for ch in text {
            let glyph = table[ch] ?? table[Character(ch.uppercased())] ?? table[" "]!
            for (row, bits) in glyph.enumerated() {
                for (col, bit) in bits.enumerated() where bit == "1" {
                    for dy in 0..<size { for dx in 0..<size { put(cx + col * size + dx, y + row * size + dy) } }
                }
            }
            cx += 6 * size
        }
    }
}
