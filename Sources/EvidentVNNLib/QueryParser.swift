// VNN-LIB 2.0: the version line, `declare-network` blocks, tensor elements `X[0,2]`, and the
// normalisation of a query into the composed layout of Query.swift. The formulas, terms and
// the streamed normal form are the 1.0 parser's (VNNLibParser.swift, RegionAssembly.swift).

/// The declarations of a 2.0 query while it is parsed.
struct QueryDeclarations {
    struct Symbol {
        var tensor: DeclaredTensor
        var mark: Mark
    }

    var version: String
    var networks: [NetworkDeclaration] = []
    /// Tensor name -> its declaration.
    var symbols: [String: Symbol] = [:]
    /// Every declared name (networks and tensors) -> where.
    var names: [String: VNNLibLocation] = [:]
    /// Declared-input slots so far (the inputs of all networks, flattened).
    var inputSlots = 0
    /// Composed-output elements so far (outputs, then hidden tensors, of each network).
    var outputSlots = 0
    /// The input tensors in slot order with their marks, to name a slot in messages.
    var inputTensors: [Symbol] = []
    /// After ``Parser/finishQuery(memoryBudget:)`` merges tied inputs: the first slot of each
    /// composed input element.
    var firstSlotOfInput: [Int] = []

    /// Output index of the passthrough copy of declared-input slot `s` while parsing:
    /// `passthroughBase + s`. The assertions follow every declaration, so the base is final
    /// when they are read; ``Parser/finishQuery(memoryBudget:)`` renumbers the copies used.
    var passthroughBase: Int { outputSlots }

    /// The input tensor holding declared-input slot `slot`, and the element's flat index in it.
    func inputTensor(ofSlot slot: Int) -> (symbol: Symbol, flat: Int)? {
        var low = 0, high = inputTensors.count
        while high - low > 1 {
            let middle = (low + high) / 2
            if inputTensors[middle].tensor.offset <= slot { low = middle } else { high = middle }
        }
        guard low < inputTensors.count else { return nil }
        return (inputTensors[low], slot - inputTensors[low].tensor.offset)
    }

    /// ONNX element type names (the ONNX IR's first naming set, as VNN-LIB uses) and `Real`.
    static let elementTypes: Set<String> = [
        "Real", "real", "float16", "float32", "float64", "bfloat16", "int4", "int8", "int16", "int32", "int64",
        "uint4", "uint8", "uint16", "uint32", "uint64", "bool", "complex64", "complex128", "float8e4m3fn",
        "float8e4m3fnuz", "float8e5m2", "float8e5m2fnuz", "float4e2m1", "string",
    ]
    /// Bytes a parse takes per declared input element (union-find, classes, marks, a box) and
    /// per declared output element (its mark), counted against the memory budget.
    static let bytesPerInput = 96
    static let bytesPerOutput = 16
    /// The grammar's keywords that have a name's form (`grammar.cf` makes them tokens).
    static let reservedWords: Set<String> = ["and", "or", "assert"]
    /// The largest element count of one tensor, and of all declared slots together.
    static let maximumElements = 1 << 28
}

extension Parser {
    /// Whether the first command is `(vnnlib-version …)`; the current token is the first.
    func startsVersion2() throws -> Bool {
        guard current.kind == .open else { return false }
        var probe = lexer
        guard case .success(let next) = probe.next(), next.kind == .symbol else { return false }
        let text = lexer.text(next.start, next.end)
        return text == "vnnlib-version"
    }

    /// The name of composed input `i` in messages: `X_i` (1.0) or the element (`X[0,2]`).
    func inputName(_ i: Int) -> String {
        guard let query else { return VariableRef(isOutput: false, index: i).name }
        let slot = i < query.firstSlotOfInput.count ? query.firstSlotOfInput[i] : i
        guard let (symbol, flat) = query.inputTensor(ofSlot: slot) else { return "input \(i)" }
        return symbol.tensor.elementName(flat)
    }

    /// 2.0 numbers are `-?digit+(.digit+)?`: no exponent, no leading `+`, no bare `.5` or `5.`.
    func checkVersion2Number() throws {
        let bytes = lexer.bytes
        var i = current.start
        let end = current.end
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        var digits = 0
        while i < end, Lexer.isDigit(bytes[i]) { i += 1; digits += 1 }
        var valid = digits > 0
        if valid, i < end, bytes[i] == UInt8(ascii: ".") {
            i += 1
            var fraction = 0
            while i < end, Lexer.isDigit(bytes[i]) { i += 1; fraction += 1 }
            valid = fraction > 0
        }
        guard valid, i == end else {
            throw VNNLibError.syntax(
                message: "'\(currentText)' is not a VNN-LIB 2.0 number: 2.0 writes decimals without exponent or leading '+' (such as 12, -0.5, 0.001)",
                location: location(current.mark))
        }
    }

    // MARK: The query

    mutating func parseQuery(memoryBudget: Int) throws -> VNNLibQuery {
        // (vnnlib-version <2.0>)
        let open = current.mark
        try advance()
        try advance()
        guard current.kind == .symbol else { throw unexpected("a version such as <2.0>", openedAt: open) }
        let versionText = currentText
        let versionMark = current.mark
        var version = versionText
        if version.hasPrefix("<") && version.hasSuffix(">") && version.count > 2 {
            version = String(version.dropFirst().dropLast())
        } else {
            throw VNNLibError.syntax(message: "expected a version such as <2.0>, found '\(versionText)'", location: location(versionMark))
        }
        let parts = version.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) else {
            throw VNNLibError.syntax(message: "expected a version such as <2.0>, found '\(versionText)'", location: location(versionMark))
        }
        guard parts[0] == "2", parts[1] == "0" else {
            throw VNNLibError.unsupportedVersion(version: version, location: location(versionMark))
        }
        query = QueryDeclarations(version: version)
        try advance()
        try expectClose(openedAt: open, "vnnlib-version")

        var assertionCount = 0
        while current.kind != .end {
            switch current.kind {
            case .close:
                throw VNNLibError.unbalancedParenthesis(location: location(current.mark))
            case .open:
                let open = current.mark
                try advance()
                guard current.kind == .symbol else { throw unexpected("a command (declare-network or assert)", openedAt: open) }
                if currentIs("declare-network") {
                    guard assertionCount == 0 else {
                        throw VNNLibError.syntax(
                            message: "declare-network after an assertion: a VNN-LIB 2.0 query declares all its networks first, then asserts",
                            location: location(open))
                    }
                    try parseNetwork(openedAt: open)
                } else if keyword == .assert {
                    guard !(query!.networks.isEmpty) else {
                        throw VNNLibError.syntax(message: "assertion before any declare-network", location: location(open))
                    }
                    try advance()
                    let formula = try parseFormula(enclosing: open)
                    try expectClose(openedAt: open, "assert")
                    assertions.append(formula)
                    assertionCount += 1
                } else if keyword == .declareConst {
                    throw VNNLibError.syntax(
                        message: "declare-const is VNN-LIB 1.0; a 2.0 query declares its tensors inside declare-network",
                        location: location(current.mark))
                } else if currentIs("vnnlib-version") {
                    throw VNNLibError.syntax(message: "a second vnnlib-version command", location: location(current.mark))
                } else {
                    throw VNNLibError.unknownFunction(name: currentText, expected: "a command: declare-network or assert",
                                                      location: location(current.mark))
                }
            default:
                throw unexpected("'(' to start a command", openedAt: nil)
            }
        }
        guard !query!.networks.isEmpty else {
            throw VNNLibError.syntax(message: "the query declares no network (expected (declare-network …))", location: location(current.mark))
        }
        guard assertionCount > 0 else {
            throw VNNLibError.syntax(message: "the query has no assertion (expected (assert …) after the networks)",
                                     location: location(current.mark))
        }
        return try finishQuery(memoryBudget: memoryBudget, assertionCount: assertionCount)
    }

    /// Records a new name, refusing duplicates and names outside `letter (letter|digit|_)*`.
    mutating func declareName(_ name: String, at mark: Mark) throws {
        guard let first = name.utf8.first, Lexer.isLetter(first),
              name.utf8.allSatisfy({ Lexer.isLetter($0) || Lexer.isDigit($0) || $0 == UInt8(ascii: "_") }) else {
            throw VNNLibError.syntax(
                message: "'\(name)' is not a VNN-LIB 2.0 name: names start with a letter and hold letters, digits and '_'",
                location: location(mark))
        }
        guard !QueryDeclarations.reservedWords.contains(name) else {
            throw VNNLibError.syntax(message: "'\(name)' is a keyword of VNN-LIB 2.0 and cannot name a network or tensor",
                                     location: location(mark))
        }
        if let first = query!.names[name] {
            throw VNNLibError.duplicateName(name: name, firstDeclaration: first, location: location(mark))
        }
        query!.names[name] = location(mark)
    }

    /// `(declare-network N [equivalence] inputs+ hidden* outputs+)`; the current token is `declare-network`.
    mutating func parseNetwork(openedAt open: Mark) throws {
        try advance()
        guard current.kind == .symbol else { throw unexpected("a network name after declare-network", openedAt: open) }
        let name = currentText
        let nameMark = current.mark
        try declareName(name, at: nameMark)
        try advance()
        var network = NetworkDeclaration(name: name, location: location(nameMark), equivalence: nil,
                                         inputs: [], hidden: [], outputs: [])
        var pendingInputs: [(DeclaredTensor, Mark)] = []
        var pendingHidden: [(DeclaredTensor, Mark)] = []
        var pendingOutputs: [(DeclaredTensor, Mark)] = []
        while current.kind != .close {
            guard current.kind == .open else {
                throw unexpected("(declare-input …), (declare-hidden …), (declare-output …) or ')' closing the declare-network opened at line \(open.line), column \(open.column)", openedAt: open)
            }
            let itemOpen = current.mark
            try advance()
            guard current.kind == .symbol else { throw unexpected("declare-input, declare-hidden, declare-output, equal-to or isomorphic-to", openedAt: itemOpen) }
            if currentIs("equal-to") || currentIs("isomorphic-to") {
                let isEqual = currentIs("equal-to")
                let word = currentText
                guard network.equivalence == nil else {
                    throw VNNLibError.syntax(message: "a network takes at most one equal-to or isomorphic-to", location: location(current.mark))
                }
                guard pendingInputs.isEmpty && pendingHidden.isEmpty && pendingOutputs.isEmpty else {
                    throw VNNLibError.syntax(message: "\(word) must come before the network's tensor declarations", location: location(current.mark))
                }
                try advance()
                guard current.kind == .symbol else { throw unexpected("the name of an earlier network", openedAt: itemOpen) }
                let target = currentText
                guard query!.networks.contains(where: { $0.name == target }) else {
                    throw VNNLibError.undeclaredName(name: target, location: location(current.mark))
                }
                network.equivalence = isEqual ? .equalTo(target) : .isomorphicTo(target)
                try advance()
                try expectClose(openedAt: itemOpen, word)
                continue
            }
            let kind: DeclaredTensor.Kind
            if currentIs("declare-input") {
                kind = .input
                guard pendingHidden.isEmpty && pendingOutputs.isEmpty else {
                    throw VNNLibError.syntax(message: "declare-input after a hidden or output declaration: a network declares its inputs, then hidden tensors, then outputs",
                                             location: location(current.mark))
                }
            } else if currentIs("declare-hidden") {
                kind = .hidden
                guard pendingOutputs.isEmpty else {
                    throw VNNLibError.syntax(message: "declare-hidden after an output declaration: a network declares its inputs, then hidden tensors, then outputs",
                                             location: location(current.mark))
                }
            } else if currentIs("declare-output") {
                kind = .output
            } else {
                throw VNNLibError.unknownFunction(name: currentText,
                                                  expected: "declare-input, declare-hidden, declare-output, equal-to or isomorphic-to",
                                                  location: location(current.mark))
            }
            let word = currentText
            try advance()
            let (tensor, mark) = try parseTensorDeclaration(kind, word, openedAt: itemOpen)
            switch kind {
            case .input: pendingInputs.append((tensor, mark))
            case .hidden: pendingHidden.append((tensor, mark))
            case .output: pendingOutputs.append((tensor, mark))
            }
        }
        guard !pendingInputs.isEmpty else {
            throw VNNLibError.syntax(message: "network '\(name)' declares no input", location: location(current.mark))
        }
        guard !pendingOutputs.isEmpty else {
            throw VNNLibError.syntax(message: "network '\(name)' declares no output", location: location(current.mark))
        }
        try advance()
        // Layout: inputs in slot order; outputs, then hidden tensors, in the composed output.
        func place(_ items: [(DeclaredTensor, Mark)], inputs: Bool) throws -> [DeclaredTensor] {
            var placed: [DeclaredTensor] = []
            for (var tensor, mark) in items {
                let count = tensor.elementCount
                let total = inputs ? query!.inputSlots : query!.outputSlots
                guard total + count <= QueryDeclarations.maximumElements else {
                    throw VNNLibError.syntax(message: "the query declares more than \(QueryDeclarations.maximumElements) elements",
                                             location: location(mark))
                }
                tensor.offset = total
                if inputs { query!.inputSlots += count } else { query!.outputSlots += count }
                let symbol = QueryDeclarations.Symbol(tensor: tensor, mark: mark)
                query!.symbols[tensor.name] = symbol
                if inputs { query!.inputTensors.append(symbol) }
                placed.append(tensor)
            }
            return placed
        }
        network.inputs = try place(pendingInputs, inputs: true)
        network.outputs = try place(pendingOutputs, inputs: false)
        network.hidden = try place(pendingHidden, inputs: false)
        query!.networks.append(network)
    }

    /// `NAME TYPE SHAPE [ONNX-NAME])` of a tensor declaration (the keyword already read).
    mutating func parseTensorDeclaration(_ kind: DeclaredTensor.Kind, _ word: String,
                                         openedAt open: Mark) throws -> (DeclaredTensor, Mark) {
        guard current.kind == .symbol else { throw unexpected("a tensor name after \(word)", openedAt: open) }
        let name = currentText
        let mark = current.mark
        try declareName(name, at: mark)
        try advance()
        guard current.kind == .symbol else { throw unexpected("an element type (Real, float32, …)", openedAt: open) }
        // The type and the shape are separate tokens of the grammar, so `Real[2]` is `Real [2]`.
        var typeEnd = current.start
        while typeEnd < current.end, lexer.bytes[typeEnd] != UInt8(ascii: "[") { typeEnd += 1 }
        let elementType = lexer.text(current.start, typeEnd)
        guard QueryDeclarations.elementTypes.contains(elementType) else {
            throw VNNLibError.unsupportedSort(sort: elementType, location: location(current.mark))
        }
        var shapeStart = typeEnd, shapeEnd = current.end
        var shapeMark = current.mark
        if typeEnd == current.end {
            try advance()
            guard current.kind == .symbol, lexer.bytes[current.start] == UInt8(ascii: "[") else {
                throw unexpected("a shape such as [1,10] (or [] for a scalar)", openedAt: open)
            }
            (shapeStart, shapeEnd, shapeMark) = (current.start, current.end, current.mark)
        }
        let shapeText = lexer.text(shapeStart, shapeEnd)
        guard let shape = bracketedIntegers(shapeStart, shapeEnd), shape.allSatisfy({ $0 >= 1 }) else {
            throw VNNLibError.syntax(message: "'\(shapeText)' is not a shape: expected positive integers separated by commas, such as [1,3,32,32], or []",
                                     location: location(shapeMark))
        }
        let count = shape.reduce(1) { $0 > QueryDeclarations.maximumElements ? $0 : $0 * $1 }
        guard count <= QueryDeclarations.maximumElements else {
            throw VNNLibError.syntax(message: "the shape \(shapeText) has more than \(QueryDeclarations.maximumElements) elements",
                                     location: location(shapeMark))
        }
        try advance()
        var onnxName: String?
        if current.kind == .string {
            onnxName = unescaped(lexer.text(current.start + 1, current.end - 1))
            try advance()
        } else if kind == .hidden {
            throw unexpected("the ONNX tensor name of the hidden tensor, in double quotes", openedAt: open)
        }
        try expectClose(openedAt: open, word)
        let tensor = DeclaredTensor(name: name, kind: kind, elementType: elementType, shape: shape, onnxName: onnxName,
                                    location: location(mark), offset: 0)
        return (tensor, mark)
    }

    /// The integers of `[a,b,…]` (spaces allowed around them), `[]` as empty; nil otherwise
    /// (a negative or non-decimal entry, a missing comma). Values saturate above 2^40.
    func bracketedIntegers(_ start: Int, _ end: Int) -> [Int]? {
        let bytes = lexer.bytes
        guard end - start >= 2, bytes[start] == UInt8(ascii: "["), bytes[end - 1] == UInt8(ascii: "]") else { return nil }
        var values: [Int] = []
        var i = start + 1
        func skipSpaces() {
            while i < end - 1, bytes[i] == UInt8(ascii: " ") || bytes[i] == UInt8(ascii: "\t") || bytes[i] == UInt8(ascii: "\n")
                    || bytes[i] == UInt8(ascii: "\r") { i += 1 }
        }
        skipSpaces()
        if i == end - 1 { return [] }
        while true {
            skipSpaces()
            var value = 0
            var digits = 0
            while i < end - 1, Lexer.isDigit(bytes[i]) {
                value = Swift.min(value * 10 + Int(bytes[i] &- UInt8(ascii: "0")), 1 << 40)
                i += 1
                digits += 1
            }
            guard digits > 0 else { return nil }
            values.append(value)
            skipSpaces()
            if i == end - 1 { return values }
            guard bytes[i] == UInt8(ascii: ",") else { return nil }
            i += 1
        }
    }

    /// A string token's contents with `\"` and `\\` unescaped.
    func unescaped(_ text: String) -> String {
        guard text.contains("\\") else { return text }
        var result = "", escaping = false
        for character in text {
            if escaping || character != "\\" {
                result.append(character)
                escaping = false
            } else {
                escaping = true
            }
        }
        return result
    }

    /// The element the current symbol names (`X[0,2]`, `X [0,2]`, or `X` for a scalar),
    /// checked against its declaration; the current token is then its last.
    mutating func resolveVersion2Variable() throws -> VariableRef {
        let bytes = lexer.bytes
        var nameEnd = current.start
        while nameEnd < current.end, bytes[nameEnd] != UInt8(ascii: "[") { nameEnd += 1 }
        let name = lexer.text(current.start, nameEnd)
        let nameMark = current.mark
        var indexStart = nameEnd, indexEnd = current.end
        if nameEnd == current.end {
            // The grammar's `X [0,2]`: the indices as the next token.
            var probe = lexer
            if case .success(let next) = probe.next(), next.kind == .symbol, bytes[next.start] == UInt8(ascii: "[") {
                try advance()
                (indexStart, indexEnd) = (current.start, current.end)
            }
        }
        guard let symbol = query!.symbols[name] else {
            if query!.names[name] != nil {
                throw VNNLibError.syntax(message: "'\(name)' is a network, not a tensor", location: location(nameMark))
            }
            throw VNNLibError.undeclaredName(name: name, location: location(nameMark))
        }
        let shape = symbol.tensor.shape
        var indices: [Int] = []
        if indexStart < indexEnd {
            guard let parsed = bracketedIntegers(indexStart, indexEnd) else {
                throw VNNLibError.syntax(message: "'\(name)\(lexer.text(indexStart, indexEnd))' is not a tensor element: expected zero-based indices such as \(name)[0,2]",
                                         location: location(nameMark))
            }
            indices = parsed
            if parsed.isEmpty {
                throw VNNLibError.indexArity(name: name, given: 0, shape: shape, location: location(nameMark))
            }
        }
        guard indices.count == shape.count else {
            throw VNNLibError.indexArity(name: name, given: indices.count, shape: shape, location: location(nameMark))
        }
        var flat = 0
        for (index, extent) in zip(indices, shape) {
            guard index < extent else {
                throw VNNLibError.indexOutOfRange(name: name, indices: indices, shape: shape, location: location(nameMark))
            }
            flat = flat * extent + index
        }
        return VariableRef(isOutput: symbol.tensor.kind != .input, index: symbol.tensor.offset + flat)
    }

    // MARK: Normalisation

    /// Ties inputs that top-level equalities identify, renumbers the passthrough copies the
    /// assertions use, and assembles the property over the composed layout.
    mutating func finishQuery(memoryBudget: Int, assertionCount: Int) throws -> VNNLibQuery {
        let declared = query!.outputSlots
        let slots = query!.inputSlots
        let base = query!.passthroughBase
        // Per declared element: the tables below and one region's box (as the normal form's
        // estimate counts it), before anything is allocated.
        let bytes = Double(slots) * Double(QueryDeclarations.bytesPerInput) + Double(declared) * Double(QueryDeclarations.bytesPerOutput)
        guard bytes <= Double(memoryBudget) else {
            throw VNNLibError.dnfTooLarge(disjuncts: 1, estimatedBytes: bytes, budget: memoryBudget,
                                          location: query!.networks.last.map { $0.location } ?? location(current.mark))
        }

        // Tied inputs: a top-level pair a − b ≤ 0 and b − a ≤ 0 over two input slots, exact.
        var parent = Array(0..<slots)
        func root(_ x: Int) -> Int {
            var x = x
            while parent[x] != x {
                parent[x] = parent[parent[x]]
                x = parent[x]
            }
            return x
        }
        var differences = Set<[Int]>()
        func topLevelAtoms(_ formula: Formula, _ body: (Int32) -> Void) {
            switch formula {
            case .atom(let index): body(index)
            case .and(let operands, _): for operand in operands { topLevelAtoms(operand, body) }
            case .or: break
            }
        }
        for assertion in assertions {
            topLevelAtoms(assertion) { index in
                guard case .output(let c) = atoms[Int(index)], c.terms.count == 2, c.bound == 0, c.innerBound == 0,
                      c.terms[0].output >= base, c.terms[1].output >= base,
                      abs(c.terms[0].coefficient) == 1, c.terms[0].coefficient == -c.terms[1].coefficient else { return }
                let positive = c.terms[0].coefficient > 0 ? c.terms[0].output : c.terms[1].output
                let negative = c.terms[0].coefficient > 0 ? c.terms[1].output : c.terms[0].output
                differences.insert([positive - base, negative - base])
            }
        }
        var tied = false
        for pair in differences where pair[0] < pair[1] && differences.contains([pair[1], pair[0]]) {
            let (a, b) = (root(pair[0]), root(pair[1]))
            if a != b {
                parent[Swift.max(a, b)] = Swift.min(a, b)
                tied = true
            }
        }
        // Every class's root is its smallest slot, so classes are numbered by first slot.
        var classOfSlot = [Int](repeating: 0, count: slots)
        var firstSlot: [Int] = []
        firstSlot.reserveCapacity(slots)
        for slot in 0..<slots {
            let r = root(slot)
            if r == slot {
                classOfSlot[slot] = firstSlot.count
                firstSlot.append(slot)
            } else {
                classOfSlot[slot] = classOfSlot[r]
            }
        }
        query!.firstSlotOfInput = firstSlot

        // Rewrite the atoms over composed inputs; passthrough copies indexed by class for now.
        var usesPassthrough = false
        for atom in atoms {
            if case .output(let c) = atom, let last = c.terms.last, last.output >= base { usesPassthrough = true; break }
        }
        var passthrough: [Int] = []
        if tied || usesPassthrough {
            var used = Set<Int>()
            for index in atoms.indices {
                switch atoms[index] {
                case let .inputLower(i, outer, inner):
                    atoms[index] = .inputLower(classOfSlot[i], outer: outer, inner: inner)
                case let .inputUpper(i, outer, inner):
                    atoms[index] = .inputUpper(classOfSlot[i], outer: outer, inner: inner)
                case .output(var c):
                    guard let last = c.terms.last, last.output >= base else { continue }
                    // Tied slots map to one class, so terms may repeat and leave slot order.
                    var terms = c.terms.map { term in
                        LinearConstraint.Term(output: term.output >= base ? base + classOfSlot[term.output - base] : term.output,
                                              coefficient: term.coefficient)
                    }
                    terms.sort { $0.output < $1.output }
                    var merged: [LinearConstraint.Term] = []
                    for term in terms {
                        if let previous = merged.last, previous.output == term.output {
                            let sum = previous.coefficient + term.coefficient
                            guard sum - previous.coefficient == term.coefficient else {
                                throw VNNLibError.unsupportedConstraint(
                                    reason: "the coefficients of tied inputs do not add up exactly in binary64",
                                    location: location(atomMarks[index]))
                            }
                            merged[merged.count - 1].coefficient = sum
                        } else {
                            merged.append(term)
                        }
                    }
                    merged.removeAll { $0.coefficient == 0 }
                    // An empty form (the tied terms cancelled) is decided with the constants below.
                    for term in merged where term.output >= base { used.insert(term.output - base) }
                    c.terms = merged
                    atoms[index] = .output(c)
                }
            }
            passthrough = used.sorted()
            var rank: [Int: Int] = [:]
            for (k, element) in passthrough.enumerated() { rank[element] = k }
            for index in atoms.indices {
                guard case .output(var c) = atoms[index], let last = c.terms.last, last.output >= base else { continue }
                for k in c.terms.indices where c.terms[k].output >= base {
                    c.terms[k].output = base + rank[c.terms[k].output - base]!
                }
                atoms[index] = .output(c)
            }
        }

        // Comparisons of constants (given, or left by tied inputs cancelling): `0 ≤ t` is true
        // or false for proofs (outer end) and witnesses (inner end) alike, or refused.
        for index in atoms.indices {
            guard case .output(let c) = atoms[index], c.terms.isEmpty else { continue }
            let outer = 0 <= c.bound, inner = 0 <= c.innerBound
            guard outer == inner else {
                throw VNNLibError.unsupportedConstraint(
                    reason: "this comparison of constants holds in its closure but not strictly (or only within rounding), so it is true for a proof and false for a witness; Evident does not decide such a query",
                    location: location(atomMarks[index]))
            }
            constantAtoms[Int32(index)] = outer
        }

        // Declarations for the assembly's checks and messages: one per composed element.
        inputDeclarations = firstSlot.map { slot in query!.inputTensor(ofSlot: slot)?.symbol.mark ?? Parser.undeclared }
        var outputMarks = [Mark](repeating: Parser.undeclared, count: declared)
        for network in query!.networks {
            for tensor in network.outputs + network.hidden {
                let mark = query!.symbols[tensor.name]!.mark
                for k in tensor.offset..<(tensor.offset + tensor.elementCount) { outputMarks[k] = mark }
            }
        }
        outputDeclarations = outputMarks + passthrough.map { inputDeclarations[$0] }
        let property = try assemble(memoryBudget: memoryBudget)
        return VNNLibQuery(version: query!.version, networks: query!.networks, property: property,
                           inputClasses: classOfSlot, passthrough: passthrough, declaredOutputCount: declared,
                           assertionCount: assertionCount, source: source)
    }
}

extension Lexer {
    @inline(__always)
    static func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) &- UInt8(ascii: "a") < 26 }
}
