import EvidentSoundArithmetic
import Testing

/// `DecimalEnclosure` called directly (EvidentSoundArithmetic comes with EvidentVNNLib).
@Suite struct DecimalEnclosureAPITests {
    @Test func aWrongHintIsNotTrusted() throws {
        let literal = "0.1"
        var text = literal
        let expected = try #require(DecimalEnclosure.enclosure(of: literal))
        #expect(expected.lo == Double(0.1).nextDown && expected.hi == 0.1)
        for hint in [0.5, 0.0, -1.0, 1e300, .infinity, .nan, Double(0.1).nextUp.nextUp] {
            let result = text.withUTF8 { DecimalEnclosure.enclosure(ofASCII: $0, nearest: hint) }
            #expect(result == expected, "hint \(hint)")
        }
    }

    @Test func malformedTextIsNil() {
        for text in ["", "-", "+", ".", "e5", "1e", "1e+", "1.2.3", "0x10", "inf", "nan", "1 ", " 1", "1e5.5", "--1"] {
            #expect(DecimalEnclosure.enclosure(of: text) == nil, "\(text)")
        }
    }

    @Test func pointsAndNeighbours() throws {
        #expect(DecimalEnclosure.enclosure(of: "0.5") == .point(0.5))
        #expect(DecimalEnclosure.enclosure(of: "-0")?.lo.sign == .minus)
        #expect(DecimalEnclosure.enclosure(of: "1e-400") == Interval(lo: 0, hi: .leastNonzeroMagnitude))
        #expect(DecimalEnclosure.enclosure(of: "-1e-400") == Interval(lo: -.leastNonzeroMagnitude, hi: -0.0))
        #expect(DecimalEnclosure.enclosure(of: "1e309") == nil)
        // 2^53 + 1 lies between 2^53 and 2^53 + 2.
        #expect(DecimalEnclosure.enclosure(of: "9007199254740993") == Interval(lo: 9007199254740992, hi: 9007199254740994))
    }
}
