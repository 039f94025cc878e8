import ArgumentParser
import Evident
import Foundation

/// `evident`: the command-line front of the library. It parses arguments, calls the
/// library and prints; all logic lives in the `Evident` modules.
struct EvidentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evident",
        abstract: "Formal verification of neural networks (ONNX, .nnet) against VNN-LIB properties.",
        discussion: """
        Every number Evident prints about a network is computed in Float64 from the weights \
        stored in the file. Run `evident help SUBCOMMAND` for details of each command.
        """,
        version: EvidentVerification.Evident.producer.replacingOccurrences(of: "evident ", with: ""),
        subcommands: [Info.self, Eval.self, Bounds.self, Verify.self, Check.self, Eva.self, EvaBenchmark.self, CampaignCommand.self,
                      Supports.self, VNNLibCommand.self])

    @Flag(help: "Print the verifier's full name (the VNN-LIB standard's global option).")
    var name = false

    func run() throws {
        guard name else { throw CleanExit.helpRequest(self) }
        print("Evident")
    }
}

/// Options shared by every subcommand.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print machine-readable JSON instead of text.")
    var json = false
}

/// A memory size on the command line: bytes, or a number with `K`, `M` or `G` (powers of
/// 1024), for example `512M` or `1.5G`.
struct MemorySize: ExpressibleByArgument {
    var bytes: Int

    init?(argument: String) {
        let text = argument.uppercased()
        let units: [Character: Double] = ["K": 1024, "M": 1024 * 1024, "G": 1024 * 1024 * 1024]
        var number = Substring(text), scale = 1.0
        if let last = text.last, let unit = units[last] {
            number = text.dropLast()
            scale = unit
        }
        guard let value = Double(number), value.isFinite, value > 0, value * scale < 9e18 else { return nil }
        bytes = Int(value * scale)
    }
}

/// Parses `--network NAME=MODEL` arguments (VNN-LIB 2.0 queries) into declared name → model path.
func networkArguments(_ arguments: [String]) throws -> [String: String] {
    var paths: [String: String] = [:]
    for argument in arguments {
        guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex,
              argument.index(after: equals) != argument.endIndex else {
            throw UsageError("--network takes NAME=MODEL, got '\(argument)'")
        }
        let name = String(argument[..<equals])
        guard paths[name] == nil else { throw UsageError("--network \(name)=… is given twice") }
        paths[name] = String(argument[argument.index(after: equals)...])
    }
    return paths
}

/// A wall-clock limit for a command that has no deadline of its own inside the library: when
/// it passes before ``disarm()``, the process prints one line and exits with status 30 (as
/// `verify` on a timeout). Commands disarm it once their results are complete and before
/// they write any file, so that a timed-out run leaves its outputs untouched.
final class Deadline: @unchecked Sendable {
    private let lock = NSLock()
    private var armed = true
    private let timer: DispatchSourceTimer

    /// Counts from the process start (`processStart`), as `verify --timeout` does.
    init(seconds: Double, command: String, consequence: String) throws {
        guard seconds > 0 && seconds.isFinite else { throw UsageError("--timeout must be a positive number of seconds") }
        timer = DispatchSource.makeTimerSource(queue: .global())
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - processStart) / 1e9
        timer.schedule(deadline: .now() + max(0, seconds - elapsed))
        timer.setEventHandler { [self] in
            lock.lock()
            guard armed else { return lock.unlock() }  // the results are being written: let them finish
            FileHandle.standardError.write(Data("error: \(command) timed out after \(seconds) s (--timeout); \(consequence)\n".utf8))
            // `_exit`, not `exit`: the other threads are still computing, and `exit` would run
            // the libraries' destructors under them (OpenBLAS frees its buffers mid-GEMM, which
            // ThreadSanitizer caught as a SEGV). Nothing needs them: no output file is open.
            fflush(stdout)
            _exit(30)
        }
        timer.resume()
    }

    /// Stops the clock: from here the command finishes whatever the time.
    func disarm() {
        lock.lock()
        armed = false
        lock.unlock()
        timer.cancel()
    }
}

/// A usage mistake reported as a one-line error (argument-parser's `ValidationError`
/// would append the whole usage text).
struct UsageError: LocalizedError {
    let message: String
    init(_ message: String) { self.message = message }
    var errorDescription: String? { message }
}

/// Runs `body`, turning any error into a one-line message on stderr and exit code 2.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExitCode {
        throw error
    } catch {
        let message = (error as? LocalizedError)?.errorDescription ?? String(describing: error)
        FileHandle.standardError.write(Data("error: \(message.replacingOccurrences(of: "\n", with: " "))\n".utf8))
        throw ExitCode(2)
    }
}

/// Prints `value` as pretty, key-sorted JSON.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    // JSON has no infinities (an overflowing bound) or NaN: they are written as strings.
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// When the process started (near enough): `verify --timeout` counts from here, loading included.
let processStart = DispatchTime.now().uptimeNanoseconds
configureProcess()
ParentWatch.start()
EvidentCommand.main()
