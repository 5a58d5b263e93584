/// Unfolds the patches of output pixels `rows` (numbered across the batch: row = (b·outH + oy)·outW + ox) of the
/// NHWC `input` into `columns`, one row of kh·kw·c values per pixel, zero where the window hangs over the padding.
/// Serial: a convolution calls it on a cache-sized chunk from each of its threads.
public func im2col(_ input: UnsafePointer<Float>, _ g: WindowGeometry, rows: Range<Int>,
                   columns: UnsafeMutablePointer<Float>) {
    // `Unfold` only reads the image.
    walkPatches(Unfold.self, images: UnsafeMutablePointer(mutating: input), g, rows: rows, columns: columns)
}

/// The adjoint of `im2col` for output pixels `rows`: adds their column gradients into `inputGrad` (the whole
/// batch, NHWC), which the caller has zeroed. Serial; callers give each thread whole images so no two threads
/// add into the same pixel.
public func col2im(_ columns: UnsafePointer<Float>, _ g: WindowGeometry, rows: Range<Int>,
                   inputGrad: UnsafeMutablePointer<Float>) {
    // `Fold` only reads the columns.
    walkPatches(Fold.self, images: inputGrad, g, rows: rows, columns: UnsafeMutablePointer(mutating: columns))
}

/// What is done with each run of a patch: im2col copies it into the columns (zeros over the padding), col2im adds
/// the columns back into the image (entries over the padding are dropped).
private protocol PatchTransfer {
    static func run(column: UnsafeMutablePointer<Float>, image: UnsafeMutablePointer<Float>, count: Int)
    static func padding(column: UnsafeMutablePointer<Float>, count: Int)
}

private enum Unfold: PatchTransfer {
    @inline(__always)
    static func run(column: UnsafeMutablePointer<Float>, image: UnsafeMutablePointer<Float>, count: Int) {
        copyFloats(column, image, count: count)
    }

    @inline(__always)
    static func padding(column: UnsafeMutablePointer<Float>, count: Int) { column.initialize(repeating: 0, count: count) }
}

private enum Fold: PatchTransfer {
    @inline(__always)
    static func run(column: UnsafeMutablePointer<Float>, image: UnsafeMutablePointer<Float>, count: Int) {
        addFloats(image, column, count: count)
    }

    @inline(__always)
    static func padding(column: UnsafeMutablePointer<Float>, count: Int) {}
}

/// Walks the patches of output pixels `rows` in order, one column row of kh·kw·c entries per pixel.
@inline(__always)
private func walkPatches<T: PatchTransfer>(_: T.Type, images: UnsafeMutablePointer<Float>, _ g: WindowGeometry,
                                           rows: Range<Int>, columns: UnsafeMutablePointer<Float>) {
    let c = g.channels, inW = g.inW, inH = g.inH, kh = g.kernelH, kw = g.kernelW
    let run = kw * c, imageSize = inH * inW * c, inputRow = inW * c
    let undilated = g.dilationW == 1 && g.dilationH == 1
    var column = columns
    // (b, oy, ox) of the first row once, then stepped: three integer divisions per row cost as much as copying a
    // 1-channel patch.
    var position = PixelPosition(rows.lowerBound, g)
    for _ in rows {
        let x0 = position.ox * g.strideW - g.padLeft, y0 = position.oy * g.strideH - g.padTop
        if undilated && x0 >= 0 && x0 + kw <= inW && y0 >= 0 && y0 + kh <= inH {
            // The window lies inside the image (every pixel of a 'valid' convolution): kh runs of kw·c floats.
            var image = images + position.b * imageSize + (y0 * inW + x0) * c
            for _ in 0..<kh {
                T.run(column: column, image: image, count: run)
                column += run
                image += inputRow
            }
        } else {
            walkEdgePatch(T.self, image: images + position.b * imageSize, g, x0: x0, y0: y0, column: column)
            column += g.patchSize
        }
        position.advance(g)
    }
}

/// One patch of a window that overhangs the padding (or is dilated), pixel by pixel.
@inline(never)
private func walkEdgePatch<T: PatchTransfer>(_: T.Type, image: UnsafeMutablePointer<Float>, _ g: WindowGeometry,
                                             x0: Int, y0: Int, column: UnsafeMutablePointer<Float>) {
    var column = column
    for ky in 0..<g.kernelH {
        let y = y0 + ky * g.dilationH
        for kx in 0..<g.kernelW {
            let x = x0 + kx * g.dilationW
            if y >= 0, y < g.inH, x >= 0, x < g.inW {
                T.run(column: column, image: image + (y * g.inW + x) * g.channels, count: g.channels)
            } else {
                T.padding(column: column, count: g.channels)
            }
            column += g.channels
        }
    }
}

/// An output pixel (image b, row oy, column ox) of a sliding window, walked in row-major order across the batch.
private struct PixelPosition {
    var b, oy, ox: Int

    init(_ row: Int, _ g: WindowGeometry) {
        ox = row % g.outW
        oy = row / g.outW % g.outH
        b = row / (g.outW * g.outH)
    }

    @inline(__always)
    mutating func advance(_ g: WindowGeometry) {
        ox += 1
        if ox == g.outW {
            ox = 0
            oy += 1
            if oy == g.outH { oy = 0; b += 1 }
        }
    }
}

/// dst[0..<count] = src[0..<count] for short runs (im2col's patches, a GEMM's partial slivers: a few to a few hundred
/// floats), where a call to memmove costs more than the copy.
@inline(__always)
func copyFloats(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        UnsafeMutableRawPointer(dst + i).storeBytes(of: UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self),
                                                    as: SIMD8<Float>.self)
        i += 8
    }
    if i + 4 <= count {
        UnsafeMutableRawPointer(dst + i).storeBytes(of: UnsafeRawPointer(src + i).loadUnaligned(as: SIMD4<Float>.self),
                                                    as: SIMD4<Float>.self)
        i += 4
    }
    while i < count { dst[i] = src[i]; i += 1 }
}

/// dst[0..<count] += src[0..<count].
@inline(__always)
private func addFloats(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        let d = UnsafeMutableRawPointer(dst + i)
        d.storeBytes(of: d.loadUnaligned(as: SIMD8<Float>.self) + UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self),
                     as: SIMD8<Float>.self)
        i += 8
    }
    while i < count { dst[i] += src[i]; i += 1 }
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

/// Naive col2im, the oracle for `col2im`: for every output pixel of `rows` and every patch entry, adds the column
/// value into the input pixel it came from (entries over the padding are dropped). `inputGrad` is not zeroed.
public func col2imReference(_ columns: UnsafePointer<Float>, _ g: WindowGeometry, rows: Range<Int>,
                            inputGrad: UnsafeMutablePointer<Float>) {
    for (index, row) in rows.enumerated() {
        let b = row / (g.outH * g.outW), oy = row / g.outW % g.outH, ox = row % g.outW
        for ky in 0..<g.kernelH {
            for kx in 0..<g.kernelW {
                let y = oy * g.strideH - g.padTop + ky * g.dilationH, x = ox * g.strideW - g.padLeft + kx * g.dilationW
                guard y >= 0, y < g.inH, x >= 0, x < g.inW else { continue }
                for c in 0..<g.channels {
                    inputGrad[((b * g.inH + y) * g.inW + x) * g.channels + c]
                        += columns[index * g.patchSize + (ky * g.kernelW + kx) * g.channels + c]
                }
            }
        }
    }
}
