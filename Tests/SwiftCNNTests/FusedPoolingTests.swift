import XCTest
import SwiftCNN

/// A max pooling fused into the convolution before it (pooled chunk by chunk, bands across chunk boundaries
/// afterwards) gives exactly what the pooling kernel gives on the stored convolution output.
final class FusedPoolingTests: XCTestCase {
    private func check(input: [Int], conv: Conv2D, pool: Int, batch: Int, expectFused: Bool = true,
                       line: UInt = #line) throws {
        let g = Graph()
        let x = try g.addInput(shape: input)
        let c = try g.add(conv, inputs: [x])
        let p = try g.add(Pooling2D(mode: .max, poolSize: (pool, pool), name: "pool"), inputs: [c])
        try g.build(seed: 3)
        var rng = RNG(seed: UInt64(batch))
        let data = (0..<(batch * input.reduce(1, *))).map { _ in Float(rng.nextUniform(-1, 1)) }
        try g.forward(input: data, batch: batch, training: false)
        XCTAssertEqual(g.isComputedByProducer(p), expectFused, line: line)
        let convShape = g.nodes[c].shape
        let geometry = try WindowGeometry(inH: convShape[0], inW: convShape[1], channels: convShape[2],
                                          kernel: (pool, pool), stride: (pool, pool), dilation: (1, 1), same: false,
                                          layer: "reference")
        let count = batch * g.nodes[p].sampleSize
        var expected = [Float](repeating: .nan, count: count)
        maxPoolForward(g.activation(c), batch: batch, geometry, output: &expected)
        let actual = g.activation(p)
        for i in 0..<count where actual[i] != expected[i] {
            XCTFail("pooled[\(i)] = \(actual[i]), expected \(expected[i])", line: line)
            return
        }
    }

    func testFusedPoolingMatchesThePoolingKernel() throws {
        // 11×11 outputs, 22-row bands, 96-row chunks: bands cross chunk boundaries and the last row is dropped.
        try check(input: [13, 13, 64], conv: Conv2D(filters: 8, kernelSize: (3, 3), activation: .relu), pool: 2, batch: 7)
        // Winograd layers (16 channels and filters and up, outputs from 4×4): each 2×2 tile pooled in registers; an odd
        // output (17×17) drops its last tile row and column.
        try check(input: [18, 18, 32], conv: Conv2D(filters: 32, kernelSize: (3, 3), activation: .relu), pool: 2, batch: 3)
        try check(input: [17, 17, 40], conv: Conv2D(filters: 48, kernelSize: (3, 3), padding: .same, activation: .relu),
                  pool: 2, batch: 2)
        // The textbook first layer: 26×26×32, whole-image chunks.
        try check(input: [28, 28, 1], conv: Conv2D(filters: 32, kernelSize: (3, 3), activation: .relu), pool: 2, batch: 9)
        // Pool 3 over 11×11 (two rows and columns dropped), 'same' strided convolution, linear activation.
        try check(input: [13, 13, 5], conv: Conv2D(filters: 16, kernelSize: (3, 3), activation: .relu), pool: 3, batch: 5)
        try check(input: [21, 21, 3], conv: Conv2D(filters: 12, kernelSize: (3, 3), strides: (2, 2), padding: .same),
                  pool: 2, batch: 4)
        // Activations applied after the GEMM, and the 1×1 path: pooled over the whole output instead.
        try check(input: [9, 9, 4], conv: Conv2D(filters: 6, kernelSize: (3, 3), activation: .tanh), pool: 2, batch: 3)
        try check(input: [8, 8, 16], conv: Conv2D(filters: 8, kernelSize: (1, 1), activation: .relu), pool: 2, batch: 3)
    }

    /// The pooling kernel (vector path for whole windows and 8-channel groups, unrolled for 2×2 windows, general
    /// path otherwise) against its naive twin `maxPoolReference`.
    func testMaxPoolingKernelAgainstNaiveLoop() throws {
        for (h, w, c, k, s, same) in [(8, 8, 16, 2, 2, false), (9, 7, 24, 3, 3, false), (7, 7, 5, 2, 2, false),
                                       (7, 9, 16, 3, 2, true), (6, 6, 8, 2, 1, false), (9, 11, 24, 2, 2, false)] {
            let g = try WindowGeometry(inH: h, inW: w, channels: c, kernel: (k, k), stride: (s, s), dilation: (1, 1),
                                       same: same, layer: "test")
            var rng = RNG(seed: UInt64(h * w + c))
            let batch = 3
            let x = (0..<(batch * h * w * c)).map { _ in Float(rng.nextUniform(-1, 1)) }
            var y = [Float](repeating: .nan, count: batch * g.outH * g.outW * c), expected = y
            maxPoolForward(x, batch: batch, g, output: &y)
            maxPoolReference(x, batch: batch, g, output: &expected)
            XCTAssertEqual(y, expected, "\(h)x\(w)x\(c) pool \(k)/\(s)")
        }
    }

    /// Pooling backward (the tiled path for non-overlapping windows with 8-channel groups, which writes dx without
    /// clearing it first, and the general path) against `maxPoolBackwardReference`; inputs on a coarse grid so
    /// windows have ties, which go to the first cell.
    func testMaxPoolingBackwardAgainstNaiveLoop() throws {
        for (h, w, c, k, s, same) in [(8, 8, 16, 2, 2, false), (9, 7, 24, 3, 3, false), (7, 7, 8, 2, 2, false),
                                       (7, 7, 5, 2, 2, false), (7, 9, 16, 3, 2, true), (6, 6, 8, 2, 1, false),
                                       (5, 5, 8, 2, 2, true)] {
            let g = try WindowGeometry(inH: h, inW: w, channels: c, kernel: (k, k), stride: (s, s), dilation: (1, 1),
                                       same: same, layer: "test")
            var rng = RNG(seed: UInt64(h * w + c + k))
            let batch = 3
            let x = (0..<(batch * h * w * c)).map { _ in Float(Int(rng.nextUniform(0, 4))) }
            let dy = (0..<(batch * g.outH * g.outW * c)).map { _ in Float(rng.nextUniform(-1, 1)) }
            var y = [Float](repeating: .nan, count: dy.count)
            maxPoolForward(x, batch: batch, g, output: &y)
            var dx = [Float](repeating: .nan, count: x.count), expected = dx, taken = dx
            maxPoolBackward(dy, input: x, output: y, batch: batch, g, inputGrad: &dx, taken: &taken)
            maxPoolBackwardReference(dy, input: x, batch: batch, g, inputGrad: &expected)
            XCTAssertEqual(dx, expected, "\(h)x\(w)x\(c) pool \(k)/\(s)")
        }
    }

    func testNoFusionWhenTheConvolutionHasAnotherConsumer() throws {
        let g = Graph()
        let x = try g.addInput(shape: [10, 10, 2])
        let c = try g.add(Conv2D(filters: 4, kernelSize: (3, 3), activation: .relu, name: "c"), inputs: [x])
        let p = try g.add(Pooling2D(mode: .max, name: "pool"), inputs: [c])
        _ = try g.add(GlobalPooling2D(mode: .average, name: "gap"), inputs: [c])
        try g.build(seed: 1)
        try g.forward(input: [Float](repeating: 0.5, count: 2 * 200), batch: 2, training: false)
        XCTAssertFalse(g.isComputedByProducer(p))
    }
}
