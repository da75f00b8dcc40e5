/// The subset of TOML a Chorus configuration uses, parsed with the line of every key so that
/// validation errors can point at it: `[table]`, `[[array of tables]]`, `key = value` with
/// strings (basic and literal), integers, floats, booleans and one-line arrays; `#` comments.
struct TOMLDocument: Sendable {
    /// One `[table]` or `[[table]]` section, or the root (name "").
    struct Section: Sendable {
        var name: String
        var isArrayElement: Bool
        var line: Int
        var entries: [Entry] = []

        func entry(_ key: String) -> Entry? { entries.first { $0.key == key } }
    }

    struct Entry: Sendable {
        var key: String
        var value: Value
        var line: Int
    }

    enum Value: Sendable, Equatable {
        case string(String)
        case integer(Int64)
        case float(Double)
        case bool(Bool)
        case array([Value])

        var typeName: String {
            switch self {
            case .string: "a string"
            case .integer: "an integer"
            case .float: "a float"
            case .bool: "a boolean"
            case .array: "an array"
            }
        }
    }

    /// A syntax error at a line (1-based).
    struct SyntaxError: Error, Sendable {
        var line: Int
        var message: String
    }

    var sections: [Section]

    init(parsing text: String) throws(SyntaxError) {
        var sections = [Section(name: "", isArrayElement: false, line: 1)]
        var seenTables: Set<String> = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            var scanner = Scanner(Array(rawLine.utf8), line: lineNumber)
            scanner.skipSpaces()
            if scanner.atEndOrComment { continue }
            if scanner.peek == UInt8(ascii: "[") {
                let isArray = scanner.peek(at: 1) == UInt8(ascii: "[")
                scanner.advance(isArray ? 2 : 1)
                scanner.skipSpaces()
                let name = try scanner.dottedKey()
                scanner.skipSpaces()
                try scanner.expect("]")
                if isArray { try scanner.expect("]") }
                scanner.skipSpaces()
                guard scanner.atEndOrComment else { throw scanner.error("unexpected text after the table header") }
                if !isArray {
                    guard seenTables.insert(name).inserted else {
                        throw SyntaxError(line: lineNumber, message: "table [\(name)] is defined twice")
                    }
                }
                sections.append(Section(name: name, isArrayElement: isArray, line: lineNumber))
                continue
            }
            let key = try scanner.dottedKey()
            scanner.skipSpaces()
            try scanner.expect("=")
            scanner.skipSpaces()
            let value = try scanner.value()
            scanner.skipSpaces()
            guard scanner.atEndOrComment else { throw scanner.error("unexpected text after the value of '\(key)'") }
            if sections[sections.count - 1].entry(key) != nil {
                throw SyntaxError(line: lineNumber, message: "key '\(key)' is set twice in the same table")
            }
            sections[sections.count - 1].entries.append(Entry(key: key, value: value, line: lineNumber))
        }
        self.sections = sections
    }
}

/// Reads one line of TOML byte by byte.
private struct Scanner {
    let bytes: [UInt8]
    let line: Int
    var position = 0

    init(_ bytes: [UInt8], line: Int) {
        // Tolerate CRLF line ends.
        self.bytes = bytes.last == UInt8(ascii: "\r") ? Array(bytes.dropLast()) : bytes
        self.line = line
    }

    var peek: UInt8? { position < bytes.count ? bytes[position] : nil }
    func peek(at offset: Int) -> UInt8? { position + offset < bytes.count ? bytes[position + offset] : nil }
    var atEndOrComment: Bool { peek == nil || peek == UInt8(ascii: "#") }
    mutating func advance(_ count: Int = 1) { position += count }

    func error(_ message: String) -> TOMLDocument.SyntaxError {
        TOMLDocument.SyntaxError(line: line, message: "\(message) (column \(position + 1))")
    }

    mutating func skipSpaces() {
        while let byte = peek, byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { advance() }
    }

    mutating func expect(_ character: Character) throws(TOMLDocument.SyntaxError) {
        guard peek == character.asciiValue else { throw error("expected '\(character)'") }
        advance()
    }

    static func isBare(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }

    mutating func dottedKey() throws(TOMLDocument.SyntaxError) -> String {
        var parts: [String] = []
        repeat {
            skipSpaces()
            if peek == UInt8(ascii: "\"") {
                parts.append(try basicString())
            } else {
                let start = position
                while let byte = peek, Self.isBare(byte) { advance() }
                guard position > start else { throw error("expected a key") }
                parts.append(String(decoding: bytes[start..<position], as: UTF8.self))
            }
            skipSpaces()
            guard peek == UInt8(ascii: ".") else { break }
            advance()
        } while true
        return parts.joined(separator: ".")
    }

    mutating func value() throws(TOMLDocument.SyntaxError) -> TOMLDocument.Value {
        guard let byte = peek else { throw error("expected a value") }
        switch byte {
        case UInt8(ascii: "\""): return .string(try basicString())
        case UInt8(ascii: "'"): return .string(try literalString())
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return try boolean()
        default: return try number()
        }
    }

    mutating func basicString() throws(TOMLDocument.SyntaxError) -> String {
        advance()  // opening quote
        var out: [UInt8] = []
        while let byte = peek {
            advance()
            switch byte {
            case UInt8(ascii: "\""): return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let escaped = peek else { throw error("unfinished escape") }
                advance()
                switch escaped {
                case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "t"): out.append(9)
                case UInt8(ascii: "r"): out.append(13)
                default: throw error("unsupported escape '\\\(Character(Unicode.Scalar(escaped)))'")
                }
            default: out.append(byte)
            }
        }
        throw error("unterminated string")
    }

    mutating func literalString() throws(TOMLDocument.SyntaxError) -> String {
        advance()
        let start = position
        while let byte = peek {
            if byte == UInt8(ascii: "'") {
                let text = String(decoding: bytes[start..<position], as: UTF8.self)
                advance()
                return text
            }
            advance()
        }
        throw error("unterminated string")
    }

    mutating func array() throws(TOMLDocument.SyntaxError) -> TOMLDocument.Value {
        advance()
        var items: [TOMLDocument.Value] = []
        while true {
            skipSpaces()
            if peek == UInt8(ascii: "]") {
                advance()
                return .array(items)
            }
            items.append(try value())
            skipSpaces()
            if peek == UInt8(ascii: ",") {
                advance()
            } else if peek != UInt8(ascii: "]") {
                throw error("expected ',' or ']' in an array (arrays must fit on one line)")
            }
        }
    }

    mutating func boolean() throws(TOMLDocument.SyntaxError) -> TOMLDocument.Value {
        for (word, value) in [("true", true), ("false", false)] {
            let utf8 = Array(word.utf8)
            if position + utf8.count <= bytes.count, Array(bytes[position..<position + utf8.count]) == utf8 {
                advance(utf8.count)
                return .bool(value)
            }
        }
        throw error("expected a value (a string in quotes, a number, true, false or an array)")
    }

    mutating func number() throws(TOMLDocument.SyntaxError) -> TOMLDocument.Value {
        let start = position
        while let byte = peek, byte != UInt8(ascii: " "), byte != UInt8(ascii: "\t"), byte != UInt8(ascii: ","),
            byte != UInt8(ascii: "]"), byte != UInt8(ascii: "#")
        {
            advance()
        }
        let text = String(decoding: bytes[start..<position], as: UTF8.self).replacingUnderscores()
        if let integer = Int64(text) { return .integer(integer) }
        if text.hasPrefix("0x"), let integer = Int64(text.dropFirst(2), radix: 16) { return .integer(integer) }
        if let float = Double(text), text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) { return .float(float) }
        position = start
        throw error("expected a value (a string in quotes, a number, true, false or an array), found '\(text)'")
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}
