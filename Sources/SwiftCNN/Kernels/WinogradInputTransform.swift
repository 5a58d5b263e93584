// The Winograd input transform V = Bᵀ d B of every tile's window, written once for a vector of
// `KernelVector.scalarCount` channels and compiled twice like the GEMM micro-kernels (MicroKernel.swift): into the
// engine (SIMD8: ymm registers) and, through a symbolic link of this very file, into SwiftCNNAVX512 (SIMD16: 16
// channels per zmm instruction and 32 registers, so a 6×6 window spills less). On Zen 4 the 16-channel transform of
// a 6×6 window took 0.77 of the time of two 8-channel ones (x86-64-v3 code). The engine takes the AVX-512 instance
// where the CPU has it and the channels come in 16s (WinogradShape.transformInput).

/// A chunk's tiles: where the input lies, its geometry and the first tile, and where each tile's entries go in V
/// (entry ξ of tile t at t · tileStride + ξ · entryStride). Plain integers, so each module builds its own.
struct InputTileWalk {
    var input: UnsafePointer<Float>
    var inH, inW, channels, padTop, padLeft, tilesH, tilesW: Int
    var first: (b: Int, ty: Int, tx: Int)
    var count, entryStride, tileStride: Int
}

// One function per window size, each with its tile transforms inlined (in one function with both, the optimizer
// left the tile transforms as calls: 6 % slower).
@inline(never)
func transformInputTiles4(_ walk: InputTileWalk, into v: UnsafeMutablePointer<Float>) {
    transformInputTiles(walk, into: v, window: 4)
}

@inline(never)
func transformInputTiles6(_ walk: InputTileWalk, into v: UnsafeMutablePointer<Float>) {
    transformInputTiles(walk, into: v, window: 6)
}

/// The walk for a literal window size (so each tile's transform is straight-line code).
@inline(__always)
private func transformInputTiles(_ walk: InputTileWalk, into v: UnsafeMutablePointer<Float>, window n: Int) {
    let c = walk.channels, inH = walk.inH, inW = walk.inW, rowStride = inW * c, step = n - 2, width = KernelVector.scalarCount
    let plane = walk.entryStride
    var (b, ty, tx) = walk.first
    for t in 0..<walk.count {
        let y0 = step * ty - walk.padTop, x0 = step * tx - walk.padLeft
        let inside = y0 >= 0 && y0 + n <= inH && x0 >= 0 && x0 + n <= inW
        // The window's top-left pixel (outside the image for some border tiles: only in-image pixels are read).
        let corner = walk.input + ((b * inH + y0) * rowStride + x0 * c)
        let out = v + t * walk.tileStride
        var ch = 0
        while ch < c {
            let lanes = min(width, c - ch)
            let base = corner + ch
            if inside && lanes == width {
                let window = InsideWindow(base: base, rowStride: rowStride, pixelStride: c)
                if n == 4 { transformTile4(window, out: out + ch, plane: plane, lanes: width) }
                else { transformTile6(window, out: out + ch, plane: plane, lanes: width) }
            } else if lanes == width {
                let window = ClippedWindow(base: base, rowStride: rowStride, pixelStride: c,
                                           rowMask: pixelMask(from: -y0, to: inH - y0, size: n),
                                           columnMask: pixelMask(from: -x0, to: inW - x0, size: n), zeros: zeroPixel)
                if n == 4 { transformTile4(window, out: out + ch, plane: plane, lanes: width) }
                else { transformTile6(window, out: out + ch, plane: plane, lanes: width) }
            } else {
                transformChannelTail(base, rowStride: rowStride, pixelStride: c, rows: max(0, -y0)..<min(n, inH - y0),
                                     columns: max(0, -x0)..<min(n, inW - x0), lanes: lanes, out: out + ch,
                                     plane: plane, window: n)
            }
            ch += lanes
        }
        tx += 1
        if tx == walk.tilesW { tx = 0; ty += 1; if ty == walk.tilesH { ty = 0; b += 1 } }
    }
}

/// A tile's input window (4×4 or 6×6), a vector of channels per pixel: `pixel(i, j)` is row i, column j.
private protocol TileWindow {
    func pixel(_ i: Int, _ j: Int) -> KernelVector
}

/// A window inside the image: every pixel read in place.
private struct InsideWindow: TileWindow {
    let base: UnsafePointer<Float>
    let rowStride, pixelStride: Int

    @inline(__always)
    func pixel(_ i: Int, _ j: Int) -> KernelVector {
        UnsafeRawPointer(base + i * rowStride + j * pixelStride).loadUnaligned(as: KernelVector.self)
    }
}

/// A tile's transform for a channel tail shorter than a vector, out of line: the optimizer stops inlining into a
/// function past a size, and the partial loads' branches made the full-vector tile transforms calls.
@inline(never)
private func transformChannelTail(_ base: UnsafePointer<Float>, rowStride: Int, pixelStride: Int, rows: Range<Int>,
                                  columns: Range<Int>, lanes: Int, out: UnsafeMutablePointer<Float>, plane: Int,
                                  window n: Int) {
    let window = BorderWindow(base: base, rowStride: rowStride, pixelStride: pixelStride, rows: rows, columns: columns,
                              lanes: lanes)
    if n == 4 { transformTile4(window, out: out, plane: plane, lanes: lanes) }
    else { transformTile6(window, out: out, plane: plane, lanes: lanes) }
}

/// Bits i of the window rows (or columns) 0..<size that lie in lo..<hi.
@inline(__always)
private func pixelMask(from lo: Int, to hi: Int, size: Int) -> Int {
    let lo = max(lo, 0), hi = min(hi, size)
    return hi > lo ? ((1 << hi) - 1) & ~((1 << lo) - 1) : 0
}

/// A vector of zeros, read for a border window's pixels past the image.
private let zeroPixel: UnsafePointer<Float> = {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: KernelVector.scalarCount)
    p.initialize(repeating: 0, count: KernelVector.scalarCount)
    return UnsafePointer(p)
}()

/// A window reaching past the image, a full vector of channels: each pixel is one unconditional load, from the image or from
/// `zeros` (a select on the row and column bits, no branch). Per-pixel range checks with partial loads made a
/// border tile cost 2.4 times an inside one, and most tiles of a 7×7 or 14×14 layer are border tiles.
private struct ClippedWindow: TileWindow {
    let base: UnsafePointer<Float>
    let rowStride, pixelStride: Int
    let rowMask, columnMask: Int
    let zeros: UnsafePointer<Float>

    @inline(__always)
    func pixel(_ i: Int, _ j: Int) -> KernelVector {
        let inImage = (rowMask >> i) & (columnMask >> j) & 1 != 0
        let p = inImage ? base + i * rowStride + j * pixelStride : zeros
        return UnsafeRawPointer(p).loadUnaligned(as: KernelVector.self)
    }
}

/// A window reaching past the image with a channel tail shorter than a vector: pixels outside `rows` × `columns`
/// read as zeros.
private struct BorderWindow: TileWindow {
    let base: UnsafePointer<Float>
    let rowStride, pixelStride: Int
    let rows, columns: Range<Int>
    let lanes: Int

    @inline(__always)
    func pixel(_ i: Int, _ j: Int) -> KernelVector {
        rows.contains(i) && columns.contains(j) ? loadLanes(base + i * rowStride + j * pixelStride, lanes) : KernelVector()
    }
}

/// The 1-D input transform Bᵀ x of F(4×4, 3×3) (rows (4, 0, −5, 0, 1, 0), (0, −4, −4, 1, 1, 0), (0, 4, −4, −1, 1, 0),
/// (0, −2, −1, 2, 1, 0), (0, 2, −1, −2, 1, 0), (0, 4, 0, −5, 0, 1)).
@inline(__always)
private func inputTransform6(_ x0: KernelVector, _ x1: KernelVector, _ x2: KernelVector, _ x3: KernelVector,
                             _ x4: KernelVector, _ x5: KernelVector)
    -> (KernelVector, KernelVector, KernelVector, KernelVector, KernelVector, KernelVector) {
    let a = x4 - x2, b = x3 - x1
    return (x4 - x2 * 5 + x0 * 4, x3 + x4 - (x1 + x2) * 4, x4 - x3 + (x1 - x2) * 4, a + b * 2, a - b * 2,
            x5 - x3 * 5 + x1 * 4)
}

/// Bᵀ d of column j of a 6×6 window.
@_transparent
private func windowColumn6<Window: TileWindow>(_ window: Window, _ j: Int)
    -> (KernelVector, KernelVector, KernelVector, KernelVector, KernelVector, KernelVector) {
    inputTransform6(window.pixel(0, j), window.pixel(1, j), window.pixel(2, j), window.pixel(3, j), window.pixel(4, j),
                    window.pixel(5, j))
}

/// Bᵀ d B of one 6×6 window of a vector of channels, stored as the 36 planes' entries of this tile (plane ξ at out + ξ · plane).
/// Every pixel is read before any store (see `transformTile4`).
@_transparent
private func transformTile6<Window: TileWindow>(_ window: Window, out: UnsafeMutablePointer<Float>, plane: Int,
                                                lanes: Int) {
    let c0 = windowColumn6(window, 0), c1 = windowColumn6(window, 1), c2 = windowColumn6(window, 2)
    let c3 = windowColumn6(window, 3), c4 = windowColumn6(window, 4), c5 = windowColumn6(window, 5)
    for i in 0..<6 {
        let r = inputTransform6(element(c0, i), element(c1, i), element(c2, i), element(c3, i), element(c4, i),
                                element(c5, i))
        let o = out + 6 * i * plane
        storeLanes(o, r.0, lanes); storeLanes(o + plane, r.1, lanes); storeLanes(o + 2 * plane, r.2, lanes)
        storeLanes(o + 3 * plane, r.3, lanes); storeLanes(o + 4 * plane, r.4, lanes); storeLanes(o + 5 * plane, r.5, lanes)
    }
}

/// Bᵀ d B of one 4×4 window of a vector of channels, stored as the 16 planes' entries of this tile (plane ξ at
/// out + ξ · plane). Each pixel is read once, before any store: with loads between the stores (which could alias
/// the input, as far as the compiler knows) every pixel was loaded four times.
@_transparent
private func transformTile4<Window: TileWindow>(_ window: Window, out: UnsafeMutablePointer<Float>, plane: Int,
                                                lanes: Int) {
    @inline(__always) func pixel(_ i: Int, _ j: Int) -> KernelVector { window.pixel(i, j) }
    // Bᵀ d, column by column: rows d0 − d2, d1 + d2, d2 − d1, d1 − d3.
    @inline(__always) func column(_ j: Int) -> (KernelVector, KernelVector, KernelVector, KernelVector) {
        let d0 = pixel(0, j), d1 = pixel(1, j), d2 = pixel(2, j), d3 = pixel(3, j)
        return (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
    }
    let c0 = column(0), c1 = column(1), c2 = column(2), c3 = column(3)
    // (Bᵀ d) B along each row.
    @inline(__always) func row(_ i: Int, _ e0: KernelVector, _ e1: KernelVector, _ e2: KernelVector, _ e3: KernelVector) {
        let r = out + 4 * i * plane
        storeLanes(r, e0 - e2, lanes)
        storeLanes(r + plane, e1 + e2, lanes)
        storeLanes(r + 2 * plane, e2 - e1, lanes)
        storeLanes(r + 3 * plane, e1 - e3, lanes)
    }
    row(0, c0.0, c1.0, c2.0, c3.0)
    row(1, c0.1, c1.1, c2.1, c3.1)
    row(2, c0.2, c1.2, c2.2, c3.2)
    row(3, c0.3, c1.3, c2.3, c3.3)
}
