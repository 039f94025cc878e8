// Tests of EvidentIO against the system `gzip` and `sha256sum` commands.
import EvidentIO
import EvidentTestSupport
import Foundation
import Testing

/// A fresh temporary folder, removed when the value is released.
final class TemporaryFolder {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("evident-io-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Writes `bytes` to `name` and returns the path.
    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        try Data(bytes).write(to: url.appendingPathComponent(name))
        return path(name)
    }
}

/// Runs a command, returning its standard output; fails the test when it exits non-zero.
func run(_ executable: String, _ arguments: [String]) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "\(executable) \(arguments) exited with \(process.terminationStatus)")
    return output
}

/// `gzip -c [level] file` as bytes.
func gzip(_ path: String, level: String = "-6") throws -> [UInt8] {
    [UInt8](try run("/usr/bin/gzip", ["-c", "-n", level, path]))
}

let haveTools = FileManager.default.isExecutableFile(atPath: "/usr/bin/gzip")
    && FileManager.default.isExecutableFile(atPath: "/usr/bin/sha256sum")
let toolsMissing = Comment(rawValue: "SKIPPED: /usr/bin/gzip or /usr/bin/sha256sum is missing")

func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

/// Seeded bytes: a compressible text-like part and a random part.
func sampleBytes(count: Int, seed: UInt64) -> [UInt8] {
    var random = SeededGenerator(seed: seed)
    return (0..<count).map { i in
        i % 3 == 0 ? UInt8(truncatingIfNeeded: random.next()) : UInt8(ascii: "a") + UInt8(i % 7)
    }
}

func inputFileError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> InputFileError? {
    do {
        try body()
        Issue.record("expected an InputFileError, nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as InputFileError {
        return error
    } catch {
        Issue.record("expected an InputFileError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

@Suite struct InputFileTests {
    @Test func plainFilesAreReadAsIs() throws {
        let folder = try TemporaryFolder()
        let bytes = sampleBytes(count: 100_000, seed: 1)
        let path = try folder.write("plain.bin", bytes)
        #expect(try InputFile.read(path: path) == bytes)
        let empty = try folder.write("empty.bin", [])
        #expect(try InputFile.read(path: empty) == [])
        // A single byte 1f is no gzip header.
        let lone = try folder.write("lone.bin", [0x1f])
        #expect(try InputFile.read(path: lone) == [0x1f])
    }

    @Test(.enabled(if: haveTools, toolsMissing), arguments: [0, 1, 1000, 300_000, 2_000_000])
    func gzipRoundTrips(count: Int) throws {
        let folder = try TemporaryFolder()
        let bytes = sampleBytes(count: count, seed: UInt64(count))
        let plain = try folder.write("data.txt", bytes)
        for level in ["-1", "-9"] {
            let compressed = try gzip(plain, level: level)
            #expect(compressed.starts(with: [0x1f, 0x8b]))
            let path = try folder.write("data\(level).txt.gz", compressed)
            #expect(try InputFile.read(path: path) == bytes, "level \(level)")
        }
        // Detection is by content, not by name.
        let renamed = try folder.write("compressed-but-named.txt", try gzip(plain))
        #expect(try InputFile.read(path: renamed) == bytes)
    }

    @Test(.enabled(if: haveTools, toolsMissing))
    func multiMemberFilesGiveTheConcatenation() throws {
        let folder = try TemporaryFolder()
        let a = sampleBytes(count: 5000, seed: 2), b = sampleBytes(count: 70_000, seed: 3)
        let first = try gzip(try folder.write("a", a)), second = try gzip(try folder.write("b", b))
        let emptyMember = try gzip(try folder.write("e", []))
        let path = try folder.write("ab.gz", first + emptyMember + second)
        #expect(try InputFile.read(path: path) == a + b)
        // `gzip -dc` agrees (the concatenation is a valid gzip file).
        #expect([UInt8](try run("/usr/bin/gzip", ["-dc", path])) == a + b)
    }

    @Test(.enabled(if: haveTools, toolsMissing))
    func truncatedDataIsAnErrorWithTheOffset() throws {
        let folder = try TemporaryFolder()
        let compressed = try gzip(try folder.write("t", sampleBytes(count: 50_000, seed: 4)))
        // Cut inside the deflate data, inside the 8-byte trailer, and right after the header.
        for keep in [compressed.count / 2, compressed.count - 3, 10] {
            let path = try folder.write("cut\(keep).gz", Array(compressed.prefix(keep)))
            let error = inputFileError { _ = try InputFile.read(path: path) }
            #expect(error == .truncatedGzip(path: path, offset: keep))
            #expect(error?.localizedDescription.contains(path) == true)
            #expect(error?.localizedDescription.contains("byte \(keep)") == true)
        }
        // A second member cut short is truncated too.
        let two = compressed + compressed.prefix(20)
        let path = try folder.write("second.gz", Array(two))
        #expect(inputFileError { _ = try InputFile.read(path: path) } == .truncatedGzip(path: path, offset: two.count))
    }

    @Test(.enabled(if: haveTools, toolsMissing))
    func corruptDataIsAnErrorWithTheOffset() throws {
        let folder = try TemporaryFolder()
        let bytes = sampleBytes(count: 50_000, seed: 5)
        let compressed = try gzip(try folder.write("c", bytes))
        // A wrong CRC-32 (first trailer byte), a wrong length (last byte), a bad method byte.
        for index in [compressed.count - 8, compressed.count - 1, 2] {
            var damaged = compressed
            damaged[index] ^= 0x55
            let path = try folder.write("bad\(index).gz", damaged)
            guard let error = inputFileError({ _ = try InputFile.read(path: path) }) else { continue }
            guard case let .corruptGzip(errorPath, offset, _) = error else {
                Issue.record("byte \(index): expected corruptGzip, got \(error)")
                continue
            }
            #expect(errorPath == path)
            #expect(offset >= 0 && offset <= compressed.count)
            #expect(error.localizedDescription.contains(path) && error.localizedDescription.contains("byte \(offset)"))
        }
        // Damage in the middle of the deflate stream is detected (by the stream or by the CRC).
        var random = SeededGenerator(seed: 6)
        for trial in 0..<20 {
            var damaged = compressed
            let index = 10 + Int(random.next() % UInt64(compressed.count - 18))
            damaged[index] ^= UInt8(1 + random.next() % 255)
            let path = try folder.write("random\(trial).gz", damaged)
            #expect(throws: InputFileError.self) { _ = try InputFile.read(path: path) }
        }
        // Bytes after the last member that start no new member.
        let trailing = try folder.write("trailing.gz", compressed + [0x00, 0x01, 0x02])
        #expect(inputFileError { _ = try InputFile.read(path: trailing) }
                == .corruptGzip(path: trailing, offset: compressed.count,
                                detail: "data after the end of a gzip member does not start another member"))
        // The magic alone, followed by garbage.
        let garbage = try folder.write("garbage", [0x1f, 0x8b] + Array(repeating: 0xff, count: 40))
        #expect(throws: InputFileError.self) { _ = try InputFile.read(path: garbage) }
    }

    @Test(.enabled(if: haveTools, toolsMissing))
    func theLimitBoundsTheDecompressedSize() throws {
        let folder = try TemporaryFolder()
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        let plain = try folder.write("zeros", zeros)
        let path = try folder.write("zeros.gz", try gzip(plain, level: "-9"))
        #expect(try InputFile.read(path: path, limit: zeros.count) == zeros)
        #expect(inputFileError { _ = try InputFile.read(path: path, limit: zeros.count - 1) }
                == .tooLarge(path: path, limit: zeros.count - 1))
        #expect(inputFileError { _ = try InputFile.read(path: path, limit: 1000) } == .tooLarge(path: path, limit: 1000))
        // Plain files are bounded alike.
        #expect(try InputFile.read(path: plain, limit: zeros.count) == zeros)
        #expect(inputFileError { _ = try InputFile.read(path: plain, limit: 10) } == .tooLarge(path: plain, limit: 10))
        #expect(inputFileError { _ = try InputFile.contentDigest(path: path, limit: 10) } == .tooLarge(path: path, limit: 10))
    }

    @Test func unreadableFilesNameThePath() throws {
        let folder = try TemporaryFolder()
        let missing = folder.path("does-not-exist.onnx.gz")
        let error = inputFileError { _ = try InputFile.read(path: missing) }
        guard case let .unreadable(path, _)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(path == missing)
        #expect(error?.localizedDescription.hasPrefix(missing) == true)
        #expect(throws: InputFileError.self) { _ = try InputFile.read(path: folder.url.path) }  // a directory
    }

    @Test("a pipe or a device is refused at once, saying what it is (reading it would block or be lost)")
    func specialFilesAreRefused() throws {
        let folder = try TemporaryFolder()
        let fifo = folder.path("property.vnnlib")
        #expect(mkfifo(fifo, 0o600) == 0)
        for (path, kind) in [(fifo, "a pipe (FIFO)"), ("/dev/null", "a device")] {
            let error = inputFileError { _ = try InputFile.read(path: path) }
            guard case let .unreadable(errorPath, reason)? = error else { Issue.record("\(path): got \(String(describing: error))"); continue }
            #expect(errorPath == path)
            #expect(reason.hasPrefix("it is \(kind), not a regular file"), "\(reason)")
        }
    }

    /// FIPS 180-2 test vectors.
    @Test func sha256KnownVectors() {
        #expect(hex(InputFile.sha256([UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex(InputFile.sha256(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(InputFile.sha256(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(hex(InputFile.sha256([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test(.enabled(if: haveTools, toolsMissing), arguments: [0, 55, 56, 64, 100_003])
    func contentDigestMatchesSha256sum(count: Int) throws {
        let folder = try TemporaryFolder()
        let plain = try folder.write("f", sampleBytes(count: count, seed: 7 + UInt64(count)))
        let compressed = try folder.write("f.gz", try gzip(plain))
        let expected = String(decoding: try run("/usr/bin/sha256sum", [plain]), as: UTF8.self).prefix(64)
        #expect(hex(try InputFile.contentDigest(path: plain)) == expected)
        #expect(hex(try InputFile.contentDigest(path: compressed)) == expected)
        #expect(InputFile.sha256(try InputFile.read(path: plain)) == (try InputFile.contentDigest(path: compressed)))
    }

    @Test func namesWithoutTheCompressionSuffix() {
        #expect(InputFile.baseName(of: "dir/x.onnx.gz") == "dir/x.onnx")
        #expect(InputFile.baseName(of: "x.ONNX.GZ") == "x.ONNX")
        #expect(InputFile.baseName(of: "x.onnx") == "x.onnx")
        #expect(InputFile.baseName(of: ".gz") == ".gz")
        #expect(InputFile.baseName(of: "a.tar.xz", stripping: ".xz") == "a.tar")
        #expect(InputFile.effectiveExtension(of: "x.onnx.gz") == "onnx")
        #expect(InputFile.effectiveExtension(of: "p/prop_1.VNNLIB.gz") == "vnnlib")
        #expect(InputFile.effectiveExtension(of: "net.nnet") == "nnet")
        #expect(InputFile.effectiveExtension(of: "archive.gz") == "")
        #expect(InputFile.effectiveExtension(of: "README") == "")
    }
}
