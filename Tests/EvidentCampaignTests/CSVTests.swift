@testable import EvidentCampaign
import Testing

@Suite("campaign csv")
struct CSVTests {
    @Test("quoted fields with commas, quotes and line breaks round-trip")
    func roundTrip() throws {
        let rows = [["a", "b,c", "say \"hi\""], ["multi\nline", "", " spaced "]]
        let text = rows.map(CSV.line).joined()
        let parsed = try CSV.parse(text, file: "x.csv")
        #expect(parsed.map(\.fields) == rows)
        #expect(parsed.map(\.line) == [1, 2])
    }
}
