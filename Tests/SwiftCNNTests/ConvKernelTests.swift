import XCTest
import SwiftCNN

/// The Conv2D layer (im2col + GEMM, 1×1 fast path, fused bias and activation) against the direct 7-loop
/// convolution on awkward shapes.
final class ConvKernelTests: XCTestCase {
    private func compare(h: Int, w: Int, c: Int, filters: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                         dilation: (Int, Int) = (1, 1), same: Bool, batch: Int, line: UInt = #line) throws {
        let layer = Conv2D(filters: filters, kernelSize: kernel, strides: stride, padding: same ? .same : .valid,
                           dilationRate: dilation, useBias: false)
        let out = try layer.build(inputShapes: [[h, w, c]])
        let g = try WindowGeometry(inH: h, inW: w, channels: c, kernel: kernel, stride: stride, dilation: dilation,
                                   same: same, layer: "test")
        XCTAssertEqual(out, [g.outH, g.outW, filters], line: line)
        var rng = RNG(seed: UInt64(h * 31 + c))
        let x = (0..<(batch * h * w * c)).map { _ in Float(rng.nextUniform(-1, 1)) }
        var kernelValues = (0..<(kernel.0 * kernel.1 * c * filters)).map { _ in Float(rng.nextUniform(-1, 1)) }
        let n = batch * out.reduce(1, *)
        var expected = [Float](repeating: 0, count: n), actual = expected
        var workspace = [Float](repeating: 0, count: layer.workspaceSize(batch: batch))
        var input = x, grad = expected, inGrad = x
        input.withUnsafeMutableBufferPointer { xp in
            kernelValues.withUnsafeMutableBufferPointer { kp in
                actual.withUnsafeMutableBufferPointer { op in
                    workspace.withUnsafeMutableBufferPointer { wp in
                        grad.withUnsafeMutableBufferPointer { gp in
                            inGrad.withUnsafeMutableBufferPointer { ip in
                                layer.forward(LayerIO(batch: batch, training: false, inputs: [xp.baseAddress!],
                                                      output: op.baseAddress!, outputGrad: gp.baseAddress!,
                                                      inputGrads: [ip.baseAddress!], needsInputGrad: [false],
                                                      parameters: [kp.baseAddress!], parameterGrads: [kp.baseAddress!],
                                                      needsParameterGrads: false, workspace: wp.baseAddress!, stepSeed: 0))
                            }
                        }
                    }
                }
            }
        }
        conv2dReference(x, batch: batch, g, kernel: kernelValues, filters: filters, output: &expected)
        for i in 0..<n where abs(expected[i] - actual[i]) > 1e-4 * max(1, abs(expected[i])) {
            XCTFail("element \(i): \(actual[i]) vs \(expected[i])", line: line)
            return
        }
    }

    func testAgainstDirectConvolution() throws {
        try compare(h: 7, w: 9, c: 3, filters: 5, kernel: (3, 3), same: false, batch: 2)
        try compare(h: 8, w: 8, c: 17, filters: 19, kernel: (3, 3), same: true, batch: 1)
        try compare(h: 9, w: 7, c: 2, filters: 33, kernel: (3, 3), stride: (2, 2), same: true, batch: 3)
        try compare(h: 10, w: 10, c: 4, filters: 8, kernel: (3, 3), dilation: (2, 2), same: true, batch: 2)
        try compare(h: 6, w: 5, c: 3, filters: 4, kernel: (2, 2), same: true, batch: 2)      // even kernel, 'same'
        try compare(h: 5, w: 5, c: 20, filters: 16, kernel: (1, 1), same: false, batch: 2)    // 1×1 fast path
        try compare(h: 11, w: 4, c: 1, filters: 3, kernel: (5, 3), stride: (3, 1), same: false, batch: 1)
        // Tap pairs: tiny images, a strided, a dilated and a wide window.
        try compare(h: 2, w: 2, c: 6, filters: 35, kernel: (3, 3), same: true, batch: 26)
        try compare(h: 3, w: 3, c: 5, filters: 4, kernel: (3, 3), stride: (2, 2), same: true, batch: 2)
        try compare(h: 2, w: 2, c: 5, filters: 6, kernel: (3, 3), dilation: (2, 2), same: true, batch: 3)
        try compare(h: 1, w: 2, c: 7, filters: 3, kernel: (5, 5), same: true, batch: 2)
    }

    /// Narrow inputs (1–4 channels, 6 or more output columns) take the im2col-free window kernel; with 'same'
    /// padding it reads a padded copy from the workspace. Both instruction sets.
    func testNarrowInputsThroughTheWindowKernel() throws {
        try forEachInstructionSet { _ in
            try compare(h: 28, w: 28, c: 1, filters: 32, kernel: (3, 3), same: false, batch: 3)
            try compare(h: 13, w: 11, c: 3, filters: 37, kernel: (3, 3), same: true, batch: 2)
            try compare(h: 15, w: 16, c: 4, filters: 8, kernel: (3, 3), stride: (2, 2), same: true, batch: 2)
            try compare(h: 10, w: 9, c: 2, filters: 70, kernel: (2, 2), same: true, batch: 1)
        }
    }

    /// A 2×2 image under a 3×3 'same' window: every (output, input) pixel pair is joined by exactly one tap, the
    /// centre tap for each pixel with itself; 16 pairs of im2col's 36 products.
    func testTapPairsOfATwoByTwoImage() throws {
        let g = try WindowGeometry(inH: 2, inW: 2, channels: 1, kernel: (3, 3), stride: (1, 1), dilation: (1, 1),
                                   same: true, layer: "t")
        let pairs = tapPairs(g)
        XCTAssertEqual(pairs.count, 16)
        XCTAssertEqual(Set(pairs.map { $0.output * 4 + $0.input }).count, 16)
        for p in 0..<4 { XCTAssertTrue(pairs.contains(TapPair(output: p, input: p, tap: 4))) }
        XCTAssertTrue(pairs.contains(TapPair(output: 0, input: 3, tap: 8)))   // down-right neighbour: tap (2, 2)
    }

    func testSamePaddingPutsTheExtraRowAtTheEnd() throws {
        let g = try WindowGeometry(inH: 6, inW: 5, channels: 1, kernel: (2, 2), stride: (1, 1), dilation: (1, 1),
                                   same: true, layer: "t")
        XCTAssertEqual([g.outH, g.outW, g.padTop, g.padLeft], [6, 5, 0, 0])
        let s = try WindowGeometry(inH: 7, inW: 7, channels: 1, kernel: (3, 3), stride: (2, 2), dilation: (1, 1),
                                   same: true, layer: "t")
        XCTAssertEqual([s.outH, s.padTop], [4, 1])
        XCTAssertThrowsError(try WindowGeometry(inH: 2, inW: 2, channels: 1, kernel: (3, 3), stride: (1, 1),
                                                dilation: (1, 1), same: false, layer: "t"))
    }

    /// Forward, weight gradient and input gradient against direct loops on shapes that cut the batch into chunks
    /// several ways (parts of one image, whole images, many images per chunk) and split them across threads.
    func testChunkedForwardAndBackwardAgainstDirectLoops() throws {
        let saved = engineThreadCount
        defer { setEngineThreadCount(saved) }
        try forEachInstructionSet { _ in try chunkedForwardAndBackward() }
    }

    private func chunkedForwardAndBackward() throws {
        for threads in [1, 2, 3] {
            setEngineThreadCount(threads)
            // im2col + GEMM (fewer than 16 channels or filters).
            try compareBackward(h: 40, w: 40, c: 12, filters: 20, same: true, batch: 3)
            try compareBackward(h: 12, w: 12, c: 32, filters: 12, same: false, batch: 7)
            try compareBackward(h: 6, w: 6, c: 3, filters: 8, same: false, batch: 50)
            // Linear: the output gradient is used in place as the pre-activation gradient.
            try compareBackward(h: 12, w: 12, c: 32, filters: 12, same: false, batch: 7, activation: .linear)
            // From 16 channels and filters on outputs of 4×4 and up: Winograd in all three passes.
            try compareBackward(h: 10, w: 11, c: 32, filters: 40, same: true, batch: 3)
            try compareBackward(h: 12, w: 13, c: 40, filters: 32, same: false, batch: 2, activation: .linear)
            try compareBackward(h: 28, w: 28, c: 16, filters: 16, same: true, batch: 5)
            try compareBackward(h: 4, w: 5, c: 24, filters: 17, same: true, batch: 9)
            // Outputs of up to 2×2 with 'same' padding: one GEMM per (output pixel, input pixel) pair, with taps
            // packed once (batch of 24 and more) or read in place.
            try compareBackward(h: 2, w: 2, c: 40, filters: 33, same: true, batch: 30)
            try compareBackward(h: 2, w: 2, c: 5, filters: 7, same: true, batch: 3)
            try compareBackward(h: 2, w: 1, c: 9, filters: 16, same: true, batch: 25, activation: .linear)
            try compareBackward(h: 1, w: 1, c: 20, filters: 9, same: true, batch: 4)
        }
    }

    private func compareBackward(h: Int, w: Int, c: Int, filters: Int, same: Bool, batch: Int,
                                 activation: Activation = .relu, line: UInt = #line) throws {
        // ReLU and bias: the weight-gradient job makes each chunk's pre-activation gradient and bias sums itself.
        let layer = Conv2D(filters: filters, kernelSize: (3, 3), padding: same ? .same : .valid, activation: activation)
        let out = try layer.build(inputShapes: [[h, w, c]])
        let g = try WindowGeometry(inH: h, inW: w, channels: c, kernel: (3, 3), stride: (1, 1), dilation: (1, 1),
                                   same: same, layer: "test")
        var rng = RNG(seed: UInt64(h * 7 + c + batch))
        var x = (0..<(batch * h * w * c)).map { _ in Float(rng.nextUniform(-1, 1)) }
        var kernel = (0..<(9 * c * filters)).map { _ in Float(rng.nextUniform(-1, 1)) }
        var bias = (0..<filters).map { _ in Float(rng.nextUniform(-0.5, 0.5)) }
        let n = batch * out.reduce(1, *)
        var dy = (0..<n).map { _ in Float(rng.nextUniform(-1, 1)) }
        var y = [Float](repeating: 0, count: n), dx = [Float](repeating: .nan, count: x.count)
        var dW = [Float](repeating: .nan, count: kernel.count), dBias = [Float](repeating: .nan, count: filters)
        var workspace = [Float](repeating: 0, count: layer.workspaceSize(batch: batch))
        x.withUnsafeMutableBufferPointer { xp in kernel.withUnsafeMutableBufferPointer { kp in
        y.withUnsafeMutableBufferPointer { yp in dy.withUnsafeMutableBufferPointer { gp in
        dx.withUnsafeMutableBufferPointer { ip in dW.withUnsafeMutableBufferPointer { wp in
        bias.withUnsafeMutableBufferPointer { bp in dBias.withUnsafeMutableBufferPointer { dbp in
        workspace.withUnsafeMutableBufferPointer { sp in
            let io = LayerIO(batch: batch, training: true, inputs: [xp.baseAddress!], output: yp.baseAddress!,
                             outputGrad: gp.baseAddress!, inputGrads: [ip.baseAddress!], needsInputGrad: [true],
                             parameters: [kp.baseAddress!, bp.baseAddress!],
                             parameterGrads: [wp.baseAddress!, dbp.baseAddress!],
                             needsParameterGrads: true, workspace: sp.baseAddress!, stepSeed: 0)
            layer.forward(io)
            layer.backward(io)
        } } } } } } } } }
        var expectedY = [Float](repeating: 0, count: n)
        conv2dReference(x, batch: batch, g, kernel: kernel, filters: filters, output: &expectedY)
        for i in 0..<n {
            expectedY[i] += bias[i % filters]
            if activation == .relu { expectedY[i] = max(expectedY[i], 0) }
        }
        var expectedDX = [Double](repeating: 0, count: x.count), expectedDW = [Double](repeating: 0, count: kernel.count)
        var expectedDBias = [Double](repeating: 0, count: filters)
        for b in 0..<batch { for oy in 0..<g.outH { for ox in 0..<g.outW { for f in 0..<filters {
            let o = ((b * g.outH + oy) * g.outW + ox) * filters + f
            // ReLU passes the gradient where the (reference) output is positive.
            let grad = activation == .linear || expectedY[o] > 0 ? Double(dy[o]) : 0
            expectedDBias[f] += grad
            for ky in 0..<3 { for kx in 0..<3 {
                let iy = oy - g.padTop + ky, ix = ox - g.padLeft + kx
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                for ch in 0..<c {
                    let xi = ((b * h + iy) * w + ix) * c + ch, wi = ((ky * 3 + kx) * c + ch) * filters + f
                    expectedDW[wi] += Double(x[xi]) * grad
                    expectedDX[xi] += Double(kernel[wi]) * grad
                }
            } }
        } } } }
        func agree(_ name: String, _ actual: [Float], _ expected: [Double]) {
            for i in 0..<actual.count where !(abs(Double(actual[i]) - expected[i]) <= 1e-3 * max(1, abs(expected[i]))) {
                XCTFail("\(name)[\(i)] = \(actual[i]), expected \(expected[i]) (threads \(engineThreadCount))", line: line)
                return
            }
        }
        agree("y", y, expectedY.map(Double.init))
        agree("dW", dW, expectedDW)
        agree("dBias", dBias, expectedDBias)
        agree("dX", dx, expectedDX)
    }
}
