/// Geometry of a 2-D sliding window over an NHWC image (convolution or pooling).
public struct WindowGeometry {
    public var inH, inW, channels: Int
    public var kernelH, kernelW: Int
    public var strideH, strideW: Int
    public var dilationH, dilationW: Int
    public var padTop, padLeft: Int
    public var outH, outW: Int

    /// Keras's rule: 'valid' keeps only full windows; 'same' gives out = ceil(in / stride) and puts the smaller
    /// half of the padding first. Throws when a 'valid' window does not fit.
    public init(inH: Int, inW: Int, channels: Int, kernel: (Int, Int), stride: (Int, Int), dilation: (Int, Int),
                same: Bool, layer: String) throws {
        self.inH = inH; self.inW = inW; self.channels = channels
        kernelH = kernel.0; kernelW = kernel.1; strideH = stride.0; strideW = stride.1
        dilationH = dilation.0; dilationW = dilation.1
        let effH = dilationH * (kernelH - 1) + 1, effW = dilationW * (kernelW - 1) + 1
        if same {
            outH = (inH + strideH - 1) / strideH
            outW = (inW + strideW - 1) / strideW
            padTop = max((outH - 1) * strideH + effH - inH, 0) / 2
            padLeft = max((outW - 1) * strideW + effW - inW, 0) / 2
        } else {
            guard effH <= inH, effW <= inW else {
                throw SwiftCNNError.invalidArgument("\(layer): the window (\(effH)x\(effW) after dilation) is larger than "
                    + "the input (\(inH)x\(inW)) with padding='valid'; use a smaller kernel or padding='same'.")
            }
            outH = (inH - effH) / strideH + 1
            outW = (inW - effW) / strideW + 1
            padTop = 0; padLeft = 0
        }
    }

    /// Columns per output pixel: kh·kw·c (HWIO order, matching a Keras kernel reshaped to (kh·kw·c, filters)).
    public var patchSize: Int { kernelH * kernelW * channels }
}

/// Unfolds image patches: `input` is (batch, inH, inW, c); `columns` becomes (batch·outH·outW, kh·kw·c), zero where
/// the window hangs over the padding.
public func im2col(_ input: UnsafePointer<Float>, batch: Int, _ g: WindowGeometry, columns: UnsafeMutablePointer<Float>) {
    let rowsPerImage = g.outH * g.outW
    parallelFor(batch * g.outH, minChunk: 8, context: (input, g, columns, rowsPerImage)) { context, lo, hi in
        let (input, g, columns, rowsPerImage) = context.assumingMemoryBound(to: (UnsafePointer<Float>, WindowGeometry, UnsafeMutablePointer<Float>, Int).self).pointee
        let range = lo..<hi
        for bo in range {
            let b = bo / g.outH, oy = bo % g.outH
            let image = input + b * g.inH * g.inW * g.channels
            for ox in 0..<g.outW {
                var dst = columns + ((b * rowsPerImage) + oy * g.outW + ox) * g.patchSize
                for ky in 0..<g.kernelH {
                    let y = oy * g.strideH - g.padTop + ky * g.dilationH
                    for kx in 0..<g.kernelW {
                        let x = ox * g.strideW - g.padLeft + kx * g.dilationW
                        if y >= 0, y < g.inH, x >= 0, x < g.inW {
                            dst.update(from: image + (y * g.inW + x) * g.channels, count: g.channels)
                        } else {
                            dst.initialize(repeating: 0, count: g.channels)
                        }
                        dst += g.channels
                    }
                }
            }
        }
    }
}

/// The adjoint of `im2col`: sums column gradients back into `inputGrad` (batch, inH, inW, c), which is overwritten.
public func col2im(_ columns: UnsafePointer<Float>, batch: Int, _ g: WindowGeometry, inputGrad: UnsafeMutablePointer<Float>) {
    let rowsPerImage = g.outH * g.outW
    let imageSize = g.inH * g.inW * g.channels
    // Images are independent, so threads split the batch and never write the same pixel.
    parallelFor(batch, minChunk: 1, context: (columns, g, inputGrad, rowsPerImage, imageSize)) { context, lo, hi in
        let (columns, g, inputGrad, rowsPerImage, imageSize) = context.assumingMemoryBound(to: (UnsafePointer<Float>, WindowGeometry, UnsafeMutablePointer<Float>, Int, Int).self).pointee
        let range = lo..<hi
        for b in range {
            let image = inputGrad + b * imageSize
            image.initialize(repeating: 0, count: imageSize)
            for oy in 0..<g.outH {
                for ox in 0..<g.outW {
                    var src = columns + ((b * rowsPerImage) + oy * g.outW + ox) * g.patchSize
                    for ky in 0..<g.kernelH {
                        let y = oy * g.strideH - g.padTop + ky * g.dilationH
                        for kx in 0..<g.kernelW {
                            let x = ox * g.strideW - g.padLeft + kx * g.dilationW
                            if y >= 0, y < g.inH, x >= 0, x < g.inW {
                                let dst = image + (y * g.inW + x) * g.channels
                                for c in 0..<g.channels { dst[c] += src[c] }
                            }
                            src += g.channels
                        }
                    }
                }
            }
        }
    }
}

/// Direct 7-loop convolution (NHWC input, HWIO kernel), the oracle for im2col + GEMM.
public func conv2dReference(_ input: UnsafePointer<Float>, batch: Int, _ g: WindowGeometry, kernel: UnsafePointer<Float>,
                            filters: Int, output: UnsafeMutablePointer<Float>) {
    for b in 0..<batch {
        for oy in 0..<g.outH {
            for ox in 0..<g.outW {
                for f in 0..<filters {
                    var sum = 0.0
                    for ky in 0..<g.kernelH {
                        for kx in 0..<g.kernelW {
                            let y = oy * g.strideH - g.padTop + ky * g.dilationH
                            let x = ox * g.strideW - g.padLeft + kx * g.dilationW
                            guard y >= 0, y < g.inH, x >= 0, x < g.inW else { continue }
                            for c in 0..<g.channels {
                                sum += Double(input[((b * g.inH + y) * g.inW + x) * g.channels + c])
                                    * Double(kernel[((ky * g.kernelW + kx) * g.channels + c) * filters + f])
                            }
                        }
                    }
                    output[((b * g.outH + oy) * g.outW + ox) * filters + f] = Float(sum)
                }
            }
        }
    }
}
