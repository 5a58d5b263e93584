import XCTest
import SwiftCNN

/// `BatchNormalization` against its reference twin (naive loops, the chain rule step by step), in training,
/// inference and frozen mode, with and without gamma and beta.
final class BatchNormalizationTests: XCTestCase {
    func check(center: Bool, scale: Bool, training: Bool, frozen: Bool, line: UInt = #line) throws {
        let batch = 3, h = 4, w = 5, c = 6, rows = batch * h * w
        let g = Graph()
        let input = try g.addInput(shape: [h, w, c])
        let bn = try g.add(BatchNormalization(momentum: 0.9, epsilon: 1e-3, center: center, scale: scale, name: "bn"), inputs: [input])
        try g.build(seed: 1)
        if frozen { g.setTrainable(bn, false) }
        var rng = RNG(seed: 7)
        let x = (0..<(rows * c)).map { i in Float(rng.nextUniform(-2, 2)) + Float(i % c) }   // channel means differ
        let dy = (0..<(rows * c)).map { _ in Float(rng.nextUniform(-1, 1)) }
        // Non-trivial parameters: gamma, beta, moving statistics.
        let p = g.parameterPointers(g.nodes[bn])
        var k = 0
        let gamma: [Float]? = scale ? (0..<c).map { 0.5 + Float($0) * 0.25 } : nil
        let beta: [Float]? = center ? (0..<c).map { Float($0) * 0.1 - 0.2 } : nil
        if let gamma { p[k].update(from: gamma, count: c); k += 1 }
        if let beta { p[k].update(from: beta, count: c); k += 1 }
        var movingMean = (0..<c).map { Float($0) * 0.3 }, movingVariance = (0..<c).map { 1 + Float($0) * 0.5 }
        p[k].update(from: movingMean, count: c)
        p[k + 1].update(from: movingVariance, count: c)

        let batchStatistics = training && !frozen
        let statsBefore = (movingMean, movingVariance)
        let expected = BatchNormalizationReference.forward(x: x, rows: rows, channels: c, gamma: gamma, beta: beta,
                                                           movingMean: &movingMean, movingVariance: &movingVariance,
                                                           momentum: 0.9, epsilon: 1e-3, training: batchStatistics)
        try g.forward(input: x, batch: batch, training: training)
        let y = Array(UnsafeBufferPointer(start: g.activation(bn), count: rows * c))
        for i in y.indices { XCTAssertEqual(y[i], expected[i], accuracy: 1e-4, "y[\(i)]", line: line) }
        for ch in 0..<c {
            XCTAssertEqual(p[k][ch], movingMean[ch], accuracy: 1e-5, "moving mean", line: line)
            XCTAssertEqual(p[k + 1][ch], movingVariance[ch], accuracy: 1e-5, "moving variance", line: line)
        }

        g.backward(seed: bn, gradient: dy, gradientToInputs: true)
        let (dx, dGamma, dBeta) = BatchNormalizationReference.backward(
            x: x, dy: dy, rows: rows, channels: c, gamma: gamma, movingMean: statsBefore.0, movingVariance: statsBefore.1,
            epsilon: 1e-3, training: batchStatistics)
        let got = Array(UnsafeBufferPointer(start: g.activationGradient(input), count: rows * c))
        for i in got.indices { XCTAssertEqual(got[i], dx[i], accuracy: 1e-4, "dx[\(i)]", line: line) }
        guard !frozen else { return }
        let grads = g.gradientPointers(g.nodes[bn])
        var j = 0
        if scale { for ch in 0..<c { XCTAssertEqual(grads[j][ch], dGamma[ch], accuracy: 1e-3, "dgamma", line: line) }; j += 1 }
        if center { for ch in 0..<c { XCTAssertEqual(grads[j][ch], dBeta[ch], accuracy: 1e-3, "dbeta", line: line) } }
    }

    func testTrainingMode() throws {
        try check(center: true, scale: true, training: true, frozen: false)
        try check(center: false, scale: true, training: true, frozen: false)
        try check(center: true, scale: false, training: true, frozen: false)
    }

    func testInferenceMode() throws {
        try check(center: true, scale: true, training: false, frozen: false)
    }

    /// A frozen layer runs on its moving statistics even in training mode, as Keras does.
    func testFrozenLayerUsesMovingStatistics() throws {
        try check(center: true, scale: true, training: true, frozen: true)
    }
}
