import Evident
import EvidentTestSupport
import Foundation
import Testing

/// PNG reading through libpng and the image inputs of EVA (normalisation, clipping).
@Suite("EVA image inputs")
struct ImageInputTests {
    static func fixture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)").path
    }

    @Test("16-bit grey and 8-bit RGBA PNGs decode to the samples make_pngs.py wrote")
    func decode() throws {
        let grey = try PNGImage.read(path: Self.fixture("grey16.png"))
        #expect(grey.width == 5 && grey.height == 3 && grey.channels == 1 && grey.bitDepth == 16)
        for y in 0..<3 { for x in 0..<5 { #expect(Int(grey.samples[y * 5 + x]) == (x * 7 + y * 13) * 257 + x) } }
        #expect(grey.planar[6] == Double((1 * 7 + 1 * 13) * 257 + 1) / 65535)
        let rgba = try PNGImage.read(path: Self.fixture("rgba8.png"))
        #expect(rgba.width == 3 && rgba.height == 2 && rgba.channels == 4 && rgba.bitDepth == 8 && rgba.colourChannels == 3)
        let planar = rgba.planar
        #expect(planar.count == 18)
        // Channel-major, alpha dropped: channel c of pixel (x, y) is (40x + 60y + c) / 255.
        for c in 0..<3 { for y in 0..<2 { for x in 0..<3 { #expect(planar[c * 6 + y * 3 + x] == Double(40 * x + 60 * y + c) / 255) } } }
    }

    @Test("truncated and non-PNG files are refused with the file's name")
    func badFiles() throws {
        for name in ["truncated.png", "make_pngs.py"] {
            let path = Self.fixture(name)
            #expect {
                try PNGImage.read(path: path)
            } throws: { error in
                (error as? PNGError)?.errorDescription?.hasPrefix(path) == true
            }
        }
        #expect(throws: PNGError.self) { try PNGImage.read(path: Self.fixture("grey16.png"), maxSamples: 10) }
        #expect(throws: PNGError.self) { try PNGImage.read(path: Self.fixture("missing.png")) }
    }

    @Test("image boxes: clipped in pixel units, then normalised per channel")
    func imageBox() throws {
        let rgba = try PNGImage.read(path: Self.fixture("rgba8.png"))
        let shape = ImageShape(channels: 3, height: 2, width: 3)
        let mean = [0.5, 0.4, 0.3], std = [0.2, 0.25, 0.5]
        let input = try EVAInput.image(rgba, path: "rgba8.png", networkShape: shape, epsilon: 0.3,
                                       normalise: PixelNormalisation(mean: mean, std: std), clip: nil)
        let raw = rgba.planar
        for i in raw.indices {
            let c = i / 6
            #expect(abs(input.center[i] - (raw[i] - mean[c]) / std[c]) < 1e-15)
            #expect(abs(input.lower[i] - (max(raw[i] - 0.3, 0) - mean[c]) / std[c]) < 1e-15)
            #expect(abs(input.upper[i] - (min(raw[i] + 0.3, 1) - mean[c]) / std[c]) < 1e-15)
        }
        #expect(input.display == raw && input.epsilon == 0.3)
        #expect(throws: EVAError.self) {
            try EVAInput.image(rgba, path: "rgba8.png", networkShape: ImageShape(channels: 1, height: 2, width: 3), epsilon: 0.1,
                               normalise: nil, clip: nil)
        }
        #expect(throws: EVAError.self) {
            try EVAInput.image(rgba, path: "rgba8.png", networkShape: shape, epsilon: 0.1,
                               normalise: PixelNormalisation(mean: [0, 0], std: [1, 1]), clip: nil)
        }
        #expect(throws: EVAError.self) {
            try EVAInput.image(rgba, path: "rgba8.png", networkShape: shape, epsilon: -1, normalise: nil, clip: nil)
        }
    }
}
