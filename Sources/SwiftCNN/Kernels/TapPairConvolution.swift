/// A convolution over images so small that most of im2col's products would be with padding: VGG16's last block on
/// 32×32 inputs sees 2×2 images through a 3×3 'same' window, so 5 of the 9 taps of every output pixel fall outside
/// the image. Such a convolution is a sum over the (output pixel, input pixel) pairs that a kernel tap joins:
/// out[:, p, :] += in[:, q, :] · W[tap], one GEMM per pair (the batch's pixel q, rows inH·inW·c apart, times the
/// tap's c × f block of the HWIO kernel). Nothing is unfolded and no product is with a zero: 16 pairs instead of
/// 36 taps for 2×2 images. The backward passes are the same pairs read the other way. The twin is the direct
/// convolution (`conv2dReference`), which the tests compare with.
public struct TapPair: Equatable {
    /// Output pixel and input pixel (row-major within their images) and kernel tap (ky · kernelW + kx).
    public let output, input, tap: Int

    public init(output: Int, input: Int, tap: Int) {
        self.output = output
        self.input = input
        self.tap = tap
    }
}

/// The pairs of a geometry, in order of output pixel. Its loops run outH · outW · kernelH · kernelW times: callers
/// ask only for small images.
public func tapPairs(_ g: WindowGeometry) -> [TapPair] {
    var pairs: [TapPair] = []
    for oy in 0..<g.outH {
        for ox in 0..<g.outW {
            for ky in 0..<g.kernelH {
                for kx in 0..<g.kernelW {
                    let iy = oy * g.strideH - g.padTop + ky * g.dilationH
                    let ix = ox * g.strideW - g.padLeft + kx * g.dilationW
                    guard iy >= 0, iy < g.inH, ix >= 0, ix < g.inW else { continue }
                    pairs.append(TapPair(output: oy * g.outW + ox, input: iy * g.inW + ix, tap: ky * g.kernelW + kx))
                }
            }
        }
    }
    return pairs
}

/// Floats that `packTapsForward` / `packTapsForInputGradient` write for a geometry and filter count.
public func packedTapsCount(_ g: WindowGeometry, filters: Int) -> Int {
    g.kernelH * g.kernelW * max(packedBCount(k: g.channels, n: filters), packedBCount(k: filters, n: g.channels))
}

/// Each tap's c × f block of the HWIO kernel packed for the GEMM (tap t at t · packedBCount(k: c, n: f)), once for
/// all the pairs that use it.
public func packTapsForward(_ kernel: UnsafePointer<Float>, _ g: WindowGeometry, filters: Int,
                            into dst: UnsafeMutablePointer<Float>) {
    let c = g.channels, stride = packedBCount(k: c, n: filters)
    for t in 0..<g.kernelH * g.kernelW {
        packB(transB: false, k: c, n: filters, b: kernel + t * c * filters, ldb: filters, into: dst + t * stride)
    }
}

/// Each tap's block transposed (f × c) and packed, for the input gradient (tap t at t · packedBCount(k: f, n: c)).
public func packTapsForInputGradient(_ kernel: UnsafePointer<Float>, _ g: WindowGeometry, filters: Int,
                                     into dst: UnsafeMutablePointer<Float>) {
    let c = g.channels, stride = packedBCount(k: filters, n: c)
    for t in 0..<g.kernelH * g.kernelW {
        packB(transB: true, k: filters, n: c, b: kernel + t * c * filters, ldb: filters, into: dst + t * stride)
    }
}

/// out[b, p, :] = Σ over p's pairs of in[b, q, :] · W[tap], then + bias and ReLU (with the last pair's GEMM).
/// `packedTaps`: from `packTapsForward`, or nil (each GEMM reads its tap in place). An output pixel without pairs
/// (only a window wholly in padding has none) is bias and ReLU alone.
public func tapPairForward(_ input: UnsafePointer<Float>, batch: Int, _ g: WindowGeometry, pairs: [TapPair],
                           kernel: UnsafePointer<Float>, packedTaps: UnsafePointer<Float>?, filters: Int,
                           bias: UnsafePointer<Float>?, relu: Bool, output: UnsafeMutablePointer<Float>) {
    let c = g.channels, f = filters, inPixels = g.inH * g.inW, outPixels = g.outH * g.outW
    let packedStride = packedBCount(k: c, n: f)
    for p in 0..<outPixels {
        var lastPair = -1
        for (i, pair) in pairs.enumerated() where pair.output == p { lastPair = i }
        guard lastPair >= 0 else {
            for b in 0..<batch {
                let row = output + (b * outPixels + p) * f
                for j in 0..<f { row[j] = relu ? max(bias?[j] ?? 0, 0) : bias?[j] ?? 0 }
            }
            continue
        }
        var first = true
        for (i, pair) in pairs.enumerated() where pair.output == p {
            let last = i == lastPair
            gemm(transA: false, transB: false, m: batch, n: f, k: c, alpha: 1, a: input + pair.input * c,
                 lda: inPixels * c, b: kernel + pair.tap * c * f, ldb: f, beta: first ? 0 : 1, c: output + p * f,
                 ldc: outPixels * f, bias: last ? bias : nil, relu: last && relu,
                 packedB: packedTaps.map { $0 + pair.tap * packedStride })
            first = false
        }
    }
}

/// dIn[b, q, :] = Σ over q's pairs of preGrad[b, p, :] · W[tap]ᵀ; an input pixel no window reaches gets zeros.
/// `packedTaps`: from `packTapsForInputGradient`, or nil.
public func tapPairInputGradient(_ preGrad: UnsafePointer<Float>, batch: Int, _ g: WindowGeometry, pairs: [TapPair],
                                 kernel: UnsafePointer<Float>, packedTaps: UnsafePointer<Float>?, filters: Int,
                                 inputGrad: UnsafeMutablePointer<Float>) {
    let c = g.channels, f = filters, inPixels = g.inH * g.inW, outPixels = g.outH * g.outW
    let packedStride = packedBCount(k: f, n: c)
    for q in 0..<inPixels {
        var first = true
        for pair in pairs where pair.input == q {
            gemm(transA: false, transB: true, m: batch, n: c, k: f, alpha: 1, a: preGrad + pair.output * f,
                 lda: outPixels * f, b: kernel + pair.tap * c * f, ldb: f, beta: first ? 0 : 1,
                 c: inputGrad + q * c, ldc: inPixels * c, packedB: packedTaps.map { $0 + pair.tap * packedStride })
            first = false
        }
        if first {
            for b in 0..<batch { (inputGrad + (b * inPixels + q) * c).initialize(repeating: 0, count: c) }
        }
    }
}

/// dW[tap] = Σ over the tap's pairs of in[:, q, :]ᵀ · preGrad[:, p, :]; a tap no pair uses gets zeros.
public func tapPairWeightGradient(_ input: UnsafePointer<Float>, preGrad: UnsafePointer<Float>, batch: Int,
                                  _ g: WindowGeometry, pairs: [TapPair], filters: Int,
                                  kernelGrad: UnsafeMutablePointer<Float>) {
    let c = g.channels, f = filters, inPixels = g.inH * g.inW, outPixels = g.outH * g.outW
    for t in 0..<g.kernelH * g.kernelW {
        var first = true
        for pair in pairs where pair.tap == t {
            gemm(transA: true, transB: false, m: c, n: f, k: batch, alpha: 1, a: input + pair.input * c,
                 lda: inPixels * c, b: preGrad + pair.output * f, ldb: outPixels * f, beta: first ? 0 : 1,
                 c: kernelGrad + t * c * f, ldc: f)
            first = false
        }
        if first { (kernelGrad + t * c * f).initialize(repeating: 0, count: c * f) }
    }
}
