#if canImport(Glibc)
import Glibc
#endif

/// The losses of Keras with its conventions: probabilities are clipped to [1e-7, 1 − 1e-7], the per-row loss is
/// averaged over the batch ("sum over batch size"), and rows are the output's last axis.
public enum Loss: String, CaseIterable {
    case categoricalCrossentropy = "categorical_crossentropy"
    case sparseCategoricalCrossentropy = "sparse_categorical_crossentropy"
    case binaryCrossentropy = "binary_crossentropy"
    case meanSquaredError = "mse"

    /// Keras's epsilon for clipping probabilities.
    public static let epsilon: Float = 1e-7

    /// Parses a loss name or alias (`mean_squared_error`, `categorical_crossentropy`, …).
    public init(name: String) throws {
        switch name.lowercased() {
        case "categorical_crossentropy", "categoricalcrossentropy": self = .categoricalCrossentropy
        case "sparse_categorical_crossentropy", "sparsecategoricalcrossentropy": self = .sparseCategoricalCrossentropy
        case "binary_crossentropy", "binarycrossentropy": self = .binaryCrossentropy
        case "mse", "mean_squared_error", "meansquarederror": self = .meanSquaredError
        default:
            throw SwiftCNNError.unknownName("Unknown loss '\(name)'. Valid losses: categorical_crossentropy, "
                + "sparse_categorical_crossentropy, binary_crossentropy, mse.")
        }
    }

    /// Number of target floats per sample for an output of `outputSize` floats whose last axis is `classes`.
    public func targetSize(outputSize: Int, classes: Int) -> Int {
        self == .sparseCategoricalCrossentropy ? outputSize / classes : outputSize
    }

    /// Checks targets before anything is computed: finite values, sparse labels integral and in range,
    /// binary targets in [0, 1].
    public func validate(targets: UnsafePointer<Float>, count: Int, classes: Int) throws {
        for i in 0..<count {
            let t = targets[i]
            guard t.isFinite else {
                throw SwiftCNNError.invalidArgument("Targets contain a non-finite value (\(t)) at flat index \(i).")
            }
            switch self {
            case .sparseCategoricalCrossentropy:
                guard t >= 0, t < Float(classes), t == t.rounded() else {
                    throw SwiftCNNError.invalidArgument("sparse_categorical_crossentropy: labels must be integers in "
                        + "[0, \(classes - 1)] (the model has \(classes) outputs); received \(t) at index \(i).")
                }
            case .binaryCrossentropy:
                guard t >= 0, t <= 1 else {
                    throw SwiftCNNError.invalidArgument("binary_crossentropy: targets must be in [0, 1]; received \(t) at index \(i).")
                }
            default: break
            }
        }
    }

    /// Mean loss over `rows` rows of `classes` predictions; when `gradient` is given, writes dLoss/dPrediction
    /// (already divided by the number of rows). Sums in Double.
    public func compute(predictions p: UnsafePointer<Float>, targets y: UnsafePointer<Float>, rows: Int, classes: Int,
                        gradient: UnsafeMutablePointer<Float>?) -> Double {
        let eps = Loss.epsilon
        let invRows = 1 / Float(rows)
        var total = 0.0
        for r in 0..<rows {
            let pr = p + r * classes
            let g = gradient.map { $0 + r * classes }
            switch self {
            case .categoricalCrossentropy, .sparseCategoricalCrossentropy:
                // Keras normalises the row to sum 1 before clipping and taking the log.
                var sum: Float = 0
                for c in 0..<classes { sum += pr[c] }
                let safeSum = max(sum, eps)
                var rowLoss = 0.0
                var targetMass: Float = 0
                for c in 0..<classes {
                    let t: Float = self == .sparseCategoricalCrossentropy ? (Int(y[r]) == c ? 1 : 0) : y[r * classes + c]
                    targetMass += t
                    let q = pr[c] / safeSum
                    let clipped = min(max(q, eps), 1 - eps)
                    if t != 0 { rowLoss -= Double(t) * log(Double(clipped)) }
                    // d/dp_c of -Σ t log(p/Σp) = -t/p_c + (Σt)/Σp; the first term is zero where clipping is active.
                    g?[c] = (q > eps && q < 1 - eps) ? -t / max(pr[c], eps) : 0
                }
                if let g { for c in 0..<classes { g[c] = (g[c] + targetMass / safeSum) * invRows } }
                total += rowLoss
            case .binaryCrossentropy:
                var rowLoss = 0.0
                for c in 0..<classes {
                    let t = y[r * classes + c]
                    let q = min(max(pr[c], eps), 1 - eps)
                    rowLoss -= Double(t) * log(Double(q)) + Double(1 - t) * log(Double(1 - q))
                    let inside = pr[c] > eps && pr[c] < 1 - eps
                    g?[c] = inside ? (-t / q + (1 - t) / (1 - q)) * invRows / Float(classes) : 0
                }
                total += rowLoss / Double(classes)
            case .meanSquaredError:
                var rowLoss = 0.0
                for c in 0..<classes {
                    let d = pr[c] - y[r * classes + c]
                    rowLoss += Double(d) * Double(d)
                    g?[c] = 2 * d * invRows / Float(classes)
                }
                total += rowLoss / Double(classes)
            }
        }
        return total / Double(rows)
    }
}
