import Evident
import EvidentTestSupport
import Foundation
import Testing

/// `evident eva` on the repository's network (self-contained).
@Suite("evident eva")
struct EvaCommandTests {
    static let model = repositoryPath("Networks/digits_resnet/digits_resnet.onnx")
    static let example = repositoryPath("Networks/digits_resnet/example_input.txt")
    static let property = repositoryPath("Specs/digits_resnet_img2_eps0.02.vnnlib")

    /// The files of a run, `scores.json`'s keys, and the certificate through `evident check`.
    @Test("writes scores, pictures and a certificate that evident check accepts",
          arguments: [["--input", example, "--epsilon", "0.05", "--features", "pixels"],
                      ["--center", property, "--features", "grid:4", "--method", "alpha-crown", "--iterations", "3"],
                      ["--input", example, "--epsilon", "0.05", "--features", "superpixels:8", "--mode", "reuse", "--target", "3"]])
    func writesFiles(_ options: [String]) throws {
        let folder = try TemporaryFolder()
        let out = folder.url.appendingPathComponent("map").path
        let run = try CLI.run(["eva", Self.model, "--out", out, "--json"] + options)
        #expect(run.status == 0, "\(run)")
        let json = try CLI.jsonObject(run)
        for key in ["method", "epsilon", "features", "class", "aoFull", "aoMasked", "scores", "seconds", "guarantee", "labels"] {
            #expect(json.keys.contains(key), "scores.json lacks \(key)")
        }
        let scores = try #require(json["scores"] as? [Double]), masked = try #require(json["aoMasked"] as? [Double])
        let aoFull = try #require(json["aoFull"] as? Double)
        #expect(scores.count == masked.count && scores.count == json["featureCount"] as? Int)
        for (s, m) in zip(scores, masked) { #expect(abs(s - (aoFull - m)) <= 1e-12 * max(1, abs(aoFull))) }
        #expect(json["guarantee"] as? Bool == true)
        for name in ["scores.json", "heatmap.png", "heatmap.svg", "eva.proof"] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + name), "\(name) missing")
        }
        let picture = try PNGImage.read(path: out + "/heatmap.png")
        #expect(picture.width > 500 && picture.height > 250)
        let check = try CLI.run("check", out + "/eva.proof")
        #expect(check.status == 0 && check.standardOutput.hasPrefix("valid"), "\(check)")
    }

    @Test("usage errors are one line naming the problem")
    func errors() throws {
        let folder = try TemporaryFolder()
        let out = folder.url.appendingPathComponent("x").path
        let rgb = try folder.write("rgb.png", Data(try PNGImage.encodeRGB([UInt8](repeating: 9, count: 8 * 8 * 3), width: 8, height: 8)))
        let cases: [([String], String)] = [
            (["--input", Self.example], "--input needs --epsilon"),
            (["--input", Self.example, "--center", Self.property, "--epsilon", "0.1"], "exactly one of"),
            (["--image", rgb, "--epsilon", "0.1"], "rgb.png: the image is 3×8×8"),
            (["--input", Self.example, "--epsilon", "0.1", "--features", "grid:9"], "grid:9"),
            (["--input", Self.example, "--epsilon", "0.1", "--target", "12"], "--target 12"),
            (["--input", Self.example, "--epsilon", "0.1", "--method", "ibp", "--mode", "reuse"], "reuse mode needs CROWN"),
        ]
        for (options, message) in cases {
            let run = try CLI.run(["eva", Self.model, "--out", out] + options)
            #expect(run.status == 2 && run.errorLines.count == 1 && run.standardError.contains(message), "\(run)")
        }
    }

    /// `evident eva-benchmark`: a table with every metric and explainer, a csv, a picture per input.
    @Test("eva-benchmark writes the metric tables and the pictures")
    func benchmark() throws {
        let folder = try TemporaryFolder()
        let out = folder.url.appendingPathComponent("bench").path
        let inputs = ["test_1", "test_2"].map { repositoryPath("Networks/digits_resnet/test_inputs/\($0).txt") }
        let run = try CLI.run(["eva-benchmark", Self.model] + inputs + ["--epsilon", "0.02", "--features", "grid:2",
                                                                        "--explainers", "eva,occlusion", "--out", out])
        #expect(run.status == 0, "\(run)")
        let table = try String(contentsOfFile: out + "/table.md", encoding: .utf8)
        for row in ["Deletion AUC", "Insertion AUC", "μFidelity", "Robustness-Sr"] { #expect(table.contains("| \(row)"), "\(row)") }
        #expect(table.hasPrefix("| metric | eva | occlusion |") && table.contains("2 inputs"))
        let csv = try String(contentsOfFile: out + "/table.csv", encoding: .utf8)
        #expect(csv.split(separator: "\n").filter { $0.hasPrefix("test_") }.count == 4)
        for name in ["test_1", "test_2"] { #expect(FileManager.default.fileExists(atPath: out + "/pictures/\(name).png")) }
        let bad = try CLI.run(["eva-benchmark", Self.model, inputs[0], "--epsilon", "0.02", "--explainers", "eva,lime", "--out", out])
        #expect(bad.status == 2 && bad.standardError.contains("'lime' is not one of"), "\(bad)")
    }
}
