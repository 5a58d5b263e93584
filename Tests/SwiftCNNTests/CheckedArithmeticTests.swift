import XCTest
@testable import SwiftCNN

/// Sizes from users never reach a trapping operation: products, sums and conversions throw errors naming the
/// argument and the limit, and allocations report out-of-memory.
final class CheckedArithmeticTests: XCTestCase {
    private func message(_ body: () throws -> Void) -> String? {
        do { try body(); return nil } catch { return "\(error)" }
    }

    func testHelpers() throws {
        XCTAssertEqual(try checkedMultiply(1 << 31, 1 << 31, "x"), 1 << 62)
        XCTAssertThrowsError(try checkedMultiply(1 << 32, 1 << 32, "rows × cols"))
        XCTAssertThrowsError(try checkedAdd(Int.max, 1, "sum"))
        XCTAssertEqual(try checkedProduct([2, 3, 4], "shape"), 24)
        XCTAssertTrue(message { _ = try checkedProduct([1 << 21, 1 << 20], "weights of layer 'd'") }!.contains("weights of layer 'd'"))
        XCTAssertThrowsError(try checkedInt(1e19, "tx", range: -100...100))
        XCTAssertThrowsError(try checkedInt(.nan, "tx", range: -100...100))
        XCTAssertEqual(try checkedInt(-3.7, "tx", range: -100...100), -3)
        XCTAssertNil(intIfInRange(1e19, 0..<10))
        XCTAssertNil(intIfInRange(.nan, 0..<10))
        XCTAssertEqual(intIfInRange(9.5, 0..<10), 9)
        XCTAssertThrowsError(try checkedFloat(1e300, "learning_rate"))
        XCTAssertEqual(try checkedFloat(0.5, "learning_rate"), 0.5)
    }

    func testAllocationReportsOutOfMemory() {
        XCTAssertThrowsError(try FloatBuffer(count: maxElementCount + 1)) { error in
            guard case SwiftCNNError.outOfMemory = error else { return XCTFail("\(error)") }
        }
        let buffer = FloatBuffer()
        XCTAssertThrowsError(try buffer.reserve(maxElementCount * 2))
        XCTAssertEqual(buffer.capacity, 16)   // unchanged after the failed growth
    }

    func testShapeRulesThrowInsteadOfTrapping() throws {
        let g = Graph()
        XCTAssertThrowsError(try g.addInput(shape: [1 << 40, 1 << 40]))
        let input = try g.addInput(shape: [8, 8, 1])
        XCTAssertThrowsError(try g.add(Conv2D(filters: 1 << 62, kernelSize: (1, 1)), inputs: [input]))
        XCTAssertThrowsError(try g.add(Conv2D(filters: 1, kernelSize: (3, 3), dilationRate: (1 << 62, 1 << 62), name: "c1"),
                                       inputs: [input]))
        XCTAssertThrowsError(try g.add(ZeroPadding2D(padding: (Int.max, Int.max, 0, 0), name: "z"), inputs: [input]))
        XCTAssertThrowsError(try g.add(Dense(units: 1 << 62, name: "d"), inputs: [input]))
        XCTAssertThrowsError(try g.add(Pooling2D(mode: .max, poolSize: (1 << 20, 1 << 20), padding: .same, name: "p0"),
                                       inputs: [input]))
        // Huge strides are legal: one output pixel.
        let s1 = try g.add(Conv2D(filters: 1, kernelSize: (1, 1), strides: (Int.max, Int.max), padding: .same, name: "s1"),
                           inputs: [input])
        let s2 = try g.add(Conv2D(filters: 1, kernelSize: (3, 3), strides: (1 << 62, 1 << 62), padding: .same, name: "s2"),
                           inputs: [s1])
        XCTAssertEqual(g.nodes[s2].shape, [1, 1, 1])
        try g.build(seed: 1)
        let fields = g.receptiveFields()   // the jump would overflow: it saturates instead of trapping
        XCTAssertEqual(fields[s2]?.jump.0, Int.max)
        XCTAssertNoThrow(try g.forwardFLOPs(s2))
        XCTAssertThrowsError(try g.plan(batch: 1 << 62))
    }

    func testMetricMustFitLoss() throws {
        XCTAssertThrowsError(try Metric.binaryAccuracy.check(loss: .sparseCategoricalCrossentropy, outputShape: [1000]))
        XCTAssertThrowsError(try Metric.categoricalAccuracy.check(loss: .sparseCategoricalCrossentropy, outputShape: [1000]))
        XCTAssertThrowsError(try Metric.sparseCategoricalAccuracy.check(loss: .meanSquaredError, outputShape: [3]))
        XCTAssertNoThrow(try Metric.sparseCategoricalAccuracy.check(loss: .sparseCategoricalCrossentropy, outputShape: [3]))
        // A label far outside the classes counts as wrong instead of trapping in the conversion.
        let m = Metric.sparseCategoricalAccuracy.count(predictions: [0.1, 0.9, 0.8, 0.2], targets: [1e19, 0], rows: 2, classes: 2)
        XCTAssertEqual(m.correct, 1)
    }

    func testConfigAndOptimizerLimits() throws {
        XCTAssertThrowsError(try LayerConfig(layerType: "Dense", text: "units=2;units=3"))
        XCTAssertThrowsError(try Optimizer(description: "adam;learning_rate=1e300"))
        XCTAssertThrowsError(try Optimizer(description: "adam;epsilon=1e39"))
        XCTAssertThrowsError(try LayerConfig(layerType: "Rescaling", text: "scale=1e300").double("scale"))
        let opt = Optimizer(kind: .adam)
        XCTAssertThrowsError(try opt.setIterations(Int.max))
        XCTAssertThrowsError(try opt.setIterations(-1))
        try opt.setIterations(Optimizer.maxIterations)
    }

    func testAugmentationWithHugeTransformsDoesNotTrap() {
        var transform = ImageTransform()
        transform.tx = 1e19
        transform.zx = 1e20
        let input = [Float](repeating: 1, count: 16)
        var output = [Float](repeating: 0, count: 16)
        for fill in [FillMode.nearest, .constant, .reflect, .wrap] {
            augmentImage(input, height: 4, width: 4, channels: 1, transform: transform, fill: fill, cval: 0,
                         clip255: false, output: &output)
            XCTAssertTrue(output.allSatisfy { $0.isFinite })
        }
    }
}
