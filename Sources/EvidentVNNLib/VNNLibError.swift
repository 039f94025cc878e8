import Foundation

/// Everything that can go wrong reading a VNN-LIB property or matching it to a network.
///
/// Every case but ``unreadableFile(path:reason:)`` carries the ``VNNLibLocation``
/// (file, line, column) it is about; ``errorDescription`` starts with it, in
/// the `file:line:column:` form editors understand.
public enum VNNLibError: Error, LocalizedError, Equatable, Sendable {
    /// Which side of an input's box is missing.
    public enum BoundSide: String, Sendable, Equatable {
        /// No `(>= X_i c)` (or equivalent) constrains the input from below.
        case lower
        /// No `(<= X_i c)` (or equivalent) constrains the input from above.
        case upper
    }

    /// The file could not be read at all.
    case unreadableFile(path: String, reason: String)
    /// The text is not in the expected form (`message` says what was expected and what was found).
    case syntax(message: String, location: VNNLibLocation)
    /// A `)` closes nothing.
    case unbalancedParenthesis(location: VNNLibLocation)
    /// The file ends inside an expression; `openedAt` is the `(` left open, if any.
    case unexpectedEndOfFile(expected: String, openedAt: VNNLibLocation?, location: VNNLibLocation)
    /// A command or function symbol the parser does not know (`expected` lists the accepted ones).
    case unknownFunction(name: String, expected: String, location: VNNLibLocation)
    /// A token that starts like a number but is not a finite decimal number.
    case invalidNumber(text: String, location: VNNLibLocation)
    /// A variable name other than `X_<index>` or `Y_<index>` (decimal index without leading zeros).
    case invalidVariableName(name: String, location: VNNLibLocation)
    /// A declaration with a sort other than `Real`.
    case unsupportedSort(sort: String, location: VNNLibLocation)
    /// A variable used before (or without) its `declare-const`.
    case undeclaredVariable(name: String, location: VNNLibLocation)
    /// A second `declare-const` of the same variable.
    case redeclaredVariable(name: String, firstDeclaration: VNNLibLocation, location: VNNLibLocation)
    /// Declared variables leave a gap: `name` is missing although the variable at `location` has a higher index.
    case missingDeclaration(name: String, location: VNNLibLocation)
    /// A comparison the property form cannot express: inputs mixed with outputs,
    /// two inputs compared, constants only, a nonlinear product, an inexact coefficient.
    case unsupportedConstraint(reason: String, location: VNNLibLocation)
    /// An input has no finite bound on one side in some input region; `location`
    /// is its declaration, `regionStart` the first constraint of the disjunct that
    /// forms the region when the file has several (nil when all regions share it).
    case unboundedInput(variable: String, missing: BoundSide, regionStart: VNNLibLocation?, location: VNNLibLocation)
    /// The bounds of an input cross (`lower > upper`); `location` is the constraint that made them cross.
    case emptyInputBox(variable: String, lower: Double, upper: Double, location: VNNLibLocation)
    /// The assertions in disjunctive normal form (`disjuncts` disjuncts) would take about
    /// `estimatedBytes`, more than the parse's memory `budget` (see ``VNNLibParser``, "Large
    /// disjunctions"); `location` is where the expansion, multiplied out in file order,
    /// first exceeds the budget.
    case dnfTooLarge(disjuncts: Double, estimatedBytes: Double, budget: Int, location: VNNLibLocation)
    /// VNN-LIB 2.0: a name used in an assertion or `equal-to` that no declaration introduces.
    case undeclaredName(name: String, location: VNNLibLocation)
    /// VNN-LIB 2.0: a second declaration of a name (names are unique across the whole query).
    case duplicateName(name: String, firstDeclaration: VNNLibLocation, location: VNNLibLocation)
    /// VNN-LIB 2.0: a tensor element written with the wrong number of indices.
    case indexArity(name: String, given: Int, shape: [Int], location: VNNLibLocation)
    /// VNN-LIB 2.0: an index outside the declared shape.
    case indexOutOfRange(name: String, indices: [Int], shape: [Int], location: VNNLibLocation)
    /// A `(vnnlib-version <v>)` this parser does not read, or a 2.0 construct without it.
    case unsupportedVersion(version: String, location: VNNLibLocation)
    /// VNN-LIB 2.0: the query does not fit the models given for it (shapes, element types,
    /// hidden tensor names, the `--network` arguments); `message` says what and why.
    case networkMismatch(message: String, location: VNNLibLocation)
    /// The property declares `declared` inputs but the network has `network`.
    case inputCountMismatch(declared: Int, network: Int, location: VNNLibLocation)
    /// The property uses `declared` outputs but the network has only `network`.
    case outputCountMismatch(declared: Int, network: Int, location: VNNLibLocation)

    /// `bytes` in KiB, MiB or GiB with three significant digits ("1.50 GiB"); "an unbounded amount" when infinite.
    static func formatBytes(_ bytes: Double) -> String {
        guard bytes.isFinite else { return "an unbounded amount" }
        let units: [(String, Double)] = [("GiB", 1_073_741_824), ("MiB", 1_048_576), ("KiB", 1024)]
        for (name, size) in units where bytes >= size { return String(format: "%.3g", bytes / size) + " " + name }
        return "\(Int(bytes)) bytes"
    }

    /// The location the error is about (nil only for ``unreadableFile(path:reason:)``).
    public var location: VNNLibLocation? {
        switch self {
        case .unreadableFile: return nil
        case .syntax(_, let location), .unbalancedParenthesis(let location),
             .unexpectedEndOfFile(_, _, let location), .unknownFunction(_, _, let location),
             .invalidNumber(_, let location), .invalidVariableName(_, let location),
             .unsupportedSort(_, let location), .undeclaredVariable(_, let location),
             .redeclaredVariable(_, _, let location), .missingDeclaration(_, let location),
             .unsupportedConstraint(_, let location), .unboundedInput(_, _, _, let location),
             .emptyInputBox(_, _, _, let location), .dnfTooLarge(_, _, _, let location),
             .inputCountMismatch(_, _, let location), .outputCountMismatch(_, _, let location),
             .undeclaredName(_, let location), .duplicateName(_, _, let location), .indexArity(_, _, _, let location),
             .indexOutOfRange(_, _, _, let location), .unsupportedVersion(_, let location),
             .networkMismatch(_, let location):
            return location
        }
    }

    /// A sentence a user can act on, prefixed with `file:line:column:`.
    public var errorDescription: String? {
        switch self {
        case let .unreadableFile(path, reason):
            return "\(path): cannot read VNN-LIB file: \(reason)"
        case let .syntax(message, location):
            return "\(location): syntax error: \(message)"
        case let .unbalancedParenthesis(location):
            return "\(location): unbalanced parentheses: this ')' closes nothing"
        case let .unexpectedEndOfFile(expected, openedAt, location):
            let opened = openedAt.map { " (the '(' at line \($0.line), column \($0.column) is not closed)" } ?? ""
            return "\(location): unexpected end of file: expected \(expected)\(opened)"
        case let .unknownFunction(name, expected, location):
            return "\(location): unknown function symbol '\(name)'; expected \(expected)"
        case let .invalidNumber(text, location):
            return "\(location): '\(text)' is not a finite decimal number"
        case let .invalidVariableName(name, location):
            return "\(location): '\(name)' is not a VNN-LIB variable name; variables are X_<index> (inputs) and Y_<index> (outputs)"
        case let .unsupportedSort(sort, location):
            return "\(location): unsupported sort '\(sort)'; variables must be declared Real"
        case let .undeclaredVariable(name, location):
            return "\(location): variable \(name) is used but not declared (add (declare-const \(name) Real) before its first use)"
        case let .redeclaredVariable(name, first, location):
            return "\(location): variable \(name) is declared twice (first at line \(first.line), column \(first.column))"
        case let .missingDeclaration(name, location):
            return "\(location): \(name) is never declared although this variable has a higher index; declare every index from 0"
        case let .unsupportedConstraint(reason, location):
            return "\(location): unsupported constraint: \(reason)"
        case let .unboundedInput(variable, missing, regionStart, location):
            let region = regionStart.map { " in the input region formed by the disjunct at line \($0.line), column \($0.column)" } ?? ""
            return "\(location): input \(variable) has no \(missing.rawValue) bound\(region); every input needs a finite lower and upper bound"
        case let .emptyInputBox(variable, lower, upper, location):
            return "\(location): the bounds of input \(variable) are empty: lower \(lower) > upper \(upper)"
        case let .dnfTooLarge(disjuncts, bytes, budget, location):
            let count = disjuncts < 1e15 ? String(Int(disjuncts)) : String(format: "%.3g", disjuncts)
            return "\(location): the assertions expand to \(count) disjuncts in disjunctive normal form, "
                + "about \(Self.formatBytes(bytes)) as parsed, over the property's memory budget of \(Self.formatBytes(Double(budget))) "
                + "(half of --max-memory, at least 64 MiB; 1 GiB without it); raise --max-memory or split the property into several files"
        case let .undeclaredName(name, location):
            return "\(location): '\(name)' is not declared (every network and tensor name must be declared by a declare-network block before the assertions)"
        case let .duplicateName(name, first, location):
            return "\(location): '\(name)' is declared twice (first at line \(first.line), column \(first.column)); names are unique across the whole query"
        case let .indexArity(name, given, shape, location):
            let shapeText = "[" + shape.map(String.init).joined(separator: ",") + "]"
            return "\(location): \(name) has shape \(shapeText), so an element takes \(shape.count) "
                + (shape.count == 1 ? "index" : "indices") + ", but \(given) " + (given == 1 ? "is" : "are") + " given"
        case let .indexOutOfRange(name, indices, shape, location):
            let shapeText = "[" + shape.map(String.init).joined(separator: ",") + "]"
            return "\(location): index [\(indices.map(String.init).joined(separator: ","))] is outside \(name)'s shape \(shapeText) (indices are zero-based)"
        case let .unsupportedVersion(version, location):
            return "\(location): VNN-LIB version \(version) is not supported; Evident reads 1.0 (files without a version line) and 2.0 ((vnnlib-version <2.0>) as the first command)"
        case let .networkMismatch(message, location):
            return "\(location): \(message)"
        case let .inputCountMismatch(declared, network, location):
            return "\(location): the property declares \(declared) inputs but the network has \(network)"
        case let .outputCountMismatch(declared, network, location):
            return "\(location): the property uses \(declared) outputs but the network has only \(network)"
        }
    }
}
