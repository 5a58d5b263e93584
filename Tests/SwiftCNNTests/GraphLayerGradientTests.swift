import XCTest
import SwiftCNN

/// Backward of the graph layers (BatchNormalization, Add, Concatenate, ZeroPadding2D, Rescaling) against central
/// finite differences of loss = Σ output · R for a fixed random R.
final class GraphLayerGradientTests: XCTestCase {
    private final class Harness {
        let layer: Layer
        let batch: Int
        var inputs: [[Float]]
        var parameters: [[Float]]
        let outputSize: Int
        let weights: [Float]

        init(_ layer: Layer, inputShapes: [[Int]], batch: Int, seed: UInt64) throws {
            self.layer = layer
            self.batch = batch
            var rng = RNG(seed: seed)
            let out = try layer.build(inputShapes: inputShapes)
            outputSize = batch * out.reduce(1, *)
            inputs = inputShapes.map { s in (0..<(batch * s.reduce(1, *))).map { _ in Float(rng.nextUniform(-1, 1)) } }
            parameters = layer.parameterShapes.map { s in (0..<s.reduce(1, *)).map { _ in Float(rng.nextUniform(0.5, 1.5)) } }
            weights = (0..<outputSize).map { _ in Float(rng.nextUniform(-1, 1)) }
        }

        /// Runs forward (and backward when asked); returns the loss and the input and parameter gradients.
        func run(training: Bool, backward: Bool) -> (Double, [[Float]], [[Float]]) {
            let ins = inputs.map { buffer($0) }
            let params = parameters.map { buffer($0) }
            let out = buffer([Float](repeating: 0, count: outputSize))
            let outGrad = buffer(weights)
            let inGrads = inputs.map { buffer([Float](repeating: 0, count: $0.count)) }
            let paramGrads = parameters.map { buffer([Float](repeating: 0, count: $0.count)) }
            let workspace = buffer([Float](repeating: 0, count: max(layer.workspaceSize(batch: batch), 1)))
            defer { (ins + params + [out, outGrad] + inGrads + paramGrads + [workspace]).forEach { $0.deallocate() } }
            let io = LayerIO(batch: batch, training: training, inputs: ins, output: out, outputGrad: outGrad,
                             inputGrads: inGrads, needsInputGrad: ins.map { _ in true }, parameters: params,
                             parameterGrads: paramGrads, needsParameterGrads: true, workspace: workspace, stepSeed: 1)
            layer.forward(io)
            var loss = 0.0
            for i in 0..<outputSize { loss += Double(out[i]) * Double(weights[i]) }
            if backward { layer.backward(io) }
            return (loss, inGrads.enumerated().map { Array(UnsafeBufferPointer(start: $1, count: inputs[$0].count)) },
                    paramGrads.enumerated().map { Array(UnsafeBufferPointer(start: $1, count: parameters[$0].count)) })
        }

        private func buffer(_ values: [Float]) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(values.count, 1))
            p.initialize(from: values, count: values.count)
            return p
        }
    }

    /// Checks every input and trainable parameter gradient element (up to `maxChecks` each) numerically.
    func checkLayer(_ layer: Layer, _ shapes: [[Int]], batch: Int = 2, training: Bool = true,
                    tolerance: Double = 2e-2, file: StaticString = #filePath, line: UInt = #line) throws {
        try check(layer, shapes, batch: batch, training: training, tolerance: tolerance, file: file, line: line)
    }

    private func check(_ layer: Layer, _ shapes: [[Int]], batch: Int = 2, training: Bool = true,
                       tolerance: Double = 2e-2, file: StaticString = #filePath, line: UInt = #line) throws {
        let h = try Harness(layer, inputShapes: shapes, batch: batch, seed: 11)
        let (_, inGrads, paramGrads) = h.run(training: training, backward: true)
        let eps: Float = 1e-3
        func numeric(_ mutate: (Float) -> Void, _ original: Float) -> Double {
            mutate(original + eps); let plus = h.run(training: training, backward: false).0
            mutate(original - eps); let minus = h.run(training: training, backward: false).0
            mutate(original)
            return (plus - minus) / Double(2 * eps)
        }
        for (k, grad) in inGrads.enumerated() {
            for i in stride(from: 0, to: grad.count, by: max(grad.count / 40, 1)) {
                let expected = numeric({ h.inputs[k][i] = $0 }, h.inputs[k][i])
                XCTAssertEqual(Double(grad[i]), expected, accuracy: tolerance,
                               "\(layer.typeName) \(layer.name) input \(k) element \(i)", file: file, line: line)
            }
        }
        for k in 0..<layer.trainableParameterTensors {
            for i in 0..<paramGrads[k].count {
                let expected = numeric({ h.parameters[k][i] = $0 }, h.parameters[k][i])
                XCTAssertEqual(Double(paramGrads[k][i]), expected, accuracy: tolerance,
                               "\(layer.typeName) parameter \(k) element \(i)", file: file, line: line)
            }
        }
    }

    func testBatchNormalizationTraining() throws {
        try check(BatchNormalization(momentum: 0.9), [[3, 3, 4]], batch: 3)
    }

    func testBatchNormalizationInference() throws {
        try check(BatchNormalization(), [[2, 2, 3]], training: false)
    }

    func testAdd() throws { try check(Add(), [[2, 3, 4], [2, 3, 4], [2, 3, 4]]) }
    func testConcatenate() throws { try check(Concatenate(), [[2, 2, 3], [2, 2, 5]]) }
    func testZeroPadding() throws { try check(ZeroPadding2D(padding: (1, 2, 0, 3)), [[3, 2, 2]]) }
    func testRescaling() throws { try check(Rescaling(scale: 0.5, offset: 1), [[4]]) }

    func testBatchNormalizationUpdatesMovingStatistics() throws {
        let bn = BatchNormalization(momentum: 0.5)
        let h = try Harness(bn, inputShapes: [[4]], batch: 8, seed: 3)
        let mean = h.inputs[0].enumerated().reduce(into: [Double](repeating: 0, count: 4)) { $0[$1.offset % 4] += Double($1.element) / 8 }
        // parameters: gamma, beta, moving_mean, moving_variance; forward writes the running stats in place.
        let ins = h.inputs[0]
        let x = UnsafeMutablePointer<Float>.allocate(capacity: 32); x.initialize(from: ins, count: 32)
        var stats: [Float] = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
        let out = UnsafeMutablePointer<Float>.allocate(capacity: 32)
        let ws = UnsafeMutablePointer<Float>.allocate(capacity: bn.workspaceSize(batch: 8))
        stats.withUnsafeMutableBufferPointer { p in
            let base = p.baseAddress!
            let io = LayerIO(batch: 8, training: true, inputs: [x], output: out, outputGrad: out, inputGrads: [out],
                             needsInputGrad: [false], parameters: [base, base + 4, base + 8, base + 12],
                             parameterGrads: [base, base + 4, base + 8, base + 12], needsParameterGrads: true,
                             workspace: ws, stepSeed: 0)
            bn.forward(io)
        }
        for ch in 0..<4 { XCTAssertEqual(Double(stats[8 + ch]), 0.5 * mean[ch], accuracy: 1e-5) }
        x.deallocate(); out.deallocate(); ws.deallocate()
        XCTAssertEqual(bn.trainableParameterTensors, 2)
        XCTAssertEqual(bn.parameterShapes, [[4], [4], [4], [4]])
    }

    func testShapeErrors() {
        XCTAssertThrowsError(try Add().build(inputShapes: [[2, 2, 3], [2, 2, 4]]))
        XCTAssertThrowsError(try Add().build(inputShapes: [[2, 2, 3]]))
        XCTAssertThrowsError(try Concatenate().build(inputShapes: [[2, 2, 3], [3, 2, 3]]))
        XCTAssertEqual(try Concatenate().build(inputShapes: [[2, 2, 3], [2, 2, 4]]), [2, 2, 7])
        XCTAssertEqual(try ZeroPadding2D(padding: (1, 1, 2, 2)).build(inputShapes: [[3, 3, 1]]), [5, 7, 1])
    }
}

/// Backward of the core layers against finite differences, through the same harness.
extension GraphLayerGradientTests {
    func testConv2DGradients() throws {
        try checkLayer(Conv2D(filters: 3, kernelSize: (3, 3), activation: .tanh), [[5, 6, 2]])
        try checkLayer(Conv2D(filters: 5, kernelSize: (2, 3), strides: (2, 2), padding: .same, activation: .sigmoid), [[5, 7, 3]])
        try checkLayer(Conv2D(filters: 2, kernelSize: (3, 3), padding: .same, dilationRate: (2, 2)), [[6, 6, 1]], batch: 1)
        try checkLayer(Conv2D(filters: 4, kernelSize: (1, 1), useBias: false), [[3, 3, 17]])
    }

    func testDenseGradients() throws {
        try checkLayer(Dense(units: 5, activation: .softmax), [[7]])
        try checkLayer(Dense(units: 3, activation: .tanh), [[2, 4]])   // applied to the last axis
    }

    func testPoolingAndShapeLayerGradients() throws {
        try checkLayer(Pooling2D(mode: .max, poolSize: (2, 2)), [[4, 5, 3]])
        try checkLayer(Pooling2D(mode: .max, poolSize: (3, 3), strides: (2, 2), padding: .same), [[5, 5, 2]])
        try checkLayer(Pooling2D(mode: .average, poolSize: (3, 3), strides: (2, 2), padding: .same), [[5, 4, 2]])
        try checkLayer(GlobalPooling2D(mode: .average), [[3, 4, 5]])
        try checkLayer(GlobalPooling2D(mode: .max), [[3, 4, 5]])
        try checkLayer(GlobalPooling2D(mode: .average), [[2, 3, 19]])   // eight channels at a time, then a tail
        try checkLayer(GlobalPooling2D(mode: .max), [[2, 3, 19]])
        try checkLayer(Flatten(), [[2, 3, 4]])
    }

    func testActivationGradients() throws {
        for a in Activation.allCases where a != .relu { try checkLayer(ActivationLayer(a, name: a.rawValue), [[6]]) }
        // ReLU: inputs in (-1, 1) are far enough from the kink for a 1e-2 step almost everywhere.
        try checkLayer(ActivationLayer(.relu), [[6]], tolerance: 0.06)
    }

    func testDropoutGradientUsesTheSameMask() throws {
        try checkLayer(Dropout(rate: 0.4, seed: 5), [[20]])
        try checkLayer(Dropout(rate: 0.4, seed: 5), [[20]], training: false)
    }
}
