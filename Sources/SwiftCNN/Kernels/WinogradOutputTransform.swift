// The Winograd output transform Y = Aᵀ M A of every tile (+ bias, ReLU, and the fused 2×2 max pooling), written once
// for a vector of `KernelVector.scalarCount` filters and compiled twice like WinogradInputTransform.swift: the
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

/// The first `lanes` floats at p (a whole vector in one load when `lanes` is the vector's width), zeros after.
@inline(__always)
private func loadLanes(_ p: UnsafePointer<Float>, _ lanes: Int) -> KernelVector {
    if lanes == KernelVector.scalarCount { return UnsafeRawPointer(p).loadUnaligned(as: KernelVector.self) }
    var v = KernelVector()
    for l in 0..<lanes { v[l] = p[l] }
    return v
}

@inline(__always)
private func storeLanes(_ p: UnsafeMutablePointer<Float>, _ v: KernelVector, _ lanes: Int) {
    if lanes == KernelVector.scalarCount { UnsafeMutableRawPointer(p).storeBytes(of: v, as: KernelVector.self); return }
    for l in 0..<lanes { p[l] = v[l] }
}
