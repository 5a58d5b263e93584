#if canImport(Glibc)
import Glibc
#endif

/// Element-wise activation functions applied over rows of the last axis (softmax needs the row).
public enum Activation: String, CaseIterable {
    case linear, relu, sigmoid, softmax, tanh

    /// Parses an activation name; `None` and the empty string mean linear.
    public init(name: String) throws {
        let n = name.lowercased()
        if n.isEmpty || n == "none" { self = .linear; return }
        guard let a = Activation(rawValue: n) else {
            throw SwiftCNNError.unknownName("Unknown activation '\(name)'. Valid activations: "
                + Activation.allCases.map(\.rawValue).joined(separator: ", ") + ".")
        }
        self = a
    }

    /// Applies the activation in place to `rows` rows of `width` values.
    public func forward(_ x: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
        let count = rows * width
        switch self {
        case .linear: return
        case .relu: for i in 0..<count { x[i] = max(x[i], 0) }
        case .sigmoid: for i in 0..<count { x[i] = 1 / (1 + expf(-x[i])) }
        case .tanh: for i in 0..<count { x[i] = tanhf(x[i]) }
        case .softmax:
            for r in 0..<rows {
                let row = x + r * width
                var peak = -Float.infinity
                for c in 0..<width { peak = max(peak, row[c]) }
                var sum: Float = 0
                for c in 0..<width { row[c] = expf(row[c] - peak); sum += row[c] }
                let inv = 1 / sum
                for c in 0..<width { row[c] *= inv }
            }
        }
    }

    /// dX from the activation's output `y` and dY, for `rows` rows of `width` values. `dx` may alias `dy`.
    public func backward(output y: UnsafePointer<Float>, outputGrad dy: UnsafePointer<Float>,
                         inputGrad dx: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
        let count = rows * width
        switch self {
        case .linear: if UnsafePointer(dx) != dy { dx.update(from: dy, count: count) }
        case .relu: for i in 0..<count { dx[i] = y[i] > 0 ? dy[i] : 0 }
        case .sigmoid: for i in 0..<count { dx[i] = dy[i] * y[i] * (1 - y[i]) }
        case .tanh: for i in 0..<count { dx[i] = dy[i] * (1 - y[i] * y[i]) }
        case .softmax:
            for r in 0..<rows {
                let o = r * width
                var dot: Float = 0
                for c in 0..<width { dot += dy[o + c] * y[o + c] }
                for c in 0..<width { dx[o + c] = y[o + c] * (dy[o + c] - dot) }
            }
        }
    }
}

extension Activation {
    /// `backward` over all rows, split across the engine's threads (whole rows each: softmax needs its row).
    public func parallelBackward(output y: UnsafePointer<Float>, outputGrad dy: UnsafePointer<Float>,
                                 inputGrad dx: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
        if self == .linear && UnsafePointer(dx) == dy { return }
        let context = (self, y, dy, dx, width)
        // ≥ 32 K values per thread: below that the fork/join costs more than the pass.
        parallelFor(rows, minChunk: max(1, 32_768 / max(width, 1)), context: context) { raw, lo, hi in
            let (activation, y, dy, dx, width) = raw.assumingMemoryBound(
                to: (Activation, UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int).self).pointee
            activation.backward(output: y + lo * width, outputGrad: dy + lo * width, inputGrad: dx + lo * width,
                                rows: hi - lo, width: width)
        }
    }
}
