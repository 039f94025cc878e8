import EvidentIO
import EvidentSoundArithmetic
import Foundation

/// Reads VNN-LIB properties (the SMT-LIB subset used by VNN-COMP) into ``Property``, and
/// VNN-LIB 2.0 queries (first command `(vnnlib-version <2.0>)`) into ``VNNLibQuery``
/// (``parseDocument(path:memoryBudget:)``; the 2.0 language and its layout are described in
/// Query.swift, QueryParser.swift and `Docs/vnnlib.md`). What follows is the 1.0 language;
/// 2.0 shares its formulas, terms, normal form and rounding.
///
/// ## Accepted language
/// - Commands `(declare-const X_i Real)`, `(declare-const Y_j Real)` and
///   `(assert formula)`; `;` starts a comment to the end of the line.
///   Variables must be declared before use, and the indices of each kind must
///   run from 0 without gaps (`X_01` style leading zeros are rejected; indices
///   are below 2^24).
/// - Formulas: `(and f …)`, `(or f …)` (one or more operands, nested freely)
///   and comparisons `(<= a b)`, `(>= a b)`, `(< a b)`, `(> a b)`, `(= a b)` (also
///   written `==`, as 2.0 does), and `(!= a b)`, read as `(or (< a b) (> a b))`;
///   chains such as `(<= a b c)` mean `a ≤ b ∧ b ≤ c`, as in SMT-LIB.
/// - **Strict comparisons are read as their closures**: `(< a b)` is taken as
///   `a ≤ b`. The parsed unsafe set is then the closure of the file's, a
///   superset: a verdict "property holds" stays valid, and a counterexample on
///   the boundary of a strict constraint may be spurious (check it against the
///   file's strict form if that matters).
/// - Terms: numbers, variables, `(+ t …)`, `(- t)` (negation), `(- t u …)`
///   (`t - u - …`) and `(* t …)` with at most one non-constant factor, so
///   `(* 2 Y_0)`, `(* Y_0 2)` and `(- 3)` are all accepted.
/// - Numbers: decimal `12`, `-0.5`, `.5`, `5.` and scientific `1.5e-3`,
///   `-2E+4`. Each literal stands for its exact decimal value, enclosed in
///   binary64 by ``DecimalEnclosure``: the point `x` when the decimal is exactly
///   the double `x` (`0.5`, `-3`, `1e22`), else the two consecutive doubles
///   around it (`0.1` lies strictly between its nearest double's lower
///   neighbour and that double). Hexadecimal, `inf`, `nan` and values beyond
///   the largest finite double are rejected.
///
/// ## From assertions to regions
/// The conjunction of all assertions is put in disjunctive normal form. In each disjunct, comparisons over a
/// single `X_i` and constants bound the box (several bounds intersect);
/// comparisons over outputs only form the output clause; comparisons mixing
/// `X` and `Y`, comparing inputs with each other, or with no variable at all
/// are rejected. Disjuncts with identical boxes form one ``InputRegion`` with
/// one clause each, in file order (disjuncts whose outer boxes agree but whose
/// inner boxes differ form separate regions). Every input needs a finite lower
/// and upper bound in every region, and no outer box may be empty.
///
/// ## Rounding
/// Every bound is kept twice (see ``InputRegion`` and ``LinearConstraint``):
/// rounded OUTWARD (``InputRegion/lower`` down, ``InputRegion/upper`` up,
/// ``LinearConstraint/bound`` up), so the parsed boxes and unsafe sets contain
/// the file's and a proof about them is a proof about the file; and rounded
/// INWARD (``InputRegion/innerLower`` up, ``InputRegion/innerUpper`` down,
/// ``LinearConstraint/innerBound`` down), so a witness inside them is a witness
/// of the file. For a literal compared with a variable (`(<= X_3 0.1)`) the two
/// are the ends of the literal's enclosure, equal when it is exactly a double.
/// When constants are combined (`(<= (+ Y_0 0.1) 0.3)`) or an input has a
/// coefficient other than ±1, the parser computes in interval arithmetic
/// (directed rounding) on the enclosures and takes the outer and inner ends of
/// the result (each within a few ulps of the exact bound). A coefficient must be
/// exactly a double: a coefficient whose enclosure is not a point (`(* 0.1 Y_0)`,
/// or `(* 0.1 3 Y_0)`, whose product is inexact) is rejected, for inputs and
/// outputs alike.
///
/// ## Large disjunctions
/// The normal form is never stored: its disjuncts are enumerated one at a time (the first
/// `or` of the file varying slowest) and each becomes its clause, and its box when it bounds
/// inputs, at once. What a property costs is therefore the memory of the resulting
/// ``Property``, and the limit is that memory, not a count of disjuncts: before enumerating
/// anything the parser estimates the bytes of the expanded form (per disjunct its clause and
/// atom list, per output constraint its copy in the clause, per disjunct that bounds inputs a
/// box of its own; see ``estimatedBytes(disjuncts:atoms:outputConstraints:tighteningDisjuncts:inputs:)``)
/// and refuses the file with ``VNNLibError/dnfTooLarge(disjuncts:estimatedBytes:budget:location:)``
/// when the estimate exceeds the memory budget (``defaultMemoryBudget`` unless the caller
/// gives one, see ``memoryBudget(maxMemory:)``). An output-only disjunction of 120,000 atoms
/// becomes one region with 120,000 single-constraint clauses (a few tens of megabytes); an
/// input disjunction (each disjunct with its own box, as in the nn4sys `lindex` files) one
/// region per distinct box.
public enum VNNLibParser {
    /// The memory budget of a parse when the caller names none: 1 GiB for the expanded
    /// property. Files within a few hundred thousand disjuncts take a small fraction of it.
    public static let defaultMemoryBudget = 1 << 30
    /// The smallest budget ``memoryBudget(maxMemory:)`` gives, so that a `--max-memory`
    /// meant to chunk bound computations (`1K` is legitimate there) still reads ordinary files.
    public static let minimumMemoryBudget = 64 << 20

    /// The property's share of a working-memory limit `maxMemory` (bytes, as `--max-memory`
    /// gives it): half of it, at least ``minimumMemoryBudget``; ``defaultMemoryBudget``
    /// without a limit.
    public static func memoryBudget(maxMemory: Int?) -> Int {
        guard let maxMemory else { return defaultMemoryBudget }
        return Swift.max(minimumMemoryBudget, maxMemory / 2)
    }

    /// Bytes counted per disjunct for its clause (the clause's constraint array and its slot
    /// in the region).
    static let clauseBytes = 64
    /// Bytes counted per atom occurrence in a disjunct (its entry in the disjunct's atom
    /// list as enumerated; this also bounds the work, which is linear in the occurrences).
    static let atomBytes = 4
    /// Bytes counted per output constraint of a clause (the constraint's value; its terms
    /// are shared with the parsed comparison).
    static let constraintBytes = 32
    /// Bytes counted per region of `inputs` inputs: four bound arrays, the clause array and
    /// the entry of the table that groups disjuncts by box.
    static func regionBytes(inputs: Int) -> Int { 4 * (32 + 8 * inputs) + 160 }

    /// The estimate the parser compares with its budget, for a normal form with `disjuncts`
    /// disjuncts, `atoms` atom occurrences in them (input bounds of the common box excluded),
    /// `outputConstraints` output-constraint occurrences and `tighteningDisjuncts` disjuncts
    /// that bound inputs, over `inputs` input variables (an upper bound of the parsed
    /// property's size: disjuncts with equal boxes share a region).
    public static func estimatedBytes(disjuncts: Double, atoms: Double, outputConstraints: Double,
                                      tighteningDisjuncts: Double, inputs: Int) -> Double {
        Expansion(disjuncts: disjuncts, atoms: atoms, outputAtoms: outputConstraints,
                  untightened: disjuncts - tighteningDisjuncts).bytes(inputs: inputs)
    }

    /// Parses the VNN-LIB file at `path` (plain, or gzip-compressed such as
    /// `prop.vnnlib.gz`: content starting with the gzip magic is decompressed, see
    /// ``InputFile/read(path:limit:)``); messages name the file by this path.
    ///
    /// - Parameter memoryBudget: the most bytes the expanded property may take (see "Large
    ///   disjunctions" above).
    /// - Throws: ``VNNLibError`` (with file, line and column) for unreadable
    ///   files (corrupt or truncated gzip data included), syntax errors,
    ///   properties outside the accepted language and properties over the budget.
    public static func parse(path: String, memoryBudget: Int = defaultMemoryBudget) throws -> Property {
        try parseDocument(path: path, memoryBudget: memoryBudget).property
    }

    /// Parses VNN-LIB text; `source` names it in messages and in ``Property/source``.
    ///
    /// - Throws: ``VNNLibError`` (with `source`, line and column).
    public static func parse(text: String, source: String = "<text>", memoryBudget: Int = defaultMemoryBudget) throws -> Property {
        var text = text
        return try text.withUTF8 { try parse(bytes: $0, source: source, memoryBudget: memoryBudget) }
    }

    /// Parses a VNN-LIB 1.0 property or 2.0 query at `path` (plain or gzip-compressed): a
    /// file whose first command is `(vnnlib-version <2.0>)` is a 2.0 query, any other a 1.0
    /// property. ``parse(path:memoryBudget:)`` gives the property of either (for a 2.0 query,
    /// over its composed layout; see ``VNNLibQuery``).
    ///
    /// - Throws: ``VNNLibError`` with file, line and column.
    public static func parseDocument(path: String, memoryBudget: Int = defaultMemoryBudget) throws -> VNNLibDocument {
        let data: Data
        do {
            data = try InputFile.readData(path: path)
        } catch let error as InputFileError {
            throw VNNLibError.unreadableFile(path: path, reason: error.reason)
        }
        return try data.withUnsafeBytes { raw in
            try parseDocument(bytes: raw.bindMemory(to: UInt8.self), source: path, memoryBudget: memoryBudget)
        }
    }

    /// Parses VNN-LIB 1.0 or 2.0 text; `source` names it in messages.
    public static func parseDocument(text: String, source: String = "<text>",
                                     memoryBudget: Int = defaultMemoryBudget) throws -> VNNLibDocument {
        var text = text
        return try text.withUTF8 { try parseDocument(bytes: $0, source: source, memoryBudget: memoryBudget) }
    }

    static func parse(bytes: UnsafeBufferPointer<UInt8>, source: String, memoryBudget: Int) throws -> Property {
        try parseDocument(bytes: bytes, source: source, memoryBudget: memoryBudget).property
    }

    static func parseDocument(bytes: UnsafeBufferPointer<UInt8>, source: String, memoryBudget: Int) throws -> VNNLibDocument {
        var parser = Parser(bytes: bytes, source: source)
        return try parser.parseDocument(memoryBudget: memoryBudget)
    }
}

// MARK: - Internal representation

/// A declared variable: `X_index` (input) or `Y_index` (output).
struct VariableRef: Hashable, Comparable {
    var isOutput: Bool
    var index: Int

    var name: String { (isOutput ? "Y_" : "X_") + String(index) }

    static func < (a: VariableRef, b: VariableRef) -> Bool {
        a.isOutput != b.isOutput ? !a.isOutput : a.index < b.index
    }
}

/// A term of a comparison after folding: a constant, a single variable, or a linear form.
enum Term {
    case constant(Interval)
    case variable(VariableRef)
    case linear(LinearForm)

    var linearForm: LinearForm {
        switch self {
        case .constant(let c): return LinearForm(terms: [], constant: c)
        case .variable(let v): return LinearForm(terms: [(v, .one)], constant: .zero)
        case .linear(let form): return form
        }
    }

    /// `t_0 + t_1 + …`, or `t_0 - t_1 - …`; linear in the number of terms.
    static func sum(_ operands: [Term], subtractingAllButFirst: Bool) -> Term {
        var constant = Interval.zero
        var terms: [(variable: VariableRef, coefficient: Interval)] = []
        var onlyConstants = true
        for (k, operand) in operands.enumerated() {
            let negate = subtractingAllButFirst && k > 0
            switch operand {
            case .constant(let c):
                constant = constant + (negate ? -c : c)
            case .variable(let v):
                onlyConstants = false
                terms.append((v, negate ? -Interval.one : .one))
            case .linear(let form):
                onlyConstants = false
                constant = constant + (negate ? -form.constant : form.constant)
                if negate {
                    terms += form.terms.map { ($0.variable, -$0.coefficient) }
                } else {
                    terms += form.terms
                }
            }
        }
        return onlyConstants ? .constant(constant) : .linear(LinearForm(terms: terms, constant: constant))
    }

    static prefix func - (a: Term) -> Term {
        switch a {
        case .constant(let c): return .constant(-c)
        case .variable(let v): return .linear(LinearForm(terms: [(v, -Interval.one)], constant: .zero))
        case .linear(let form): return .linear(form.scaled(by: -Interval.one))
        }
    }

    /// The product, or nil when both factors contain variables (nonlinear).
    static func * (a: Term, b: Term) -> Term? {
        if case .constant(let x) = a { return b.scaled(by: x) }
        if case .constant(let y) = b { return a.scaled(by: y) }
        return nil
    }

    func scaled(by factor: Interval) -> Term {
        switch self {
        case .constant(let c): return .constant(c * factor)
        case .variable(let v): return .linear(LinearForm(terms: [(v, factor)], constant: .zero))
        case .linear(let form): return .linear(form.scaled(by: factor))
        }
    }
}

/// `Σ coefficient · variable + constant`, with possibly repeated variables (merged later).
struct LinearForm {
    var terms: [(variable: VariableRef, coefficient: Interval)]
    var constant: Interval

    func scaled(by factor: Interval) -> LinearForm {
        LinearForm(terms: terms.map { ($0.variable, $0.coefficient * factor) }, constant: constant * factor)
    }
}

/// One comparison after normalisation. Input bounds carry the outer end (the box only
/// grows) and the inner end (the box only shrinks) of the exact bound.
enum Atom {
    case inputLower(Int, outer: Double, inner: Double)
    case inputUpper(Int, outer: Double, inner: Double)
    case output(LinearConstraint)
}

/// An assertion formula over atom indices (the arrays give the recursion its indirection,
/// so no case is boxed).
enum Formula {
    case atom(Int32)
    case and([Formula], Mark)
    case or([Formula], Mark)
}

enum Keyword {
    case declareConst, assert, and, or, lessEqual, greaterEqual, less, greater, equal, notEqual, plus, minus, times, real, other
}

// MARK: - Parser

struct Parser {
    var lexer: Lexer
    let source: String
    var current: Token
    /// Declaration mark of each `X_i` / `Y_j` (line 0: not declared).
    var inputDeclarations: [Mark] = []
    var outputDeclarations: [Mark] = []
    var atoms: [Atom] = []
    /// One array per distinct left-hand side of the output constraints, shared by every
    /// constraint with that left-hand side (120,000 comparisons `(<= Y_3 t_k)` hold one).
    var sharedTerms: [[LinearConstraint.Term]: [LinearConstraint.Term]] = [:]
    var atomMarks: [Mark] = []
    var assertions: [Formula] = []
    /// Atoms that reduced to a constant comparison, with their truth (see ``add(_:to:)``).
    var constantAtoms: [Int32: Bool] = [:]
    /// The declarations of a VNN-LIB 2.0 query (nil for a 1.0 file).
    var query: QueryDeclarations?

    static let maximumIndex = 1 << 24
    /// Deepest accepted nesting of parentheses inside a command (real files use at most 4);
    /// the recursive descent must not exhaust the stack on hostile input.
    static let maximumNesting = 200
    var nesting = 0
    static let undeclared = Mark(line: 0, column: 0)

    init(bytes: UnsafeBufferPointer<UInt8>, source: String) {
        lexer = Lexer(bytes: bytes)
        self.source = source
        current = Token(kind: .end, start: 0, end: 0, mark: Mark(line: 1, column: 1), value: 0)
    }

    // MARK: Tokens and messages

    func location(_ mark: Mark) -> VNNLibLocation {
        VNNLibLocation(file: source, line: Int(mark.line), column: Int(mark.column))
    }

    var currentText: String { lexer.text(current.start, current.end) }

    var currentDescription: String {
        switch current.kind {
        case .open: return "'('"
        case .close: return "')'"
        case .end: return "end of file"
        case .symbol, .number, .string: return "'\(currentText)'"
        }
    }

    mutating func advance() throws {
        switch lexer.next() {
        case .success(let token):
            current = token
        case .failure(let error):
            if error.isString {
                throw VNNLibError.syntax(message: "a string is not closed by '\"' on its line", location: location(error.mark))
            }
            throw VNNLibError.invalidNumber(text: lexer.text(error.start, error.end), location: location(error.mark))
        }
        if query != nil, current.kind == .number { try checkVersion2Number() }
    }

    /// Error for a token that is not what the grammar needs here.
    func unexpected(_ expected: String, openedAt: Mark?) -> VNNLibError {
        switch current.kind {
        case .end:
            return .unexpectedEndOfFile(expected: expected, openedAt: openedAt.map(location), location: location(current.mark))
        default:
            return .syntax(message: "expected \(expected), found \(currentDescription)", location: location(current.mark))
        }
    }

    mutating func expectClose(openedAt open: Mark, _ what: String) throws {
        guard current.kind == .close else {
            throw unexpected("')' to close \(what) opened at line \(open.line), column \(open.column)", openedAt: open)
        }
        try advance()
    }

    func currentIs(_ word: StaticString) -> Bool {
        let length = current.end - current.start
        guard length == word.utf8CodeUnitCount else { return false }
        let text = word.utf8Start
        for k in 0..<length where lexer.bytes[current.start + k] != text[k] { return false }
        return true
    }

    var keyword: Keyword {
        guard current.kind == .symbol else { return .other }
        switch current.end - current.start {
        case 1:
            switch lexer.bytes[current.start] {
            case UInt8(ascii: "<"): return .less
            case UInt8(ascii: ">"): return .greater
            case UInt8(ascii: "="): return .equal
            case UInt8(ascii: "+"): return .plus
            case UInt8(ascii: "-"): return .minus
            case UInt8(ascii: "*"): return .times
            default: return .other
            }
        case 2:
            if currentIs("<=") { return .lessEqual }
            if currentIs(">=") { return .greaterEqual }
            if currentIs("==") { return .equal }
            if currentIs("!=") { return .notEqual }
            if currentIs("or") { return .or }
            return .other
        case 3: return currentIs("and") ? .and : .other
        case 4: return currentIs("Real") ? .real : .other
        case 6: return currentIs("assert") ? .assert : .other
        case 13: return currentIs("declare-const") ? .declareConst : .other
        default: return .other
        }
    }

    /// `X_<digits>` or `Y_<digits>` without leading zeros, or nil.
    var currentVariable: VariableRef? {
        guard current.kind == .symbol else { return nil }
        let bytes = lexer.bytes
        let start = current.start, end = current.end
        guard end - start >= 3, bytes[start + 1] == UInt8(ascii: "_") else { return nil }
        let isOutput: Bool
        switch bytes[start] {
        case UInt8(ascii: "X"): isOutput = false
        case UInt8(ascii: "Y"): isOutput = true
        default: return nil
        }
        if bytes[start + 2] == UInt8(ascii: "0") && end - start > 3 { return nil }
        var index = 0
        for k in (start + 2)..<end {
            guard Lexer.isDigit(bytes[k]) else { return nil }
            index = index * 10 + Int(bytes[k] &- UInt8(ascii: "0"))
            if index >= Parser.maximumIndex { return nil }
        }
        return VariableRef(isOutput: isOutput, index: index)
    }

    func declaration(of variable: VariableRef) -> Mark? {
        let table = variable.isOutput ? outputDeclarations : inputDeclarations
        guard variable.index < table.count else { return nil }
        let mark = table[variable.index]
        return mark.line == 0 ? nil : mark
    }

    // MARK: Commands

    mutating func parseDocument(memoryBudget: Int) throws -> VNNLibDocument {
        try advance()
        if try startsVersion2() {
            return .query(try parseQuery(memoryBudget: memoryBudget))
        }
        while current.kind != .end {
            switch current.kind {
            case .close:
                throw VNNLibError.unbalancedParenthesis(location: location(current.mark))
            case .open:
                let open = current.mark
                try advance()
                guard current.kind == .symbol else { throw unexpected("a command (declare-const or assert)", openedAt: open) }
                switch keyword {
                case .declareConst:
                    try parseDeclaration(openedAt: open)
                case _ where currentIs("declare-network") || currentIs("vnnlib-version"):
                    throw VNNLibError.syntax(
                        message: "'\(currentText)' is VNN-LIB 2.0: a 2.0 query starts with (vnnlib-version <2.0>) as its first command",
                        location: location(current.mark))
                case .assert:
                    try advance()
                    let formula = try parseFormula(enclosing: open)
                    try expectClose(openedAt: open, "assert")
                    assertions.append(formula)
                default:
                    throw VNNLibError.unknownFunction(name: currentText, expected: "a command: declare-const or assert",
                                                      location: location(current.mark))
                }
            default:
                throw unexpected("'(' to start a command", openedAt: nil)
            }
        }
        return .property(try assemble(memoryBudget: memoryBudget))
    }

    mutating func parseDeclaration(openedAt open: Mark) throws {
        try advance()
        guard current.kind == .symbol else { throw unexpected("a variable name after declare-const", openedAt: open) }
        guard let variable = currentVariable else {
            throw VNNLibError.invalidVariableName(name: currentText, location: location(current.mark))
        }
        let nameMark = current.mark
        if let first = declaration(of: variable) {
            throw VNNLibError.redeclaredVariable(name: variable.name, firstDeclaration: location(first),
                                                 location: location(nameMark))
        }
        try advance()
        guard current.kind == .symbol else { throw unexpected("the sort Real", openedAt: open) }
        guard keyword == .real else {
            throw VNNLibError.unsupportedSort(sort: currentText, location: location(current.mark))
        }
        try advance()
        try expectClose(openedAt: open, "declare-const")
        if variable.isOutput {
            if variable.index >= outputDeclarations.count {
                outputDeclarations += repeatElement(Parser.undeclared, count: variable.index + 1 - outputDeclarations.count)
            }
            outputDeclarations[variable.index] = nameMark
        } else {
            if variable.index >= inputDeclarations.count {
                inputDeclarations += repeatElement(Parser.undeclared, count: variable.index + 1 - inputDeclarations.count)
            }
            inputDeclarations[variable.index] = nameMark
        }
    }

    // MARK: Formulas

    /// Counts one more level of nesting at the current `(`; callers decrement on the way out.
    mutating func enterNesting() throws {
        nesting += 1
        guard nesting <= Parser.maximumNesting else {
            throw VNNLibError.syntax(message: "expressions nested more than \(Parser.maximumNesting) levels deep",
                                     location: location(current.mark))
        }
    }

    mutating func parseFormula(enclosing: Mark) throws -> Formula {
        guard current.kind == .open else { throw unexpected("a formula: (and …), (or …) or a comparison", openedAt: enclosing) }
        try enterNesting()
        defer { nesting -= 1 }
        let open = current.mark
        try advance()
        guard current.kind == .symbol else { throw unexpected("and, or or a comparison operator", openedAt: open) }
        let word = keyword
        switch word {
        case .and, .or:
            let name = currentText
            try advance()
            var operands: [Formula] = []
            while current.kind != .close {
                if current.kind == .end { throw unexpected("a formula or ')'", openedAt: open) }
                operands.append(try parseFormula(enclosing: open))
            }
            guard !operands.isEmpty else {
                throw VNNLibError.syntax(message: "'\(name)' needs at least one operand", location: location(open))
            }
            try advance()
            if operands.count == 1 { return operands[0] }
            return word == .and ? .and(operands, open) : .or(operands, open)
        case .lessEqual, .greaterEqual, .less, .greater, .equal, .notEqual:
            let name = currentText
            try advance()
            guard current.kind != .close else {
                throw VNNLibError.syntax(message: "'\(name)' needs at least two operands", location: location(open))
            }
            let first = try parseTerm(enclosing: open)
            guard current.kind != .close else {
                throw VNNLibError.syntax(message: "'\(name)' needs at least two operands", location: location(open))
            }
            var previous = try parseTerm(enclosing: open)
            let comparison = try makeComparison(word, first, previous, at: open)
            if current.kind == .close {
                try advance()
                return comparison
            }
            // A chain (<= a b c …) is the conjunction of neighbouring comparisons.
            var chain = [comparison]
            while current.kind != .close {
                if current.kind == .end { throw unexpected("a term or ')'", openedAt: open) }
                let next = try parseTerm(enclosing: open)
                chain.append(try makeComparison(word, previous, next, at: open))
                previous = next
            }
            try advance()
            return .and(chain, open)
        default:
            throw VNNLibError.unknownFunction(name: currentText, expected: "and, or, <=, >=, <, >, = (or ==), !=",
                                              location: location(current.mark))
        }
    }

    // MARK: Terms

    mutating func parseTerm(enclosing: Mark) throws -> Term {
        switch current.kind {
        case .number:
            // The exact decimal, enclosed: a point when it is a double, else the two
            // neighbouring doubles around it.
            let literal = UnsafeBufferPointer(rebasing: lexer.bytes[current.start..<current.end])
            guard let enclosure = DecimalEnclosure.enclosure(ofASCII: literal, nearest: current.value),
                  enclosure.isFinite else {
                throw VNNLibError.invalidNumber(text: currentText, location: location(current.mark))
            }
            try advance()
            return .constant(enclosure)
        case .symbol where query != nil:
            let variable = try resolveVersion2Variable()
            try advance()
            return .variable(variable)
        case .symbol:
            guard let variable = currentVariable else {
                throw VNNLibError.invalidVariableName(name: currentText, location: location(current.mark))
            }
            guard declaration(of: variable) != nil else {
                throw VNNLibError.undeclaredVariable(name: variable.name, location: location(current.mark))
            }
            try advance()
            return .variable(variable)
        case .open:
            try enterNesting()
            defer { nesting -= 1 }
            let open = current.mark
            try advance()
            guard current.kind == .symbol else { throw unexpected("+, - or *", openedAt: open) }
            let word = keyword
            guard word == .plus || word == .minus || word == .times else {
                throw VNNLibError.unknownFunction(name: currentText, expected: "a term function: +, - or *",
                                                  location: location(current.mark))
            }
            let name = currentText
            try advance()
            var operands: [Term] = []
            while current.kind != .close {
                if current.kind == .end { throw unexpected("a term or ')'", openedAt: open) }
                operands.append(try parseTerm(enclosing: open))
            }
            try advance()
            guard let head = operands.first else {
                throw VNNLibError.syntax(message: "'\(name)' needs at least one operand", location: location(open))
            }
            switch word {
            case .plus:
                return Term.sum(operands, subtractingAllButFirst: false)
            case .minus:
                return operands.count == 1 ? -head : Term.sum(operands, subtractingAllButFirst: true)
            default:
                var product = head
                for factor in operands.dropFirst() {
                    guard let next = product * factor else {
                        throw VNNLibError.unsupportedConstraint(
                            reason: "nonlinear constraint, not supported: a product of two terms that both contain variables (only linear terms are)",
                            location: location(open))
                    }
                    product = next
                }
                return product
            }
        case .close, .end, .string:
            throw unexpected("a term (number, variable or (+ …), (- …), (* …))", openedAt: enclosing)
        }
    }

    // MARK: Comparisons

    /// The atoms of one comparison. A strict one (`<`, `>`, and each side of `!=`) is its
    /// closure for proofs (outer ends unchanged: the unsafe set only grows); in a 2.0 query it
    /// is also strict for witnesses: its inner end moves one ulp inward (see
    /// ``makeStrict(_:)``). A 1.0 file keeps VNN-COMP's reading, the closure for both.
    mutating func makeComparison(_ word: Keyword, _ a: Term, _ b: Term, at mark: Mark) throws -> Formula {
        switch word {
        case .lessEqual:
            return .atom(try addLessEqual(a, b, at: mark))
        case .less:
            return .atom(makeStrict(try addLessEqual(a, b, at: mark)))
        case .greaterEqual:
            return .atom(try addLessEqual(b, a, at: mark))
        case .greater:
            return .atom(makeStrict(try addLessEqual(b, a, at: mark)))
        case .notEqual:
            return .or([.atom(makeStrict(try addLessEqual(a, b, at: mark))),
                        .atom(makeStrict(try addLessEqual(b, a, at: mark)))], mark)
        default:  // .equal
            return .and([.atom(try addLessEqual(a, b, at: mark)), .atom(try addLessEqual(b, a, at: mark))], mark)
        }
    }

    /// Makes the atom strict for witnesses: a point that satisfies the moved inner end
    /// (`≤ inner⁻`, or `≥ inner⁺` for a lower bound) satisfies the strict comparison, since
    /// the inner end is at most (at least) the exact threshold.
    mutating func makeStrict(_ index: Int32) -> Int32 {
        guard query != nil else { return index }
        switch atoms[Int(index)] {
        case let .inputLower(i, outer, inner):
            atoms[Int(index)] = .inputLower(i, outer: outer, inner: inner.nextUp)
        case let .inputUpper(i, outer, inner):
            atoms[Int(index)] = .inputUpper(i, outer: outer, inner: inner.nextDown)
        case .output(var constraint):
            constraint.innerBound = constraint.innerBound.nextDown
            atoms[Int(index)] = .output(constraint)
        }
        return index
    }

    /// The stored array equal to `terms` (stored now when it is new).
    mutating func shared(_ terms: [LinearConstraint.Term]) -> [LinearConstraint.Term] {
        if let known = sharedTerms[terms] { return known }
        sharedTerms[terms] = terms
        return terms
    }

    mutating func append(_ atom: Atom, at mark: Mark) -> Int32 {
        atoms.append(atom)
        atomMarks.append(mark)
        return Int32(atoms.count - 1)
    }

    /// Records the atom `a ≤ b` and returns its index.
    mutating func addLessEqual(_ a: Term, _ b: Term, at mark: Mark) throws -> Int32 {
        // Fast paths: a variable against a constant needs no arithmetic.
        switch (a, b) {
        // `v ≤ c` for c ∈ [c.lo, c.hi]: outward c.hi, inward c.lo; `c ≤ v` the reverse.
        case let (.variable(v), .constant(c)):
            guard v.isOutput else { return append(.inputUpper(v.index, outer: c.hi, inner: c.lo), at: mark) }
            let terms = shared([.init(output: v.index, coefficient: 1)])
            return append(.output(LinearConstraint(terms: terms, bound: c.hi, innerBound: c.lo)), at: mark)
        case let (.constant(c), .variable(v)):
            guard v.isOutput else { return append(.inputLower(v.index, outer: c.lo, inner: c.hi), at: mark) }
            let terms = shared([.init(output: v.index, coefficient: -1)])
            return append(.output(LinearConstraint(terms: terms, bound: -c.lo, innerBound: -c.hi)), at: mark)
        default:
            break
        }
        // General case: Σ coefficient · variable + constant ≤ 0.
        var form = a.linearForm
        let right = b.linearForm
        form.terms += right.terms.map { ($0.variable, -$0.coefficient) }
        form.constant = form.constant + -right.constant
        form.terms.sort { $0.variable < $1.variable }
        var merged: [(variable: VariableRef, coefficient: Interval)] = []
        merged.reserveCapacity(form.terms.count)
        for term in form.terms {
            if let last = merged.last, last.variable == term.variable {
                merged[merged.count - 1].coefficient = last.coefficient + term.coefficient
            } else {
                merged.append(term)
            }
        }
        merged.removeAll { $0.coefficient.lo == 0 && $0.coefficient.hi == 0 }
        for term in merged {
            guard term.coefficient.lo.isFinite && term.coefficient.hi.isFinite else {
                throw VNNLibError.unsupportedConstraint(reason: "the coefficient of \(term.variable.name) overflows a double",
                                                        location: location(mark))
            }
            guard term.coefficient.lo == term.coefficient.hi else {
                throw VNNLibError.unsupportedConstraint(
                    reason: "the coefficient of \(term.variable.name) is not exactly a double (a decimal such as 0.1 that no double equals, or the result of inexact constant arithmetic); only coefficients that are exactly binary64 numbers are supported",
                    location: location(mark))
            }
        }
        guard form.constant.lo.isFinite && form.constant.hi.isFinite else {
            throw VNNLibError.unsupportedConstraint(reason: "the constant overflows a double", location: location(mark))
        }
        if merged.isEmpty, query != nil {
            // 2.0 allows comparisons of constants (`(<= (* 2.0 3.0) 7)`, `(- X[0] X[0])`): an
            // atom without terms, `0 ≤ t`, decided once the query is read (strictness may
            // still move its inner end; see `Parser.finishQuery`).
            return append(.output(LinearConstraint(terms: [], bound: -form.constant.lo, innerBound: -form.constant.hi)), at: mark)
        }
        guard let firstTerm = merged.first else {
            throw VNNLibError.unsupportedConstraint(
                reason: "the comparison contains no variable (after cancelling terms); only constraints on X_i or Y_j are supported",
                location: location(mark))
        }
        var outputs = merged.filter { $0.variable.isOutput }.count
        if let query, outputs < merged.count, outputs > 0 || merged.count > 1 {
            // 2.0: inputs in anything but a bound by a constant are read through their
            // passthrough copies at the end of the composed output.
            merged = merged.map { term in
                term.variable.isOutput ? term
                    : (VariableRef(isOutput: true, index: query.passthroughBase + term.variable.index), term.coefficient)
            }
            merged.sort { $0.variable < $1.variable }
            outputs = merged.count
        }
        if outputs > 0 && outputs < merged.count {
            throw VNNLibError.unsupportedConstraint(
                reason: "the comparison mixes inputs and outputs (X_i with Y_j); input constraints must bound one X_i by a constant, output constraints may only involve Y_j",
                location: location(mark))
        }
        // Σ coefficient · variable ≤ -constant with the exact constant in [lo, hi]: the
        // largest value -lo gives the outer threshold, the smallest -hi the inner one.
        let negatedConstant = -form.constant.lo
        let innerNegatedConstant = -form.constant.hi
        if outputs == 0 {
            guard merged.count == 1 else {
                throw VNNLibError.unsupportedConstraint(
                    reason: "the comparison relates several inputs (\(merged.map { $0.variable.name }.joined(separator: ", "))); only bounds of one X_i by a constant are supported",
                    location: location(mark))
            }
            // a·X ≤ t with t ∈ [innerNegatedConstant, negatedConstant]: X ≤ t/a for a > 0
            // (increasing in t), X ≥ t/a for a < 0 (decreasing in t); outer ends round
            // away from the box's interior, inner ends towards it.
            let coefficient = firstTerm.coefficient.lo
            if coefficient > 0 {
                return append(.inputUpper(firstTerm.variable.index,
                                          outer: roundedQuotient(negatedConstant, coefficient, upward: true),
                                          inner: roundedQuotient(innerNegatedConstant, coefficient, upward: false)), at: mark)
            } else {
                return append(.inputLower(firstTerm.variable.index,
                                          outer: roundedQuotient(negatedConstant, coefficient, upward: false),
                                          inner: roundedQuotient(innerNegatedConstant, coefficient, upward: true)), at: mark)
            }
        }
        let terms = shared(merged.map { LinearConstraint.Term(output: $0.variable.index, coefficient: $0.coefficient.lo) })
        return append(.output(LinearConstraint(terms: terms, bound: negatedConstant, innerBound: innerNegatedConstant)), at: mark)
    }
}
