// Where the checker takes its numbers from the input files; each is used from one place.
import Foundation
import EvidentIO
import EvidentVNNLib

/// The property's rounded boxes and thresholds (Docs/certificates.md, "The theorem"):
/// unsat proofs and bound refutations use the OUTER box (decimals rounded outward) and the
/// outward thresholds (the unsafe set only grows); witnesses use the INNER box and the
/// inward thresholds.
enum PropertyRounding {
    static func outerLower(_ region: InputRegion) -> [Double] { region.lower }
    static func outerUpper(_ region: InputRegion) -> [Double] { region.upper }
    static func outerThreshold(_ constraint: LinearConstraint) -> Double { constraint.bound }
    static func innerLower(_ region: InputRegion) -> [Double] { region.innerLower }
    static func innerUpper(_ region: InputRegion) -> [Double] { region.innerUpper }
    static func innerThreshold(_ constraint: LinearConstraint) -> Double { constraint.innerBound }
}

/// SHA-256 of a file's contents after gzip decompression (EvidentIO).
enum ContentDigest {
    static func of(path: String) throws -> [UInt8] { try InputFile.contentDigest(path: path) }
}
