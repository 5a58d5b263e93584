#if canImport(Glibc)
import Glibc
#endif
import SwiftCNNAVX512

/// Row-major single-precision GEMM: C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C.
/// `beta == 0` overwrites C without reading it (C may hold garbage). Optional epilogue: `bias` (n values) is added
/// to every row and `relu` clamps at zero, applied to each 6-row tile right after its last K block, while it is
/// still in cache (a layer's bias + ReLU then costs no extra pass over the output). Thread-safe; splits rows of C across the
/// engine's threads when the product is big, unless `serial` (the caller already splits its work across threads).
///
/// Design (AVX2 + FMA, 16 ymm registers): a "direct" micro-kernel computes a 6×16 tile of C in 12 SIMD8
/// accumulators, broadcasting A's elements straight from memory (op(A) = Aᵀ only changes the strides) and loading
/// two SIMD8 from a row of B. On AVX2, B is first packed into 16-column panels (`packB`), so it is read
/// sequentially whatever its leading dimension or transpose; the AVX-512 tiles read B's rows in place (a transposed
/// B is copied once into per-thread scratch). K is blocked so the B panel stays in cache.
public func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                 a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                 beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                 bias: UnsafePointer<Float>? = nil, relu: Bool = false, serial: Bool = false,
                 packedB: UnsafePointer<Float>? = nil) {
    guard m > 0, n > 0 else { return }
    // beta == 0: the first K block stores into C (no zeroing pass); otherwise C ← beta · C, then accumulate.
    if k == 0 || alpha == 0 || beta != 0 {
        for i in 0..<m {
            let row = c + i * ldc
            if beta == 0 { row.initialize(repeating: 0, count: n) } else if beta != 1 { for j in 0..<n { row[j] *= beta } }
        }
    }
    guard k > 0, alpha != 0 else {
        if bias != nil || relu { applyEpilogue(0..<m, n: n, c: c, ldc: ldc, bias: bias, relu: relu) }
        return
    }
    let overwrite = beta == 0
    let avx512 = InstructionSet.active == .avx512

    // Element (i, p) of op(A) is a[i * rowStride + p * depthStride].
    let rowStride = transA ? 1 : lda, depthStride = transA ? lda : 1
    var bRows = b, bStride = ldb
    // AVX2: B goes into 16-column panels (k × 16 contiguous floats) unless C has too few rows to repay the copy.
    // Read in place, a 16-float slice of B's rows at a stride of ldb floats lands in a few L1 sets (all in one at
    // ldb = 1024), so the K-block panel no longer stays in L1.
    // `packedB`: the caller packed op(B) once for several GEMMs (see `packB`).
    let packed = !avx512 && (packedB != nil || transB || m >= 24)
    if packed {
        if let packedB {
            bRows = packedB
        } else {
            let scratch = ScratchBuffer.forCurrentThread(count: packedBCount(k: k, n: n))
            packB(transB: transB, k: k, n: n, b: b, ldb: ldb, into: scratch)
            bRows = UnsafePointer(scratch)
        }
        bStride = 16
    } else if transB {
        // op(B)[p, j] = b[j * ldb + p]: copy into k×n row-major scratch.
        let scratch = ScratchBuffer.forCurrentThread(count: k * n)
        transpose(b, rows: n, cols: k, lds: ldb, into: scratch)
        bRows = UnsafePointer(scratch)
        bStride = n
    }
    let panel = bRows, panelStride = bStride   // lets: a closure capturing vars would box them on the heap
    let rowBlocks = (m + 5) / 6, columnGroups = (n + 15) / 16
    // Split C across threads only when the product is big enough to repay the fork/join: by rows, or by groups of
    // 16 columns when there are too few rows to share out evenly (a Dense layer on one sample).
    let threads = engineThreadCount, big = !serial && threads > 1 && 2 * m * n * k >= 4_000_000
    if big && rowBlocks < 2 * threads && columnGroups >= 2 * threads {
        let job = GEMMJob(m: m, n: n, k: k, alpha: alpha, a: a, rowStride: rowStride, depthStride: depthStride,
                          b: panel, ldb: panelStride, c: c, ldc: ldc, overwrite: overwrite, bias: bias, relu: relu,
                          avx512: avx512, packed: packed)
        parallelFor(columnGroups, minChunk: 1, context: job) { context, lo, hi in
            let j = context.assumingMemoryBound(to: GEMMJob.self).pointee
            let j0 = lo * 16, j1 = min(hi * 16, j.n)
            // A packed B's panel lo starts lo · k · 16 floats in; a B read in place starts j0 columns in.
            let b = j.packed ? j.b + lo * j.k * 16 : j.b + j0
            gemmRows(0..<j.m, n: j1 - j0, k: j.k, alpha: j.alpha, a: j.a, rowStride: j.rowStride,
                     depthStride: j.depthStride, b: b, ldb: j.ldb, c: j.c + j0, ldc: j.ldc, overwrite: j.overwrite,
                     bias: j.bias.map { $0 + j0 }, relu: j.relu, avx512: j.avx512, packed: j.packed)
        }
    } else if big && rowBlocks > 1 {
        let job = GEMMJob(m: m, n: n, k: k, alpha: alpha, a: a, rowStride: rowStride, depthStride: depthStride,
                          b: panel, ldb: panelStride, c: c, ldc: ldc, overwrite: overwrite, bias: bias, relu: relu,
                          avx512: avx512, packed: packed)
        parallelFor(rowBlocks, minChunk: 1, context: job) { context, lo, hi in
            let j = context.assumingMemoryBound(to: GEMMJob.self).pointee
            gemmRows(lo * 6..<min(hi * 6, j.m), n: j.n, k: j.k, alpha: j.alpha, a: j.a, rowStride: j.rowStride,
                     depthStride: j.depthStride, b: j.b, ldb: j.ldb, c: j.c, ldc: j.ldc, overwrite: j.overwrite,
                     bias: j.bias, relu: j.relu, avx512: j.avx512, packed: j.packed)
        }
    } else {
        gemmRows(0..<m, n: n, k: k, alpha: alpha, a: a, rowStride: rowStride, depthStride: depthStride,
                 b: bRows, ldb: bStride, c: c, ldc: ldc, overwrite: overwrite, bias: bias, relu: relu, avx512: avx512,
                 packed: packed)
    }
}

/// Whether `gemm` multiplies by B in packed 16-column panels (the AVX2 kernels). When it does, a caller that uses
/// one B in many GEMMs (a convolution's kernel in every chunk) packs it once with `packB` and passes `packedB`.
public var gemmTakesPackedB: Bool { InstructionSet.active != .avx512 }

/// Floats that `packB` writes for a k × n op(B).
public func packedBCount(k: Int, n: Int) -> Int { (n + 15) / 16 * 16 * k }

/// The arguments of one GEMM, handed to the worker threads.
private struct GEMMJob {
    let m, n, k: Int
    let alpha: Float
    let a: UnsafePointer<Float>
    let rowStride, depthStride: Int
    let b: UnsafePointer<Float>
    let ldb: Int
    let c: UnsafeMutablePointer<Float>
    let ldc: Int
    let overwrite: Bool
    let bias: UnsafePointer<Float>?
    let relu: Bool
    let avx512: Bool
    let packed: Bool
}

/// Computes rows `rows` of C += alpha · op(A) · B over all of K, in K blocks of at most 256.
@inline(__always)
private func gemmRows(_ rows: Range<Int>, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, rowStride: Int,
                      depthStride: Int, b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                      overwrite: Bool, bias: UnsafePointer<Float>?, relu: Bool, avx512: Bool, packed: Bool) {
    if packed {
        return gemmRowsPacked(rows, n: n, k: k, alpha: alpha, a: a, rowStride: rowStride, depthStride: depthStride,
                              b: b, c: c, ldc: ldc, overwrite: overwrite, bias: bias, relu: relu)
    }
    let blocks = (k + 255) / 256
    let kBlock = (k + blocks - 1) / blocks     // equal blocks: 288 stays one block, 600 → 3 × 200
    var p0 = 0
    while p0 < k {
        let kc = min(kBlock, k - p0)
        let block = KBlock(kc: kc, a: a + p0 * depthStride, rs: rowStride, ds: depthStride, b: b + p0 * ldb, ldb: ldb,
                           c: c, ldc: ldc, alpha: alpha, store: overwrite && p0 == 0)  // the first K block writes C
        // M blocks of 96 rows, columns outer within a block: a B panel (kc × 16 or 32) stays in L1 while all the
        // block's row tiles use it, and the block's A rows (96 × kc) stay in L2.
        var m0 = rows.lowerBound
        while m0 < rows.upperBound {
            let m1 = min(m0 + 96, rows.upperBound)
            if avx512 {
                // 12×32 and 12×16 tiles; columns past a multiple of 16 go through the AVX2 tiles.
                let fullRows = m0 + (m1 - m0) / 12 * 12
                var j = 0
                while j + 32 <= n {
                    for i in stride(from: m0, to: fullRows, by: 12) { block.tile(i, j, kernel12x32AVX512) }
                    j += 32
                }
                if j + 16 <= n {
                    for i in stride(from: m0, to: fullRows, by: 12) { block.tile(i, j, kernel12x16AVX512) }
                    j += 16
                }
                if j < n { avx2Tiles(block, rows: m0..<fullRows, columns: j..<n) }
                // Leftover rows: 4-row tiles, then single rows.
                let quadRows = fullRows + (m1 - fullRows) / 4 * 4
                if quadRows > fullRows {
                    j = 0
                    while j + 32 <= n {
                        for i in stride(from: fullRows, to: quadRows, by: 4) { block.tile(i, j, kernel4x32AVX512) }
                        j += 32
                    }
                    if j + 16 <= n {
                        for i in stride(from: fullRows, to: quadRows, by: 4) { block.tile(i, j, kernel4x16AVX512) }
                        j += 16
                    }
                    if j < n { avx2Tiles(block, rows: fullRows..<quadRows, columns: j..<n) }
                }
                avx2Tiles(block, rows: quadRows..<m1, columns: 0..<n)
            } else {
                avx2Tiles(block, rows: m0..<m1, columns: 0..<n)
            }
            if p0 + kc == k && (bias != nil || relu) {
                applyEpilogue(m0..<m1, n: n, c: c, ldc: ldc, bias: bias, relu: relu)
            }
            m0 = m1
        }
        p0 += kc
    }
}

/// One K block of a GEMM: A and B already offset to the block's first depth index.
private struct KBlock {
    let kc: Int
    let a: UnsafePointer<Float>
    let rs, ds: Int
    let b: UnsafePointer<Float>
    let ldb: Int
    let c: UnsafeMutablePointer<Float>
    let ldc: Int
    let alpha: Float
    let store: Bool

    typealias Kernel = (Int, UnsafePointer<Float>, Int, Int, UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>,
                        Int, Float, Bool) -> Void

    /// Runs `kernel` on the tile whose top-left element of C is (i, j).
    @inline(__always)
    func tile(_ i: Int, _ j: Int, _ kernel: Kernel) {
        kernel(kc, a + i * rs, rs, ds, b + j, ldb, c + i * ldc + j, ldc, alpha, store)
    }
}

/// AVX2 GEMM of rows `rows` of C with B packed by `packB` (panel q at `b + q · k · 16`). Loops, outer to
/// inner: K blocks (≤ 256 deep), N blocks of panels that fit in L2 together, 6-row tiles of C, the block's panels.
/// A tile's A rows are read from L2 once and stay in L1 for all the block's panels; when they are spread out (A
/// transposed: one cache line per depth step) they are first copied into a contiguous 6 × kc tile. Bias and ReLU
/// are applied to a tile's rows of the N block right after its last K block, while they are in L1.
private func gemmRowsPacked(_ rows: Range<Int>, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, rowStride: Int,
                            depthStride: Int, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
                            overwrite: Bool, bias: UnsafePointer<Float>?, relu: Bool) {
    guard !rows.isEmpty else { return }
    let blocks = (k + 255) / 256
    let kBlock = (k + blocks - 1) / blocks     // equal blocks: 288 stays one block, 600 → 3 × 200
    let panels = (n + 15) / 16
    let fullRows = rows.lowerBound + rows.count / 6 * 6
    let epilogue = bias != nil || relu
    // Per-thread, not withUnsafeTemporaryAllocation: past 1 KB that takes the heap, and a training step allocates nothing.
    let aTile = ScratchBuffer.forCurrentThread(count: 6 * 256 + 6 * 16, slot: .tile), cTile = aTile + 6 * 256
    var p0 = 0
    while p0 < k {
        let kc = min(kBlock, k - p0)
        let store = overwrite && p0 == 0, last = p0 + kc == k
        let panelsPerBlock = max(1, 49_152 / (kc * 16))    // ≈ 192 KB of B per N block
        var q0 = 0
        while q0 < panels {
            let q1 = min(q0 + panelsPerBlock, panels)
            let packA = depthStride != 1 && q1 - q0 >= 2
            for i in stride(from: rows.lowerBound, to: fullRows, by: 6) {
                var tileA = a + i * rowStride + p0 * depthStride, rs = rowStride, ds = depthStride
                if packA {
                    packRowTile(tileA, rs: rs, ds: ds, kc: kc, into: aTile)
                    tileA = UnsafePointer(aTile); rs = 1; ds = 6
                }
                for q in q0..<q1 {
                    let j = q * 16, width = min(16, n - j)
                    let panel = b + q * k * 16 + p0 * 16, tileC = c + i * ldc + j
                    if width == 16 {
                        kernel6x16(kc, tileA, rs, ds, panel, 16, tileC, ldc, alpha, store)
                    } else {
                        // The last, narrower panel is computed whole (its padding columns are zero) into a scratch
                        // tile; only its real columns reach C.
                        kernel6x16(kc, tileA, rs, ds, panel, 16, cTile, 16, alpha, true)
                        for r in 0..<6 {
                            let dst = tileC + r * ldc, src = cTile + r * 16
                            if store {
                                for t in 0..<width { dst[t] = src[t] }
                            } else {
                                for t in 0..<width { dst[t] += src[t] }
                            }
                        }
                    }
                }
                // Bias and ReLU over the tile's rows of this N block, once its last K block is in (still in L1).
                if last && epilogue {
                    let j0 = q0 * 16
                    applyEpilogue(0..<6, n: min(q1 * 16, n) - j0, c: c + i * ldc + j0, ldc: ldc,
                                  bias: bias.map { $0 + j0 }, relu: relu)
                }
            }
            for r in fullRows..<rows.upperBound {
                for q in q0..<q1 {
                    let j = q * 16, width = min(16, n - j)
                    kernelRow(kc, a + r * rowStride + p0 * depthStride, depthStride, b + q * k * 16 + p0 * 16, 16,
                              c + r * ldc + j, columns: 0..<width, alpha, store)
                }
                if last && epilogue {
                    let j0 = q0 * 16
                    applyEpilogue(0..<1, n: min(q1 * 16, n) - j0, c: c + r * ldc + j0, ldc: ldc,
                                  bias: bias.map { $0 + j0 }, relu: relu)
                }
            }
            q0 = q1
        }
        p0 += kc
    }
}

/// Copies the 6 × kc block of A whose element (r, p) is `src[r · rs + p · ds]` into `dst[p · 6 + r]`.
@inline(__always)
private func packRowTile(_ src: UnsafePointer<Float>, rs: Int, ds: Int, kc: Int, into dst: UnsafeMutablePointer<Float>) {
    if rs == 1 {
        // A transposed: the tile's 6 values at each depth are contiguous; two vector moves instead of six.
        for p in 0..<kc {
            let s = UnsafeRawPointer(src + p * ds), d = UnsafeMutableRawPointer(dst + p * 6)
            d.storeBytes(of: s.loadUnaligned(as: SIMD4<Float>.self), as: SIMD4<Float>.self)
            (d + 16).storeBytes(of: (s + 16).loadUnaligned(as: SIMD2<Float>.self), as: SIMD2<Float>.self)
        }
    } else {
        for p in 0..<kc {
            let s = src + p * ds, d = dst + p * 6
            for r in 0..<6 { d[r] = s[r * rs] }
        }
    }
}

/// Packs op(B) (k × n; B itself is n × k when `transB`) into `dst` (`packedBCount` floats) as 16-column panels:
/// panel q holds columns 16q..<16q+16 as k rows of 16 contiguous floats, zeros past column n, so the micro-kernel
/// reads B sequentially whatever its leading dimension or transpose. Pass the result as `gemm(packedB:)`.
public func packB(transB: Bool, k: Int, n: Int, b: UnsafePointer<Float>, ldb: Int, into dst: UnsafeMutablePointer<Float>) {
    var j = 0, panel = dst
    while j < n {
        let width = min(16, n - j)
        if width < 16 { panel.initialize(repeating: 0, count: 16 * k) }
        if transB {
            // op(B)[p, j] = b[j * ldb + p]: read B's rows (contiguous in p), write down the panel's column.
            for q in 0..<width {
                let src = b + (j + q) * ldb
                for p in 0..<k { panel[p * 16 + q] = src[p] }
            }
        } else {
            for p in 0..<k {
                let src = b + p * ldb + j, row = panel + p * 16
                if width == 16 {
                    UnsafeMutableRawPointer(row).storeBytes(of: load8(src), as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(row + 8).storeBytes(of: load8(src + 8), as: SIMD8<Float>.self)
                } else {
                    for q in 0..<width { row[q] = src[q] }
                }
            }
        }
        j += 16
        panel += 16 * k
    }
}

/// The rectangle `rows` × `columns` of C in AVX2 tiles: 6×16 where they fit, then one row at a time.
@inline(__always)
private func avx2Tiles(_ block: KBlock, rows: Range<Int>, columns: Range<Int>) {
    guard !rows.isEmpty, !columns.isEmpty else { return }
    let fullRows = rows.lowerBound + rows.count / 6 * 6
    var j = columns.lowerBound
    while j + 16 <= columns.upperBound {
        for i in stride(from: rows.lowerBound, to: fullRows, by: 6) { block.tile(i, j, kernel6x16) }
        j += 16
    }
    for r in rows {
        let from = r < fullRows ? j : columns.lowerBound
        if from < columns.upperBound {
            kernelRow(block.kc, block.a + r * block.rs, block.ds, block.b, block.ldb, block.c + r * block.ldc,
                      columns: from..<columns.upperBound, block.alpha, block.store)
        }
    }
}

@inline(__always)
private func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
private func addStore8(_ p: UnsafeMutablePointer<Float>, _ v: SIMD8<Float>, _ alpha: Float, _ store: Bool) {
    let raw = UnsafeMutableRawPointer(p)
    let result = store ? v * alpha : raw.loadUnaligned(as: SIMD8<Float>.self) + v * alpha
    raw.storeBytes(of: result, as: SIMD8<Float>.self)
}

/// C[6×16] += alpha · A[6×kc] · B[kc×16]; 12 accumulators stay in registers for the whole K loop.
@inline(never)
private func kernel6x16(_ kc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ds: Int, _ b: UnsafePointer<Float>,
                        _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ store: Bool) {
    var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
    var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
    var c40 = SIMD8<Float>(), c41 = SIMD8<Float>(), c50 = SIMD8<Float>(), c51 = SIMD8<Float>()
    var pa = a, pb = b
    for _ in 0..<kc {
        let b0 = load8(pb), b1 = load8(pb + 8)
        var s = SIMD8<Float>(repeating: pa[0]); c00.addProduct(s, b0); c01.addProduct(s, b1)
        s = SIMD8<Float>(repeating: pa[rs]); c10.addProduct(s, b0); c11.addProduct(s, b1)
        s = SIMD8<Float>(repeating: pa[2 * rs]); c20.addProduct(s, b0); c21.addProduct(s, b1)
        s = SIMD8<Float>(repeating: pa[3 * rs]); c30.addProduct(s, b0); c31.addProduct(s, b1)
        s = SIMD8<Float>(repeating: pa[4 * rs]); c40.addProduct(s, b0); c41.addProduct(s, b1)
        s = SIMD8<Float>(repeating: pa[5 * rs]); c50.addProduct(s, b0); c51.addProduct(s, b1)
        pa += ds
        pb += ldb
    }
    addStore8(c, c00, alpha, store); addStore8(c + 8, c01, alpha, store)
    addStore8(c + ldc, c10, alpha, store); addStore8(c + ldc + 8, c11, alpha, store)
    addStore8(c + 2 * ldc, c20, alpha, store); addStore8(c + 2 * ldc + 8, c21, alpha, store)
    addStore8(c + 3 * ldc, c30, alpha, store); addStore8(c + 3 * ldc + 8, c31, alpha, store)
    addStore8(c + 4 * ldc, c40, alpha, store); addStore8(c + 4 * ldc + 8, c41, alpha, store)
    addStore8(c + 5 * ldc, c50, alpha, store); addStore8(c + 5 * ldc + 8, c51, alpha, store)
}

/// One row of C over `columns`: 8 columns per vector, then scalars. Four accumulators take alternate depth
/// indices, so consecutive FMAs do not wait on each other (one chain would run at a quarter of the FMA rate).
@inline(never)
private func kernelRow(_ kc: Int, _ a: UnsafePointer<Float>, _ ds: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                       _ c: UnsafeMutablePointer<Float>, columns: Range<Int>, _ alpha: Float, _ store: Bool) {
    var j = columns.lowerBound
    // 64 columns at a time first (a matrix-vector product: a Dense layer on one sample): 256 contiguous bytes of
    // each B row per depth step, so B streams through once in whole cache lines; eight accumulators.
    while j + 64 <= columns.upperBound {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
        var acc4 = SIMD8<Float>(), acc5 = SIMD8<Float>(), acc6 = SIMD8<Float>(), acc7 = SIMD8<Float>()
        var pa = a, pb = b + j
        for _ in 0..<kc {
            let s = SIMD8<Float>(repeating: pa[0])
            acc0.addProduct(s, load8(pb)); acc1.addProduct(s, load8(pb + 8))
            acc2.addProduct(s, load8(pb + 16)); acc3.addProduct(s, load8(pb + 24))
            acc4.addProduct(s, load8(pb + 32)); acc5.addProduct(s, load8(pb + 40))
            acc6.addProduct(s, load8(pb + 48)); acc7.addProduct(s, load8(pb + 56))
            pa += ds
            pb += ldb
        }
        addStore8(c + j, acc0, alpha, store); addStore8(c + j + 8, acc1, alpha, store)
        addStore8(c + j + 16, acc2, alpha, store); addStore8(c + j + 24, acc3, alpha, store)
        addStore8(c + j + 32, acc4, alpha, store); addStore8(c + j + 40, acc5, alpha, store)
        addStore8(c + j + 48, acc6, alpha, store); addStore8(c + j + 56, acc7, alpha, store)
        j += 64
    }
    while j + 8 <= columns.upperBound {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
        var pa = a, pb = b + j
        var p = 0
        while p + 4 <= kc {
            acc0.addProduct(SIMD8<Float>(repeating: pa[0]), load8(pb))
            acc1.addProduct(SIMD8<Float>(repeating: pa[ds]), load8(pb + ldb))
            acc2.addProduct(SIMD8<Float>(repeating: pa[2 * ds]), load8(pb + 2 * ldb))
            acc3.addProduct(SIMD8<Float>(repeating: pa[3 * ds]), load8(pb + 3 * ldb))
            pa += 4 * ds
            pb += 4 * ldb
            p += 4
        }
        while p < kc {
            acc0.addProduct(SIMD8<Float>(repeating: pa[0]), load8(pb))
            pa += ds
            pb += ldb
            p += 1
        }
        addStore8(c + j, (acc0 + acc1) + (acc2 + acc3), alpha, store)
        j += 8
    }
    while j < columns.upperBound {
        var acc: Float = 0
        var pa = a, pb = b + j
        for _ in 0..<kc {
            acc = acc.addingProduct(pa[0], pb[0])
            pa += ds
            pb += ldb
        }
        c[j] = store ? alpha * acc : c[j] + alpha * acc
        j += 1
    }
}

/// C[rows] += bias (per column), then max(0, ·) when `relu`. The branches are decided once per call, not per
/// element, so each case is a plain SIMD loop.
@inline(never)
private func applyEpilogue(_ rows: Range<Int>, n: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                           bias: UnsafePointer<Float>?, relu: Bool) {
    if let bias {
        if relu { epilogueLoop(rows, n, c, ldc, bias, relu: true) } else { epilogueLoop(rows, n, c, ldc, bias, relu: false) }
    } else if relu {
        epilogueLoop(rows, n, c, ldc, nil, relu: true)
    }
}

@inline(__always)
private func epilogueLoop(_ rows: Range<Int>, _ n: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int,
                          _ bias: UnsafePointer<Float>?, relu: Bool) {
    let zero = SIMD8<Float>(repeating: 0)
    for r in rows {
        let row = c + r &* ldc
        var j = 0
        while j &+ 8 <= n {
            let raw = UnsafeMutableRawPointer(row + j)
            var v = raw.loadUnaligned(as: SIMD8<Float>.self)
            if let bias { v += UnsafeRawPointer(bias + j).loadUnaligned(as: SIMD8<Float>.self) }
            if relu { v = v.replacing(with: zero, where: v .< zero) }
            raw.storeBytes(of: v, as: SIMD8<Float>.self)
            j &+= 8
        }
        while j < n {
            var v = row[j] + (bias?[j] ?? 0)
            if relu { v = max(v, 0) }
            row[j] = v
            j &+= 1
        }
    }
}

/// Per-thread scratch that grows when needed and is reused, so steady-state work allocates nothing. Separate
/// slots let nested users on one thread (a convolution's column chunk, then the GEMM it calls) keep their buffers.
public enum ScratchBuffer {
    public enum Slot: Int { case gemm = 0, columns, columnGrads, partialSums, tile }
    private static let slotCount = 5

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { raw in
            guard let raw else { return }
            let header = raw.assumingMemoryBound(to: Int.self)
            for slot in 0..<slotCount { free(UnsafeMutableRawPointer(bitPattern: header[2 * slot + 1])) }
            free(raw)
        }
        return key
    }()

    /// A buffer of at least `count` floats owned by the calling thread.
    public static func forCurrentThread(count: Int, slot: Slot = .gemm) -> UnsafeMutablePointer<Float> {
        var header = pthread_getspecific(key)?.assumingMemoryBound(to: Int.self)
        if header == nil {
            let h = malloc(2 * slotCount * MemoryLayout<Int>.stride)!.assumingMemoryBound(to: Int.self)
            h.initialize(repeating: 0, count: 2 * slotCount)
            pthread_setspecific(key, h)
            header = h
        }
        let capacity = header! + 2 * slot.rawValue, address = capacity + 1
        if capacity.pointee < max(count, 1) {
            free(UnsafeMutableRawPointer(bitPattern: address.pointee))
            let p = allocateFloats(max(count, 1))
            capacity.pointee = max(count, 1)
            address.pointee = Int(bitPattern: p)
        }
        return UnsafeMutablePointer<Float>(bitPattern: address.pointee)!
    }
}
