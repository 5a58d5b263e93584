import XCTest
import SwiftCNN

/// The im2col-free convolution kernel and col2im against their naive twins, on every instruction set.
final class WindowKernelTests: XCTestCase {
    /// `windowConvolution` (after `padImages` where the window has padding) against `conv2dReference`, with bias and
    /// ReLU, over row ranges that start and end inside an output row (as a convolution's chunks do).
    func testWindowConvolutionAgainstDirectLoops() throws {
        let cases: [(h: Int, w: Int, c: Int, filters: Int, k: (Int, Int), s: (Int, Int), same: Bool, batch: Int)] = [
            (28, 28, 1, 32, (3, 3), (1, 1), false, 2),   // W1's first layer
            (9, 8, 3, 5, (3, 3), (1, 1), true, 3),       // 'same', filters in one partial panel
            (11, 13, 2, 33, (3, 3), (2, 2), true, 2),    // stride 2, a panel and one column
            (10, 15, 4, 70, (2, 3), (1, 2), false, 1),   // even kernel, several panels and a partial one
            (6, 6, 1, 16, (1, 1), (1, 1), false, 2),     // outW = 6: one tile per row
            (12, 17, 3, 64, (5, 5), (1, 1), true, 1),
        ]
        for t in cases {
            let g = try WindowGeometry(inH: t.h, inW: t.w, channels: t.c, kernel: t.k, stride: t.s, dilation: (1, 1),
                                       same: t.same, layer: "test")
            var rng = RNG(seed: UInt64(t.h * 13 + t.c * 7 + t.filters))
            let x = (0..<(t.batch * t.h * t.w * t.c)).map { _ in Float(rng.nextUniform(-1, 1)) }
            let kernel = (0..<(g.patchSize * t.filters)).map { _ in Float(rng.nextUniform(-1, 1)) }
            let bias = (0..<t.filters).map { _ in Float(rng.nextUniform(-1, 1)) }
            let outputs = t.batch * g.outH * g.outW
            var expected = [Float](repeating: 0, count: outputs * t.filters)
            conv2dReference(x, batch: t.batch, g, kernel: kernel, filters: t.filters, output: &expected)
            for i in expected.indices { expected[i] = max(expected[i] + bias[i % t.filters], 0) }
            let p = paddedGeometry(g)
            var padded = [Float](repeating: .nan, count: t.batch * p.inH * p.inW * t.c)
            padImages(x, batch: t.batch, g, into: &padded)
            try forEachInstructionSet { isa in
                var packed = [Float](repeating: .nan, count: packedBCount(k: g.patchSize, n: t.filters))
                packB(transB: false, k: g.patchSize, n: t.filters, b: kernel, ldb: t.filters, into: &packed)
                var actual = [Float](repeating: .nan, count: outputs * t.filters)
                // Ranges cut at odd places: every pixel is computed exactly once across them.
                let cuts = [0, min(5, outputs), min(outputs, g.outW + 7), outputs / 2 + 1, outputs].sorted()
                for (lo, hi) in zip(cuts, cuts.dropFirst()) where lo < hi {
                    windowConvolution(padded, p, rows: lo..<hi, packedKernel: packed, filters: t.filters, bias: bias,
                                      relu: true, output: &actual)
                }
                for i in expected.indices where !(abs(actual[i] - expected[i]) <= 1e-4 * max(1, abs(expected[i]))) {
                    XCTFail("\(isa) \(t): output[\(i)] = \(actual[i]), expected \(expected[i])")
                    return
                }
            }
        }
    }

    /// `col2im` (contiguous-run fast path and the per-pixel edge path) against `col2imReference`.
    func testCol2imAgainstReference() throws {
        let cases: [(h: Int, w: Int, c: Int, k: (Int, Int), s: (Int, Int), d: (Int, Int), same: Bool)] = [
            (7, 9, 3, (3, 3), (1, 1), (1, 1), false), (8, 8, 5, (3, 3), (1, 1), (1, 1), true),
            (9, 7, 2, (3, 2), (2, 2), (1, 1), true), (10, 10, 4, (3, 3), (1, 1), (2, 2), true),
        ]
        for t in cases {
            let g = try WindowGeometry(inH: t.h, inW: t.w, channels: t.c, kernel: t.k, stride: t.s, dilation: t.d,
                                       same: t.same, layer: "test")
            let batch = 2, rows = batch * g.outH * g.outW
            var rng = RNG(seed: UInt64(t.h + t.c))
            let columns = (0..<(rows * g.patchSize)).map { _ in Float(rng.nextUniform(-1, 1)) }
            var actual = [Float](repeating: 0, count: batch * t.h * t.w * t.c), expected = actual
            col2im(columns, g, rows: 0..<rows, inputGrad: &actual)
            col2imReference(columns, g, rows: 0..<rows, inputGrad: &expected)
            for i in expected.indices where !(abs(actual[i] - expected[i]) <= 1e-5 * max(1, abs(expected[i]))) {
                XCTFail("\(t): inputGrad[\(i)] = \(actual[i]), expected \(expected[i])")
                return
            }
        }
    }
}
