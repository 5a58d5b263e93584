import XCTest
import SwiftCNN

/// End-to-end behaviour of the graph and the trainer through the Swift API.
final class ModelTests: XCTestCase {
    /// Two classes of 8×8 images: a bright square in the top-left or in the bottom-right corner.
    func makeSquares(_ n: Int, seed: UInt64) -> (Tensor, Tensor) {
        var rng = RNG(seed: seed)
        let x = Tensor(shape: [n, 8, 8, 1]), y = Tensor(shape: [n])
        for i in 0..<n {
            let label = i % 2
            y[i] = Float(label)
            for p in 0..<64 { x[i * 64 + p] = Float(rng.nextUniform() * 0.3) }
            let origin = label == 0 ? 1 : 5
            for r in origin..<(origin + 2) { for c in origin..<(origin + 2) { x[i * 64 + r * 8 + c] = 1 } }
        }
        return (x, y)
    }

    func makeModel(seed: UInt64 = 3) throws -> Sequential {
        try Sequential(inputShape: [8, 8, 1], layers: [
            Conv2D(filters: 4, kernelSize: (3, 3), activation: .relu),
            Pooling2D(mode: .max),
            Flatten(),
            Dense(units: 2, activation: .softmax),
        ], seed: seed)
    }

    func testSmallConvnetLearns() throws {
        let (x, y) = makeSquares(200, seed: 1)
        let model = try makeModel()
        try model.compile(optimizer: Optimizer(kind: .adam, learningRate: 0.01), loss: .sparseCategoricalCrossentropy,
                          metrics: ["accuracy"])
        let losses = try train(model, x: x, y: y, batchSize: 20, epochs: 8)
        XCTAssertLessThan(losses.last!, losses.first! * 0.5)
        let (testX, testY) = makeSquares(100, seed: 2)
        let result = try evaluate(model, x: testX, y: testY)
        XCTAssertGreaterThan(result.metric, 0.95)
        XCTAssertEqual(try model.predict(testX).shape, [100, 2])
    }

    func testSameSeedSameWeights() throws {
        let (x, y) = makeSquares(40, seed: 1)
        func trainedWeights() throws -> [Float] {
            let m = try makeModel(seed: 9)
            try m.compile(optimizer: Optimizer(kind: .rmsprop), loss: .sparseCategoricalCrossentropy)
            try train(m, x: x, y: y, batchSize: 8, epochs: 2)
            return Array(UnsafeBufferPointer(start: m.graph.parameters.pointer, count: m.graph.parameterCount))
        }
        XCTAssertEqual(try trainedWeights(), try trainedWeights())
    }

    func testSummaryCountsParametersAndReceptiveFields() throws {
        let model = try Sequential(inputShape: [28, 28, 1], layers: [
            Conv2D(filters: 32, kernelSize: (3, 3), activation: .relu), Pooling2D(mode: .max),
            Conv2D(filters: 64, kernelSize: (3, 3), activation: .relu), Pooling2D(mode: .max),
            Conv2D(filters: 64, kernelSize: (3, 3), activation: .relu), Flatten(),
            Dense(units: 64, activation: .relu), Dense(units: 10, activation: .softmax),
        ])
        try model.compile(optimizer: Optimizer(kind: .rmsprop), loss: .categoricalCrossentropy)
        XCTAssertEqual(model.graph.parameterCount, 93_322)
        let fields = model.graph.receptiveFields().dropFirst().prefix(5).map { $0!.size.0 }
        XCTAssertEqual(Array(fields), [3, 4, 8, 10, 18])
        XCTAssertTrue(model.summary().contains("Total params: 93,322\n"))
    }

    func testFrozenLayerIsNotUpdated() throws {
        let (x, y) = makeSquares(40, seed: 1)
        let model = try makeModel()
        try model.compile(optimizer: Optimizer(kind: .sgd, learningRate: 0.1), loss: .sparseCategoricalCrossentropy)
        model.graph.setTrainable(1, false)
        let conv = model.graph.nodes[1]
        let before = Array(UnsafeBufferPointer(start: model.graph.parameterPointers(conv)[0], count: 36))
        let denseBefore = model.graph.parameterPointers(model.graph.nodes[4])[0][0]
        try train(model, x: x, y: y, batchSize: 10, epochs: 1)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: model.graph.parameterPointers(conv)[0], count: 36)), before)
        XCTAssertNotEqual(model.graph.parameterPointers(model.graph.nodes[4])[0][0], denseBefore)
    }

    func testBadShapesThrowInsteadOfTrapping() throws {
        let model = try makeModel()
        XCTAssertThrowsError(try model.add(Conv2D(filters: 2, kernelSize: (3, 3))))  // after Dense: rank 1 input
        try model.compile(optimizer: Optimizer(kind: .adam), loss: .sparseCategoricalCrossentropy)
        let x = Tensor(shape: [4, 7, 7, 1])
        XCTAssertThrowsError(try model.model.trainStep(x: x.data, xCount: x.count, y: Tensor(shape: [4]).data, yCount: 4, batch: 4))
        XCTAssertThrowsError(try train(model, x: Tensor(shape: [4, 8, 8, 1]), y: Tensor(shape: [4], values: [0, 1, 2, 0]),
                                       batchSize: 4, epochs: 1))
        XCTAssertThrowsError(try Sequential(inputShape: [4, 4, 1], layers: [Conv2D(filters: 1, kernelSize: (5, 5))]))
    }

    /// A training step refuses inputs with NaN or ±∞ anywhere (in a vector of eight or past the last one), naming the
    /// first offender's flat index, and takes the same values once they are finite.
    func testNonFiniteInputsAreRefused() throws {
        let model = try Sequential(inputShape: [3, 3, 1], layers: [Flatten(), Dense(units: 2, activation: .softmax)])
        try model.compile(optimizer: Optimizer(kind: .sgd), loss: .sparseCategoricalCrossentropy)
        let batch = 3, y: [Float] = [0, 1, 0]                      // 27 values: three vectors and a tail of 3
        for (index, bad) in [(0, Float.nan), (13, .infinity), (25, -.infinity), (26, .nan)] {
            var x = [Float](repeating: 0.5, count: 27)
            x[index] = bad
            XCTAssertThrowsError(try model.model.trainStep(x: x, xCount: 27, y: y, yCount: batch, batch: batch)) { error in
                XCTAssertTrue("\(error)".contains("flat index \(index)"), "\(error)")
            }
        }
        let x = [Float](repeating: -0.5, count: 27)
        XCTAssertNoThrow(try model.model.trainStep(x: x, xCount: 27, y: y, yCount: batch, batch: batch))
    }

    /// The gradient read at the input equals a finite difference of the seeded output.
    func testInputGradientMatchesFiniteDifference() throws {
        let model = try makeModel()
        try model.compile(optimizer: Optimizer(kind: .sgd), loss: .meanSquaredError)
        let (x, _) = makeSquares(2, seed: 5)
        let g = model.graph
        let seed: [Float] = [1, 0, 0, 1]   // d(p[0,0] + p[1,1])/dx
        try g.forward(input: x.data, batch: 2, training: false)
        g.backward(seed: g.nodes.count - 1, gradient: seed, gradientToInputs: true)
        let analytic = Array(UnsafeBufferPointer(start: g.activationGradient(0), count: 128))
        func objective() throws -> Double {
            try g.forward(input: x.data, batch: 2, training: false)
            let p = g.activation(g.nodes.count - 1)
            return Double(p[0]) + Double(p[3])
        }
        for index in [9, 10, 42, 64 + 45, 64 + 3] {
            let old = x[index]
            x[index] = old + 1e-2; let plus = try objective()
            x[index] = old - 1e-2; let minus = try objective()
            x[index] = old
            XCTAssertEqual(Double(analytic[index]), (plus - minus) / 2e-2, accuracy: 2e-3)
        }
    }
}

/// A small ResNet/Inception-style DAG (fan-out, Add, Concatenate, BatchNormalization): it trains, and the gradient
/// read at the input matches finite differences of the seeded output.
final class GraphModelTests: XCTestCase {
    func makeGraph() throws -> (Graph, Int) {
        let g = Graph()
        let input = try g.addInput(shape: [6, 6, 2])
        let a = try g.add(Conv2D(filters: 3, kernelSize: (3, 3), padding: .same, activation: .tanh, name: "a"), inputs: [input])
        let b = try g.add(Conv2D(filters: 3, kernelSize: (1, 1), name: "b"), inputs: [input])
        let sum = try g.add(Add(name: "add"), inputs: [a, b])
        let cat = try g.add(Concatenate(name: "cat"), inputs: [sum, a])
        let bn = try g.add(BatchNormalization(name: "bn"), inputs: [cat])
        let pooled = try g.add(GlobalPooling2D(mode: .average, name: "gap"), inputs: [bn])
        let out = try g.add(Dense(units: 2, activation: .softmax, name: "out"), inputs: [pooled])
        try g.build(seed: 4)
        return (g, out)
    }

    func testDAGInputGradientMatchesFiniteDifferences() throws {
        let (g, out) = try makeGraph()
        var rng = RNG(seed: 2)
        var x = (0..<(2 * 72)).map { _ in Float(rng.nextUniform(-1, 1)) }
        let seed: [Float] = [1, -0.5, 0.25, 1]
        try g.forward(input: x, batch: 2, training: false)
        g.backward(seed: out, gradient: seed, gradientToInputs: true)
        let analytic = Array(UnsafeBufferPointer(start: g.activationGradient(0), count: x.count))
        func objective() throws -> Double {
            try g.forward(input: x, batch: 2, training: false)
            let p = g.activation(out)
            return (0..<4).reduce(0.0) { $0 + Double(p[$1]) * Double(seed[$1]) }
        }
        for i in stride(from: 0, to: x.count, by: 7) {
            let old = x[i]
            x[i] = old + 1e-3; let plus = try objective()
            x[i] = old - 1e-3; let minus = try objective()
            x[i] = old
            XCTAssertEqual(Double(analytic[i]), (plus - minus) / 2e-3, accuracy: 2e-3, "element \(i)")
        }
    }

    func testDAGTrains() throws {
        let (g, _) = try makeGraph()
        let model = Model(graph: g, seed: 1)
        try model.compile(optimizer: Optimizer(kind: .adam, learningRate: 0.02), loss: .sparseCategoricalCrossentropy, metric: nil)
        var rng = RNG(seed: 3)
        var x = [Float](repeating: 0, count: 16 * 72), y = [Float](repeating: 0, count: 16)
        for s in 0..<16 {
            y[s] = Float(s % 2)
            for j in 0..<72 { x[s * 72 + j] = Float(rng.nextUniform(0, 0.5)) + (s % 2 == 1 && j % 2 == 0 ? 1 : 0) }
        }
        var first = 0.0, last = 0.0
        for step in 0..<60 {
            let r = try model.trainStep(x: x, xCount: x.count, y: y, yCount: 16, batch: 16)
            if step == 0 { first = r.loss }
            last = r.loss
        }
        XCTAssertLessThan(last, first * 0.5)
    }
}
