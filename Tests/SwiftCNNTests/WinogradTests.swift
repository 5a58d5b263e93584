import XCTest
@testable import SwiftCNN

/// Winograd F(2×2, 3×3) and F(4×4, 3×3) against direct convolution (`conv2dReference`, in doubles): the forward pass
/// with any padding, odd sizes (tiles past the output) and channel counts that are not multiples of 8, the fused
/// 2×2 max pooling, and the input gradient (the flipped kernel). The error is bounded relative to the sum of |terms|
/// of each output.
final class WinogradTests: XCTestCase {
    /// The error bound per unit of a sum of `terms` products of values below 1: a few roundings for F(2×2, 3×3); the
    /// larger tile's transforms (coefficients up to 8 and 1/24) amplify them several times.
    private func bound(terms: Int, tileSize: Int) -> Float { (tileSize == 2 ? 1e-5 : 2e-5) * Float(terms) }

    private func forward(h: Int, w: Int, c: Int, f: Int, same: Bool, batch: Int, relu: Bool, tileSize: Int,
                         line: UInt = #line) throws {
        let g = try WindowGeometry(inH: h, inW: w, channels: c, kernel: (3, 3), stride: (1, 1), dilation: (1, 1),
                                   same: same, layer: "test")
        var rng = RNG(seed: UInt64(h * 31 + w * 7 + c + f))
        let x = (0..<(batch * h * w * c)).map { _ in Float(rng.nextUniform(-1, 1)) }
        let kernel = (0..<(9 * c * f)).map { _ in Float(rng.nextUniform(-1, 1)) }
        let bias = (0..<f).map { _ in Float(rng.nextUniform(-1, 1)) }
        var transformed = [Float](repeating: .nan, count: WinogradShape.kernelCount(channels: c, filters: f,
                                                                                     tileSize: tileSize))
        winogradTransformKernel(kernel, channels: c, filters: f, flipped: false, tileSize: tileSize, into: &transformed)
        let shape = WinogradShape(batch: batch, inH: h, inW: w, channels: c, filters: f, padTop: g.padTop,
                                  padLeft: g.padLeft, outH: g.outH, outW: g.outW, tileSize: tileSize)
        let n = batch * g.outH * g.outW * f
        let pooledH = g.outH / 2, pooledW = g.outW / 2
        var y = [Float](repeating: .nan, count: n), expected = y
        var pooled = [Float](repeating: .nan, count: batch * pooledH * pooledW * f)
        pooled.withUnsafeMutableBufferPointer { p in
            winogradConvolution(x, shape, transformedKernel: transformed, bias: bias, relu: relu, output: &y,
                                pooled: p.baseAddress)
        }
        conv2dReference(x, batch: batch, g, kernel: kernel, filters: f, output: &expected)
        for i in 0..<n {
            expected[i] += bias[i % f]
            if relu { expected[i] = max(expected[i], 0) }
        }
        // Each output sums 9·c products of values below 1: a few roundings of that magnitude.
        let bound = bound(terms: 9 * c, tileSize: tileSize)
        for i in 0..<n where !(abs(y[i] - expected[i]) <= bound) {
            XCTFail("y[\(i)] = \(y[i]), expected \(expected[i]) (\(h)x\(w)x\(c)→\(f), same \(same), tiles of \(tileSize))",
                    line: line)
            return
        }
        // The pooled maxima are those of the stored outputs, bit for bit.
        for b in 0..<batch { for py in 0..<pooledH { for px in 0..<pooledW { for j in 0..<f {
            var largest = -Float.infinity
            for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                largest = max(largest, y[((b * g.outH + 2 * py + dy) * g.outW + 2 * px + dx) * f + j])
            }
            let got = pooled[((b * pooledH + py) * pooledW + px) * f + j]
            if got != largest {
                XCTFail("pooled (\(b), \(py), \(px), \(j)) = \(got), expected \(largest) (tiles of \(tileSize))", line: line)
                return
            }
        } } } }
    }

    func testForwardAgainstDirectConvolution() throws {
        let saved = engineThreadCount
        defer { setEngineThreadCount(saved) }
        try forEachInstructionSet { _ in for threads in [1, 2] { for tile in [2, 4] {
            setEngineThreadCount(threads)
            try forward(h: 8, w: 8, c: 16, f: 32, same: false, batch: 2, relu: true, tileSize: tile)
            try forward(h: 9, w: 7, c: 5, f: 11, same: false, batch: 3, relu: false, tileSize: tile)  // odd output, lane tails
            try forward(h: 9, w: 7, c: 5, f: 11, same: true, batch: 3, relu: true, tileSize: tile)
            try forward(h: 3, w: 3, c: 8, f: 8, same: false, batch: 1, relu: false, tileSize: tile)   // one output pixel
            try forward(h: 2, w: 2, c: 24, f: 40, same: true, batch: 5, relu: false, tileSize: tile)  // VGG's 2×2 layers
            try forward(h: 30, w: 30, c: 32, f: 64, same: false, batch: 4, relu: true, tileSize: tile)  // several chunks
            try forward(h: 14, w: 14, c: 16, f: 16, same: true, batch: 3, relu: true, tileSize: tile)   // partial 4×4 tiles
            try forward(h: 7, w: 7, c: 16, f: 24, same: true, batch: 2, relu: false, tileSize: tile)
            try forward(h: 6, w: 5, c: 20, f: 136, same: true, batch: 2, relu: true, tileSize: tile)  // planes apart
            try forward(h: 6, w: 5, c: 144, f: 16, same: true, batch: 2, relu: true, tileSize: tile)  // 16s, planes apart
        } } }
    }

    func testInputGradientAgainstDirectLoops() throws {
        try forEachInstructionSet { _ in for tile in [2, 4] { try inputGradient(tileSize: tile) } }
    }

    private func inputGradient(tileSize: Int) throws {
        // (6, 6, 40, 20): the rotated kernel's 40 filters span two panels, its 20 channels two vectors and a tail.
        for (h, w, c, f, same) in [(8, 8, 16, 24, false), (9, 7, 5, 11, true), (9, 7, 5, 11, false), (4, 6, 8, 8, true),
                                   (6, 6, 40, 20, true), (5, 5, 136, 8, true), (7, 7, 8, 32, true)] {
            let g = try WindowGeometry(inH: h, inW: w, channels: c, kernel: (3, 3), stride: (1, 1), dilation: (1, 1),
                                       same: same, layer: "test")
            let batch = 2
            var rng = RNG(seed: UInt64(h + w + c + f))
            let kernel = (0..<(9 * c * f)).map { _ in Float(rng.nextUniform(-1, 1)) }
            let dy = (0..<(batch * g.outH * g.outW * f)).map { _ in Float(rng.nextUniform(-1, 1)) }
            var transformed = [Float](repeating: .nan, count: WinogradShape.kernelCount(channels: f, filters: c,
                                                                                         tileSize: tileSize))
            winogradTransformKernel(kernel, channels: f, filters: c, flipped: true, tileSize: tileSize, into: &transformed)
            let shape = WinogradShape(batch: batch, inH: g.outH, inW: g.outW, channels: f, filters: c,
                                      padTop: 2 - g.padTop, padLeft: 2 - g.padLeft, outH: h, outW: w, tileSize: tileSize)
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
            let bound = Double(bound(terms: 9 * f, tileSize: tileSize))
            for i in 0..<dx.count where !(abs(Double(dx[i]) - expected[i]) <= bound) {
                XCTFail("dx[\(i)] = \(dx[i]), expected \(expected[i]) (\(h)x\(w)x\(c)→\(f), same \(same), tiles of \(tileSize))")
                break
            }
        }
    }
    /// The weight gradient (both tile sizes) against direct loops: the kernel and bias gradients, and the
    /// pre-activation gradient it stores on the way (masked by ReLU's output).
    func testWeightGradientAgainstDirectLoops() throws {
        let saved = engineThreadCount
        defer { setEngineThreadCount(saved) }
        try forEachInstructionSet { _ in for threads in [1, 2] { for tile in [2, 4] {
            setEngineThreadCount(threads)
            for (h, w, c, f, same, relu) in [(8, 8, 16, 24, true, true), (9, 7, 5, 11, false, false), (9, 7, 5, 11, true, true),
                                             (14, 14, 16, 16, true, false), (30, 30, 8, 40, false, true),
                                             (6, 6, 12, 130, true, true), (5, 6, 144, 16, true, false)] {
                try weightGradient(h: h, w: w, c: c, f: f, same: same, relu: relu, tileSize: tile)
            }
        } } }
    }

    private func weightGradient(h: Int, w: Int, c: Int, f: Int, same: Bool, relu: Bool, tileSize: Int,
                                line: UInt = #line) throws {
        let g = try WindowGeometry(inH: h, inW: w, channels: c, kernel: (3, 3), stride: (1, 1), dilation: (1, 1),
                                   same: same, layer: "test")
        let batch = 3
        var rng = RNG(seed: UInt64(h * 5 + w + c * 3 + f))
        let x = (0..<(batch * h * w * c)).map { _ in Float(rng.nextUniform(-1, 1)) }
        let outCount = batch * g.outH * g.outW * f
        let y = (0..<outCount).map { _ in Float(rng.nextUniform(-1, 1)) }
        let dy = (0..<outCount).map { _ in Float(rng.nextUniform(-1, 1)) }
        let shape = WinogradShape(batch: batch, inH: h, inW: w, channels: c, filters: f, padTop: g.padTop,
                                  padLeft: g.padLeft, outH: g.outH, outW: g.outW, tileSize: tileSize)
        var dW = [Float](repeating: .nan, count: 9 * c * f), dB = [Float](repeating: .nan, count: f)
        var pre = [Float](repeating: .nan, count: outCount)
        var dU = [Float](repeating: .nan, count: WinogradShape.kernelCount(channels: c, filters: f, tileSize: tileSize))
        pre.withUnsafeMutableBufferPointer { p in
            winogradWeightGradient(x, shape, output: y, outputGrad: dy, relu: relu, preGrad: relu ? p.baseAddress : nil,
                                   kernelGrad: &dW, biasGrad: &dB, dU: &dU)
        }
        let expectedPre = (0..<outCount).map { relu && !(y[$0] > 0) ? Float(0) : dy[$0] }
        if relu {
            for i in 0..<outCount where pre[i] != expectedPre[i] {
                XCTFail("preGrad[\(i)] = \(pre[i]), expected \(expectedPre[i]) (tiles of \(tileSize))", line: line)
                return
            }
        }
        var expectedW = [Double](repeating: 0, count: 9 * c * f), expectedB = [Double](repeating: 0, count: f)
        for b in 0..<batch { for oy in 0..<g.outH { for ox in 0..<g.outW { for ff in 0..<f {
            let grad = Double(expectedPre[((b * g.outH + oy) * g.outW + ox) * f + ff])
            expectedB[ff] += grad
            for ky in 0..<3 { for kx in 0..<3 {
                let iy = oy - g.padTop + ky, ix = ox - g.padLeft + kx
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                for ch in 0..<c {
                    expectedW[((ky * 3 + kx) * c + ch) * f + ff] += Double(x[((b * h + iy) * w + ix) * c + ch]) * grad
                }
            } }
        } } } }
        // Each kernel entry sums one product per output pixel.
        let bound = Double(bound(terms: batch * g.outH * g.outW, tileSize: tileSize))
        for i in 0..<dW.count where !(abs(Double(dW[i]) - expectedW[i]) <= bound) {
            XCTFail("dW[\(i)] = \(dW[i]), expected \(expectedW[i]) (\(h)x\(w)x\(c)→\(f), tiles of \(tileSize))", line: line)
            return
        }
        for i in 0..<f where !(abs(Double(dB[i]) - expectedB[i]) <= bound) {
            XCTFail("dB[\(i)] = \(dB[i]), expected \(expectedB[i]) (tiles of \(tileSize))", line: line)
            return
        }
    }
}
