/// Weight initializers by Keras name. Fans follow Keras: Dense (in, out); Conv2D kh·kw·in and kh·kw·out.
public enum Initializer: String, CaseIterable {
    /// The Keras initializers: Glorot (Xavier) uniform and normal, He normal, He uniform, zeros, ones.
    case glorotUniform = "glorot_uniform", glorotNormal = "glorot_normal", heNormal = "he_normal"
    case heUniform = "he_uniform", zeros, ones

    /// The initializer of a Keras name (`glorot_uniform`, ...); unknown names throw.
    public init(name: String) throws {
        guard let v = Initializer(rawValue: name.lowercased()) else {
            throw SwiftCNNError.unknownName("Unknown initializer '\(name)'. Valid initializers: "
                + Initializer.allCases.map(\.rawValue).joined(separator: ", ") + ".")
        }
        self = v
    }

    /// Keras's correction so a normal truncated at 2σ keeps the intended standard deviation.
    static let truncationCorrection = 0.87962566103423978

    /// Fills `count` values.
    public func fill(_ p: UnsafeMutablePointer<Float>, count: Int, fanIn: Int, fanOut: Int, rng: inout RNG) {
        switch self {
        case .zeros: p.initialize(repeating: 0, count: count)
        case .ones: p.initialize(repeating: 1, count: count)
        case .glorotUniform, .heUniform:
            let limit = self == .glorotUniform ? (6.0 / Double(fanIn + fanOut)).squareRoot() : (6.0 / Double(fanIn)).squareRoot()
            for i in 0..<count { p[i] = Float(rng.nextUniform(-limit, limit)) }
        case .glorotNormal, .heNormal:
            let variance = self == .glorotNormal ? 2.0 / Double(fanIn + fanOut) : 2.0 / Double(fanIn)
            let std = variance.squareRoot() / Initializer.truncationCorrection
            for i in 0..<count { p[i] = Float(rng.nextTruncatedNormal() * std) }
        }
    }
}
