/// A JSON value, as the file headers and the summary rows cross the C ABI. Objects keep their key order and numbers
/// keep their text, so a caller's header is written back as it was given.
public indirect enum JSON: Equatable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number, as its literal text (e.g. `"0.001"`, `"-3"`, `"1e-07"`).
    case number(String)
    /// A string.
    case string(String)
    /// An array.
    case array([JSON])
    /// An object: key-value pairs in their order (keys are unique after parsing).
    case object([(String, JSON)])

    /// Values are equal when their kinds and contents are (object keys in order).
    public static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The value under `key` of an object (nil for other kinds or a missing key).
    public subscript(key: String) -> JSON? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.first { $0.0 == key }?.1
    }

    /// The elements of an array (nil for other kinds).
    public var arrayValue: [JSON]? { if case .array(let a) = self { return a } else { return nil } }

    /// The text of a string (nil for other kinds).
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }

    /// An integer number written without fraction or exponent that fits in `Int` (nil otherwise).
    public var intValue: Int? { if case .number(let n) = self { return Int(n) } else { return nil } }

    /// An object with `key` set to `value` (replaced where it was, appended otherwise).
    public func setting(_ key: String, _ value: JSON) -> JSON {
        guard case .object(var pairs) = self else { return self }
        if let i = pairs.firstIndex(where: { $0.0 == key }) { pairs[i].1 = value } else { pairs.append((key, value)) }
        return .object(pairs)
    }

    /// Compact JSON text (`, ` and `: ` separators, as Python's `json.dumps` writes).
    public var text: String {
        var out = ""
        write(into: &out)
        return out
    }

    private func write(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += n
        case .string(let s): JSON.quote(s, into: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += ", " }
                item.write(into: &out)
            }
            out += "]"
        case .object(let pairs):
            out += "{"
            for (i, (key, value)) in pairs.enumerated() {
                if i > 0 { out += ", " }
                JSON.quote(key, into: &out)
                out += ": "
                value.write(into: &out)
            }
            out += "}"
        }
    }

    private static func quote(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    /// Parses UTF-8 JSON text. Throws `SwiftCNNError.invalidArgument` naming `what` and the byte offset of the
    /// first problem: bad syntax, invalid UTF-8, duplicate keys, nesting deeper than 128, trailing data.
    public static func parse(_ bytes: [UInt8], what: String) throws -> JSON {
        var parser = Parser(bytes: bytes, what: what)
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.at == bytes.count else { throw parser.fail("unexpected data after the JSON value") }
        return value
    }

    /// Parses JSON text.
    public static func parse(_ text: String, what: String) throws -> JSON { try parse(Array(text.utf8), what: what) }

    private struct Parser {
        let bytes: [UInt8]
        let what: String
        var at = 0

        init(bytes: [UInt8], what: String) {
            self.bytes = bytes
            self.what = what
        }

        func fail(_ message: String) -> SwiftCNNError {
            .invalidArgument("\(what): invalid JSON at byte \(at): \(message)")
        }

        mutating func skipSpace() {
            while at < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[at]) { at += 1 }
        }

        mutating func expect(_ literal: String) throws {
            let l = Array(literal.utf8)
            guard at + l.count <= bytes.count, Array(bytes[at..<(at + l.count)]) == l else { throw fail("expected '\(literal)'") }
            at += l.count
        }

        mutating func value(depth: Int) throws -> JSON {
            guard depth < 128 else { throw fail("nesting deeper than 128 levels") }
            guard at < bytes.count else { throw fail("unexpected end") }
            switch bytes[at] {
            case UInt8(ascii: "{"):
                at += 1
                var pairs: [(String, JSON)] = []
                var keys = Set<String>()
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "}") { at += 1; return .object(pairs) }
                while true {
                    skipSpace()
                    guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                    let key = try string()
                    guard keys.insert(key).inserted else { throw fail("duplicate key '\(key)'") }
                    skipSpace()
                    try expect(":")
                    skipSpace()
                    pairs.append((key, try value(depth: depth + 1)))
                    skipSpace()
                    guard at < bytes.count else { throw fail("unexpected end in an object") }
                    if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                    if bytes[at] == UInt8(ascii: "}") { at += 1; return .object(pairs) }
                    throw fail("expected ',' or '}'")
                }
            case UInt8(ascii: "["):
                at += 1
                var items: [JSON] = []
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "]") { at += 1; return .array(items) }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard at < bytes.count else { throw fail("unexpected end in an array") }
                    if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                    if bytes[at] == UInt8(ascii: "]") { at += 1; return .array(items) }
                    throw fail("expected ',' or ']'")
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            default: return .number(try number())
            }
        }

        private func isDigit(_ i: Int) -> Bool { i < bytes.count && bytes[i] >= 0x30 && bytes[i] <= 0x39 }

        /// JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
        mutating func number() throws -> String {
            let start = at
            if at < bytes.count, bytes[at] == UInt8(ascii: "-") { at += 1 }
            guard isDigit(at) else { throw fail("expected a value") }
            if bytes[at] == UInt8(ascii: "0") { at += 1 } else { while isDigit(at) { at += 1 } }
            if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
                at += 1
                guard isDigit(at) else { throw fail("expected a digit after '.'") }
                while isDigit(at) { at += 1 }
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
                at += 1
                if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
                guard isDigit(at) else { throw fail("expected a digit in the exponent") }
                while isDigit(at) { at += 1 }
            }
            return String(decoding: bytes[start..<at], as: UTF8.self)
        }

        mutating func hex4() throws -> UInt32 {
            guard at + 4 <= bytes.count else { throw fail("unexpected end in a \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[at]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                default: throw fail("bad hex digit in a \\u escape")
                }
                v = v << 4 | d
                at += 1
            }
            return v
        }

        mutating func string() throws -> String {
            at += 1   // opening quote
            var raw: [UInt8] = []
            while true {
                guard at < bytes.count else { throw fail("unterminated string") }
                let c = bytes[at]
                at += 1
                switch c {
                case UInt8(ascii: "\""):
                    // Invalid UTF-8 is an error, not a silent replacement.
                    guard let s = String(validating: raw, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
                    return s
                case UInt8(ascii: "\\"):
                    guard at < bytes.count else { throw fail("unterminated escape") }
                    let e = bytes[at]
                    at += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): raw.append(e)
                    case UInt8(ascii: "b"): raw.append(0x08)
                    case UInt8(ascii: "f"): raw.append(0x0C)
                    case UInt8(ascii: "n"): raw.append(0x0A)
                    case UInt8(ascii: "r"): raw.append(0x0D)
                    case UInt8(ascii: "t"): raw.append(0x09)
                    case UInt8(ascii: "u"):
                        var code = try hex4()
                        if (0xD800..<0xDC00).contains(code) {
                            try expect("\\u")
                            let low = try hex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate") }
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let scalar = Unicode.Scalar(code) else { throw fail("unpaired surrogate") }
                        raw += Array(String(Character(scalar)).utf8)
                    default: throw fail("unknown escape '\\\(Character(Unicode.Scalar(e)))'")
                    }
                case 0..<0x20: throw fail("control character in a string")
                default: raw.append(c)
                }
            }
        }
    }
}
