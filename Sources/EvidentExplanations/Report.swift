import Foundation
import EvidentIO
import EvidentCertificate

/// `scores.json` of an EVA map (keys as Docs/eva.md lists them).
public struct EVAScoresFile: Codable, Equatable, Sendable {
    public var method: String
    public var mode: String
    /// The box radius as given (pixel units for an image); for a property's box, its largest
    /// half-width.
    public var epsilon: Double
    public var features: String
    public var featureCount: Int
    /// The predicted class `c`.
    public var `class`: Int
    /// The targeted variant's class, or `null`.
    public var target: Int?
    public var aoFull: Double
    public var aoMasked: [Double]
    public var scores: [Double]
    /// Feature of every pixel position, row-major.
    public var labels: [Int]
    public var seconds: Double
    public var boundSeconds: Double
    public var checkSeconds: Double
    public var guarantee: Bool
    public var certificate: String?
    /// Why there is no guarantee (hybrid mode, or a bound the checker could not recompute).
    public var warning: String?
}

/// Writes an EVA map's files into a folder.
public enum EVAReport {
    /// Writes `scores.json`, `heatmap.png`, `heatmap.svg` and, when the map is certified,
    /// `eva.proof` (the bound claims, binding `model`) into `folder` (created if needed).
    /// Every file is written to a temporary name in the folder, then renamed, so an
    /// interrupted run leaves no partial file. Returns the paths written.
    @discardableResult
    public static func write(_ result: EVAResult, input: EVAInput, features: FeatureMap, settings: EVASettings,
                             model: FileBinding, seconds: Double, producer: String, to folder: String) throws -> [String] {
        let path = try outputFolder(folder)
        var written = [String]()
        var certificateName: String? = nil
        if result.certified {
            let certificate = Certificate(model: model, property: nil, producer: producer, claim: .bounds(result.claims))
            try OutputFile.writeAtomically(certificate.encoded(), to: path("eva.proof"))
            written.append(path("eva.proof"))
            certificateName = "eva.proof"
        }
        let file = EVAScoresFile(method: settings.method.rawValue, mode: settings.mode.rawValue, epsilon: input.epsilon,
                                 features: features.kind.description, featureCount: features.count, class: result.predicted,
                                 target: result.target,
                                 aoFull: result.aoFull, aoMasked: result.aoMasked, scores: result.scores, labels: features.label,
                                 seconds: seconds, boundSeconds: result.boundSeconds, checkSeconds: result.checkSeconds,
                                 guarantee: result.certified, certificate: certificateName,
                                 warning: result.certified ? nil : "no guarantee: " + (result.checkReason ?? "the bounds were not certified"))
        try writeScores(file, to: path("scores.json"))
        written.append(path("scores.json"))
        let heatmap = evaHeatmap(scores: result.scores, predicted: result.predicted, certified: result.certified,
                                 hybrid: settings.hybrid != nil, input: input, features: features)
        return written + (try writePictures(heatmap, path))
    }

    /// Writes a baseline explainer's `scores.json` (keys `explainer`, `features`,
    /// `featureCount`, `class`, `scores`, `labels`, `seconds`, `guarantee: false`) and its
    /// pictures into `folder`.
    public static func writeBaseline(_ kind: ExplainerKind, scores: [Double], target: Int, input: EVAInput, features: FeatureMap,
                                     seconds: Double, to folder: String) throws {
        let path = try outputFolder(folder)
        struct File: Codable {
            var explainer: String, features: String, featureCount: Int, `class`: Int, scores: [Double], labels: [Int]
            var seconds: Double, guarantee: Bool
        }
        let file = File(explainer: kind.rawValue, features: features.kind.description, featureCount: features.count, class: target,
                        scores: scores, labels: features.label, seconds: seconds, guarantee: false)
        try writeScores(file, to: path("scores.json"))
        try writePictures(baselineHeatmap(kind, scores: scores, target: target, input: input, features: features), path)
    }

    /// The picture of an EVA map, its title saying whether the map is certified.
    public static func evaHeatmap(scores: [Double], predicted: Int, certified: Bool, hybrid: Bool, input: EVAInput,
                                  features: FeatureMap) -> Heatmap {
        Heatmap(image: input.display, shape: input.shape, label: features.label, scores: scores,
                imageTitle: "IMAGE: CLASS \(predicted)",
                mapTitle: certified ? "EVA SCORE (CERTIFIED)" : hybrid ? "EVA SCORE (HYBRID: NO GUARANTEE)" : "EVA SCORE (NOT CERTIFIED)")
    }

    /// Creates `folder` if needed; returns the path of a file in it by name.
    static func outputFolder(_ folder: String) throws -> (String) -> String {
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw EVAError("\(folder): cannot create the output folder (\(error.localizedDescription))")
        }
        return { (folder as NSString).appendingPathComponent($0) }
    }

    /// Pretty, key-sorted JSON; non-finite numbers as the strings "inf", "-inf", "nan".
    static func writeScores<T: Encodable>(_ value: T, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try OutputFile.writeAtomically([UInt8](try encoder.encode(value)) + [10], to: path)
    }

    /// `heatmap.png` and `heatmap.svg`; returns their paths.
    @discardableResult
    static func writePictures(_ heatmap: Heatmap, _ path: (String) -> String) throws -> [String] {
        try OutputFile.writeAtomically(try heatmap.png(), to: path("heatmap.png"))
        try OutputFile.writeAtomically(Array(heatmap.svg().utf8), to: path("heatmap.svg"))
        return [path("heatmap.png"), path("heatmap.svg")]
    }

    /// The picture of a baseline's map.
    public static func baselineHeatmap(_ kind: ExplainerKind, scores: [Double], target: Int, input: EVAInput,
                                       features: FeatureMap) -> Heatmap {
        var h = Heatmap(image: input.display, shape: input.shape, label: features.label, scores: scores,
                        imageTitle: "IMAGE: CLASS \(target)", mapTitle: kind.rawValue.uppercased() + " (NO GUARANTEE)")
        h.caption = "BRIGHT: MORE IMPORTANT BY THIS METHOD"
        return h
    }
}

