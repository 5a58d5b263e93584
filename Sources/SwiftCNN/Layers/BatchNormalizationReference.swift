/// The reference twin of `BatchNormalization`: naive loops in Double, one channel at a time, and a backward pass
/// derived step by step through the chain rule (Ioffe & Szegedy 2015, section 3) rather than the layer's folded
/// formula. Tests compare the layer against it.
public enum BatchNormalizationReference {
    /// Forward over `x` (rows × channels, channels last). Training mode normalises with the batch's mean and biased
    /// variance and moves `movingMean` / `movingVariance` by `momentum`; inference uses the moving statistics.
    public static func forward(x: [Float], rows: Int, channels: Int, gamma: [Float]?, beta: [Float]?,
                               movingMean: inout [Float], movingVariance: inout [Float], momentum: Float,
                               epsilon: Float, training: Bool) -> [Float] {
        var y = [Float](repeating: 0, count: rows * channels)
        for c in 0..<channels {
            let column = (0..<rows).map { Double(x[$0 * channels + c]) }
            let mean: Double, variance: Double
            if training {
                mean = column.reduce(0, +) / Double(rows)
                variance = column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(rows)
                movingMean[c] = movingMean[c] * momentum + Float(mean) * (1 - momentum)
                movingVariance[c] = movingVariance[c] * momentum + Float(variance) * (1 - momentum)
            } else {
                mean = Double(movingMean[c])
                variance = Double(movingVariance[c])
            }
            for r in 0..<rows {
                let normalized = (column[r] - mean) / (variance + Double(epsilon)).squareRoot()
                y[r * channels + c] = Float(normalized * Double(gamma?[c] ?? 1) + Double(beta?[c] ?? 0))
            }
        }
        return y
    }

    /// Backward for output gradient `dy`: dLoss/dx, dLoss/dγ, dLoss/dβ. Training mode differentiates through the
    /// batch statistics; inference mode treats the moving statistics as constants.
    public static func backward(x: [Float], dy: [Float], rows: Int, channels: Int, gamma: [Float]?,
                                movingMean: [Float], movingVariance: [Float], epsilon: Float,
                                training: Bool) -> (dx: [Float], dGamma: [Float], dBeta: [Float]) {
        var dx = [Float](repeating: 0, count: rows * channels)
        var dGamma = [Float](repeating: 0, count: channels), dBeta = dGamma
        let n = Double(rows)
        for c in 0..<channels {
            let xs = (0..<rows).map { Double(x[$0 * channels + c]) }, gs = (0..<rows).map { Double(dy[$0 * channels + c]) }
            let g = Double(gamma?[c] ?? 1)
            let mean = training ? xs.reduce(0, +) / n : Double(movingMean[c])
            let variance = training ? xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / n : Double(movingVariance[c])
            let std = (variance + Double(epsilon)).squareRoot()
            let xhat = xs.map { ($0 - mean) / std }
            dGamma[c] = Float(zip(gs, xhat).map { $0 * $1 }.reduce(0, +))
            dBeta[c] = Float(gs.reduce(0, +))
            let dxhat = gs.map { $0 * g }
            guard training else {
                for r in 0..<rows { dx[r * channels + c] = Float(dxhat[r] / std) }
                continue
            }
            // ∂L/∂σ², ∂L/∂μ, then ∂L/∂x_i = ∂L/∂x̂_i / σ + ∂L/∂σ² · 2(x_i − μ)/n + ∂L/∂μ / n.
            var dVariance = 0.0, dMean = 0.0, centredSum = 0.0
            for r in 0..<rows { dVariance += dxhat[r] * (xs[r] - mean) }
            dVariance *= -0.5 / (std * std * std)
            for r in 0..<rows {
                dMean -= dxhat[r] / std
                centredSum += -2 * (xs[r] - mean)
            }
            dMean += dVariance * centredSum / n
            for r in 0..<rows {
                dx[r * channels + c] = Float(dxhat[r] / std + dVariance * 2 * (xs[r] - mean) / n + dMean / n)
            }
        }
        return (dx, dGamma, dBeta)
    }
}
