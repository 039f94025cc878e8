import EvidentTestSupport
import EvidentVNNLib
import Foundation
import Testing

/// The VNN-LIB files of the shared VNN-COMP benchmarks: they all parse, with
/// the structure and the exact numbers their text states.
@Suite struct BenchmarkPropertyTests {
    static let vnnlibFiles = SharedBenchmarks.files(withExtension: ["vnnlib"])

    @Test(.enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
    func everyBenchmarkFileParses() throws {
        #expect(Self.vnnlibFiles.count == 37)
        for file in Self.vnnlibFiles {
            let property = try VNNLibParser.parse(path: SharedBenchmarks.path(file))
            #expect(property.source == SharedBenchmarks.path(file))
            #expect(!property.regions.isEmpty, "\(file)")
            for region in property.regions {
                #expect(region.lower.count == property.inputCount && region.upper.count == property.inputCount)
                for i in 0..<property.inputCount {
                    #expect(region.lower[i].isFinite && region.upper[i].isFinite && region.lower[i] <= region.upper[i], "\(file) X_\(i)")
                }
                for clause in region.clauses {
                    for constraint in clause.constraints {
                        #expect(constraint.terms.allSatisfy { $0.output < property.outputCount && $0.coefficient != 0 })
                    }
                }
            }
            try property.validate(inputCount: property.inputCount, outputCount: property.outputCount)
        }
    }

    @Test(.enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
    func acasXuShapes() throws {
        // (file, regions, clauses per region, constraints per clause)
        let expected: [(String, Int, [Int], Int)] = [
            ("prop_1", 1, [1], 1), ("prop_2", 1, [1], 4), ("prop_3", 1, [1], 4), ("prop_4", 1, [1], 4),
            ("prop_5", 1, [4], 1), ("prop_6", 2, [4, 4], 1), ("prop_7", 1, [2], 3),
        ]
        for (name, regions, clauses, constraints) in expected {
            let property = try VNNLibParser.parse(path: SharedBenchmarks.path("acasxu/\(name).vnnlib"))
            #expect(property.inputCount == 5 && property.outputCount == 5)
            #expect(property.regions.count == regions, "\(name)")
            #expect(property.regions.map(\.clauses.count) == clauses, "\(name)")
            #expect(property.regions.allSatisfy { $0.clauses.allSatisfy { $0.constraints.count == constraints } }, "\(name)")
        }
    }

    @Test(.enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
    func acasXuProperty6HasTwoBoxes() throws {
        let property = try VNNLibParser.parse(path: SharedBenchmarks.path("acasxu/prop_6.vnnlib"))
        #expect(property.regions.count == 2)
        let first = property.regions[0], second = property.regions[1]
        // The bounds enclose the literals of the file: outer ends outward, inner ends inward.
        expectBox(first, lower: ["-0.129289109", "0.11140846", "-0.499999896", "-0.5", "-0.5"],
                  upper: ["0.700434925", "0.499999896", "-0.499204121", "0.5", "0.5"])
        expectBox(second, lower: ["-0.129289109", "-0.499999896", "-0.499999896", "-0.5", "-0.5"],
                  upper: ["0.700434925", "-0.11140846", "-0.499204121", "0.5", "0.5"])
        for region in property.regions {
            #expect(region.clauses.map(\.constraints) == (1...4).map { k in
                [LinearConstraint(terms: [.init(output: 0, coefficient: -1), .init(output: k, coefficient: 1)], bound: 0)]
            })
        }
        #expect(property.outputClauseCount == 8)
    }

    @Test(.enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
    func acasXuExactNumbers() throws {
        let p1 = try VNNLibParser.parse(path: SharedBenchmarks.path("acasxu/prop_1.vnnlib"))
        expectBox(p1.regions[0], lower: ["0.6", "-0.5", "-0.5", "0.45", "-0.5"],
                  upper: ["0.679857769", "0.5", "0.5", "0.5", "-0.45"])
        // (>= Y_0 3.991125645861615) is -Y_0 <= -3.991125645861615, the threshold rounded up
        // (outer) and down (inner).
        let (lo, hi) = try #require(ExactDecimalOracle.enclosure("3.991125645861615"))
        #expect(p1.regions[0].clauses == [OutputClause(constraints: [
            LinearConstraint(terms: [.init(output: 0, coefficient: -1)], bound: -lo, innerBound: -hi),
        ])])
        let p4 = try VNNLibParser.parse(path: SharedBenchmarks.path("acasxu/prop_4.vnnlib"))
        #expect(p4.regions[0].lower[2] == 0 && p4.regions[0].upper[2] == 0)
        #expect(p4.regions[0].innerLower[2] == 0 && p4.regions[0].innerUpper[2] == 0)
        let test = try VNNLibParser.parse(path: SharedBenchmarks.path("test/test_prop.vnnlib"))
        expectUpper(test.regions[0], 2, "0.49999999998567607")
        expectLower(test.regions[0], 0, "-0.30353115613746867")
    }

    /// Every checked counterexample of the benchmarks is a counterexample of the parsed property.
    @Test(.enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
    func counterexamplesSatisfyTheParsedProperties() throws {
        let files = SharedBenchmarks.files(withExtension: ["counterexample"])
        #expect(files.count >= 10)
        for file in files {
            let name = (file as NSString).lastPathComponent
            let vnnlib: String
            if name.hasPrefix("test_") {
                vnnlib = "test/test_prop.vnnlib"
            } else {
                guard let range = name.range(of: "__prop_") else { Issue.record("unexpected name \(name)"); continue }
                vnnlib = "acasxu/prop_" + name[range.upperBound...].replacingOccurrences(of: ".counterexample", with: "") + ".vnnlib"
            }
            let property = try VNNLibParser.parse(path: SharedBenchmarks.path(vnnlib))
            let (inputs, outputs) = try readCounterexample(SharedBenchmarks.path(file))
            #expect(inputs.count == property.inputCount && outputs.count == property.outputCount)
            #expect(property.isCounterexample(input: inputs, outputs: outputs), "\(file)")
            // Not vacuous: the same output just outside every box is no counterexample.
            try #require(!inputs.isEmpty)
            var outside = inputs
            outside[0] = property.regions.map { $0.upper[0] }.max()! + 1
            #expect(!property.isCounterexample(input: outside, outputs: outputs), "\(file)")
        }
    }

    @Test(.enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
    func cifarPropertiesHaveOneBoxAndNineClauses() throws {
        let files = Self.vnnlibFiles.filter { $0.hasPrefix("cifar10_resnet/") || $0.hasPrefix("oval21/") }
        #expect(files.count == 26)
        for file in files {
            let text = try String(contentsOfFile: SharedBenchmarks.path(file), encoding: .utf8)
            let property = try VNNLibParser.parse(text: text, source: file)
            #expect(property.inputCount == 3072 && property.outputCount == 10)
            #expect(property.regions.count == 1)
            let region = property.regions[0]
            #expect(region.lower.count == 3072 && region.upper.count == 3072)
            #expect(region.clauses.count == 9)
            // The box contains its centre and has the width of the stated l∞ radius in
            // normalised space (2·eps/std per channel, narrower where clipped to the image range).
            let centre = zip(region.lower, region.upper).map { ($0 + $1) / 2 }
            #expect(region.contains(centre))
            let (eps, std): (Double, [Double]) = file.hasPrefix("oval21/")
                ? (Double(file.components(separatedBy: "-eps").last!.replacingOccurrences(of: ".vnnlib", with: ""))!,
                   [0.225, 0.225, 0.225])
                : (2.0 / 255.0, [0.2471, 0.2435, 0.2616])
            for i in 0..<3072 {
                let width = region.upper[i] - region.lower[i]
                #expect(width > 0 && width <= 2 * eps / std[i / 1024] * 1.001, "\(file) X_\(i)")
            }
            // Each clause is "Y_other >= Y_label", i.e. Y_label - Y_other <= 0, over every
            // other class in file order.
            var label: Int?
            var others: [Int] = []
            for clause in region.clauses {
                #expect(clause.constraints.count == 1)
                let terms = clause.constraints[0].terms
                #expect(terms.count == 2 && clause.constraints[0].bound == 0)
                guard let plus = terms.first(where: { $0.coefficient == 1 }),
                      let minus = terms.first(where: { $0.coefficient == -1 }) else {
                    Issue.record("\(file): unexpected clause \(clause)")
                    continue
                }
                if label == nil { label = plus.output }
                #expect(plus.output == label)
                others.append(minus.output)
            }
            if let label { #expect(others == (0..<10).filter { $0 != label }) }
            if let labelComment = text.range(of: "label: ") {
                #expect(text[labelComment.upperBound...].hasPrefix("\(label ?? -1)."))
            }
        }
    }

    /// Spot checks of CIFAR numbers: the parsed bound is the literal's correctly rounded value.
    @Test(.enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
    func cifarExactNumbers() throws {
        let resnet = try VNNLibParser.parse(path: SharedBenchmarks.path("cifar10_resnet/vnnlib/prop_0_eps_0.008.vnnlib"))
        expectUpper(resnet.regions[0], 3071, "1.8010209798812866")
        expectLower(resnet.regions[0], 3071, "1.741058111190796")
        expectLower(resnet.regions[0], 3063, "1.7110767364501953")
        let oval = try VNNLibParser.parse(path: SharedBenchmarks.path(
            "oval21/vnnlib/cifar_base_kw-img1598-eps0.0026143790849673205.vnnlib"))
        expectUpper(oval.regions[0], 3067, "0.4032535254955292")
        expectLower(oval.regions[0], 3067, "0.3800145983695984")
        expectLower(oval.regions[0], 3070, "0.467160701751709")
    }

    /// Every bound of every benchmark file is the enclosure of the literal's exact value
    /// (outer end outward, inner end inward): the correctly rounded literal is one end and the
    /// ends are equal or neighbours for every bound, and every seventh bound is checked
    /// against the oracle (the C library's exact expansions; slow in debug builds). This
    /// covers both the exact shortcut and the big-integer path of the enclosure.
    @Test(.enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
    func everyInputBoundEnclosesTheLiteral() throws {
        var checked = 0, exact = 0
        for file in Self.vnnlibFiles {
            let text = try String(contentsOfFile: SharedBenchmarks.path(file), encoding: .utf8)
            let property = try VNNLibParser.parse(text: text, source: file)
            guard property.regions.count == 1 else { continue }
            // Top-level "(assert (<= X_i c))" lines state the bounds directly.
            for line in text.split(separator: "\n") where line.hasPrefix("(assert (<= X_") || line.hasPrefix("(assert (>= X_") {
                let parts = line.dropFirst("(assert (".count).dropLast(2).split(separator: " ")
                guard parts.count == 3, let index = Int(parts[1].dropFirst(2)), let nearest = Double(String(parts[2])) else {
                    Issue.record("unexpected line \(line)")
                    continue
                }
                let region = property.regions[0]
                let isUpper = parts[0] == "<="
                let (outer, inner) = isUpper ? (region.upper[index], region.innerUpper[index])
                                             : (region.lower[index], region.innerLower[index])
                let (lo, hi) = isUpper ? (inner, outer) : (outer, inner)
                #expect((lo == nearest || hi == nearest) && (lo == hi || lo.nextUp == hi), "\(file): \(line)")
                checked += 1
                if lo == hi { exact += 1 }
                if checked % 7 == 0 {
                    guard let (expectedLo, expectedHi) = ExactDecimalOracle.enclosure(String(parts[2])) else {
                        Issue.record("\(file): \(line): no enclosure")
                        continue
                    }
                    #expect(lo.bitPattern == expectedLo.bitPattern && hi.bitPattern == expectedHi.bitPattern, "\(file): \(line)")
                }
            }
        }
        #expect(checked > 50_000)
        #expect(exact > 0 && exact < checked)
    }
}

/// `region.lower[i]` and `innerLower[i]` are the outer (down) and inner (up) ends of `literal`'s enclosure.
func expectLower(_ region: InputRegion, _ i: Int, _ literal: String, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let (lo, hi) = ExactDecimalOracle.enclosure(literal) else {
        Issue.record("\(literal) has no enclosure", sourceLocation: sourceLocation)
        return
    }
    #expect(region.lower[i].bitPattern == lo.bitPattern && region.innerLower[i].bitPattern == hi.bitPattern,
            "X_\(i) >= \(literal): outer \(region.lower[i]), inner \(region.innerLower[i])", sourceLocation: sourceLocation)
}

/// `region.upper[i]` and `innerUpper[i]` are the outer (up) and inner (down) ends of `literal`'s enclosure.
func expectUpper(_ region: InputRegion, _ i: Int, _ literal: String, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let (lo, hi) = ExactDecimalOracle.enclosure(literal) else {
        Issue.record("\(literal) has no enclosure", sourceLocation: sourceLocation)
        return
    }
    #expect(region.upper[i].bitPattern == hi.bitPattern && region.innerUpper[i].bitPattern == lo.bitPattern,
            "X_\(i) <= \(literal): outer \(region.upper[i]), inner \(region.innerUpper[i])", sourceLocation: sourceLocation)
}

/// Every bound of the region encloses the literals.
func expectBox(_ region: InputRegion, lower: [String], upper: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(region.lower.count == lower.count && region.upper.count == upper.count, sourceLocation: sourceLocation)
    for (i, literal) in lower.enumerated() { expectLower(region, i, literal, sourceLocation: sourceLocation) }
    for (i, literal) in upper.enumerated() { expectUpper(region, i, literal, sourceLocation: sourceLocation) }
}

/// Reads a VNN-COMP counterexample `((X_0 v) … (Y_0 w) …)`.
func readCounterexample(_ path: String) throws -> (inputs: [Double], outputs: [Double]) {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    var inputs: [Double] = [], outputs: [Double] = []
    for line in text.split(separator: "\n") where !line.hasPrefix(";") {
        let cleaned = line.replacingOccurrences(of: "(", with: " ").replacingOccurrences(of: ")", with: " ")
        let parts = cleaned.split(separator: " ")
        guard parts.count == 2, let value = Double(String(parts[1])) else { continue }
        if parts[0].hasPrefix("X_") { inputs.append(value) } else if parts[0].hasPrefix("Y_") { outputs.append(value) }
    }
    return (inputs, outputs)
}
