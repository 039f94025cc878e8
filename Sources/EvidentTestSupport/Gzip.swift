import Foundation

/// Whether the system gzip (Debian's `/usr/bin/gzip`) is there to make compressed fixtures.
public let gzipAvailable = FileManager.default.isExecutableFile(atPath: "/usr/bin/gzip")

/// Errors of the test helpers.
public struct TestSupportError: Error, CustomStringConvertible {
    public var description: String
}

/// The bytes of `gzip -c -n path` (the system gzip).
public func gzipped(_ path: String) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/gzip")
    process.arguments = ["-c", "-n", path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw TestSupportError(description: "gzip -c -n \(path) exited with status \(process.terminationStatus)")
    }
    return data
}

/// `gzip -c -n source > folder/name`; returns the new file's path.
public func gzipCopy(_ source: String, into folder: URL, name: String) throws -> String {
    let path = folder.appendingPathComponent(name).path
    try gzipped(source).write(to: URL(fileURLWithPath: path))
    return path
}

/// A new empty folder under the temporary directory.
public func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("evident-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
