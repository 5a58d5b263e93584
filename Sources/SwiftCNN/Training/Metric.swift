/// Accuracy metrics as Keras computes them; `accuracy` is resolved from the loss.
public enum Metric: String {
    case categoricalAccuracy = "categorical_accuracy"
    case sparseCategoricalAccuracy = "sparse_categorical_accuracy"
    case binaryAccuracy = "binary_accuracy"

    /// Resolves a metric name; `accuracy` / `acc` pick the variant that matches `loss`, as Keras does.
    public init(name: String, loss: Loss) throws {
        switch name.lowercased() {
        case "accuracy", "acc":
            switch loss {
            case .sparseCategoricalCrossentropy: self = .sparseCategoricalAccuracy
            case .binaryCrossentropy: self = .binaryAccuracy
            case .categoricalCrossentropy, .meanSquaredError: self = .categoricalAccuracy
            }
        case "categorical_accuracy": self = .categoricalAccuracy
        case "sparse_categorical_accuracy": self = .sparseCategoricalAccuracy
        case "binary_accuracy": self = .binaryAccuracy
        default:
            throw SwiftCNNError.unknownName("Unknown metric '\(name)'. Valid metrics: accuracy (acc), "
                + "categorical_accuracy, sparse_categorical_accuracy, binary_accuracy.")
        }
    }

    /// Whether the metric reads targets laid out as the loss has them: one class index per row for
    /// `sparse_categorical_accuracy` (sparse loss only), a full row per prediction row for the others (every other
    /// loss). A mismatch would read past the targets or judge garbage, so `compile` refuses it.
    public func check(loss: Loss, outputShape: [Int]) throws {
        let sparseTargets = loss == .sparseCategoricalCrossentropy
        guard (self == .sparseCategoricalAccuracy) == sparseTargets else {
            let fitting = sparseTargets ? "sparse_categorical_accuracy (or accuracy)" : "categorical_accuracy, binary_accuracy (or accuracy)"
            throw SwiftCNNError.invalidArgument("Metric '\(rawValue)' does not fit loss '\(loss.rawValue)' with output shape "
                + "\(describeShape(outputShape)): its targets have another layout. Metrics for this loss: \(fitting).")
        }
    }

    /// Number of correct predictions and the number of predictions judged (rows, or elements for binary).
    public func count(predictions p: UnsafePointer<Float>, targets y: UnsafePointer<Float>, rows: Int,
                      classes: Int) -> (correct: Int, total: Int) {
        var correct = 0
        switch self {
        case .categoricalAccuracy, .sparseCategoricalAccuracy:
            for r in 0..<rows {
                let pr = p + r * classes
                var best = 0
                for c in 1..<max(classes, 1) where pr[c] > pr[best] { best = c }
                let label: Int
                if self == .sparseCategoricalAccuracy {
                    label = intIfInRange(y[r], 0..<classes) ?? -1   // a label outside the classes is never right
                } else {
                    var t = 0
                    for c in 1..<max(classes, 1) where y[r * classes + c] > y[r * classes + t] { t = c }
                    label = t
                }
                if best == label { correct += 1 }
            }
            return (correct, rows)
        case .binaryAccuracy:
            for i in 0..<(rows * classes) where (p[i] > 0.5 ? 1 : 0) == (y[i] > 0.5 ? 1 : 0) { correct += 1 }
            return (correct, rows * classes)
        }
    }
}
