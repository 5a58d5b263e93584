import XCTest
@testable import SwiftCNN

/// The training step split where the gradients are complete (data-parallel training): the two halves give the
/// fused step's update, and two "processes" that each compute half a batch and apply the sum of their gradient
/// buffers end bit-identical and agree with one process on the whole batch.
final class SplitStepTests: XCTestCase {
    private func makeModel() throws -> Model {
        let g = try Sequential(inputShape: [6, 6, 1], layers: [
            Conv2D(filters: 3, kernelSize: (3, 3), activation: .relu), Flatten(), Dense(units: 4, activation: .softmax),
        ])
        try g.compile(optimizer: Optimizer(kind: .adam, learningRate: 0.01), loss: .sparseCategoricalCrossentropy)
        return g.model
    }

    private func data(_ n: Int) -> ([Float], [Float]) {
        var rng = RNG(seed: 11)
        let x = (0..<(n * 36)).map { _ in Float(rng.nextUniform(0, 1)) }
        return (x, (0..<n).map { Float($0 % 4) })
    }

    private func parameters(_ m: Model) -> [Float] {
        Array(UnsafeBufferPointer(start: m.graph.parameters.pointer, count: m.graph.parameterCount))
    }

    func testSplitStepMatchesFusedStep() throws {
        let fused = try makeModel(), split = try makeModel()
        let (x, y) = data(8)
        for _ in 0..<3 {
            let a = try fused.trainStep(x: x, xCount: x.count, y: y, yCount: 8, batch: 8)
            let b = try split.computeGradients(x: x, xCount: x.count, y: y, yCount: 8, batch: 8)
            try split.applyGradients()
            XCTAssertEqual(a.loss, b.loss)
        }
        XCTAssertEqual(parameters(fused), parameters(split))
    }

    func testSummedHalvesAreBitIdenticalAndMatchTheWholeBatch() throws {
        let whole = try makeModel(), rank0 = try makeModel(), rank1 = try makeModel()
        let (x, y) = data(8)
        for _ in 0..<3 {
            _ = try whole.trainStep(x: x, xCount: x.count, y: y, yCount: 8, batch: 8)
            _ = try rank0.computeGradients(x: x, xCount: 4 * 36, y: y, yCount: 4, batch: 4, lossScale: 4)
            _ = try rank1.computeGradients(x: Array(x[(4 * 36)...]), xCount: 4 * 36, y: Array(y[4...]), yCount: 4,
                                           batch: 4, lossScale: 4)
            let n = rank0.graph.parameterCount
            let g0 = rank0.graph.gradients.pointer, g1 = rank1.graph.gradients.pointer
            for i in 0..<n { let s = g0[i] + g1[i]; g0[i] = s; g1[i] = s }   // what a summing allreduce leaves
            try rank0.applyGradients(scale: 1.0 / 8)
            try rank1.applyGradients(scale: 1.0 / 8)
        }
        XCTAssertEqual(parameters(rank0), parameters(rank1))
        for (a, b) in zip(parameters(rank0), parameters(whole)) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }

    func testApplyNeedsFreshGradients() throws {
        let m = try makeModel()
        XCTAssertThrowsError(try m.applyGradients())
        let (x, y) = data(4)
        _ = try m.computeGradients(x: x, xCount: x.count, y: y, yCount: 4, batch: 4)
        XCTAssertThrowsError(try m.applyGradients(scale: 0))
        try m.applyGradients()
        XCTAssertThrowsError(try m.applyGradients())
        XCTAssertThrowsError(try m.computeGradients(x: x, xCount: x.count, y: y, yCount: 4, batch: 4, lossScale: .nan))
    }
}
