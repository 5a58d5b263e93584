import XCTest
@testable import SwiftCNN

/// Winograd F(2×2, 3×3) against direct convolution (`conv2dReference`, in doubles): the forward pass with any
/// padding, odd sizes (tiles past the output) and channel counts that are not multiples of 8, and the input
/// gradient (the flipped kernel). The error is bounded relative to the sum of |terms| of each output.
final class WinogradTests: XCTestCase {
    private func forward(h: Int, w: Int, c: Int, f: Int, same: Bool, batch: Int, relu: Bool, line: UInt = #line) throws {
        let g = try WindowGeometry(inH: h, inW: w, channels: c, kernel: (3, 3), stride: (1, 1), dilation: (1, 1),
                                   same: same, layer: "test")
        var rng = RNG(seed: UInt64(h * 31 + w * 7 + c + f))
        let x = (0..<(batch * h * w * c)).map { _ in Float(rng.nextUniform(-1, 1)) }
        let kernel = (0..<(9 * c * f)).map { _ in Float(rng.nextUniform(-1, 1)) }
        let bias = (0..<f).map { _ in Float(rng.nextUniform(-1, 1)) }
        var transformed = [Float](repeating: .nan, count: WinogradShape.kernelCount(channels: c, filters: f))
        winogradTransformKernel(kernel, channels: c, filters: f, flipped: false, into: &transformed)
        let shape = WinogradShape(batch: batch, inH: h, inW: w, channels: c, filters: f, padTop: g.padTop,
                                  padLeft: g.padLeft, outH: g.outH, outW: g.outW)
        let n = batch * g.outH * g.outW * f
        var y = [Float](repeating: .nan, count: n), expected = y
        winogradConvolution(x, shape, transformedKernel: transformed, bias: bias, relu: relu, output: &y)
        conv2dReference(x, batch: batch, g, kernel: kernel, filters: f, output: &expected)
        for i in 0..<n {
            expected[i] += bias[i % f]
            if relu { expected[i] = max(expected[i], 0) }
        }
        // Each output sums 9·c products of values below 1: a few roundings of that magnitude.
        let bound = 1e-5 * Float(9 * c)
        for i in 0..<n where !(abs(y[i] - expected[i]) <= bound) {
            XCTFail("y[\(i)] = \(y[i]), expected \(expected[i]) (\(h)x\(w)x\(c)→\(f), same \(same))", line: line)
            return
        }
    }

    func testForwardAgainstDirectConvolution() throws {
        let saved = engineThreadCount
        defer { setEngineThreadCount(saved) }
        try forEachInstructionSet { _ in for threads in [1, 2] {
            setEngineThreadCount(threads)
            try forward(h: 8, w: 8, c: 16, f: 32, same: false, batch: 2, relu: true)
            try forward(h: 9, w: 7, c: 5, f: 11, same: false, batch: 3, relu: false)     // odd output, lane tails
            try forward(h: 9, w: 7, c: 5, f: 11, same: true, batch: 3, relu: true)
            try forward(h: 3, w: 3, c: 8, f: 8, same: false, batch: 1, relu: false)      // one output pixel
            try forward(h: 2, w: 2, c: 24, f: 40, same: true, batch: 5, relu: false)     // VGG's 2×2 layers
            try forward(h: 30, w: 30, c: 32, f: 64, same: false, batch: 4, relu: true)   // several chunks
        } }
    }

    func testInputGradientAgainstDirectLoops() throws {
        try forEachInstructionSet { _ in try inputGradient() }
    }

    private func inputGradient() throws {
        // (6, 6, 40, 20): the rotated kernel's 40 filters span two panels, its 20 channels two vectors and a tail.
        for (h, w, c, f, same) in [(8, 8, 16, 24, false), (9, 7, 5, 11, true), (9, 7, 5, 11, false), (4, 6, 8, 8, true),
                                   (6, 6, 40, 20, true)] {
            let g = try WindowGeometry(inH: h, inW: w, channels: c, kernel: (3, 3), stride: (1, 1), dilation: (1, 1),
                                       same: same, layer: "test")
            let batch = 2
            var rng = RNG(seed: UInt64(h + w + c + f))
            let kernel = (0..<(9 * c * f)).map { _ in Float(rng.nextUniform(-1, 1)) }
            let dy = (0..<(batch * g.outH * g.outW * f)).map { _ in Float(rng.nextUniform(-1, 1)) }
            var transformed = [Float](repeating: .nan, count: WinogradShape.kernelCount(channels: f, filters: c))
            winogradTransformKernel(kernel, channels: f, filters: c, flipped: true, into: &transformed)
            let shape = WinogradShape(batch: batch, inH: g.outH, inW: g.outW, channels: f, filters: c,
                                      padTop: 2 - g.padTop, padLeft: 2 - g.padLeft, outH: h, outW: w)
            var dx = [Float](repeating: .nan, count: batch * h * w * c)
            winogradConvolution(dy, shape, transformedKernel: transformed, bias: nil, relu: false, output: &dx)
            var expected = [Double](repeating: 0, count: dx.count)
            for b in 0..<batch { for oy in 0..<g.outH { for ox in 0..<g.outW { for ff in 0..<f {
                let grad = Double(dy[((b * g.outH + oy) * g.outW + ox) * f + ff])
                for ky in 0..<3 { for kx in 0..<3 {
                    let iy = oy - g.padTop + ky, ix = ox - g.padLeft + kx
                    guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                    for ch in 0..<c {
                        expected[((b * h + iy) * w + ix) * c + ch] += Double(kernel[((ky * 3 + kx) * c + ch) * f + ff]) * grad
                    }
                } }
            } } } }
            let bound = 1e-5 * Double(9 * f)
            for i in 0..<dx.count where !(abs(Double(dx[i]) - expected[i]) <= bound) {
                XCTFail("dx[\(i)] = \(dx[i]), expected \(expected[i]) (\(h)x\(w)x\(c)→\(f), same \(same))")
                break
            }
        }
    }
}
