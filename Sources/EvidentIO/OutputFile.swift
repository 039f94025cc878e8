// Writing output files so that an interrupted run never leaves a half-written one.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A failure to write an output file; the message names the file.
public struct OutputFileError: Error, LocalizedError, Equatable, Sendable {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var errorDescription: String? { "\(path): cannot be written (\(reason))" }
}

/// Output files written atomically or appended durably.
public enum OutputFile {
    /// Writes `bytes` to a temporary file beside `path`, flushes it to disk and renames it
    /// over `path`: a reader (or a run killed at any moment) sees the old file or the whole
    /// new one, never a part.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let temporary = path + ".partial-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else { throw OutputFileError(path: path, reason: String(cString: strerror(errno))) }
        do {
            try writeAll(bytes, to: descriptor, path: path)
            guard fsync(descriptor) == 0 else { throw OutputFileError(path: path, reason: "fsync: " + String(cString: strerror(errno))) }
            close(descriptor)
        } catch {
            close(descriptor)
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw OutputFileError(path: path, reason: "rename: " + reason)
        }
    }

    /// Writes `text` atomically (see `writeAtomically(_:to:)`).
    public static func writeAtomically(_ text: String, to path: String) throws {
        try writeAtomically(Array(text.utf8), to: path)
    }

    /// Writes all of `bytes` at the descriptor's position, retrying short writes.
    static func writeAll(_ bytes: [UInt8], to descriptor: Int32, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw OutputFileError(path: path, reason: String(cString: strerror(errno)))
            }
            offset += written
        }
    }

    /// A file that grows by whole lines: each `append` writes its text in one call and
    /// flushes it to disk before returning, so a finished line survives the process being
    /// killed right after. A line cut short by a crash inside `append` is what
    /// `truncateToLastLine` removes on the next run.
    public final class Appender: @unchecked Sendable {
        public let path: String
        private let descriptor: Int32
        private let lock = NSLock()

        /// Opens `path` for appending, creating it when missing.
        public init(path: String) throws {
            self.path = path
            descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            guard descriptor >= 0 else { throw OutputFileError(path: path, reason: String(cString: strerror(errno))) }
        }

        /// Appends `text` and flushes it to disk.
        public func append(_ text: String) throws {
            lock.lock()
            defer { lock.unlock() }
            try OutputFile.writeAll(Array(text.utf8), to: descriptor, path: path)
            guard fsync(descriptor) == 0 else { throw OutputFileError(path: path, reason: "fsync: " + String(cString: strerror(errno))) }
        }

        deinit { close(descriptor) }
    }

    /// Cuts `path` after its last newline (a partial last line left by a killed writer) and
    /// returns the number of bytes removed. A missing file is left missing (0).
    @discardableResult
    public static func truncateToLastLine(path: String) throws -> Int {
        guard let data = FileManager.default.contents(atPath: path) else { return 0 }
        let keep = (data.lastIndex(of: 10).map { $0 + 1 }) ?? 0
        let removed = data.count - keep
        if removed > 0 {
            guard truncate(path, off_t(keep)) == 0 else { throw OutputFileError(path: path, reason: "truncate: " + String(cString: strerror(errno))) }
        }
        return removed
    }
}
