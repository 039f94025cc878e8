import Foundation
import EvidentCertificate
import EvidentChecker


/// The answer to "does the property hold?", in VNN-COMP's words.
public enum Verdict: String, Sendable, CaseIterable {
    /// A counterexample exists (confirmed by the checker).
    case sat
    /// The property holds (proved by a certificate the checker accepted).
    case unsat
    /// Neither could be established.
    case unknown
    /// The time limit was reached first.
    case timeout

    /// The process exit code `evident verify` uses (Docs/CLI.md).
    public var exitCode: Int32 {
        switch self {
        case .unsat: 0
        case .sat: 10
        case .unknown: 20
        case .timeout: 30
        }
    }
}

/// What a verification run established, and how.
public struct VerificationResult: Sendable {
    public var verdict: Verdict
    /// What settled it: "CROWN", "alpha-CROWN", "input-split branch and bound", "ReLU-split
    /// branch and bound (beta-CROWN)", "PGD attack", "bound-corner evaluation", ...
    public var method: String
    /// Why the run ended without an answer, or why a proof or witness was not accepted.
    public var reason: String?
    /// For `unsat`, the smallest margin over the refutations at the roots of the proof; for
    /// `unknown`/`timeout`, the best lower bound of the worst open subdomain's margin (the
    /// property would hold if it were > 0), when known.
    public var margin: Double?
    /// Subdomains whose bounds were computed (roots included).
    public var subdomains: Int
    /// Wall time of the whole run, the check included.
    public var seconds: Double
    /// Seconds spent in the certificate check.
    public var checkSeconds: Double
    /// The counterexample of a `sat` answer.
    public var counterexample: Counterexample?
    /// The certificate behind an `unsat` or `sat` answer (checked), or the rejected one.
    public var certificate: Certificate?
    /// The checker's report on `certificate`.
    public var check: CheckReport?
}
