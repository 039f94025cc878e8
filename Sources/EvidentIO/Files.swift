// Reading the files Evident takes as input (plain or gzip-compressed) and hashing their contents.
//
// Every loader (ONNX, .nnet, VNN-LIB) reads through `InputFile.read`, so `x.onnx.gz` loads like
// `x.onnx`, and a certificate binds a file by the SHA-256 of its decompressed contents
// (`InputFile.contentDigest`), so both forms of one file bind alike.

import CZlib
import Crypto
import Foundation

/// Everything that can go wrong reading an input file. Every message names the file; gzip
/// errors also name the byte offset in the compressed file where the problem was found.
public enum InputFileError: Error, LocalizedError, Equatable, Sendable {
    /// The file could not be opened or read (missing, a directory, no permission, …).
    case unreadable(path: String, reason: String)
    /// The file (after decompression) holds more than `limit` bytes.
    case tooLarge(path: String, limit: Int)
    /// The gzip data ends before its last member is complete; `offset` is the file's length.
    case truncatedGzip(path: String, offset: Int)
    /// The gzip data is invalid at or before byte `offset` (a bad header, deflate stream,
    /// CRC-32 or length check, or bytes after the last member that start no new member).
    case corruptGzip(path: String, offset: Int, detail: String)
    /// zlib failed for a reason unrelated to the data (out of memory, version mismatch).
    case zlibFailure(path: String, code: Int32, detail: String)

    /// The file the error is about.
    public var path: String {
        switch self {
        case let .unreadable(path, _), let .tooLarge(path, _), let .truncatedGzip(path, _),
             let .corruptGzip(path, _, _), let .zlibFailure(path, _, _):
            path
        }
    }

    /// What went wrong, without the path (for loaders that wrap this error into their own).
    public var reason: String {
        switch self {
        case let .unreadable(_, reason):
            reason
        case let .tooLarge(_, limit):
            "the contents exceed the limit of \(limit) bytes"
        case let .truncatedGzip(_, offset):
            "the gzip data is truncated (it ends at byte \(offset) inside a compressed member)"
        case let .corruptGzip(_, offset, detail):
            "the gzip data is corrupt at byte \(offset): \(detail)"
        case let .zlibFailure(_, code, detail):
            "zlib failed with code \(code) (\(detail))"
        }
    }

    /// `path: reason`, one sentence.
    public var errorDescription: String? {
        switch self {
        case .unreadable: "\(path): cannot be read (\(reason))"
        default: "\(path): \(reason)"
        }
    }
}

/// Reading input files, plain or gzip-compressed, and hashing their contents.
public enum InputFile {
    /// The default bound on the (decompressed) size of a file: 8 GiB.
    public static let defaultLimit = 8 << 30

    /// The two bytes every gzip member starts with (RFC 1952, ID1 ID2).
    public static let gzipMagic: [UInt8] = [0x1f, 0x8b]

    /// The contents of the file at `path`, decompressed when they start with the gzip magic
    /// bytes `1f 8b` (whatever the file's name). Multi-member gzip files (`cat a.gz b.gz`)
    /// give the concatenation of the members.
    ///
    /// - Parameter limit: the largest accepted size of the contents (after decompression),
    ///   in bytes; decompression stops as soon as it is exceeded, so at most `limit + 1`
    ///   bytes of output are ever held.
    /// - Throws: ``InputFileError``: unreadable file, contents above `limit`, truncated or
    ///   corrupt gzip data (with the byte offset).
    public static func read(path: String, limit: Int = defaultLimit) throws -> [UInt8] {
        [UInt8](try readData(path: path, limit: limit))
    }

    /// ``read(path:limit:)`` as `Data` (saves a copy for callers that need `Data`).
    public static func readData(path: String, limit: Int = defaultLimit) throws -> Data {
        let raw = try readRaw(path: path, limit: limit)
        guard isGzip(raw) else { return raw }
        return try gunzip(raw, source: path, limit: limit)
    }

    /// Whether `bytes` start with the gzip magic `1f 8b`.
    public static func isGzip<Bytes: Collection>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        var iterator = bytes.makeIterator()
        return iterator.next() == gzipMagic[0] && iterator.next() == gzipMagic[1]
    }

    /// SHA-256 (FIPS 180-4) of `bytes`: 32 bytes.
    public static func sha256<Bytes: DataProtocol>(_ bytes: Bytes) -> [UInt8] {
        Array(SHA256.hash(data: bytes))
    }

    /// SHA-256 of the file's contents after decompression (``read(path:limit:)``), so that
    /// `x.onnx` and a gzip-compressed `x.onnx.gz` of it have the same digest.
    /// - Throws: what ``read(path:limit:)`` throws.
    public static func contentDigest(path: String, limit: Int = defaultLimit) throws -> [UInt8] {
        sha256(try readData(path: path, limit: limit))
    }

    /// `path` without a trailing `suffix` (compared case-insensitively): `x.onnx.gz` gives
    /// `x.onnx`; a path without the suffix is returned unchanged.
    public static func baseName(of path: String, stripping suffix: String = ".gz") -> String {
        guard !suffix.isEmpty, path.count > suffix.count, path.lowercased().hasSuffix(suffix.lowercased()) else { return path }
        return String(path.dropLast(suffix.count))
    }

    /// The extension that says what a file holds, lowercased, ignoring a `.gz` suffix:
    /// `onnx` for both `x.onnx` and `x.ONNX.gz`; empty when there is none.
    public static func effectiveExtension(of path: String) -> String {
        (baseName(of: path) as NSString).pathExtension.lowercased()
    }

    // MARK: Plain reading

    private static func readRaw(path: String, limit: Int) throws -> Data {
        let url = URL(fileURLWithPath: path)
        if let kind = specialFileKind(path) {
            throw InputFileError.unreadable(path: path, reason: "it is \(kind), not a regular file: an input is read more than "
                                            + "once (to parse it and to hash it for certificates), so save it to a file first")
        }
        if let size = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber,
           size.int64Value > Int64(limit), !isGzipFile(url) {
            throw InputFileError.tooLarge(path: path, limit: limit)
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw InputFileError.unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        if data.count > limit && !isGzip(data) { throw InputFileError.tooLarge(path: path, limit: limit) }
        return data
    }

    /// What `path` is when it exists but is neither a regular file nor a directory (after
    /// following symbolic links): a pipe (as `<(command)` gives), a device or a socket.
    private static func specialFileKind(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        switch info.st_mode & S_IFMT {
        case S_IFIFO: return "a pipe (FIFO)"
        case S_IFCHR, S_IFBLK: return "a device"
        case S_IFSOCK: return "a socket"
        default: return nil
        }
    }

    /// Whether the file starts with the gzip magic (reads two bytes; false when unreadable).
    private static func isGzipFile(_ url: URL) -> Bool {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 2) else { return false }
        return isGzip(head)
    }

    // MARK: Decompression

    /// Decompresses every gzip member of `compressed` (which starts with the magic).
    static func gunzip(_ compressed: Data, source: String, limit: Int) throws -> Data {
        let stream = try InflateStream(source: source)
        var output = Data()
        let chunkSize = 1 << 18
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        try compressed.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard let base = raw.bindMemory(to: UInt8.self).baseAddress else { return }
            let total = raw.count
            var position = 0  // bytes of `compressed` consumed
            var memberStart = true
            while true {
                if memberStart {
                    if position == total { break }
                    // Each member must start with the magic; anything else after a member is an error.
                    guard total - position >= 2, base[position] == gzipMagic[0], base[position + 1] == gzipMagic[1] else {
                        throw InputFileError.corruptGzip(path: source, offset: position,
                                                         detail: "data after the end of a gzip member does not start another member")
                    }
                    memberStart = false
                }
                let available = Swift.min(total - position, Int(UInt32.max))
                let step = try chunk.withUnsafeMutableBufferPointer { out -> (consumed: Int, produced: Int, end: Bool) in
                    let room = Swift.min(out.count, limit - output.count + 1)
                    return try stream.inflate(input: base + position, count: available,
                                              output: out.baseAddress!, capacity: room, position: position)
                }
                position += step.consumed
                if step.produced > 0 {
                    guard output.count + step.produced <= limit else {
                        throw InputFileError.tooLarge(path: source, limit: limit)
                    }
                    chunk.withUnsafeBufferPointer { output.append($0.baseAddress!, count: step.produced) }
                }
                if step.end {
                    try stream.reset()
                    memberStart = true
                } else if step.consumed == 0 && step.produced == 0 {
                    // Inside a member, no progress with room to write: the input has run out.
                    throw InputFileError.truncatedGzip(path: source, offset: total)
                }
            }
        }
        return output
    }
}

/// One zlib inflate stream for gzip members (`windowBits` 16 + 15), initialised once and
/// ended exactly once in `deinit`. The only place that calls zlib.
private final class InflateStream {
    private let stream: UnsafeMutablePointer<z_stream>
    private let source: String

    init(source: String) throws {
        self.source = source
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let code = inflateInit2_(stream, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard code == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw InputFileError.zlibFailure(path: source, code: code, detail: "inflateInit2 failed")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Prepares for the next gzip member.
    func reset() throws {
        let code = inflateReset(stream)
        guard code == Z_OK else { throw InputFileError.zlibFailure(path: source, code: code, detail: "inflateReset failed") }
    }

    /// Runs inflate once on `count` input bytes (at file offset `position`) into `capacity`
    /// output bytes; returns the bytes consumed and produced and whether the member ended.
    func inflate(input: UnsafePointer<UInt8>, count: Int, output: UnsafeMutablePointer<UInt8>, capacity: Int,
                 position: Int) throws -> (consumed: Int, produced: Int, end: Bool) {
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input)
        stream.pointee.avail_in = uInt(count)
        stream.pointee.next_out = output
        stream.pointee.avail_out = uInt(capacity)
        let code = CZlib.inflate(stream, Z_NO_FLUSH)
        let consumed = count - Int(stream.pointee.avail_in)
        let produced = capacity - Int(stream.pointee.avail_out)
        switch code {
        case Z_OK:
            return (consumed, produced, false)
        case Z_STREAM_END:
            return (consumed, produced, true)
        case Z_BUF_ERROR:
            // No progress possible: all input consumed inside a member (truncation), or no room.
            return (consumed, produced, false)
        case Z_DATA_ERROR, Z_NEED_DICT:
            let message = stream.pointee.msg.map { String(cString: $0) } ?? "invalid deflate data"
            throw InputFileError.corruptGzip(path: source, offset: position + consumed, detail: message)
        case Z_MEM_ERROR:
            throw InputFileError.zlibFailure(path: source, code: code, detail: "out of memory")
        default:
            let message = stream.pointee.msg.map { String(cString: $0) } ?? "unexpected return code"
            throw InputFileError.zlibFailure(path: source, code: code, detail: message)
        }
    }
}
