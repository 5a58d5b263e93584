/// Winograd F(2×2, 3×3) convolution for 3×3, stride-1, undilated windows over NHWC images: every 2×2 block of
/// output pixels comes from the 4×4 input tile under it with 16 multiplications per (channel, filter) pair instead
/// of 36. Per chunk of tiles: the tiles are transformed (V = Bᵀ d B, 16 matrices of tiles × channels), multiplied by
/// the transformed kernel (U = G g Gᵀ, 16 matrices of channels × filters, packed for the GEMM) in 16 GEMMs, and
/// transformed back (Y = Aᵀ M A) with bias and ReLU. Only additions in the transforms, vectorised over channels
/// (NHWC keeps them contiguous). Windows reaching past the image read zeros, so one routine serves any padding:
/// the forward pass ('valid' or 'same') and the input gradient (the output gradient convolved with the kernel
/// rotated by 180°, in and out channels swapped, padded by 2 − the forward padding).
///
/// The error against direct convolution is a few float roundings per output (the transforms' coefficients are
/// 0, ±1 and ±½); the tests bound it.
public struct WinogradShape {
    public var batch, inH, inW, channels, filters: Int
    /// Zeros before the first input row and column; the output is `outH × outW` whatever lies past the input.
    public var padTop, padLeft: Int
    public var outH, outW: Int

    public init(batch: Int, inH: Int, inW: Int, channels: Int, filters: Int, padTop: Int, padLeft: Int,
                outH: Int, outW: Int) {
        self.batch = batch; self.inH = inH; self.inW = inW; self.channels = channels; self.filters = filters
        self.padTop = padTop; self.padLeft = padLeft; self.outH = outH; self.outW = outW
    }

    var tilesH: Int { (outH + 1) / 2 }
    var tilesW: Int { (outW + 1) / 2 }
    var tiles: Int { batch * tilesH * tilesW }

    /// Floats of a transformed kernel (`winogradTransformKernel`).
    public static func kernelCount(channels: Int, filters: Int) -> Int {
        16 * kernelBlockStride(channels: channels, filters: filters)
    }

    /// Floats from one of a transformed kernel's 16 blocks (a GEMM B operand in packed panels) to the next: an odd
    /// number of cache lines. At a whole number of 4 KB (512 × 512: 1 MB) the transform's 16 stores and 9 tap
    /// loads per step all fell in one cache set; the transforms took 10 % of a VGG training step.
    static func kernelBlockStride(channels: Int, filters: Int) -> Int {
        (packedBCount(k: channels, n: filters) / 16 | 1) * 16
    }

    /// Tiles per chunk and the number of chunks: the chunk's transformed tiles and products (16 · tiles ·
    /// (channels + filters) floats) in half of L2, at least 4 micro-tiles of rows for the GEMMs; several chunks
    /// come in a multiple of the thread count (equal shares), each a whole number of micro-tiles of rows when
    /// chunks are big (a partial sliver is repacked in each of the 16 GEMMs).
    /// Floats from one plane of a chunk's transformed tiles (V, M: `tiles` × `width` channels or filters) to the
    /// next: an odd number of cache lines, so the 16 planes a tile's transform touches at once fall in 16 different
    /// L1 sets. Planes a whole number of 4 KB apart (384 tiles × 16 channels) all shared one set: that layer's input
    /// transform ran 60 % slower.
    static func planeStride(tiles: Int, width: Int) -> Int { ((tiles * width + 15) / 16 | 1) * 16 }

    var chunking: (size: Int, count: Int) {
        let fit = CacheSizes.current.l2 / 2 / 4 / (16 * (channels + filters))
        let mr = tallMicroTileRows                       // a multiple of every instruction set's MR (6 and 12)
        let perChunk = min(max(fit, 4 * mr), 384) / mr * mr
        var chunks = (tiles + perChunk - 1) / perChunk
        if chunks > 1 { chunks = (chunks + engineThreadCount - 1) / engineThreadCount * engineThreadCount }
        // Whole slivers per chunk, unless rounding up would unbalance the threads: a batch-1 layer of 49 tiles in
        // chunks of 36 and 13 left one thread idle for half the layer.
        var size = (tiles + chunks - 1) / chunks
        if size >= 8 * mr { size = (size + mr - 1) / mr * mr }
        return (size, (tiles + size - 1) / size)
    }
}

extension WinogradShape {
    /// (b, ty, tx) of tile t.
    @inline(__always)
    func position(_ t: Int) -> (b: Int, ty: Int, tx: Int) {
        let perImage = tilesH * tilesW, r = t % perImage
        return (t / perImage, r / tilesW, r % tilesW)
    }

    /// V[ξ][tile][channel] = (Bᵀ d B)[ξ] of each tile's 4×4 input window, eight channels at a time. Pixels past the
    /// image read as zeros (checked per pixel only in tiles that reach past it).
    func transformInput(_ input: UnsafePointer<Float>, tiles: Range<Int>, into v: UnsafeMutablePointer<Float>) {
        let c = channels, count = tiles.count, rowStride = inW * c
        let plane = WinogradShape.planeStride(tiles: count, width: c)
        var (b, ty, tx) = position(tiles.lowerBound)
        for t in tiles {
            let y0 = 2 * ty - padTop, x0 = 2 * tx - padLeft
            let inside = y0 >= 0 && y0 + 4 <= inH && x0 >= 0 && x0 + 4 <= inW
            // The window's top-left pixel (outside the image for some border tiles: only in-image pixels are read).
            let corner = input + ((b * inH + y0) * rowStride + x0 * c)
            let out = v + (t - tiles.lowerBound) * c
            var ch = 0
            while ch < c {
                let lanes = min(8, c - ch)
                let base = corner + ch
                if inside && lanes == 8 {
                    transformTile(InsideWindow(base: base, rowStride: rowStride, pixelStride: c), out: out + ch,
                                  plane: plane, lanes: 8)
                } else if lanes == 8 {
                    let window = ClippedWindow(base: base, rowStride: rowStride, pixelStride: c,
                                               rowMask: pixelMask(from: -y0, to: inH - y0),
                                               columnMask: pixelMask(from: -x0, to: inW - x0), zeros: zeroPixel)
                    transformTile(window, out: out + ch, plane: plane, lanes: 8)
                } else {
                    let window = BorderWindow(base: base, rowStride: rowStride, pixelStride: c,
                                              rows: max(0, -y0)..<min(4, inH - y0), columns: max(0, -x0)..<min(4, inW - x0),
                                              lanes: lanes)
                    transformTile(window, out: out + ch, plane: plane, lanes: lanes)
                }
                ch += lanes
            }
            tx += 1
            if tx == tilesW { tx = 0; ty += 1; if ty == tilesH { ty = 0; b += 1 } }
        }
    }
}

/// U[ξ] = G g Gᵀ for every (channel, filter) pair of a 3×3 HWIO kernel, written as 16 GEMM B operands (channels ×
/// filters each) already in the active instruction set's packed panels. `flipped`: the kernel of the input
/// gradient, g'[ky][kx][f][c] = g[2 − ky][2 − kx][c][f], where `channels` and `filters` are those of the gradient's
/// convolution (the forward layer's filters and channels).
public func winogradTransformKernel(_ kernel: UnsafePointer<Float>, channels: Int, filters: Int, flipped: Bool,
                                    into dst: UnsafeMutablePointer<Float>) {
    let block = WinogradShape.kernelBlockStride(channels: channels, filters: filters), nr = GEMMKernels.active.nr
    // Every entry of the used panels is written below but the last panel's columns past `filters`: zero only that
    // panel (clearing all 16 blocks first was a serial pass as long as the transform).
    if filters % nr != 0 {
        let lastPanel = filters / nr * channels * nr
        for xi in 0..<16 { (dst + xi * block + lastPanel).initialize(repeating: 0, count: channels * nr) }
    }
    let context = (kernel, channels, filters, flipped, dst, block)
    // Threads take groups of 8 filters, so the vector path below starts on a multiple of 8.
    parallelFor((filters + 7) / 8, minChunk: max(1, 512 / max(channels, 1)), context: context) { raw, loGroup, hiGroup in
        let (kernel, channels, filters, flipped, dst, block) = raw.assumingMemoryBound(
            to: (UnsafePointer<Float>, Int, Int, Bool, UnsafeMutablePointer<Float>, Int).self).pointee
        let nr = GEMMKernels.active.nr, tapStride = channels * filters
        let lo = loGroup * 8, hi = min(hiGroup * 8, filters)
        // Eight kernels per vector. The forward kernel's filters are contiguous (HWIO), as in the packed panels:
        // eight filters at a time along the thread's filters (the taps read in order, the panel rows written in
        // order), vector stores (8 divides NR, so a group never straddles two panels). The rotated kernel's
        // contiguous axis is its channels (the forward filters), which lie down a panel column: sixteen channels
        // (a cache line of each tap) at a time for each filter, each lane stored to its row; those 16 rows of
        // the 16 blocks stay in L1 while the thread's filters fill their columns.
        let rest: (filters: Range<Int>, channels: Range<Int>)   // what the vectors leave, one kernel at a time
        if !flipped {
            let vectorEnd = lo + (hi - lo) / 8 * 8
            for c in 0..<channels {
                for f0 in stride(from: lo, to: vectorEnd, by: 8) {
                    transformEightKernels(kernel + c * filters + f0, tapStride: tapStride, rotated: false,
                                          out: dst + (f0 / nr) * channels * nr + f0 % nr + c * nr, block: block,
                                          laneStride: 1)
                }
            }
            rest = (vectorEnd..<hi, 0..<channels)
        } else {
            let vectorEnd = channels / 8 * 8
            for c0 in stride(from: 0, to: vectorEnd, by: 16) {
                for f in lo..<hi {
                    for c in stride(from: c0, to: min(c0 + 16, vectorEnd), by: 8) {
                        transformEightKernels(kernel + f * channels + c, tapStride: tapStride, rotated: true,
                                              out: dst + (f / nr) * channels * nr + f % nr + c * nr, block: block,
                                              laneStride: nr)
                    }
                }
            }
            rest = (lo..<hi, vectorEnd..<channels)
        }
        for f in rest.filters {
            let panel = dst + (f / nr) * channels * nr + f % nr
            for c in rest.channels {
                // The taps' rows as vectors (the 4th lane unused).
                func row(_ ky: Int) -> SIMD4<Float> {
                    var r = SIMD4<Float>()
                    for kx in 0..<3 {
                        r[kx] = flipped ? kernel[(((2 - ky) * 3 + (2 - kx)) * filters + f) * channels + c]
                                        : kernel[((ky * 3 + kx) * channels + c) * filters + f]
                    }
                    return r
                }
                let g0 = row(0), g1 = row(1), g2 = row(2)
                // G g (rows), then (G g) Gᵀ (columns of each row).
                let h = (g0, (g0 + g1 + g2) * 0.5, (g0 - g1 + g2) * 0.5, g2)
                func put(_ r: Int, _ v: SIMD4<Float>) {
                    let base = panel + (4 * r) * block + c * nr
                    base[0] = v[0]
                    base[block] = (v[0] + v[1] + v[2]) * 0.5
                    base[2 * block] = (v[0] - v[1] + v[2]) * 0.5
                    base[3 * block] = v[2]
                }
                put(0, h.0); put(1, h.1); put(2, h.2); put(3, h.3)
            }
        }
    }
}

/// U[ξ] = (G g Gᵀ)[ξ] of eight 3×3 kernels at once, lane l of every vector one kernel: tap (ky, kx) at
/// taps + (3 ky + kx) · tapStride (the rotated kernel: 8 − that), eight contiguous floats; U[ξ]'s lane l to
/// out + ξ · block + l · laneStride (one vector store when laneStride is 1). The same arithmetic, in the same
/// order, as the one-kernel path, so either gives the same bits.
@inline(__always)
private func transformEightKernels(_ taps: UnsafePointer<Float>, tapStride: Int, rotated: Bool,
                                   out: UnsafeMutablePointer<Float>, block: Int, laneStride: Int) {
    @inline(__always) func tap(_ ky: Int, _ kx: Int) -> SIMD8<Float> {
        let index = rotated ? 8 - (3 * ky + kx) : 3 * ky + kx
        return UnsafeRawPointer(taps + index * tapStride).loadUnaligned(as: SIMD8<Float>.self)
    }
    @inline(__always) func put(_ xi: Int, _ v: SIMD8<Float>) {
        let at = out + xi * block
        if laneStride == 1 {
            UnsafeMutableRawPointer(at).storeBytes(of: v, as: SIMD8<Float>.self)
        } else {
            for l in 0..<8 { at[l * laneStride] = v[l] }
        }
    }
    let t00 = tap(0, 0), t01 = tap(0, 1), t02 = tap(0, 2), t10 = tap(1, 0), t11 = tap(1, 1), t12 = tap(1, 2)
    let t20 = tap(2, 0), t21 = tap(2, 1), t22 = tap(2, 2)
    // Row a of G g (rows of taps g0, g1, g2): g0, (g0 + g1 + g2) / 2, (g0 − g1 + g2) / 2, g2; then (G g) Gᵀ along it.
    @inline(__always) func row(_ a: Int, _ h0: SIMD8<Float>, _ h1: SIMD8<Float>, _ h2: SIMD8<Float>) {
        put(4 * a, h0); put(4 * a + 1, (h0 + h1 + h2) * 0.5); put(4 * a + 2, (h0 - h1 + h2) * 0.5); put(4 * a + 3, h2)
    }
    row(0, t00, t01, t02)
    row(1, (t00 + t10 + t20) * 0.5, (t01 + t11 + t21) * 0.5, (t02 + t12 + t22) * 0.5)
    row(2, (t00 - t10 + t20) * 0.5, (t01 - t11 + t21) * 0.5, (t02 - t12 + t22) * 0.5)
    row(3, t20, t21, t22)
}

/// output (batch × outH × outW × filters) = input ⊛ kernel (+ bias, then ReLU), the kernel transformed by
/// `winogradTransformKernel`. Tiles are cut into chunks that stay in L2; the engine's threads share the chunks.
///
/// `pooled`: also the 2×2, stride-2 max pooling of the output (floor(outH / 2) × floor(outW / 2) per image), taken
/// from each tile's four outputs while they are in registers: a Winograd tile is exactly one pooling window.
/// `counter` hands the chunks to the threads as they come free.
public func winogradConvolution(_ input: UnsafePointer<Float>, _ s: WinogradShape, transformedKernel: UnsafePointer<Float>,
                                bias: UnsafePointer<Float>?, relu: Bool, output: UnsafeMutablePointer<Float>,
                                pooled: UnsafeMutablePointer<Float>? = nil, counter: WorkCounter = WorkCounter()) {
    let (size, chunks) = s.chunking
    let threads = max(1, min(engineThreadCount, chunks))
    let job = WinogradJob(s: s, input: input, kernel: transformedKernel, bias: bias, relu: relu, output: output,
                          pooled: pooled, chunkSize: size, chunks: chunks, counter: Unmanaged.passUnretained(counter))
    counter.reset()
    parallelFor(threads, minChunk: 1, context: job) { raw, lo, hi in
        let job = raw.assumingMemoryBound(to: WinogradJob.self).pointee
        for _ in lo..<hi {
            for chunk in ClaimedItems(counter: job.counter!.takeUnretainedValue(), items: job.chunks) { job.run(chunk: chunk) }
        }
    }
}

private struct WinogradJob {
    let s: WinogradShape
    let input: UnsafePointer<Float>
    let kernel: UnsafePointer<Float>
    let bias: UnsafePointer<Float>?
    let relu: Bool
    let output: UnsafeMutablePointer<Float>
    let pooled: UnsafeMutablePointer<Float>?
    let chunkSize, chunks: Int
    let counter: Unmanaged<WorkCounter>?   // hands out the chunks (the forward pass); nil in the weight gradient

    func run(chunk: Int) {
        let t0 = chunk * chunkSize, t1 = min(t0 + chunkSize, s.tiles), count = t1 - t0
        guard count > 0 else { return }
        let c = s.channels, f = s.filters
        let v = ScratchBuffer.forCurrentThread(count: 16 * WinogradShape.planeStride(tiles: chunkSize, width: c),
                                               slot: .columns)
        let m = ScratchBuffer.forCurrentThread(count: 16 * WinogradShape.planeStride(tiles: chunkSize, width: f),
                                               slot: .columnGrads)
        s.transformInput(input, tiles: t0..<t1, into: v)
        let block = WinogradShape.kernelBlockStride(channels: c, filters: f)
        let planeV = WinogradShape.planeStride(tiles: count, width: c)
        let planeM = WinogradShape.planeStride(tiles: count, width: f)
        for xi in 0..<16 {
            gemm(transA: false, transB: false, m: count, n: f, k: c, alpha: 1, a: v + xi * planeV, lda: c,
                 b: kernel + xi * block, ldb: f, beta: 0, c: m + xi * planeM, ldc: f, serial: true,
                 packedB: kernel + xi * block)
        }
        transformOutput(tiles: t0..<t1, from: m)
    }

    /// Y = Aᵀ M A for each tile: its 2×2 output pixels (those inside the output), + bias, ReLU.
    private func transformOutput(tiles: Range<Int>, from m: UnsafePointer<Float>) {
        let f = s.filters, plane = WinogradShape.planeStride(tiles: tiles.count, width: f)
        let pooledH = s.outH / 2, pooledW = s.outW / 2
        var (b, ty, tx) = s.position(tiles.lowerBound)
        for t in tiles {
            let oy = 2 * ty, ox = 2 * tx
            let rows = min(2, s.outH - oy), cols = min(2, s.outW - ox)
            let src = m + (t - tiles.lowerBound) * f
            let out = output + ((b * s.outH + oy) * s.outW + ox) * f
            let pool = ty < pooledH && tx < pooledW ? pooled.map { $0 + ((b * pooledH + ty) * pooledW + tx) * f } : nil
            var j = 0
            while j + 8 <= f {
                outputTile(src + j, plane: plane, bias: bias.map { $0 + j }, relu: relu, out: out + j, rowStride: s.outW * f,
                           pixelStride: f, rows: rows, cols: cols, pooled: pool.map { $0 + j }, lanes: 8)
                j += 8
            }
            if j < f {
                outputTile(src + j, plane: plane, bias: bias.map { $0 + j }, relu: relu, out: out + j, rowStride: s.outW * f,
                           pixelStride: f, rows: rows, cols: cols, pooled: pool.map { $0 + j }, lanes: f - j)
            }
            tx += 1
            if tx == s.tilesW { tx = 0; ty += 1; if ty == s.tilesH { ty = 0; b += 1 } }
        }
    }
}

/// Y = Aᵀ M A of one tile for 8 filters (plane ξ of M at m + ξ · plane), + bias, ReLU; its `rows` × `cols` output
/// pixels stored, and their maximum at `pooled` when given.
@inline(__always)
private func outputTile(_ m: UnsafePointer<Float>, plane: Int, bias: UnsafePointer<Float>?, relu: Bool,
                        out: UnsafeMutablePointer<Float>, rowStride: Int, pixelStride: Int, rows: Int, cols: Int,
                        pooled: UnsafeMutablePointer<Float>?, lanes: Int) {
    @inline(__always) func at(_ xi: Int) -> SIMD8<Float> { load8(m + xi * plane, lanes) }
    // Aᵀ M: rows m0 + m1 + m2 and m1 − m2 − m3 (of the 4×4 grid), column by column.
    let m0 = at(0), m1 = at(1), m2 = at(2), m3 = at(3), m4 = at(4), m5 = at(5), m6 = at(6), m7 = at(7)
    let m8 = at(8), m9 = at(9), m10 = at(10), m11 = at(11), m12 = at(12), m13 = at(13), m14 = at(14), m15 = at(15)
    let a0 = m0 + m4 + m8, a1 = m1 + m5 + m9, a2 = m2 + m6 + m10, a3 = m3 + m7 + m11
    let b0 = m4 - m8 - m12, b1 = m5 - m9 - m13, b2 = m6 - m10 - m14, b3 = m7 - m11 - m15
    let shift = bias.map { load8($0, lanes) } ?? SIMD8<Float>()
    // (Aᵀ M) A along each row.
    var y0 = a0 + a1 + a2 + shift, y1 = a1 - a2 - a3 + shift, y2 = b0 + b1 + b2 + shift, y3 = b1 - b2 - b3 + shift
    if relu {
        let zero = SIMD8<Float>()
        y0 = y0.replacing(with: zero, where: y0 .< zero); y1 = y1.replacing(with: zero, where: y1 .< zero)
        y2 = y2.replacing(with: zero, where: y2 .< zero); y3 = y3.replacing(with: zero, where: y3 .< zero)
    }
    if let pooled { store8(pooled, larger(larger(y0, y1), larger(y2, y3)), lanes) }
    store8(out, y0, lanes)
    if cols > 1 { store8(out + pixelStride, y1, lanes) }
    if rows > 1 {
        store8(out + rowStride, y2, lanes)
        if cols > 1 { store8(out + rowStride + pixelStride, y3, lanes) }
    }
}

/// A tile's 4×4 input window, 8 channels per pixel: `pixel(i, j)` is row i, column j.
private protocol TileWindow {
    func pixel(_ i: Int, _ j: Int) -> SIMD8<Float>
}

/// A window inside the image: every pixel read in place.
private struct InsideWindow: TileWindow {
    let base: UnsafePointer<Float>
    let rowStride, pixelStride: Int

    @inline(__always)
    func pixel(_ i: Int, _ j: Int) -> SIMD8<Float> {
        UnsafeRawPointer(base + i * rowStride + j * pixelStride).loadUnaligned(as: SIMD8<Float>.self)
    }
}

/// Bits i of the window rows (or columns) 0..<4 that lie in lo..<hi.
@inline(__always)
private func pixelMask(from lo: Int, to hi: Int) -> Int {
    let lo = max(lo, 0), hi = min(hi, 4)
    return hi > lo ? ((1 << hi) - 1) & ~((1 << lo) - 1) : 0
}

/// Eight zeros, read for a border window's pixels past the image.
private let zeroPixel: UnsafePointer<Float> = {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: 16)
    p.initialize(repeating: 0, count: 16)
    return UnsafePointer(p)
}()

/// A window reaching past the image, 8 channels: each pixel is one unconditional load, from the image or from
/// `zeros` (a select on the row and column bits, no branch). Per-pixel range checks with partial loads made a
/// border tile cost 2.4 times an inside one, and most tiles of a 7×7 or 14×14 layer are border tiles.
private struct ClippedWindow: TileWindow {
    let base: UnsafePointer<Float>
    let rowStride, pixelStride: Int
    let rowMask, columnMask: Int
    let zeros: UnsafePointer<Float>

    @inline(__always)
    func pixel(_ i: Int, _ j: Int) -> SIMD8<Float> {
        let inImage = (rowMask >> i) & (columnMask >> j) & 1 != 0
        let p = inImage ? base + i * rowStride + j * pixelStride : zeros
        return UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }
}

/// A window reaching past the image with a channel tail of fewer than 8 lanes: pixels outside `rows` × `columns`
/// read as zeros.
private struct BorderWindow: TileWindow {
    let base: UnsafePointer<Float>
    let rowStride, pixelStride: Int
    let rows, columns: Range<Int>
    let lanes: Int

    @inline(__always)
    func pixel(_ i: Int, _ j: Int) -> SIMD8<Float> {
        rows.contains(i) && columns.contains(j) ? load8(base + i * rowStride + j * pixelStride, lanes) : SIMD8<Float>()
    }
}

/// Bᵀ d B of one 4×4 window of 8 channels, stored as the 16 planes' entries of this tile (plane ξ at
/// out + ξ · plane). Each pixel is read once, before any store: with loads between the stores (which could alias
/// the input, as far as the compiler knows) every pixel was loaded four times.
@inline(__always)
private func transformTile<Window: TileWindow>(_ window: Window, out: UnsafeMutablePointer<Float>, plane: Int,
                                               lanes: Int) {
    @inline(__always) func pixel(_ i: Int, _ j: Int) -> SIMD8<Float> { window.pixel(i, j) }
    // Bᵀ d, column by column: rows d0 − d2, d1 + d2, d2 − d1, d1 − d3.
    @inline(__always) func column(_ j: Int) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        let d0 = pixel(0, j), d1 = pixel(1, j), d2 = pixel(2, j), d3 = pixel(3, j)
        return (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
    }
    let c0 = column(0), c1 = column(1), c2 = column(2), c3 = column(3)
    // (Bᵀ d) B along each row.
    @inline(__always) func row(_ i: Int, _ e0: SIMD8<Float>, _ e1: SIMD8<Float>, _ e2: SIMD8<Float>, _ e3: SIMD8<Float>) {
        let r = out + 4 * i * plane
        store8(r, e0 - e2, lanes)
        store8(r + plane, e1 + e2, lanes)
        store8(r + 2 * plane, e2 - e1, lanes)
        store8(r + 3 * plane, e1 - e3, lanes)
    }
    row(0, c0.0, c1.0, c2.0, c3.0)
    row(1, c0.1, c1.1, c2.1, c3.1)
    row(2, c0.2, c1.2, c2.2, c3.2)
    row(3, c0.3, c1.3, c2.3, c3.3)
}

/// Lane-wise maximum (the standard library's generic `pointwiseMax` is not specialised here: a call per vector).
@inline(__always)
private func larger(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .> a) }

@inline(__always)
private func load8(_ p: UnsafePointer<Float>, _ lanes: Int) -> SIMD8<Float> {
    if lanes == 8 { return UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
    var v = SIMD8<Float>()
    for l in 0..<lanes { v[l] = p[l] }
    return v
}

@inline(__always)
private func store8(_ p: UnsafeMutablePointer<Float>, _ v: SIMD8<Float>, _ lanes: Int) {
    if lanes == 8 { UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self); return }
    for l in 0..<lanes { p[l] = v[l] }
}

/// The weight gradient of a Winograd layer, with the same tiles: dU[ξ] = Σ over tiles V[ξ]ᵀ · dM[ξ], where V is the
/// forward's input transform and dM = A dY Aᵀ the output transform's adjoint of each tile's 2×2 output gradient,
/// then dW = Gᵀ dU G per (channel, filter). 16 GEMMs of channels × tiles × filters per chunk instead of an im2col
/// GEMM of 9 · channels × pixels × filters.
///
/// In the same pass over the output gradient: the pre-activation gradient (`outputGrad` where `output` > 0 for
/// ReLU, else `outputGrad` itself) is written to `preGrad` when given (the input gradient reads it next; a linear
/// layer's is the output gradient, so it passes nil) and summed into the
/// bias gradient. `dU` holds 16 · channels · filters floats (the sum; threads other than the first sum into
/// per-thread scratch first).
public func winogradWeightGradient(_ input: UnsafePointer<Float>, _ s: WinogradShape, output: UnsafePointer<Float>,
                                   outputGrad: UnsafePointer<Float>, relu: Bool, preGrad: UnsafeMutablePointer<Float>?,
                                   kernelGrad: UnsafeMutablePointer<Float>, biasGrad: UnsafeMutablePointer<Float>?,
                                   dU: UnsafeMutablePointer<Float>) {
    let (size, chunks) = s.chunking
    let threads = max(1, min(engineThreadCount, chunks))
    let uSize = 16 * s.channels * s.filters, bSize = biasGrad == nil ? 0 : s.filters
    let partials = ScratchBuffer.forCurrentThread(count: (threads - 1) * (uSize + bSize), slot: .partialSums)
    let job = WinogradWeightJob(s: s, input: input, output: output, outputGrad: outputGrad, relu: relu,
                                preGrad: preGrad, dU: dU, biasGrad: biasGrad, partials: partials, chunkSize: size,
                                chunks: chunks, threads: threads)
    parallelFor(threads, minChunk: 1, context: job) { raw, lo, hi in
        let job = raw.assumingMemoryBound(to: WinogradWeightJob.self).pointee
        for t in lo..<hi { job.run(thread: t) }
    }
    for t in 1..<threads {
        accumulate(partials + (t - 1) * uSize, into: dU, count: uSize)
        if let biasGrad { accumulate(partials + (threads - 1) * uSize + (t - 1) * s.filters, into: biasGrad, count: s.filters) }
    }
    winogradKernelGradient(dU, channels: s.channels, filters: s.filters, into: kernelGrad)
}

private struct WinogradWeightJob {
    let s: WinogradShape
    let input, output, outputGrad: UnsafePointer<Float>
    let relu: Bool
    let preGrad: UnsafeMutablePointer<Float>?
    let dU: UnsafeMutablePointer<Float>
    let biasGrad: UnsafeMutablePointer<Float>?
    let partials: UnsafeMutablePointer<Float>
    let chunkSize, chunks, threads: Int

    /// Thread t's chunks, summed into its dU and bias partials (thread 0's are the results themselves).
    func run(thread t: Int) {
        let c = s.channels, f = s.filters, uSize = 16 * c * f
        let sum = t == 0 ? dU : partials + (t - 1) * uSize
        let biasSum = t == 0 ? biasGrad : biasGrad.map { _ in partials + (threads - 1) * uSize + (t - 1) * f }
        let v = ScratchBuffer.forCurrentThread(count: 16 * WinogradShape.planeStride(tiles: chunkSize, width: c),
                                               slot: .columns)
        let m = ScratchBuffer.forCurrentThread(count: 16 * WinogradShape.planeStride(tiles: chunkSize, width: f),
                                               slot: .columnGrads)
        var first = true
        // A fixed share of the chunks per thread, summed in order: the sums' grouping, and so the rounding, is
        // the same in every run (bit-identical training for a seed).
        for chunk in t * chunks / threads..<(t + 1) * chunks / threads {
            let t0 = chunk * chunkSize, t1 = min(t0 + chunkSize, s.tiles), count = t1 - t0
            guard count > 0 else { continue }
            if first { biasSum?.initialize(repeating: 0, count: f) }
            s.transformInput(input, tiles: t0..<t1, into: v)
            transformOutputGradient(tiles: t0..<t1, into: m, biasSum: biasSum)
            let planeV = WinogradShape.planeStride(tiles: count, width: c)
            let planeM = WinogradShape.planeStride(tiles: count, width: f)
            for xi in 0..<16 {
                gemm(transA: true, transB: false, m: c, n: f, k: count, alpha: 1, a: v + xi * planeV, lda: c,
                     b: m + xi * planeM, ldb: f, beta: first ? 0 : 1, c: sum + xi * c * f, ldc: f, serial: true)
            }
            first = false
        }
        if first {
            sum.initialize(repeating: 0, count: uSize)
            biasSum?.initialize(repeating: 0, count: f)
        }
    }

    /// dM[ξ][tile][filter] = (A dY Aᵀ)[ξ] of each tile's 2×2 pre-activation gradient (zero past the output), which
    /// is also stored to `preGrad` and added to the bias sums.
    private func transformOutputGradient(tiles: Range<Int>, into m: UnsafeMutablePointer<Float>,
                                         biasSum: UnsafeMutablePointer<Float>?) {
        let f = s.filters, plane = WinogradShape.planeStride(tiles: tiles.count, width: f), zero = SIMD8<Float>()
        var (b, ty, tx) = s.position(tiles.lowerBound)
        for t in tiles {
            let oy = 2 * ty, ox = 2 * tx
            let rows = min(2, s.outH - oy), cols = min(2, s.outW - ox)
            let pixel = ((b * s.outH + oy) * s.outW + ox) * f
            let dst = m + (t - tiles.lowerBound) * f
            var j = 0
            while j < f {
                let lanes = min(8, f - j)
                // The tile's four pre-activation gradients (zero for outputs past the edge).
                @inline(__always) func grad(_ r: Int, _ q: Int) -> SIMD8<Float> {
                    guard r < rows, q < cols else { return zero }
                    let at = pixel + (r * s.outW + q) * f + j
                    var g = load8(outputGrad + at, lanes)
                    if relu { g = zero.replacing(with: g, where: load8(output + at, lanes) .> zero) }
                    if let preGrad { store8(preGrad + at, g, lanes) }
                    return g
                }
                let g00 = grad(0, 0), g01 = grad(0, 1), g10 = grad(1, 0), g11 = grad(1, 1)
                if let biasSum { store8(biasSum + j, load8(biasSum + j, lanes) + ((g00 + g01) + (g10 + g11)), lanes) }
                // A dY: rows g0, g0 + g1, g0 − g1, −g1 (g0, g1 the tile's rows); then each row (a, b) → a, a + b, a − b, −b.
                @inline(__always) func putRow(_ i: Int, _ a: SIMD8<Float>, _ bb: SIMD8<Float>) {
                    let base = dst + j + 4 * i * plane
                    store8(base, a, lanes)
                    store8(base + plane, a + bb, lanes)
                    store8(base + 2 * plane, a - bb, lanes)
                    store8(base + 3 * plane, zero - bb, lanes)
                }
                putRow(0, g00, g01)
                putRow(1, g00 + g10, g01 + g11)
                putRow(2, g00 - g10, g01 - g11)
                putRow(3, zero - g10, zero - g11)
                j += lanes
            }
            tx += 1
            if tx == s.tilesW { tx = 0; ty += 1; if ty == s.tilesH { ty = 0; b += 1 } }
        }
    }
}

/// dW (3×3 HWIO) = Gᵀ dU G for every (channel, filter): the adjoint of `winogradTransformKernel` (unpacked: dU is
/// 16 row-major channels × filters matrices). Eight filters per vector.
private func winogradKernelGradient(_ dU: UnsafePointer<Float>, channels: Int, filters: Int,
                                    into dW: UnsafeMutablePointer<Float>) {
    let plane = channels * filters
    for c in 0..<channels {
        var j = 0
        while j < filters {
            let lanes = min(8, filters - j)
            @inline(__always) func u(_ xi: Int) -> SIMD8<Float> { load8(dU + xi * plane + c * filters + j, lanes) }
            // Gᵀ dU: rows u0 + (u1 + u2)/2, (u1 − u2)/2, (u1 + u2)/2 + u3 of the 4×4 grid (column q of each).
            @inline(__always) func rowsOfGTdU(_ q: Int) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
                let u0 = u(q), u1 = u(4 + q), u2 = u(8 + q), u3 = u(12 + q)
                return (u0 + (u1 + u2) * 0.5, (u1 - u2) * 0.5, (u1 + u2) * 0.5 + u3)
            }
            let q0 = rowsOfGTdU(0), q1 = rowsOfGTdU(1), q2 = rowsOfGTdU(2), q3 = rowsOfGTdU(3)
            // (Gᵀ dU) G along each row (a, b, c, d): a + (b + c)/2, (b − c)/2, (b + c)/2 + d.
            @inline(__always) func putRow(_ ky: Int, _ a: SIMD8<Float>, _ b: SIMD8<Float>, _ cc: SIMD8<Float>, _ d: SIMD8<Float>) {
                store8(dW + ((ky * 3) * channels + c) * filters + j, a + (b + cc) * 0.5, lanes)
                store8(dW + ((ky * 3 + 1) * channels + c) * filters + j, (b - cc) * 0.5, lanes)
                store8(dW + ((ky * 3 + 2) * channels + c) * filters + j, (b + cc) * 0.5 + d, lanes)
            }
            putRow(0, q0.0, q1.0, q2.0, q3.0)
            putRow(1, q0.1, q1.1, q2.1, q3.1)
            putRow(2, q0.2, q1.2, q2.2, q3.2)
            j += lanes
        }
    }
}
