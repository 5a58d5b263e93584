// The Winograd output transform Y = Aᵀ M A of every tile (+ bias, ReLU, and the fused 2×2 max pooling) and its
// adjoint dM = A dY Aᵀ (the weight gradient's, with ReLU's mask and the bias sums), written once for a vector of `KernelVector.scalarCount` filters and compiled twice like WinogradInputTransform.swift: the
// engine's instance (SIMD8) and, through a symbolic link of this file, SwiftCNNAVX512's (SIMD16), which the engine
// takes where the CPU has AVX-512 and the filters come in 16s.

/// A chunk's products M (entry ξ of tile t at m + t · tileStride + ξ · entryStride), where their outputs go, and the
/// epilogue. Plain values, so each module builds its own.
struct OutputTileWalk {
    var m: UnsafePointer<Float>
    var filters, outH, outW, tilesH, tilesW: Int
    var first: (b: Int, ty: Int, tx: Int)
    var count, entryStride, tileStride: Int
    var bias: UnsafePointer<Float>?
    var relu: Bool
    var output: UnsafeMutablePointer<Float>
    var pooled: UnsafeMutablePointer<Float>?
}

// One function per tile size (see `transformInputTiles4`).
@inline(never)
func transformOutputTiles2(_ walk: OutputTileWalk) { transformOutputTiles(walk, size: 2) }

@inline(never)
func transformOutputTiles4(_ walk: OutputTileWalk) { transformOutputTiles(walk, size: 4) }

/// The tiles' walk, for a literal tile size: each tile's `rows` × `cols` output pixels inside the output; the maxima of
/// its 2×2 windows that lie inside the pooled output (floor(outH / 2) × floor(outW / 2) per image) when pooling.
@inline(__always)
private func transformOutputTiles(_ walk: OutputTileWalk, size n: Int) {
    let f = walk.filters, outH = walk.outH, outW = walk.outW, plane = walk.entryStride, width = KernelVector.scalarCount
    let pooledH = outH / 2, pooledW = outW / 2, windows = n / 2
    let bias = walk.bias, relu = walk.relu
    var (b, ty, tx) = walk.first
    for t in 0..<walk.count {
        let oy = n * ty, ox = n * tx
        let rows = min(n, outH - oy), cols = min(n, outW - ox)
        // The tile's pooling windows that lie inside the pooled output.
        let pooledRows = max(0, min(windows, pooledH - windows * ty))
        let pooledCols = max(0, min(windows, pooledW - windows * tx))
        let pool = pooledRows > 0 && pooledCols > 0
            ? walk.pooled.map { $0 + ((b * pooledH + windows * ty) * pooledW + windows * tx) * f } : nil
        let src = walk.m + t * walk.tileStride
        let out = walk.output + ((b * outH + oy) * outW + ox) * f
        var j = 0
        while j + width <= f {
            if n == 2 {
                outputTile(src + j, plane: plane, bias: bias.map { $0 + j }, relu: relu, out: out + j,
                           rowStride: outW * f, pixelStride: f, rows: rows, cols: cols, pooled: pool.map { $0 + j },
                           lanes: width)
            } else {
                outputTile4(src + j, plane: plane, bias: bias.map { $0 + j }, relu: relu, out: out + j,
                            rowStride: outW * f, pixelStride: f, rows: rows, cols: cols, pooled: pool.map { $0 + j },
                            pooledRowStride: pooledW * f, pooledRows: pooledRows, pooledCols: pooledCols, lanes: width)
            }
            j += width
        }
        if j < f {
            if n == 2 {
                outputTileTail(src + j, plane: plane, bias: bias.map { $0 + j }, relu: relu, out: out + j,
                               rowStride: outW * f, pixelStride: f, rows: rows, cols: cols,
                               pooled: pool.map { $0 + j }, lanes: f - j)
            } else {
                outputTile4Tail(src + j, plane: plane, bias: bias.map { $0 + j }, relu: relu, out: out + j,
                                rowStride: outW * f, pixelStride: f, rows: rows, cols: cols,
                                pooled: pool.map { $0 + j }, pooledRowStride: pooledW * f, pooledRows: pooledRows,
                                pooledCols: pooledCols, lanes: f - j)
            }
        }
        tx += 1
        if tx == walk.tilesW { tx = 0; ty += 1; if ty == walk.tilesH { ty = 0; b += 1 } }
    }
}

/// `outputTile` for a tail of filters shorter than a vector, out of line (see `transformChannelTail`).
@inline(never)
private func outputTileTail(_ m: UnsafePointer<Float>, plane: Int, bias: UnsafePointer<Float>?, relu: Bool,
                            out: UnsafeMutablePointer<Float>, rowStride: Int, pixelStride: Int, rows: Int, cols: Int,
                            pooled: UnsafeMutablePointer<Float>?, lanes: Int) {
    outputTile(m, plane: plane, bias: bias, relu: relu, out: out, rowStride: rowStride, pixelStride: pixelStride,
               rows: rows, cols: cols, pooled: pooled, lanes: lanes)
}

/// Y = Aᵀ M A of one tile for a vector of filters (plane ξ of M at m + ξ · plane), + bias, ReLU; its `rows` × `cols` output
/// pixels stored, and their maximum at `pooled` when given.
@_transparent
private func outputTile(_ m: UnsafePointer<Float>, plane: Int, bias: UnsafePointer<Float>?, relu: Bool,
                        out: UnsafeMutablePointer<Float>, rowStride: Int, pixelStride: Int, rows: Int, cols: Int,
                        pooled: UnsafeMutablePointer<Float>?, lanes: Int) {
    @inline(__always) func at(_ xi: Int) -> KernelVector { loadLanes(m + xi * plane, lanes) }
    // Aᵀ M: rows m0 + m1 + m2 and m1 − m2 − m3 (of the 4×4 grid), column by column.
    let m0 = at(0), m1 = at(1), m2 = at(2), m3 = at(3), m4 = at(4), m5 = at(5), m6 = at(6), m7 = at(7)
    let m8 = at(8), m9 = at(9), m10 = at(10), m11 = at(11), m12 = at(12), m13 = at(13), m14 = at(14), m15 = at(15)
    let a0 = m0 + m4 + m8, a1 = m1 + m5 + m9, a2 = m2 + m6 + m10, a3 = m3 + m7 + m11
    let b0 = m4 - m8 - m12, b1 = m5 - m9 - m13, b2 = m6 - m10 - m14, b3 = m7 - m11 - m15
    let shift = bias.map { loadLanes($0, lanes) } ?? KernelVector()
    // (Aᵀ M) A along each row.
    var y0 = a0 + a1 + a2 + shift, y1 = a1 - a2 - a3 + shift, y2 = b0 + b1 + b2 + shift, y3 = b1 - b2 - b3 + shift
    if relu {
        let zero = KernelVector()
        y0 = y0.replacing(with: zero, where: y0 .< zero); y1 = y1.replacing(with: zero, where: y1 .< zero)
        y2 = y2.replacing(with: zero, where: y2 .< zero); y3 = y3.replacing(with: zero, where: y3 .< zero)
    }
    if let pooled { storeLanes(pooled, larger(larger(y0, y1), larger(y2, y3)), lanes) }
    storeLanes(out, y0, lanes)
    if cols > 1 { storeLanes(out + pixelStride, y1, lanes) }
    if rows > 1 {
        storeLanes(out + rowStride, y2, lanes)
        if cols > 1 { storeLanes(out + rowStride + pixelStride, y3, lanes) }
    }
}

/// The 1-D output transform Aᵀ x of F(4×4, 3×3) (rows (1, 1, 1, 1, 1, 0), (0, 1, −1, 2, −2, 0), (0, 1, 1, 4, 4, 0),
/// (0, 1, −1, 8, −8, 1)).
@inline(__always)
private func outputTransform4(_ x0: KernelVector, _ x1: KernelVector, _ x2: KernelVector, _ x3: KernelVector,
                              _ x4: KernelVector, _ x5: KernelVector) -> (KernelVector, KernelVector, KernelVector, KernelVector) {
    let s12 = x1 + x2, d12 = x1 - x2, s34 = x3 + x4, d34 = x3 - x4
    return (x0 + s12 + s34, d12 + d34 * 2, s12 + s34 * 4, d12 + x5 + d34 * 8)
}

/// One row of (Aᵀ M) A (4 outputs from 6 entries), + shift, ReLU.
@_transparent
private func outputRow4(_ x0: KernelVector, _ x1: KernelVector, _ x2: KernelVector, _ x3: KernelVector,
                        _ x4: KernelVector, _ x5: KernelVector, shift: KernelVector, relu: Bool)
    -> (KernelVector, KernelVector, KernelVector, KernelVector) {
    var y = outputTransform4(x0, x1, x2, x3, x4, x5)
    y.0 += shift; y.1 += shift; y.2 += shift; y.3 += shift
    if relu {
        let zero = KernelVector()
        y.0 = y.0.replacing(with: zero, where: y.0 .< zero); y.1 = y.1.replacing(with: zero, where: y.1 .< zero)
        y.2 = y.2.replacing(with: zero, where: y.2 .< zero); y.3 = y.3.replacing(with: zero, where: y.3 .< zero)
    }
    return y
}

/// `outputTile4` for a tail of filters shorter than a vector, out of line (see `transformChannelTail`).
@inline(never)
private func outputTile4Tail(_ m: UnsafePointer<Float>, plane: Int, bias: UnsafePointer<Float>?, relu: Bool,
                             out: UnsafeMutablePointer<Float>, rowStride: Int, pixelStride: Int, rows: Int, cols: Int,
                             pooled: UnsafeMutablePointer<Float>?, pooledRowStride: Int, pooledRows: Int, pooledCols: Int,
                             lanes: Int) {
    outputTile4(m, plane: plane, bias: bias, relu: relu, out: out, rowStride: rowStride, pixelStride: pixelStride,
                rows: rows, cols: cols, pooled: pooled, pooledRowStride: pooledRowStride, pooledRows: pooledRows,
                pooledCols: pooledCols, lanes: lanes)
}

/// Y = Aᵀ M A of one tile of 4×4 outputs for a vector of filters (plane ξ of M at m + ξ · plane), + bias, ReLU; its `rows` ×
/// `cols` output pixels stored, and the maxima of its `pooledRows` × `pooledCols` 2×2 windows at `pooled`.
@_transparent
private func outputTile4(_ m: UnsafePointer<Float>, plane: Int, bias: UnsafePointer<Float>?, relu: Bool,
                         out: UnsafeMutablePointer<Float>, rowStride: Int, pixelStride: Int, rows: Int, cols: Int,
                         pooled: UnsafeMutablePointer<Float>?, pooledRowStride: Int, pooledRows: Int, pooledCols: Int,
                         lanes: Int) {
    @inline(__always) func at(_ xi: Int) -> KernelVector { loadLanes(m + xi * plane, lanes) }
    // Aᵀ M, column by column (4 rows of 6).
    let k0 = outputTransform4(at(0), at(6), at(12), at(18), at(24), at(30))
    let k1 = outputTransform4(at(1), at(7), at(13), at(19), at(25), at(31))
    let k2 = outputTransform4(at(2), at(8), at(14), at(20), at(26), at(32))
    let k3 = outputTransform4(at(3), at(9), at(15), at(21), at(27), at(33))
    let k4 = outputTransform4(at(4), at(10), at(16), at(22), at(28), at(34))
    let k5 = outputTransform4(at(5), at(11), at(17), at(23), at(29), at(35))
    let shift = bias.map { loadLanes($0, lanes) } ?? KernelVector()
    // (Aᵀ M) A along each of the 4 rows.
    let y0 = outputRow4(k0.0, k1.0, k2.0, k3.0, k4.0, k5.0, shift: shift, relu: relu)
    let y1 = outputRow4(k0.1, k1.1, k2.1, k3.1, k4.1, k5.1, shift: shift, relu: relu)
    let y2 = outputRow4(k0.2, k1.2, k2.2, k3.2, k4.2, k5.2, shift: shift, relu: relu)
    let y3 = outputRow4(k0.3, k1.3, k2.3, k3.3, k4.3, k5.3, shift: shift, relu: relu)
    if let pooled {
        if pooledRows > 0 {
            if pooledCols > 0 { storeLanes(pooled, larger(larger(y0.0, y0.1), larger(y1.0, y1.1)), lanes) }
            if pooledCols > 1 { storeLanes(pooled + pixelStride, larger(larger(y0.2, y0.3), larger(y1.2, y1.3)), lanes) }
        }
        if pooledRows > 1 {
            let p = pooled + pooledRowStride
            if pooledCols > 0 { storeLanes(p, larger(larger(y2.0, y2.1), larger(y3.0, y3.1)), lanes) }
            if pooledCols > 1 { storeLanes(p + pixelStride, larger(larger(y2.2, y2.3), larger(y3.2, y3.3)), lanes) }
        }
    }
    @inline(__always) func storeRow(_ r: Int, _ y: (KernelVector, KernelVector, KernelVector, KernelVector)) {
        guard r < rows else { return }
        let o = out + r * rowStride
        storeLanes(o, y.0, lanes)
        if cols > 1 { storeLanes(o + pixelStride, y.1, lanes) }
        if cols > 2 { storeLanes(o + 2 * pixelStride, y.2, lanes) }
        if cols > 3 { storeLanes(o + 3 * pixelStride, y.3, lanes) }
    }
    storeRow(0, y0); storeRow(1, y1); storeRow(2, y2); storeRow(3, y3)
}

/// Lane-wise maximum (the standard library's generic `pointwiseMax` is not specialised here: a call per vector).
@inline(__always)
private func larger(_ a: KernelVector, _ b: KernelVector) -> KernelVector { a.replacing(with: b, where: b .> a) }


// The adjoint, for the weight gradient: dM = A dY Aᵀ of each tile's output gradient.

/// A chunk's tiles for `transformOutputGradientTiles`: the output gradient, the output (ReLU's mask) and where the
/// pre-activation gradient goes (nil: not stored), the tiles, where their entries go in dM (as in `OutputTileWalk`),
/// and the bias sums.
struct OutputGradientTileWalk {
    var outputGrad, output: UnsafePointer<Float>
    var relu: Bool
    var preGrad: UnsafeMutablePointer<Float>?
    var filters, outH, outW, tilesH, tilesW: Int
    var first: (b: Int, ty: Int, tx: Int)
    var count, entryStride, tileStride: Int
    var biasSum: UnsafeMutablePointer<Float>?
}

@inline(never)
func transformOutputGradientTiles2(_ walk: OutputGradientTileWalk, into m: UnsafeMutablePointer<Float>) {
    transformOutputGradientTiles(walk, into: m, size: 2)
}

@inline(never)
func transformOutputGradientTiles4(_ walk: OutputGradientTileWalk, into m: UnsafeMutablePointer<Float>) {
    transformOutputGradientTiles(walk, into: m, size: 4)
}

/// The tiles' walk, for a literal tile size: whole vectors of filters, then a shorter tail out of line.
@inline(__always)
private func transformOutputGradientTiles(_ walk: OutputGradientTileWalk, into m: UnsafeMutablePointer<Float>,
                                          size n: Int) {
    let f = walk.filters, width = KernelVector.scalarCount
    var (b, ty, tx) = walk.first
    for t in 0..<walk.count {
        let oy = n * ty, ox = n * tx
        let rows = min(n, walk.outH - oy), cols = min(n, walk.outW - ox)
        let pixel = ((b * walk.outH + oy) * walk.outW + ox) * f
        let dst = m + t * walk.tileStride
        var j = 0
        while j + width <= f {
            outputGradientTile(walk, pixel: pixel, rows: rows, cols: cols, filters: j, lanes: width, out: dst + j, size: n)
            j += width
        }
        if j < f { outputGradientTileTail(walk, pixel: pixel, rows: rows, cols: cols, filters: j, lanes: f - j, out: dst + j, size: n) }
        tx += 1
        if tx == walk.tilesW { tx = 0; ty += 1; if ty == walk.tilesH { ty = 0; b += 1 } }
    }
}

/// `outputGradientTile` for a tail of filters shorter than a vector, out of line (see `transformChannelTail`).
@inline(never)
private func outputGradientTileTail(_ walk: OutputGradientTileWalk, pixel: Int, rows: Int, cols: Int, filters j: Int,
                                    lanes: Int, out: UnsafeMutablePointer<Float>, size n: Int) {
    outputGradientTile(walk, pixel: pixel, rows: rows, cols: cols, filters: j, lanes: lanes, out: out, size: n)
}

/// dM of one tile (its first output pixel at offset `pixel`, `rows` × `cols` of its pixels inside the output) for
/// filters j..<j + lanes.
@_transparent
private func outputGradientTile(_ walk: OutputGradientTileWalk, pixel: Int, rows: Int, cols: Int, filters j: Int,
                                lanes: Int, out: UnsafeMutablePointer<Float>, size n: Int) {
    // The pre-activation gradient of output pixel (r, q) of the tile: zero past the output; stored on the way.
    @inline(__always) func grad(_ r: Int, _ q: Int) -> KernelVector {
        let zero = KernelVector()
        guard r < rows, q < cols else { return zero }
        let at = pixel + (r * walk.outW + q) * walk.filters + j
        var g = loadLanes(walk.outputGrad + at, lanes)
        if walk.relu { g = zero.replacing(with: g, where: loadLanes(walk.output + at, lanes) .> zero) }
        if let preGrad = walk.preGrad { storeLanes(preGrad + at, g, lanes) }
        return g
    }
    let biasSum = walk.biasSum.map { $0 + j }
    if n == 2 {
        gradientTile2(grad, out: out, plane: walk.entryStride, biasSum: biasSum, lanes: lanes)
    } else {
        gradientTile4(grad, out: out, plane: walk.entryStride, biasSum: biasSum, lanes: lanes)
    }
}

/// A dY Aᵀ of one tile's 2×2 gradients `grad(r, q)` for a vector of filters, entry ξ stored at out + ξ · plane; their sum
/// added to `biasSum`.
@_transparent
private func gradientTile2(_ grad: (Int, Int) -> KernelVector, out: UnsafeMutablePointer<Float>, plane: Int,
                           biasSum: UnsafeMutablePointer<Float>?, lanes: Int) {
    let zero = KernelVector()
    let g00 = grad(0, 0), g01 = grad(0, 1), g10 = grad(1, 0), g11 = grad(1, 1)
    if let biasSum { storeLanes(biasSum, loadLanes(biasSum, lanes) + ((g00 + g01) + (g10 + g11)), lanes) }
    // A dY: rows g0, g0 + g1, g0 − g1, −g1 (g0, g1 the tile's rows); then each row (a, b) → a, a + b, a − b, −b.
    @inline(__always) func putRow(_ i: Int, _ a: KernelVector, _ bb: KernelVector) {
        let base = out + 4 * i * plane
        storeLanes(base, a, lanes)
        storeLanes(base + plane, a + bb, lanes)
        storeLanes(base + 2 * plane, a - bb, lanes)
        storeLanes(base + 3 * plane, zero - bb, lanes)
    }
    putRow(0, g00, g01)
    putRow(1, g00 + g10, g01 + g11)
    putRow(2, g00 - g10, g01 - g11)
    putRow(3, zero - g10, zero - g11)
}

/// `gradientTile2` for tiles of 4×4 outputs (36 entries).
@_transparent
private func gradientTile4(_ grad: (Int, Int) -> KernelVector, out: UnsafeMutablePointer<Float>, plane: Int,
                           biasSum: UnsafeMutablePointer<Float>?, lanes: Int) {
    // A dY column by column (6 rows from 4), then each row along its 4 columns.
    let k0 = gradientTransform4(grad(0, 0), grad(1, 0), grad(2, 0), grad(3, 0))
    let k1 = gradientTransform4(grad(0, 1), grad(1, 1), grad(2, 1), grad(3, 1))
    let k2 = gradientTransform4(grad(0, 2), grad(1, 2), grad(2, 2), grad(3, 2))
    let k3 = gradientTransform4(grad(0, 3), grad(1, 3), grad(2, 3), grad(3, 3))
    // Row 1 of A dY is the sum of each column's four gradients: the bias gradient's share.
    if let biasSum { storeLanes(biasSum, loadLanes(biasSum, lanes) + ((k0.1 + k1.1) + (k2.1 + k3.1)), lanes) }
    for a in 0..<6 {
        let r = gradientTransform4(element(k0, a), element(k1, a), element(k2, a), element(k3, a))
        let base = out + 6 * a * plane
        storeLanes(base, r.0, lanes); storeLanes(base + plane, r.1, lanes); storeLanes(base + 2 * plane, r.2, lanes)
        storeLanes(base + 3 * plane, r.3, lanes); storeLanes(base + 4 * plane, r.4, lanes); storeLanes(base + 5 * plane, r.5, lanes)
    }
}

/// The 1-D adjoint of F(4×4, 3×3)'s output transform, A x of four gradients (A's rows (1, 0, 0, 0), (1, 1, 1, 1),
/// (1, −1, 1, −1), (1, 2, 4, 8), (1, −2, 4, −8), (0, 0, 0, 1)).
@_transparent
private func gradientTransform4(_ x0: KernelVector, _ x1: KernelVector, _ x2: KernelVector, _ x3: KernelVector)
    -> (KernelVector, KernelVector, KernelVector, KernelVector, KernelVector, KernelVector) {
    let even = x0 + x2, odd = x1 + x3, evenW = x0 + x2 * 4, oddW = x1 * 2 + x3 * 8
    return (x0, even + odd, even - odd, evenW + oddW, evenW - oddW, x3)
}
