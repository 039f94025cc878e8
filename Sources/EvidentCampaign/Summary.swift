import Foundation

/// The summary table of a campaign's rows: wrong answers first, then counts per verdict and
/// times per benchmark, then the instances that failed with an error.
public struct CampaignSummary: Sendable {
    public var rows: [CampaignRow]

    public init(rows: [CampaignRow]) { self.rows = rows }

    public var wrong: [CampaignRow] { rows.filter(\.wrong) }

    /// Rows with an answer to compare against.
    public var withTruth: Int { rows.filter { $0.truth == .sat || $0.truth == .unsat }.count }

    public var text: String {
        var lines = [String]()
        let wrong = self.wrong
        if wrong.isEmpty {
            lines.append("wrong answers: 0 (of \(withTruth) instance\(withTruth == 1 ? "" : "s") with a known answer)")
        } else {
            lines.append("WRONG ANSWERS: \(wrong.count) (of \(withTruth) instances with a known answer)")
            for row in wrong {
                lines.append("  \(row.index) \(row.benchmark) \(row.onnx) \(row.vnnlib): answered \(row.result), the truth is \(row.truth!.rawValue)")
            }
        }
        lines.append("")
        lines.append("| benchmark | instances | unsat | sat | unknown | timeout | error | correct | wrong | median s | total s |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
        let benchmarks = rows.reduce(into: [String]()) { if !$0.contains($1.benchmark) { $0.append($1.benchmark) } }
        for benchmark in benchmarks + (benchmarks.count > 1 ? ["all"] : []) {
            let group = benchmark == "all" ? rows : rows.filter { $0.benchmark == benchmark }
            let count = { (result: String) in String(group.filter { $0.result == result }.count) }
            let correct = group.filter { $0.truth?.rawValue == $0.result }.count
            let times = group.map(\.seconds)
            lines.append("| " + [benchmark, String(group.count), count("unsat"), count("sat"), count("unknown"), count("timeout"),
                                 count("error"), String(correct), String(group.filter(\.wrong).count),
                                 String(format: "%.2f", Self.median(times)), String(format: "%.1f", times.reduce(0, +))]
                .joined(separator: " | ") + " |")
        }
        let errors = rows.filter { $0.result == "error" }
        if !errors.isEmpty {
            lines.append("")
            lines.append("errors:")
            for row in errors { lines.append("  \(row.index) \(row.onnx) \(row.vnnlib): \(row.note)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}

extension CampaignProgress {
    /// `[ 12/70] acasxu ACASXU_run2a_1_2_batch_2000.onnx prop_2.vnnlib: sat in 0.53 s (truth sat), 1m02s elapsed, about 4m left`
    public var line: String {
        let width = String(total).count
        let counter = String(repeating: " ", count: max(0, width - String(finished).count)) + String(finished)
        var text = "[\(counter)/\(total)] \(row.benchmark) \((row.onnx as NSString).lastPathComponent) "
            + "\((row.vnnlib as NSString).lastPathComponent): \(row.result) in \(String(format: "%.2f", row.seconds)) s"
        if let truth = row.truth { text += " (truth \(truth.rawValue))" }
        if row.wrong { text += "  WRONG" }
        if row.result == "error" { text += ": \(row.note)" }
        text += ", \(Self.duration(elapsed)) elapsed"
        if finished < total { text += ", about \(Self.duration(remaining)) left" }
        return text
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s / 3600)h\(String(format: "%02d", s / 60 % 60))m"
    }
}
