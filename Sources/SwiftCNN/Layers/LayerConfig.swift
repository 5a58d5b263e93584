/// Hyper-parameters given as text (`filters=32`, `kernel_size=3,3`), the form they cross the C ABI in.
/// Typed getters throw a clear error naming the layer, the key and what was expected.
public struct LayerConfig {
    /// The key-value pairs as given.
    public var values: [String: String]
    /// The layer type, named in error messages.
    public let layerType: String
    private var used: Set<String> = []

    /// A configuration from parsed pairs.
    public init(layerType: String, values: [String: String]) {
        self.layerType = layerType
        self.values = values
    }

    /// Parses `key=value;key=value` (values may not contain `;` or `=`).
    public init(layerType: String, text: String) throws {
        var values: [String: String] = [:]
        for item in text.split(separator: ";", omittingEmptySubsequences: true) {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw SwiftCNNError.invalidArgument("\(layerType): malformed configuration item '\(item)', expected key=value")
            }
            let key = String(parts[0]).trimmed
            guard values[key] == nil else {
                throw SwiftCNNError.invalidArgument("\(layerType): the argument '\(key)' is given twice")
            }
            values[key] = String(parts[1]).trimmed
        }
        self.init(layerType: layerType, values: values)
    }

    private func fail(_ key: String, _ expected: String) -> SwiftCNNError {
        .invalidArgument("\(layerType): invalid value for '\(key)': received '\(values[key] ?? "")', expected \(expected)")
    }

    /// The text under `key`, or `def`; throws when both are missing.
    public func string(_ key: String, default def: String? = nil) throws -> String {
        if let v = values[key] { return v }
        if let def { return def }
        throw SwiftCNNError.invalidArgument("\(layerType): missing required argument '\(key)'")
    }

    /// An integer >= `min` under `key`, or `def`.
    public func int(_ key: String, default def: Int? = nil, min: Int = Int.min) throws -> Int {
        guard let text = values[key] else {
            if let def { return def }
            throw SwiftCNNError.invalidArgument("\(layerType): missing required argument '\(key)'")
        }
        guard let v = Int(text), v >= min else { throw fail(key, "an integer >= \(min)") }
        return v
    }

    /// A finite number under `key`, or `def`.
    public func double(_ key: String, default def: Double? = nil) throws -> Double {
        guard let text = values[key] else {
            if let def { return def }
            throw SwiftCNNError.invalidArgument("\(layerType): missing required argument '\(key)'")
        }
        // Every hyper-parameter ends up as a Float: 1e300 would silently become inf.
        guard let v = Double(text), v.isFinite, abs(v) <= Double(Float.greatestFiniteMagnitude) else {
            throw fail(key, "a finite number within float32's range (magnitude at most 3.4e38)")
        }
        return v
    }

    /// true/false/1/0 under `key`, or `def`.
    public func bool(_ key: String, default def: Bool) throws -> Bool {
        guard let text = values[key] else { return def }
        switch text.lowercased() {
        case "1", "true": return true
        case "0", "false": return false
        default: throw fail(key, "true or false")
        }
    }

    /// A pair such as `kernel_size=3` (→ 3,3) or `kernel_size=3,5`.
    public func pair(_ key: String, default def: (Int, Int)? = nil, min: Int = 1) throws -> (Int, Int) {
        guard let text = values[key] else {
            if let def { return def }
            throw SwiftCNNError.invalidArgument("\(layerType): missing required argument '\(key)'")
        }
        let parts = text.split(separator: ",").map { Int(String($0).trimmed) }
        if parts.count == 1, let a = parts[0], a >= min { return (a, a) }
        if parts.count == 2, let a = parts[0], let b = parts[1], a >= min, b >= min { return (a, b) }
        throw fail(key, "an integer or a pair of integers, each >= \(min)")
    }

    /// A list of integers such as `shape=28,28,1`.
    public func ints(_ key: String) throws -> [Int] {
        let text = try string(key)
        let parts = text.split(separator: ",").map { Int(String($0).trimmed) }
        guard parts.allSatisfy({ $0 != nil }) else { throw fail(key, "a comma-separated list of integers") }
        return parts.map { $0! }
    }
}

extension String {
    var trimmed: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\n" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" { s.removeLast() }
        return String(s)
    }
}
