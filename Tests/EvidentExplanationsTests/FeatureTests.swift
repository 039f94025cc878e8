import Evident
import EvidentTestSupport
import Foundation
import Testing

@Suite("EVA features")
struct FeatureTests {
    @Test("grid, pixels and superpixels partition the image plane")
    func partitions() throws {
        var rng = SeededGenerator(seed: 2)
        let shape = ImageShape(channels: 3, height: 32, width: 32)
        let image = rng.uniforms(shape.count, 0...1)
        let grid = try FeatureMap(.grid(8), shape: shape, image: image)
        #expect(grid.count == 64)
        // Patch (row, column) is feature 8·row + column, each 4×4 pixels.
        for p in 0..<shape.plane { #expect(grid.label[p] == (p / 32 / 4) * 8 + (p % 32) / 4) }
        #expect(grid.inputIndices.allSatisfy { $0.count == 48 })
        let pixels = try FeatureMap(.pixels, shape: shape, image: image)
        #expect(pixels.count == 1024 && pixels.label == Array(0..<1024))
        #expect(pixels.inputIndices[5] == [5, 1029, 2053])
        let uneven = try FeatureMap(.grid(3), shape: ImageShape(channels: 1, height: 7, width: 5), image: [Double](repeating: 0, count: 35))
        #expect(uneven.count == 9 && Set(uneven.label).count == 9)
        let superpixels = try FeatureMap(.superpixels(20), shape: shape, image: image)
        #expect(superpixels.count >= 5 && superpixels.count <= 60, "\(superpixels.count)")
        #expect(Set(superpixels.label) == Set(0..<superpixels.count))
        #expect(try FeatureMap(.superpixels(20), shape: shape, image: image) == superpixels, "deterministic")
    }

    /// Every superpixel is 4-connected, and on an image of two flat halves no superpixel
    /// straddles the edge.
    @Test("superpixels are connected and follow colour edges")
    func superpixelsFollowEdges() throws {
        let shape = ImageShape(channels: 1, height: 24, width: 24)
        let image = (0..<shape.plane).map { p in p % 24 < 11 ? 0.1 : 0.9 }
        let map = try FeatureMap(.superpixels(16), shape: shape, image: image)
        for positions in map.positions {
            #expect(Set(positions.map { image[$0] }).count == 1, "a superpixel straddles the edge")
            var seen: Set<Int> = [positions[0]], queue = [positions[0]]
            let members = Set(positions)
            while let p = queue.popLast() {
                for q in [p - 24, p + 24, p % 24 > 0 ? p - 1 : -1, p % 24 < 23 ? p + 1 : -1] where members.contains(q) && !seen.contains(q) {
                    seen.insert(q)
                    queue.append(q)
                }
            }
            #expect(seen.count == positions.count, "a superpixel is not connected")
        }
    }

    @Test("feature arguments")
    func arguments() throws {
        #expect(FeatureKind(argument: "grid:8") == .grid(8))
        #expect(FeatureKind(argument: "pixels") == .pixels)
        #expect(FeatureKind(argument: "superpixels:50") == .superpixels(50))
        for bad in ["grid", "grid:0", "grid:x", "pixel", "superpixels:-1", ""] { #expect(FeatureKind(argument: bad) == nil, "\(bad)") }
        #expect(throws: FeatureError.self) {
            try FeatureMap(.grid(40), shape: ImageShape(channels: 1, height: 32, width: 32), image: [Double](repeating: 0, count: 1024))
        }
    }

    @Test("heatmap pictures: PNG round trip, colours and SVG")
    func heatmap() throws {
        let shape = ImageShape(channels: 1, height: 8, width: 8)
        let image = (0..<64).map { Double($0) / 63 }
        let map = try FeatureMap(.grid(2), shape: shape, image: image)
        let h = Heatmap(image: image, shape: shape, label: map.label, scores: [0, 1, 2, 4])
        let raster = h.raster()
        let decoded = try PNGImage.decode(try h.png(), path: "heatmap.png")
        #expect(decoded.width == raster.width && decoded.height == raster.height && decoded.channels == 3)
        #expect(decoded.samples.map { UInt8($0) } == raster.pixels)
        // The colour scale runs from dark to bright.
        func brightness(_ c: (UInt8, UInt8, UInt8)) -> Int { Int(c.0) + Int(c.1) + Int(c.2) }
        #expect(brightness(Heatmap.colour(0)) < brightness(Heatmap.colour(0.5)))
        #expect(brightness(Heatmap.colour(0.5)) < brightness(Heatmap.colour(1)))
        let svg = h.svg()
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n") && svg.contains(">4</text>"))
    }
}
