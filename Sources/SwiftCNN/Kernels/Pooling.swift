/// Max pooling over NHWC windows; records the flat input index of each maximum in `argmax` for backward.
/// input (batch, inH, inW, c) → output (batch, outH, outW, c). Padding cells never win.
public func maxPoolForward(_ input: UnsafePointer<Float>, batch: Int, _ g: WindowGeometry,
                           output: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>) {
    let c = g.channels
    parallelFor(batch * g.outH, minChunk: 8, context: (input, g, output, argmax, c)) { context, lo, hi in
        let (input, g, output, argmax, c) = context.assumingMemoryBound(to: (UnsafePointer<Float>, WindowGeometry, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Int32>, Int).self).pointee
        let range = lo..<hi
        for bo in range {
            let b = bo / g.outH, oy = bo % g.outH
            for ox in 0..<g.outW {
                let o = ((b * g.outH + oy) * g.outW + ox) * c
                for ch in 0..<c { output[o + ch] = -Float.infinity; argmax[o + ch] = -1 }
                for ky in 0..<g.kernelH {
                    let y = oy * g.strideH - g.padTop + ky
                    guard y >= 0, y < g.inH else { continue }
                    for kx in 0..<g.kernelW {
                        let x = ox * g.strideW - g.padLeft + kx
                        guard x >= 0, x < g.inW else { continue }
                        let i = ((b * g.inH + y) * g.inW + x) * c
                        for ch in 0..<c where input[i + ch] > output[o + ch] || argmax[o + ch] < 0 {
                            output[o + ch] = input[i + ch]
                            argmax[o + ch] = Int32(i + ch)
                        }
                    }
                }
            }
        }
    }
}

/// Routes each output gradient to the input element that was the maximum. `inputGrad` is overwritten.
public func maxPoolBackward(_ outputGrad: UnsafePointer<Float>, argmax: UnsafePointer<Int32>, batch: Int, _ g: WindowGeometry,
                            inputGrad: UnsafeMutablePointer<Float>) {
    let inSize = g.inH * g.inW * g.channels, outSize = g.outH * g.outW * g.channels
    parallelFor(batch, minChunk: 1, context: (outputGrad, argmax, inputGrad, inSize, outSize)) { context, lo, hi in
        let (outputGrad, argmax, inputGrad, inSize, outSize) = context.assumingMemoryBound(to: (UnsafePointer<Float>, UnsafePointer<Int32>, UnsafeMutablePointer<Float>, Int, Int).self).pointee
        let range = lo..<hi
        for b in range {
            (inputGrad + b * inSize).initialize(repeating: 0, count: inSize)
            for o in (b * outSize)..<((b + 1) * outSize) { inputGrad[Int(argmax[o])] += outputGrad[o] }
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
