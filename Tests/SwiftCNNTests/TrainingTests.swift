import XCTest
import SwiftCNN

/// Losses, metrics and optimizers against hand-computed Keras values, and the graph's backward mechanics.
final class TrainingTests: XCTestCase {
    func testCategoricalCrossentropyValueAndGradient() {
        let p: [Float] = [0.7, 0.2, 0.1, 0.1, 0.1, 0.8]
        let y: [Float] = [1, 0, 0, 0, 1, 0]
        var g = [Float](repeating: 0, count: 6)
        let loss = Loss.categoricalCrossentropy.compute(predictions: p, targets: y, rows: 2, classes: 3, gradient: &g)
        XCTAssertEqual(loss, (-log(0.7) - log(0.1)) / 2, accuracy: 1e-6)
        // d/dp_c of -log(p_t / Σp) with Σp = 1, halved for the batch mean: -1/p_t + 1 at the target, +1 elsewhere.
        XCTAssertEqual(g[0], (-1 / 0.7 + 1) / 2, accuracy: 1e-5)
        XCTAssertEqual(g[1], 0.5, accuracy: 1e-6)
        XCTAssertEqual(g[4], (-1 / 0.1 + 1) / 2, accuracy: 1e-4)
    }

    func testSparseMatchesCategorical() {
        let p: [Float] = [0.25, 0.5, 0.25, 0.6, 0.3, 0.1]
        let dense: [Float] = [0, 1, 0, 0, 0, 1]
        let sparse: [Float] = [1, 2]
        var g1 = [Float](repeating: 0, count: 6), g2 = g1
        let a = Loss.categoricalCrossentropy.compute(predictions: p, targets: dense, rows: 2, classes: 3, gradient: &g1)
        let b = Loss.sparseCategoricalCrossentropy.compute(predictions: p, targets: sparse, rows: 2, classes: 3, gradient: &g2)
        XCTAssertEqual(a, b, accuracy: 1e-9)
        for i in 0..<6 { XCTAssertEqual(g1[i], g2[i], accuracy: 1e-6) }
    }

    func testClippingKeepsLossFinite() {
        let p: [Float] = [1, 0]
        let y: [Float] = [0, 1]
        var g = [Float](repeating: 0, count: 2)
        let loss = Loss.categoricalCrossentropy.compute(predictions: p, targets: y, rows: 1, classes: 2, gradient: &g)
        XCTAssertEqual(loss, -log(1e-7), accuracy: 1e-3)
        XCTAssertTrue(g.allSatisfy { $0.isFinite })
    }

    func testBinaryCrossentropyAndMSE() {
        let p: [Float] = [0.9, 0.2]
        let y: [Float] = [1, 0]
        let bce = Loss.binaryCrossentropy.compute(predictions: p, targets: y, rows: 2, classes: 1, gradient: nil)
        XCTAssertEqual(bce, (-log(0.9) - log(0.8)) / 2, accuracy: 1e-6)
        var g = [Float](repeating: 0, count: 2)
        let mse = Loss.meanSquaredError.compute(predictions: [1, 3], targets: [0, 0], rows: 1, classes: 2, gradient: &g)
        XCTAssertEqual(mse, 5, accuracy: 1e-9)
        XCTAssertEqual(g, [1, 3])
    }

    func testLabelValidation() {
        XCTAssertThrowsError(try Loss.sparseCategoricalCrossentropy.validate(targets: [3], count: 1, classes: 3))
        XCTAssertThrowsError(try Loss.sparseCategoricalCrossentropy.validate(targets: [1.5], count: 1, classes: 3))
        XCTAssertThrowsError(try Loss.categoricalCrossentropy.validate(targets: [.nan], count: 1, classes: 3))
        XCTAssertNoThrow(try Loss.sparseCategoricalCrossentropy.validate(targets: [2], count: 1, classes: 3))
        XCTAssertThrowsError(try Loss(name: "hinge_of_doom"))
    }

    func testAccuracyResolvesFromLoss() throws {
        XCTAssertEqual(try Metric(name: "accuracy", loss: .sparseCategoricalCrossentropy), .sparseCategoricalAccuracy)
        XCTAssertEqual(try Metric(name: "acc", loss: .binaryCrossentropy), .binaryAccuracy)
        XCTAssertEqual(try Metric(name: "accuracy", loss: .categoricalCrossentropy), .categoricalAccuracy)
        let m = Metric.categoricalAccuracy.count(predictions: [0.1, 0.9, 0.8, 0.2], targets: [0, 1, 0, 1], rows: 2, classes: 2)
        XCTAssertEqual(m.correct, 1)
        XCTAssertEqual(m.total, 2)
    }

    /// One parameter, gradient 0.5 on every step: compare with the Keras 3 update rules worked by hand.
    func testOptimizerRules() throws {
        func run(_ opt: Optimizer, steps: Int) throws -> Float {
            try opt.reset(parameterCount: 1)
            var w: [Float] = [1]
            var g: [Float] = [0.5]
            for _ in 0..<steps { opt.apply(parameters: &w, gradients: &g, ranges: [0..<1]) }
            return w[0]
        }
        XCTAssertEqual(try run(Optimizer(kind: .sgd), steps: 1), 1 - 0.01 * 0.5, accuracy: 1e-7)
        // momentum 0.9: v1 = -0.005, w1 = 0.995; v2 = -0.0045 - 0.005 = -0.0095, w2 = 0.9855
        XCTAssertEqual(try run(Optimizer(kind: .sgd, momentum: 0.9), steps: 2), 0.9855, accuracy: 1e-6)
        // nesterov: w1 = 1 + 0.9 * -0.005 - 0.005 = 0.9905
        XCTAssertEqual(try run(Optimizer(kind: .sgd, momentum: 0.9, nesterov: true), steps: 1), 0.9905, accuracy: 1e-6)
        // rmsprop: v = 0.1 * 0.25 = 0.025; w = 1 - 0.001 * 0.5 / sqrt(0.025 + 1e-7)
        XCTAssertEqual(try run(Optimizer(kind: .rmsprop), steps: 1), 1 - 0.001 * 0.5 / (0.025 + 1e-7).squareRoot(), accuracy: 1e-7)
        // adam step 1: m = 0.05, v = 0.00025, alpha = lr·sqrt(1 − 0.999)/(1 − 0.9); w = 1 − alpha·m/(sqrt(v) + eps)
        let alpha: Double = 0.001 * (0.001 as Double).squareRoot() / 0.1
        let adamStep: Double = alpha * 0.05 / ((0.00025 as Double).squareRoot() + 1e-7)
        XCTAssertEqual(Double(try run(Optimizer(kind: .adam), steps: 1)), 1 - adamStep, accuracy: 1e-6)
        XCTAssertEqual(try run(Optimizer(kind: .adam), steps: 3), 1 - 0.003, accuracy: 1e-5)
    }

    func testOptimizerParsing() throws {
        let opt = try Optimizer(description: "adam;learning_rate=0.01;beta_1=0.8")
        XCTAssertEqual(opt.kind, .adam)
        XCTAssertEqual(opt.learningRate, 0.01)
        XCTAssertEqual(opt.beta1, 0.8)
        XCTAssertEqual(try Optimizer(description: "sgd").learningRate, 0.01)
        XCTAssertThrowsError(try Optimizer(description: "adamw"))
        XCTAssertThrowsError(try Optimizer(description: "sgd;beta_1=0.5"))
        XCTAssertThrowsError(try Optimizer(description: "sgd;learning_rate=-1"))
    }

    func testRNGIsDeterministicAndUniform() {
        var a = RNG(seed: 42, stream: 1), b = RNG(seed: 42, stream: 1), c = RNG(seed: 43, stream: 1)
        let xa = (0..<1000).map { _ in a.nextUniform() }
        let xb = (0..<1000).map { _ in b.nextUniform() }
        let xc = (0..<1000).map { _ in c.nextUniform() }
        XCTAssertEqual(xa, xb)
        XCTAssertNotEqual(xa, xc)
        XCTAssertEqual(xa.reduce(0, +) / 1000, 0.5, accuracy: 0.03)
        var p = RNG(seed: 7)
        XCTAssertEqual(p.permutation(100).sorted(), Array(0..<100))
    }
}
