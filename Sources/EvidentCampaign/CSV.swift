import Foundation

// The comma-separated files of a campaign: RFC 4180 fields (double quotes around a field
// that holds a comma, a quote or a line break; a quote inside doubled).

/// One parsed line of a csv file: its fields and its 1-based line number.
struct CSVRecord: Equatable {
    var line: Int
    var fields: [String]
}

enum CSV {
    /// The records of `text`, skipping empty lines. A quoted field may span lines; a quote
    /// left open at the end of the text is reported with the line it opened on.
    static func parse(_ text: String, file: String) throws -> [CSVRecord] {
        var records = [CSVRecord]()
        var fields = [String](), field = "", quoted = false, fieldWasQuoted = false
        var line = 1, recordLine = 1, quoteLine = 1
        var characters = Array(text.unicodeScalars)[...]
        // Spaces around an unquoted field are dropped; a quoted field is kept as written.
        func endField() {
            fields.append(fieldWasQuoted ? field : field.trimmingSpaces)
            field = ""
            fieldWasQuoted = false
        }
        func endRecord() {
            let blank = fields.isEmpty && field.trimmingSpaces.isEmpty && !fieldWasQuoted
            endField()
            if !blank { records.append(CSVRecord(line: recordLine, fields: fields)) }
            fields = []
        }
        while let c = characters.popFirst() {
            if quoted {
                if c == "\"" {
                    if characters.first == "\"" {
                        field.unicodeScalars.append("\"")
                        characters.removeFirst()
                    } else {
                        quoted = false
                    }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case "\"" where !fieldWasQuoted && field.trimmingSpaces.isEmpty:
                quoted = true
                fieldWasQuoted = true
                quoteLine = line
                field = ""
            case ",":
                endField()
            case "\r" where characters.first == "\n":
                break
            case "\n":
                endRecord()
                line += 1
                recordLine = line
            default:
                field.unicodeScalars.append(c)
            }
        }
        if quoted { throw CampaignError(file: file, line: quoteLine, "a quoted field is never closed") }
        endRecord()
        return records
    }

    /// `fields` as one line (with its newline), quoting where needed.
    static func line(_ fields: [String]) -> String {
        fields.map { field in
            guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) || field != field.trimmingSpaces
            else { return field }
            return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }.joined(separator: ",") + "\n"
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
