// TEMPORARY: stands in for APIs other work in progress adds (removed when they land).
import EvidentVNNLib
import EvidentIR
import EvidentCertificate
extension InputRegion {
    var innerLower: [Double] { lower }
    var innerUpper: [Double] { upper }
}
extension LinearConstraint {
    var innerBound: Double { bound }
}
public struct CheckReport: Sendable { public var valid: Bool; public var reason: String? }
public enum Checker {
    public static func check(_ c: Certificate, network: Network, modelDigest: [UInt8], property: Property?, propertyDigest: [UInt8]?,
                      progress: ((String) -> Void)?) -> CheckReport { CheckReport(valid: true, reason: "UNCHECKED") }
}
public enum InputFile { public static func contentDigest(path: String) throws -> [UInt8] { [UInt8](repeating: 0, count: 32) } }
