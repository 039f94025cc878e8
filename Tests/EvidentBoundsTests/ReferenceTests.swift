import Foundation
import Testing
import Evident
import EvidentTestSupport

/// Agreement with auto_LiRPA's bounds on the CIFAR instances of the shared benchmarks
/// (`reference/lirpa_bounds.csv`, computed in float32).
@Suite("Bounds against auto_LiRPA")
struct ReferenceTests {
    struct Row: CustomStringConvertible, Sendable {
        var onnx: String, vnnlib: String, method: String, margins: [Double]
        var description: String { "\(method) \((vnnlib as NSString).lastPathComponent)" }
    }

    static let rows: [Row] = SharedBenchmarks.csvRows("reference/lirpa_bounds.csv").compactMap { f in
        guard f.count >= 6 else { return nil }
        return Row(onnx: f[0], vnnlib: f[1], method: f[2],
                   margins: f[5].split(separator: ";").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
    }

    static func margins(_ row: Row, _ method: BoundMethod) throws -> [Double] {
        let network = try loadNetwork(path: SharedBenchmarks.path(row.onnx))
        let property = try loadProperty(path: SharedBenchmarks.path(row.vnnlib), for: network)
        return propertyMargins(network: network, property: property, options: BoundOptions(method: method)).margins
    }

    /// IBP (with the specification folded into the last affine layer, as auto_LiRPA does):
    /// equal up to float32 rounding of the reference, whose margins reach 10³ — the
    /// tolerance is 1e-4 absolute or 1e-6 relative, whichever is larger; tighter is fine.
    @Test("IBP margins", .enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)),
          arguments: rows.filter { $0.method == "IBP" })
    func ibp(_ row: Row) throws {
        let ours = try Self.margins(row, .ibp)
        try #require(ours.count == row.margins.count)
        for (o, r) in zip(ours, row.margins) {
            #expect(o >= r - max(1e-4, 1e-6 * abs(r)), "\(row): ours \(o), reference \(r)")
        }
    }

    /// CROWN: within 1e-4 of the reference or tighter (ours intersects CROWN intermediate
    /// bounds with interval bounds from the already tightened operands).
    @Test("CROWN margins", .enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)),
          arguments: rows.filter { $0.method == "CROWN" })
    func crown(_ row: Row) throws {
        let ours = try Self.margins(row, .crown)
        try #require(ours.count == row.margins.count)
        for (o, r) in zip(ours, row.margins) {
            #expect(o >= r - 1e-4, "\(row): ours \(o), reference \(r)")
        }
    }
}

extension ReferenceTests {
    /// α-CROWN starts from CROWN's slopes and keeps the best iterate, so it is never looser.
    @Test("α-CROWN is at least as tight as CROWN", .enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
    func alphaNotLooser() throws {
        let row = try #require(Self.rows.first { $0.method == "alpha-CROWN" && $0.onnx.contains("cifar_base_kw") })
        let crown = try Self.margins(row, .crown), alpha = try Self.margins(row, .alphaCrown)
        for (c, a) in zip(crown, alpha) { #expect(a >= c - 1e-9, "\(row): alpha \(a) < CROWN \(c)") }
        #expect(zip(crown, alpha).contains { $1 > $0 + 1e-3 }, "α-CROWN improved no clause")
    }
}
