/// Max pooling over NHWC windows: input (batch, inH, inW, c) → output (batch, outH, outW, c). Padding cells never
/// win. The inner loop runs over channels with no data-dependent branch, so it vectorises; backward finds the
/// winning cell again instead of forward recording it.
public func maxPoolForward(_ input: UnsafePointer<Float>, batch: Int, _ g: WindowGeometry,
                           output: UnsafeMutablePointer<Float>) {
    parallelFor(batch * g.outH, minChunk: 8, context: (input, g, output)) { context, lo, hi in
        let (input, g, output) = context.assumingMemoryBound(
            to: (UnsafePointer<Float>, WindowGeometry, UnsafeMutablePointer<Float>).self).pointee
        maxPoolRows(input, g, output: output, rows: lo..<hi)
    }
}

/// Max pooling of output rows `rows` (numbered across the batch: row = b · outH + oy), serially; a convolution
/// with a fused pooling calls it for the rows its chunk completes.
public func maxPoolRows(_ input: UnsafePointer<Float>, _ g: WindowGeometry, output: UnsafeMutablePointer<Float>,
                        rows: Range<Int>) {
    let c = g.channels
    let inside = g.padTop == 0 && g.padLeft == 0 && (g.outH - 1) * g.strideH + g.kernelH <= g.inH
        && (g.outW - 1) * g.strideW + g.kernelW <= g.inW
    if inside && c % 8 == 0 {
        return maxPoolRowsInside(input, g, output: output, rows: rows)
    }
    for bo in rows {
        let b = bo / g.outH, oy = bo % g.outH
        for ox in 0..<g.outW {
            let o = output + ((b * g.outH + oy) * g.outW + ox) * c
            // Eight channels at a time, the running maximum in a register (stored once per window).
            var ch = 0
            while ch < c {
                var peak = SIMD8<Float>(repeating: -Float.infinity)
                let lanes = min(8, c - ch)
                for ky in 0..<g.kernelH {
                    let y = oy * g.strideH - g.padTop + ky
                    guard y >= 0, y < g.inH else { continue }
                    for kx in 0..<g.kernelW {
                        let x = ox * g.strideW - g.padLeft + kx
                        guard x >= 0, x < g.inW else { continue }
                        let i = input + ((b * g.inH + y) * g.inW + x) * c + ch
                        if lanes == 8 {
                            let v = UnsafeRawPointer(i).loadUnaligned(as: SIMD8<Float>.self)
                            peak = peak.replacing(with: v, where: v .> peak)
                        } else {
                            for l in 0..<lanes where i[l] > peak[l] { peak[l] = i[l] }
                        }
                    }
                }
                if lanes == 8 {
                    UnsafeMutableRawPointer(o + ch).storeBytes(of: peak, as: SIMD8<Float>.self)
                } else {
                    for l in 0..<lanes { o[ch + l] = peak[l] }
                }
                ch += lanes
            }
        }
    }
}

/// `maxPoolRows` when every window lies inside the image and channels come in whole vectors of 8 (the usual
/// 'valid' 2×2 pooling): no bounds checks or lane tails in the loop.
private func maxPoolRowsInside(_ input: UnsafePointer<Float>, _ g: WindowGeometry, output: UnsafeMutablePointer<Float>,
                               rows: Range<Int>) {
    let c = g.channels, inW = g.inW, kh = g.kernelH, kw = g.kernelW, outW = g.outW
    let imageSize = g.inH * inW * c, pixelStep = g.strideW * c, inputRow = inW * c
    if kh == 2 && kw == 2 {
        // The usual 2×2 window unrolled: four loads and three compares per 8 channels, in the generic loop's
        // order (so ties and NaNs come out the same).
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
            UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
        }
        @inline(__always) func update(_ peak: SIMD8<Float>, _ v: SIMD8<Float>) -> SIMD8<Float> {
            peak.replacing(with: v, where: v .> peak)
        }
        for bo in rows {
            let b = bo / g.outH, oy = bo % g.outH
            let windowRow = input + b * imageSize + oy * g.strideH * inputRow
            var o = output + bo * outW * c
            for ox in 0..<outW {
                let top = windowRow + ox * pixelStep, bottom = top + inputRow
                var ch = 0
                while ch < c {
                    var peak = update(SIMD8<Float>(repeating: -Float.infinity), load(top + ch))
                    peak = update(peak, load(top + c + ch))
                    peak = update(peak, load(bottom + ch))
                    peak = update(peak, load(bottom + c + ch))
                    UnsafeMutableRawPointer(o + ch).storeBytes(of: peak, as: SIMD8<Float>.self)
                    ch += 8
                }
                o += c
            }
        }
        return
    }
    for bo in rows {
        let b = bo / g.outH, oy = bo % g.outH
        let windowRow = input + b * imageSize + oy * g.strideH * inputRow
        var o = output + bo * outW * c
        for ox in 0..<outW {
            let window = windowRow + ox * pixelStep
            var ch = 0
            while ch < c {
                var peak = SIMD8<Float>(repeating: -Float.infinity)
                var cell = window + ch
                for _ in 0..<kh {
                    for kx in 0..<kw {
                        let v = UnsafeRawPointer(cell + kx * c).loadUnaligned(as: SIMD8<Float>.self)
                        peak = peak.replacing(with: v, where: v .> peak)
                    }
                    cell += inputRow
                }
                UnsafeMutableRawPointer(o + ch).storeBytes(of: peak, as: SIMD8<Float>.self)
                ch += 8
            }
            o += c
        }
    }
}

/// Routes each output gradient to the first cell of its window (row-major) that holds the maximum, as the
/// forward pass found it. `inputGrad` is overwritten. Channels go 8 at a time with SIMD masks (which cell
/// already won is a mask, not a branch); `taken` is unused scratch kept for the layer's workspace contract.
public func maxPoolBackward(_ outputGrad: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                            batch: Int, _ g: WindowGeometry, inputGrad: UnsafeMutablePointer<Float>,
                            taken: UnsafeMutablePointer<Float>) {
    parallelFor(batch, minChunk: 1, context: (outputGrad, input, output, g, inputGrad)) { context, lo, hi in
        let (dy, input, output, g, dx) = context.assumingMemoryBound(
            to: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, WindowGeometry,
                 UnsafeMutablePointer<Float>).self).pointee
        let c = g.channels, inSize = g.inH * g.inW * c
        let tiled = g.strideH == g.kernelH && g.strideW == g.kernelW && g.padTop == 0 && g.padLeft == 0
            && g.outH * g.kernelH <= g.inH && g.outW * g.kernelW <= g.inW && c % 8 == 0
        for b in lo..<hi {
            if tiled {
                maxPoolBackwardTiled(dy, input, output, dx, g, image: b)
                continue
            }
            (dx + b * inSize).initialize(repeating: 0, count: inSize)
            for oy in 0..<g.outH {
                for ox in 0..<g.outW {
                    let o = ((b * g.outH + oy) * g.outW + ox) * c
                    var ch = 0
                    while ch < c {
                        let lanes = min(8, c - ch)
                        if lanes == 8 {
                            maxPoolRoute8(dy + o + ch, input, output + o + ch, dx, g, b, oy, ox, ch)
                        } else {
                            for k in ch..<(ch + lanes) { maxPoolRoute1(dy[o + k], input, output[o + k], dx, g, b, oy, ox, k) }
                        }
                        ch += lanes
                    }
                }
            }
        }
    }
}

/// `maxPoolBackward` of one image when the windows tile it without overlap (stride = window, no padding: the
/// usual 2×2 pooling) and channels come in vectors of 8: every covered cell is written once, the gradient or 0,
/// and only the cells no window covers are cleared, so dx is neither cleared first nor read back.
private func maxPoolBackwardTiled(_ dy: UnsafePointer<Float>, _ input: UnsafePointer<Float>, _ output: UnsafePointer<Float>,
                                  _ dx: UnsafeMutablePointer<Float>, _ g: WindowGeometry, image b: Int) {
    let c = g.channels, kh = g.kernelH, kw = g.kernelW, inputRow = g.inW * c
    let image = b * g.inH * inputRow, coveredH = g.outH * kh, coveredW = g.outW * kw
    for y in 0..<g.inH {
        let row = dx + image + y * inputRow
        if y >= coveredH {
            row.initialize(repeating: 0, count: inputRow)
        } else if coveredW < g.inW {
            (row + coveredW * c).initialize(repeating: 0, count: (g.inW - coveredW) * c)
        }
    }
    let zero = SIMD8<Float>(repeating: 0)
    for oy in 0..<g.outH {
        for ox in 0..<g.outW {
            let o = ((b * g.outH + oy) * g.outW + ox) * c
            let corner = image + (oy * kh * g.inW + ox * kw) * c
            var ch = 0
            while ch < c {
                let grad = UnsafeRawPointer(dy + o + ch).loadUnaligned(as: SIMD8<Float>.self)
                let peak = UnsafeRawPointer(output + o + ch).loadUnaligned(as: SIMD8<Float>.self)
                var done = SIMDMask<SIMD8<Int32>>(repeating: false)
                var cell = corner + ch
                for _ in 0..<kh {
                    for kx in 0..<kw {
                        let v = UnsafeRawPointer(input + cell + kx * c).loadUnaligned(as: SIMD8<Float>.self)
                        let wins = (v .== peak) .& .!done
                        UnsafeMutableRawPointer(dx + cell + kx * c).storeBytes(of: zero.replacing(with: grad, where: wins),
                                                                            as: SIMD8<Float>.self)
                        done = done .| wins
                    }
                    cell += inputRow
                }
                ch += 8
            }
        }
    }
}

@inline(__always)
private func maxPoolRoute8(_ dy: UnsafePointer<Float>, _ input: UnsafePointer<Float>, _ out: UnsafePointer<Float>,
                           _ dx: UnsafeMutablePointer<Float>, _ g: WindowGeometry, _ b: Int, _ oy: Int, _ ox: Int, _ ch: Int) {
    let grad = UnsafeRawPointer(dy).loadUnaligned(as: SIMD8<Float>.self)
    let peak = UnsafeRawPointer(out).loadUnaligned(as: SIMD8<Float>.self)
    var done = SIMDMask<SIMD8<Int32>>(repeating: false)
    for ky in 0..<g.kernelH {
        let y = oy * g.strideH - g.padTop + ky
        guard y >= 0, y < g.inH else { continue }
        for kx in 0..<g.kernelW {
            let x = ox * g.strideW - g.padLeft + kx
            guard x >= 0, x < g.inW else { continue }
            let i = ((b * g.inH + y) * g.inW + x) * g.channels + ch
            let v = UnsafeRawPointer(input + i).loadUnaligned(as: SIMD8<Float>.self)
            let wins = (v .== peak) .& .!done
            let raw = UnsafeMutableRawPointer(dx + i)
            let current = raw.loadUnaligned(as: SIMD8<Float>.self)
            raw.storeBytes(of: current + SIMD8<Float>(repeating: 0).replacing(with: grad, where: wins), as: SIMD8<Float>.self)
            done = done .| wins
        }
    }
}

@inline(__always)
private func maxPoolRoute1(_ grad: Float, _ input: UnsafePointer<Float>, _ peak: Float, _ dx: UnsafeMutablePointer<Float>,
                           _ g: WindowGeometry, _ b: Int, _ oy: Int, _ ox: Int, _ ch: Int) {
    for ky in 0..<g.kernelH {
        let y = oy * g.strideH - g.padTop + ky
        guard y >= 0, y < g.inH else { continue }
        for kx in 0..<g.kernelW {
            let x = ox * g.strideW - g.padLeft + kx
            guard x >= 0, x < g.inW else { continue }
            let i = ((b * g.inH + y) * g.inW + x) * g.channels + ch
            if input[i] == peak {
                dx[i] += grad
                return
            }
        }
    }
}

/// Average pooling; like Keras, windows that overhang 'same' padding average only their in-bounds cells.
public func avgPoolForward(_ input: UnsafePointer<Float>, batch: Int, _ g: WindowGeometry, output: UnsafeMutablePointer<Float>) {
    let c = g.channels
    parallelFor(batch * g.outH, minChunk: 8, context: (input, g, output, c)) { context, lo, hi in
        let (input, g, output, c) = context.assumingMemoryBound(to: (UnsafePointer<Float>, WindowGeometry, UnsafeMutablePointer<Float>, Int).self).pointee
        let range = lo..<hi
        for bo in range {
            let b = bo / g.outH, oy = bo % g.outH
            for ox in 0..<g.outW {
                let o = ((b * g.outH + oy) * g.outW + ox) * c
                for ch in 0..<c { output[o + ch] = 0 }
                var cells = 0
                for ky in 0..<g.kernelH {
                    let y = oy * g.strideH - g.padTop + ky
                    guard y >= 0, y < g.inH else { continue }
                    for kx in 0..<g.kernelW {
                        let x = ox * g.strideW - g.padLeft + kx
                        guard x >= 0, x < g.inW else { continue }
                        cells += 1
                        let i = ((b * g.inH + y) * g.inW + x) * c
                        for ch in 0..<c { output[o + ch] += input[i + ch] }
                    }
                }
                let inv = 1 / Float(max(cells, 1))
                for ch in 0..<c { output[o + ch] *= inv }
            }
        }
    }
}

/// Adjoint of `avgPoolForward`; `inputGrad` is overwritten.
public func avgPoolBackward(_ outputGrad: UnsafePointer<Float>, batch: Int, _ g: WindowGeometry, inputGrad: UnsafeMutablePointer<Float>) {
    let c = g.channels, inSize = g.inH * g.inW * c
    parallelFor(batch, minChunk: 1, context: (outputGrad, g, inputGrad, c, inSize)) { context, lo, hi in
        let (outputGrad, g, inputGrad, c, inSize) = context.assumingMemoryBound(to: (UnsafePointer<Float>, WindowGeometry, UnsafeMutablePointer<Float>, Int, Int).self).pointee
        let range = lo..<hi
        for b in range {
            (inputGrad + b * inSize).initialize(repeating: 0, count: inSize)
            for oy in 0..<g.outH {
                for ox in 0..<g.outW {
                    let y0 = max(oy * g.strideH - g.padTop, 0), y1 = min(oy * g.strideH - g.padTop + g.kernelH, g.inH)
                    let x0 = max(ox * g.strideW - g.padLeft, 0), x1 = min(ox * g.strideW - g.padLeft + g.kernelW, g.inW)
                    let inv = 1 / Float(max((y1 - y0) * (x1 - x0), 1))
                    let o = ((b * g.outH + oy) * g.outW + ox) * c
                    for y in y0..<y1 {
                        for x in x0..<x1 {
                            let i = ((b * g.inH + y) * g.inW + x) * c
                            for ch in 0..<c { inputGrad[i + ch] += outputGrad[o + ch] * inv }
                        }
                    }
                }
            }
        }
    }
}

/// Naive max pooling, the oracle for `maxPoolForward`: the largest in-bounds cell of every window, channel by
/// channel (padding cells never win).
public func maxPoolReference(_ input: UnsafePointer<Float>, batch: Int, _ g: WindowGeometry,
                             output: UnsafeMutablePointer<Float>) {
    let c = g.channels
    for b in 0..<batch {
        for oy in 0..<g.outH {
            for ox in 0..<g.outW {
                for ch in 0..<c {
                    var peak = -Float.infinity
                    for ky in 0..<g.kernelH {
                        for kx in 0..<g.kernelW {
                            let y = oy * g.strideH - g.padTop + ky, x = ox * g.strideW - g.padLeft + kx
                            guard y >= 0, y < g.inH, x >= 0, x < g.inW else { continue }
                            peak = max(peak, input[((b * g.inH + y) * g.inW + x) * c + ch])
                        }
                    }
                    output[((b * g.outH + oy) * g.outW + ox) * c + ch] = peak
                }
            }
        }
    }
}

/// Naive max-pooling backward, the oracle for `maxPoolBackward`: each output gradient goes to the first cell of its
/// window (row-major) that holds the window's maximum; `inputGrad` is overwritten.
public func maxPoolBackwardReference(_ outputGrad: UnsafePointer<Float>, input: UnsafePointer<Float>, batch: Int,
                                     _ g: WindowGeometry, inputGrad: UnsafeMutablePointer<Float>) {
    let c = g.channels
    inputGrad.initialize(repeating: 0, count: batch * g.inH * g.inW * c)
    for b in 0..<batch { for oy in 0..<g.outH { for ox in 0..<g.outW { for ch in 0..<c {
        var best = -1, peak = -Float.infinity
        for ky in 0..<g.kernelH { for kx in 0..<g.kernelW {
            let y = oy * g.strideH - g.padTop + ky, x = ox * g.strideW - g.padLeft + kx
            guard y >= 0, y < g.inH, x >= 0, x < g.inW else { continue }
            let i = ((b * g.inH + y) * g.inW + x) * c + ch
            if best < 0 || input[i] > peak { best = i; peak = input[i] }
        } }
        if best >= 0 { inputGrad[best] += outputGrad[((b * g.outH + oy) * g.outW + ox) * c + ch] }
    } } } }
}
