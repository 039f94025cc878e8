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
}
