import Foundation

/// What the tests need to know about a sanitizer build (`scripts/sanitize.sh` sets
/// `EVIDENT_SANITIZER` to `address` or `thread`).
public enum Sanitizer {
    /// The sanitizer the code under test was built with, if any.
    public static let active: String? = {
        let name = ProcessInfo.processInfo.environment["EVIDENT_SANITIZER"] ?? ""
        return name.isEmpty ? nil : name
    }()

    /// How many times slower instrumented code runs, for wall-clock limits in tests: about 3x
    /// under AddressSanitizer and 5-15x under ThreadSanitizer, taken at the high end. A limit
    /// stretched by this factor still fails a run that ignores its deadline altogether.
    public static let slowdown: Double = switch active {
    case nil: 1
    case "address": 4
    default: 15
    }
}
