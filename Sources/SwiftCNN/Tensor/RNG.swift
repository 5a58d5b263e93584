/// The one random source of the engine: counter-based (SplitMix64 over `seed`, `stream`, `counter`), so any
/// element of any stream can be drawn independently and in parallel, and the same seed gives the same numbers
/// on every thread count. Streams separate uses: weight init per parameter, dropout per layer and step, shuffling.
public struct RNG {
    /// The seed.
    public var seed: UInt64
    /// The stream within the seed.
    public var stream: UInt64
    /// Position of the next draw.
    public var counter: UInt64 = 0

    /// A generator at the start of (`seed`, `stream`).
    public init(seed: UInt64, stream: UInt64 = 0) {
        self.seed = seed
        self.stream = stream
    }

    /// The 64 random bits at position `index` of (`seed`, `stream`), without advancing anything.
    @inline(__always)
    public static func bits(seed: UInt64, stream: UInt64, index: UInt64) -> UInt64 {
        var z = seed &+ (stream &* 0xD1B5_4A32_D192_ED03) &+ (index &* 0x9E37_79B9_7F4A_7C15)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z = z ^ (z >> 31)
        // A second round decorrelates neighbouring (stream, index) pairs.
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform float in [0, 1) at `index` of the stream (24 random bits).
    @inline(__always)
    public static func uniform(seed: UInt64, stream: UInt64, index: UInt64) -> Float {
        Float(bits(seed: seed, stream: stream, index: index) >> 40) * (1.0 / 16_777_216.0)
    }

    /// The next 64 random bits.
    public mutating func nextBits() -> UInt64 {
        defer { counter &+= 1 }
        return RNG.bits(seed: seed, stream: stream, index: counter)
    }

    /// Uniform in [0, 1).
    public mutating func nextUniform() -> Double {
        Double(nextBits() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform in [low, high).
    public mutating func nextUniform(_ low: Double, _ high: Double) -> Double {
        low + (high - low) * nextUniform()
    }

    /// Standard normal (Box-Muller).
    public mutating func nextNormal() -> Double {
        var u1 = nextUniform()
        while u1 <= 1e-300 { u1 = nextUniform() }
        let u2 = nextUniform()
        return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
    }

    /// Normal with values beyond two standard deviations redrawn (Keras `TruncatedNormal`).
    public mutating func nextTruncatedNormal() -> Double {
        while true {
            let z = nextNormal()
            if abs(z) <= 2 { return z }
        }
    }

    /// Uniform integer in 0..<n.
    public mutating func nextInt(below n: Int) -> Int {
        precondition(n > 0)
        return Int(nextBits() % UInt64(n))
    }

    /// A Fisher-Yates permutation of 0..<n.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n > 1 {
            for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, nextInt(below: i + 1)) }
        }
        return p
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#endif
