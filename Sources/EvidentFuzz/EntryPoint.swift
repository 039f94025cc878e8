import EvidentFuzzing
import Foundation

// Built two ways. `scripts/fuzz.sh` builds with `-sanitize=fuzzer -D EVIDENT_FUZZ`: libFuzzer's
// driver then calls the target with each input; the target comes from the environment
// variable EVIDENT_FUZZ_TARGET. A plain build is a replayer,
// `evident-fuzz TARGET FILE...`, which runs the same target once per file (to reproduce a
// report without the fuzzer).

#if EVIDENT_FUZZ
nonisolated(unsafe) var selected: FuzzTarget = .onnx

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<Int32>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

// SwiftPM links an executable's entry point under this name and aliases `main` to it, so
// libFuzzer's own `main` is not used; this one selects the target and runs libFuzzer's driver.
@_cdecl("EvidentFuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    let name = ProcessInfo.processInfo.environment["EVIDENT_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("evident-fuzz: set EVIDENT_FUZZ_TARGET to one of \(names)\n".utf8))
        return 2
    }
    selected = target
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { data, size in
        let bytes = size == 0 || data == nil ? [] : [UInt8](UnsafeBufferPointer(start: data, count: size))
        selected.run(bytes)
        return 0
    }
}
#else
@main
struct Replay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name), arguments.count >= 2 else {
            FileHandle.standardError.write(Data("usage: evident-fuzz \(names) FILE...\n".utf8))
            exit(2)
        }
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("evident-fuzz: cannot read \(path)\n".utf8))
                exit(2)
            }
            target.run([UInt8](data))
            print("\(path): ok")
        }
    }
}
#endif
