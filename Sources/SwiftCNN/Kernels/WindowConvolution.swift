/// Convolution forward straight from the NHWC images, without im2col: output pixels `rows` (numbered across the
/// batch) ← input ⊛ kernel + bias, then ReLU when `relu`. Each micro-tile is up to 6 consecutive output pixels of
/// one output row × NR filters; its depth is walked as kh runs of kw · c contiguous floats of the image, one image
/// row apart (`microKernel(runs:)`), against the kernel packed by `packB` (patch × filters). For narrow inputs
/// (1–4 channels: a first layer) the im2col rows would be 9–36 floats, as costly to write as to multiply.
///
/// `g` must have no padding (pad the images with `padImages` first), no dilation and at least 6 output columns.
/// Serial: a convolution calls it for a cache-sized chunk from each of its threads.
public func windowConvolution(_ input: UnsafePointer<Float>, _ g: WindowGeometry, rows: Range<Int>,
                              packedKernel: UnsafePointer<Float>, filters: Int, bias: UnsafePointer<Float>?,
                              relu: Bool, output: UnsafeMutablePointer<Float>) {
    precondition(g.padTop == 0 && g.padLeft == 0 && g.dilationH == 1 && g.dilationW == 1 && g.outW >= microTileRows,
                 "windowConvolution needs an unpadded, undilated window and at least 6 output columns")
    let kernels = GEMMKernels.active, nr = kernels.nr, mr = microTileRows
    let c = g.channels, runLength = g.kernelW * c, runStride = g.inW * c, pixelStride = g.strideW * c
    let imageSize = g.inH * g.inW * c, perImage = g.outH * g.outW, depth = g.patchSize
    let panels = (filters + nr - 1) / nr
    let epilogue = GEMMEpilogue(bias: bias, relu: relu)
    let edgeTile = ScratchBuffer.forCurrentThread(count: mr * nr, slot: .tile)
    var r = rows.lowerBound
    while r < rows.upperBound {
        let b = r / perImage, ox = r % g.outW, oy = r % perImage / g.outW
        let count = min(mr, g.outW - ox, rows.upperBound - r)
        // Fewer than 6 pixels left in this output row (or range): the tile starts further left in the same row,
        // reading pixels the row has anyway, and only its last `count` rows are kept.
        let start = min(ox, g.outW - mr), skip = ox - start
        let patches = input + b * imageSize + (oy * g.strideH * g.inW + start * g.strideW) * c
        let out = output + r * filters
        for q in 0..<panels {
            let j = q * nr, width = min(nr, filters - j), panel = packedKernel + q * depth * nr
            if count == mr && width == nr {
                kernels.window(g.kernelH, runLength, runStride, patches, pixelStride, panel, out + j, filters,
                               bias.map { $0 + j }, relu)
            } else {
                kernels.window(g.kernelH, runLength, runStride, patches, pixelStride, panel, edgeTile, nr, nil, false)
                for t in 0..<count {
                    let src = edgeTile + (skip + t) * nr, dst = out + t * filters + j
                    for f in 0..<width { dst[f] = src[f] }
                }
                if !epilogue.isEmpty { applyEpilogue(epilogue, rows: count, columns: j..<j + width, c: out, ldc: filters) }
            }
        }
        r += count
    }
}

/// The unpadded geometry of `g`'s images once `padImages` has put their padding around them: exactly the rows and
/// columns the windows read.
public func paddedGeometry(_ g: WindowGeometry) -> WindowGeometry {
    var p = g
    p.inH = (g.outH - 1) * g.strideH + g.dilationH * (g.kernelH - 1) + 1
    p.inW = (g.outW - 1) * g.strideW + g.dilationW * (g.kernelW - 1) + 1
    p.padTop = 0
    p.padLeft = 0
    return p
}

/// Copies `batch` NHWC images of geometry `g` into `dst` with their padding as zeros (`paddedGeometry(g)` per
/// image), so a window kernel needs no bounds checks. Rows or columns past what any window reads are dropped.
public func padImages(_ input: UnsafePointer<Float>, batch: Int, _ g: WindowGeometry, into dst: UnsafeMutablePointer<Float>) {
    let p = paddedGeometry(g), c = g.channels
    let rowsKept = min(g.inH, p.inH - g.padTop), columnsKept = min(g.inW, p.inW - g.padLeft)
    dst.initialize(repeating: 0, count: batch * p.inH * p.inW * c)
    for b in 0..<batch {
        for y in 0..<rowsKept {
            let src = input + ((b * g.inH + y) * g.inW) * c
            let to = dst + ((b * p.inH + y + g.padTop) * p.inW + g.padLeft) * c
            to.update(from: src, count: columnsKept * c)
        }
    }
}
