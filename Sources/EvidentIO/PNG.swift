// PNG images through libpng (Debian's libpng-dev, behind the small C wrapper in Sources/CPNG):
// `evident eva --image` reads grey or RGB pictures (8 or 16 bit, with or without alpha), and
// the heatmaps it draws are written as 8-bit RGB.

import CPNG
import Foundation

/// Why a PNG could not be read or written. Every message names the file.
public struct PNGError: Error, LocalizedError, Equatable, Sendable {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var errorDescription: String? { "\(path): \(reason)" }
}

/// A decoded PNG: `height` rows of `width` pixels of `channels` samples (1 grey, 2 grey and
/// alpha, 3 RGB, 4 RGBA), each in `0...maxSample`, row-major and interleaved as in the file.
public struct PNGImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var channels: Int
    /// 8 or 16 (palette and 1-, 2-, 4-bit grey images are expanded to 8 bits).
    public var bitDepth: Int
    public var samples: [UInt16]

    public init(width: Int, height: Int, channels: Int, bitDepth: Int, samples: [UInt16]) {
        precondition(samples.count == width * height * channels, "PNGImage: sample count mismatch")
        self.width = width
        self.height = height
        self.channels = channels
        self.bitDepth = bitDepth
        self.samples = samples
    }

    /// The largest sample value, `2^bitDepth − 1`.
    public var maxSample: Int { (1 << bitDepth) - 1 }

    /// Colour channels without alpha: 1 (grey) or 3 (RGB).
    public var colourChannels: Int { channels >= 3 ? 3 : 1 }

    /// The colour samples scaled to [0, 1] (`sample / maxSample`), channel-major
    /// (`colourChannels × height × width`, the layout image networks take); alpha is dropped.
    public var planar: [Double] {
        let c = colourChannels, plane = width * height, scale = Double(maxSample)
        var out = [Double](repeating: 0, count: c * plane)
        for p in 0..<plane {
            for k in 0..<c { out[k * plane + p] = Double(samples[p * channels + k]) / scale }
        }
        return out
    }

    /// Reads a PNG file (gzip-compressed files too, as every input). Images of more than
    /// `maxSamples` samples are refused before their pixels are allocated.
    public static func read(path: String, maxSamples: Int = 1 << 28) throws -> PNGImage {
        let bytes: [UInt8]
        do { bytes = try InputFile.read(path: path) } catch let e as InputFileError {
            throw PNGError(path: path, reason: e.reason)
        }
        return try decode(bytes, path: path, maxSamples: maxSamples)
    }

    /// Decodes PNG bytes; `path` only names them in errors.
    public static func decode(_ bytes: [UInt8], path: String, maxSamples: Int = 1 << 28) throws -> PNGImage {
        var image = evident_png_image()
        var message = [CChar](repeating: 0, count: 512)
        let status = bytes.withUnsafeBufferPointer { buffer in
            evident_png_decode(buffer.baseAddress, buffer.count, maxSamples, &image, &message, message.count)
        }
        guard status == 0 else { throw PNGError(path: path, reason: "not a readable PNG: " + String(cString: message)) }
        defer { evident_png_free(&image) }
        let count = Int(image.width) * Int(image.height) * Int(image.channels)
        let samples = Array(UnsafeBufferPointer(start: image.samples, count: count))
        return PNGImage(width: Int(image.width), height: Int(image.height), channels: Int(image.channels),
                        bitDepth: Int(image.bit_depth), samples: samples)
    }

    /// Encodes 8-bit RGB pixels (`height` rows of `width × 3` bytes) as PNG bytes.
    public static func encodeRGB(_ pixels: [UInt8], width: Int, height: Int) throws -> [UInt8] {
        precondition(pixels.count == width * height * 3, "encodeRGB: pixel count mismatch")
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 512)
        let status = pixels.withUnsafeBufferPointer { buffer in
            evident_png_encode_rgb8(buffer.baseAddress, UInt32(width), UInt32(height), &out, &size, &message, message.count)
        }
        guard status == 0, let out else { throw PNGError(path: "(PNG encoder)", reason: String(cString: message)) }
        defer { evident_png_free_buffer(out) }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }
}
