#if canImport(Glibc)
import Glibc
#endif
import SwiftCNNAVX512

/// Row-major single-precision GEMM: C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C.
/// `beta == 0` overwrites C without reading it (C may hold garbage). Optional epilogue: `bias` (n values) is added
/// to every row and `relu` clamps at zero, applied by the micro-kernel as it stores a tile's last K block (a
/// layer's bias + ReLU then costs no pass over the output). Thread-safe; splits the work across the
/// engine's threads when the product is big, unless `serial` (the caller already splits its work across threads).
///
/// One BLIS-style driver for every instruction set (`GEMMKernels`: only the micro-tile's shape MR × NR, the
/// micro-kernel and the packing width differ). op(B) is packed into NR-column panels (`packB`); loops, outer to
/// inner: K blocks of `kc` (a B panel block stays in L1), M blocks of `mc` rows (their A slivers stay in L2), the
/// block's panels, its MR-row slivers; the driver decides the epilogue, the micro-kernel applies it in registers.
/// A sliver is packed (MR × kc contiguous) when it is read across enough panels or its rows are spread out
/// (op(A) = Aᵀ); otherwise the micro-kernel broadcasts A's elements in place. Block sizes come from the CPU's cache
/// sizes (`GEMMBlocking`). `packedB`: the caller packed op(B) with `packB` once for several GEMMs
/// (a convolution's kernel for every chunk).
public func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                 a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                 beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                 bias: UnsafePointer<Float>? = nil, relu: Bool = false, serial: Bool = false,
                 packedB: UnsafePointer<Float>? = nil) {
    guard m > 0, n > 0 else { return }
    let epilogue = GEMMEpilogue(bias: bias, relu: relu)
    // beta == 0: the first K block stores into C (no zeroing pass); otherwise C ← beta · C, then accumulate.
    if k == 0 || alpha == 0 || beta != 0 {
        for i in 0..<m {
            let row = c + i * ldc
            if beta == 0 { row.initialize(repeating: 0, count: n) } else if beta != 1 { for j in 0..<n { row[j] *= beta } }
        }
    }
    guard k > 0, alpha != 0 else {
        if !epilogue.isEmpty { applyEpilogue(epilogue, rows: m, columns: 0..<n, c: c, ldc: ldc) }
        return
    }
    let kernels = GEMMKernels.active.forDepth(k)
    let opA = GEMMOperand(base: a, rowStride: transA ? 1 : lda, depthStride: transA ? lda : 1)
    let opC = GEMMResult(base: c, ldc: ldc, alpha: alpha, overwrite: beta == 0, epilogue: epilogue)
    let threads = serial ? 1 : engineThreadCount
    let big = threads > 1 && 2 * m * n * k >= 4_000_000

    // One row (a Dense layer on one sample): a matrix-vector product, B read in place at memory bandwidth; packing
    // it would cost as much as the product. Columns are split across threads.
    if m == 1 && !transB && packedB == nil {
        let job = RowJob(m: m, n: n, k: k, a: opA, b: b, ldb: ldb, c: opC, kernels: kernels)
        let step = 8 * kernels.nr / 2                                     // the row kernel's widest pass
        let groups = (n + step - 1) / step
        if big && groups >= 2 {
            parallelFor(groups, minChunk: 1, context: job) { context, lo, hi in
                let job = context.assumingMemoryBound(to: RowJob.self).pointee
                let step = 8 * job.kernels.nr / 2
                job.run(columns: lo * step..<min(hi * step, job.n))
            }
        } else {
            job.run(columns: 0..<n)
        }
        return
    }

    let panels = (n + kernels.nr - 1) / kernels.nr
    let slivers = (m + kernels.mr - 1) / kernels.mr
    // A few rows (a layer on one or a few samples): B is read by so few slivers that packing it would cost as much
    // as the product, so the micro-kernel reads its rows in place (whole panels; the last columns by the row kernel).
    if m < fewRows && !transB && packedB == nil {
        let job = PackedJob(m: m, n: n, k: k, a: opA, b: b, ldb: ldb, transB: false, packed: nil, inPlace: true,
                            c: opC, kernels: kernels)
        if big && panels >= 2 * threads {
            parallelFor(panels, minChunk: 1, context: job) { context, lo, hi in
                let job = context.assumingMemoryBound(to: PackedJob.self).pointee
                job.run(rows: 0..<job.m, panels: lo..<hi)
            }
        } else {
            job.run(rows: 0..<m, panels: 0..<panels)
        }
        return
    }
    // Enough column panels (and no B packed by the caller): each thread packs and multiplies its own panels, so the
    // packing is shared out too. Otherwise B is packed once here and the threads split the rows.
    if big && packedB == nil && panels >= 4 * threads {
        let job = PackedJob(m: m, n: n, k: k, a: opA, b: b, ldb: ldb, transB: transB, packed: nil, inPlace: false,
                            c: opC, kernels: kernels)
        parallelFor(panels, minChunk: 2, context: job) { context, lo, hi in
            let job = context.assumingMemoryBound(to: PackedJob.self).pointee
            job.run(rows: 0..<job.m, panels: lo..<hi)
        }
        return
    }
    var panelsB = packedB
    if panelsB == nil {
        let scratch = ScratchBuffer.forCurrentThread(count: packedBCount(k: k, n: n))
        packBShared(transB: transB, k: k, n: n, b: b, ldb: ldb, into: scratch, kernels: kernels)
        panelsB = UnsafePointer(scratch)
    }
    let job = PackedJob(m: m, n: n, k: k, a: opA, b: b, ldb: ldb, transB: transB, packed: panelsB, inPlace: false,
                        c: opC, kernels: kernels)
    if big && slivers >= 2 {
        parallelFor(slivers, minChunk: 1, context: job) { context, lo, hi in
            let job = context.assumingMemoryBound(to: PackedJob.self).pointee
            job.run(rows: lo * job.kernels.mr..<min(hi * job.kernels.mr, job.m), panels: 0..<job.panels)
        }
    } else {
        job.run(rows: 0..<m, panels: 0..<panels)
    }
}

/// Below this many rows of C, `gemm` reads B in place rather than packing it (and a caller should not pack it).
public let fewRows = 4 * microTileRows

/// Whether `gemm` multiplies by B in packed panels for a product with `m` rows: on every instruction set, unless m is
/// below `fewRows`. A caller that uses one B in many GEMMs (a convolution's kernel in every chunk) packs it once with
/// `packB` and passes `packedB`.
public func gemmTakesPackedB(m: Int) -> Bool { m >= fewRows }

/// Floats that `packB` writes for a k × n op(B) (enough for the widest panels of any instruction set).
public func packedBCount(k: Int, n: Int) -> Int { (n + 31) / 32 * 32 * k }

/// Packs op(B) (k × n; B itself is n × k when `transB`) into `dst` (`packedBCount` floats) as panels of the active
/// instruction set's width NR: panel q holds columns q·NR..<(q+1)·NR as k rows of NR contiguous floats, zeros past
/// column n, so the micro-kernel reads B sequentially whatever its leading dimension or transpose. Pass the result
/// as `gemm(packedB:)` (with the same instruction set active).
public func packB(transB: Bool, k: Int, n: Int, b: UnsafePointer<Float>, ldb: Int, into dst: UnsafeMutablePointer<Float>) {
    packBShared(transB: transB, k: k, n: n, b: b, ldb: ldb, into: dst, kernels: .active)
}

/// An operand of the product: element (i, p) of op(A) is base[i · rowStride + p · depthStride].
struct GEMMOperand {
    let base: UnsafePointer<Float>
    let rowStride, depthStride: Int

    @inline(__always)
    func at(_ i: Int, _ p: Int) -> UnsafePointer<Float> { base + (i &* rowStride &+ p &* depthStride) }
}

/// Where the product goes and what happens to it: C ← alpha · product (+ C unless `overwrite`), then the epilogue.
struct GEMMResult {
    let base: UnsafeMutablePointer<Float>
    let ldc: Int
    let alpha: Float
    let overwrite: Bool
    let epilogue: GEMMEpilogue
}

/// What is applied to C once its last K block is in: bias per column, then ReLU.
struct GEMMEpilogue {
    let bias: UnsafePointer<Float>?
    let relu: Bool
    var isEmpty: Bool { bias == nil && !relu }
}

/// An instruction set's GEMM code: the micro-tile's rows MR and width NR (= packed panel width), the micro-kernel,
/// the row kernel and the block sizes. Everything else is the shared driver. With 32 vector registers (AVX-512) a
/// 12-row tile fits too (`tall`): it reads each B vector for twice as many FMAs, which pays on deep products,
/// whose kc × NR panel fills L1 and is partly streamed from L2 for every sliver (VGG's 4×4 and 8×8 layers, depth
/// 2304-4608: 6-10 % faster per training step on Sapphire Rapids). On shallow products (depth ≤ 576) it measured
/// 2-8 % slower (twice the epilogue per tile), so the driver takes it from four K blocks of depth up.
struct GEMMKernels {
    typealias MicroKernel = (Int, UnsafePointer<Float>, Int, Int, UnsafePointer<Float>, Int,
                             UnsafeMutablePointer<Float>, Int, Float, Bool, UnsafePointer<Float>?, Bool) -> Void
    typealias RowKernel = (Int, UnsafePointer<Float>, Int, UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>,
                           Int, Float, Bool) -> Void
    typealias WindowKernel = (Int, Int, Int, UnsafePointer<Float>, Int, UnsafePointer<Float>,
                              UnsafeMutablePointer<Float>, Int, UnsafePointer<Float>?, Bool) -> Void
    let mr, nr: Int
    let micro: MicroKernel
    let tall: (rows: Int, micro: MicroKernel)?
    /// Six rows × NR/2 columns: the tiles of a last panel whose second half is padding.
    let narrow: MicroKernel
    let row: RowKernel
    let window: WindowKernel
    let blocking: GEMMBlocking

    static let avx2 = GEMMKernels(mr: microTileRows, nr: microTileColumns, micro: microKernelAVX2, tall: nil,
                                  narrow: narrowMicroKernelAVX2, row: rowKernelAVX2, window: windowKernelAVX2,
                                  blocking: GEMMBlocking(nr: microTileColumns))
    static let avx512 = GEMMKernels(mr: microTileRows, nr: microTileColumnsAVX512, micro: microKernelAVX512,
                                    tall: (tallMicroTileRowsAVX512, tallMicroKernelAVX512),
                                    narrow: narrowMicroKernelAVX512, row: rowKernelAVX512, window: windowKernelAVX512,
                                    blocking: GEMMBlocking(nr: microTileColumnsAVX512))
    static var active: GEMMKernels { InstructionSet.active == .avx512 ? avx512 : avx2 }

    /// The kernels for a product of depth k: the tall tile from four K blocks up, where there is one.
    func forDepth(_ k: Int) -> GEMMKernels {
        guard let tall, k >= 4 * blocking.kc else { return self }
        return GEMMKernels(mr: tall.rows, nr: nr, micro: tall.micro, tall: nil, narrow: narrow, row: row, window: window,
                           blocking: blocking)
    }
}

/// Block sizes of the driver's loops for panels NR wide, from the cache sizes: a kc × NR panel of B fills L1 (it is
/// reread by every sliver of an M block; measured on Zen 4, a panel of half of L1 stored C twice as often and was
/// 25 % slower on 1024³), an mc × kc block of A slivers half of L2 (a whole number of 6- and 12-row slivers). A
/// depth up to 5/4 kc stays one block.
struct GEMMBlocking {
    let kc, mc: Int

    init(nr: Int, caches: CacheSizes = .current) {
        kc = min(max(caches.l1Data / (nr * 4) / 16 * 16, 64), 512)
        mc = max((caches.l2 / 2) / (kc * 4) / 12 * 12, 72)
    }
}

/// Per-core data cache sizes in bytes, read from sysfs (cpu0's cache/index*/); typical values where it is absent.
struct CacheSizes {
    var l1Data = 32 * 1024, l2 = 512 * 1024

    static let current: CacheSizes = {
        var sizes = CacheSizes()
        for index in 0..<8 {
            let dir = "/sys/devices/system/cpu/cpu0/cache/index\(index)/"
            guard let level = readLine(dir + "level"), let type = readLine(dir + "type"),
                  let size = readLine(dir + "size").flatMap(parseCacheSize) else { continue }
            if level == "1" && type == "Data" { sizes.l1Data = size }
            if level == "2" && type != "Instruction" { sizes.l2 = size }
        }
        return sizes
    }()
}

/// "32K" / "1024K" / "2M" → bytes.
private func parseCacheSize(_ text: String) -> Int? {
    let unit = text.last.map { "KMG".contains($0) ? $0 : nil } ?? nil
    guard let value = Int(unit == nil ? text : String(text.dropLast())), value > 0 else { return nil }
    switch unit {
    case "K": return value * 1024
    case "M": return value * 1024 * 1024
    case "G": return value * 1024 * 1024 * 1024
    default: return value
    }
}

/// The first line of a small text file, without its newline.
private func readLine(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var buffer = [CChar](repeating: 0, count: 64)
    guard fgets(&buffer, 64, file) != nil else { return nil }
    return String(cString: buffer).trimmingCharacters(in: "\n ")
}

private extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let last = s.last, set.contains(last) { s = s.dropLast() }
        while let first = s.first, set.contains(first) { s = s.dropFirst() }
        return String(s)
    }
}

/// A product with fewer rows than a micro-tile: each row of C from the row kernel, B read in place.
private struct RowJob {
    let m, n, k: Int
    let a: GEMMOperand
    let b: UnsafePointer<Float>
    let ldb: Int
    let c: GEMMResult
    let kernels: GEMMKernels

    func run(columns: Range<Int>) {
        guard !columns.isEmpty else { return }
        for i in 0..<m {
            let row = c.base + i * c.ldc + columns.lowerBound
            kernels.row(k, a.at(i, 0), a.depthStride, b + columns.lowerBound, ldb, row, columns.count, c.alpha,
                        c.overwrite)
            if !c.epilogue.isEmpty { applyEpilogue(c.epilogue, rows: 1, columns: columns, c: c.base + i * c.ldc, ldc: c.ldc) }
        }
    }
}

/// The packed-B product, or the share of it one thread computes (`run(rows:panels:)`).
private struct PackedJob {
    let m, n, k: Int
    let a: GEMMOperand
    let b: UnsafePointer<Float>
    let ldb: Int
    let transB: Bool
    /// op(B) already packed for all n columns; nil: each `run` packs the panels it multiplies, unless `inPlace`.
    let packed: UnsafePointer<Float>?
    /// B (not transposed) read in place: whole panels by the micro-kernel, the columns past them by the row kernel.
    let inPlace: Bool
    let c: GEMMResult
    let kernels: GEMMKernels

    var panels: Int { (n + kernels.nr - 1) / kernels.nr }

    /// C[rows, panels' columns]: the driver's loops over K blocks, M blocks, panels and MR-row slivers.
    func run(rows: Range<Int>, panels: Range<Int>) {
        guard !rows.isEmpty, !panels.isEmpty else { return }
        let nr = kernels.nr, mr = kernels.mr
        var panels = panels
        if inPlace && panels.upperBound * nr > n && 2 * (n - (panels.upperBound - 1) * nr) != nr {
            // The partial last panel cannot be read in place (its padding columns do not exist): the row kernel.
            // Unless it is exactly half a panel, which the half-panel kernel reads whole (16 × 16 weight gradients).
            panels = panels.lowerBound..<panels.upperBound - 1
            let j0 = panels.upperBound * nr
            for i in rows {
                kernels.row(k, a.at(i, 0), a.depthStride, b + j0, ldb, c.base + i * c.ldc + j0, n - j0, c.alpha,
                            c.overwrite)
            }
            if !c.epilogue.isEmpty { applyEpilogue(c.epilogue, rows: rows.count, columns: j0..<n, c: c.base + rows.lowerBound * c.ldc, ldc: c.ldc) }
            guard !panels.isEmpty else { return }
        }
        // Panel q's row p: at panelBase + (q − panels.lowerBound)·panelStep + p·panelRowStride.
        var panelBase: UnsafePointer<Float>, panelStep = k * nr, panelRowStride = nr
        if inPlace {
            panelBase = b + panels.lowerBound * nr
            panelStep = nr
            panelRowStride = ldb
        } else if let packed {
            panelBase = packed + panels.lowerBound * k * nr
        } else {
            let j0 = panels.lowerBound * nr, width = min(panels.upperBound * nr, n) - j0
            let scratch = ScratchBuffer.forCurrentThread(count: packedBCount(k: k, n: width))
            packB(transB: transB, k: k, n: width, b: transB ? b + j0 * ldb : b + j0, ldb: ldb, into: scratch,
                  kernels: kernels)
            panelBase = UnsafePointer(scratch)
        }
        let blocking = kernels.blocking
        let kBlocks = max(1, (4 * k + 5 * blocking.kc - 1) / (5 * blocking.kc))
        let kcMax = (k + kBlocks - 1) / kBlocks                // equal blocks: 600 → 3 × 200, not 512 + 88
        let mcMax = min(blocking.mc, (rows.count + mr - 1) / mr * mr)
        // Packing A pays when its rows are spread out in both directions (one cache line per element) and a sliver is
        // read by more than one panel. Aᵀ of a row-major A (a weight gradient's) has a sliver's rows side by side, one
        // line per depth step: read in place too (the packing copy was 3 % of W3's training step; in place, W1-W3
        // 1-2 % faster, W5 unchanged). Rows contiguous in depth are read in place: six sequential streams cost the
        // micro-kernel nothing, and packing them (a transposition) took 12 % of a VGG forward pass on Zen 4. Unless
        // they are a multiple of 2 KB apart (a power-of-two depth such as 1024): then the streams share one or two L1
        // sets, more lines than a set has ways, and every load misses L1. Such rows are copied (vector moves) to a
        // pitch of an odd number of cache lines and read there as if in place (1024³ on Zen 4: 63 → 85 GFLOP/s).
        let transposeAll = a.depthStride != 1 && a.rowStride != 1 && panels.count >= 2
        let copyRows = a.depthStride == 1 && (a.rowStride * MemoryLayout<Float>.size) % 2048 == 0 && panels.count >= 2
        let pitch = (kcMax + 15) / 16 * 16 + ((kcMax + 15) / 16 % 2 == 0 ? 16 : 0)
        // Per-thread: the M block's slivers (transposed, or rows copied at `pitch`), a partial last sliver, then one
        // micro-tile for edge tiles.
        let aPack = ScratchBuffer.forCurrentThread(count: mcMax * pitch + mr * kcMax + mr * nr, slot: .tile)
        let partialSliver = aPack + mcMax * pitch, edgeTile = partialSliver + mr * kcMax
        let ldc = c.ldc
        var p0 = 0
        while p0 < k {
            let kc = min(kcMax, k - p0)
            let store = c.overwrite && p0 == 0, last = p0 + kc == k
            var i0 = rows.lowerBound
            while i0 < rows.upperBound {
                let i1 = min(i0 + mcMax, rows.upperBound)
                let sliverCount = (i1 - i0 + mr - 1) / mr
                let fullSlivers = (i1 - i0) / mr
                if transposeAll {
                    for s in 0..<sliverCount {
                        packSliver(a, rows: i0 + s * mr..<min(i0 + (s + 1) * mr, i1), mr: mr, p0: p0, kc: kc,
                                   into: aPack + s * mr * kc)
                    }
                } else {
                    if copyRows { copyRowsOfA(a, rows: i0..<i0 + fullSlivers * mr, p0: p0, kc: kc, pitch: pitch, into: aPack) }
                    if fullSlivers < sliverCount {
                        packSliver(a, rows: i0 + fullSlivers * mr..<i1, mr: mr, p0: p0, kc: kc, into: partialSliver)
                    }
                }
                for q in panels {
                    let panel = panelBase + (q - panels.lowerBound) * panelStep + p0 * panelRowStride
                    let j = q * nr, width = min(nr, n - j)
                    for s in 0..<sliverCount {
                        let i = i0 + s * mr, height = min(mr, i1 - i)
                        // A sliver of rows (in place or copied) has A's strides; a packed one 1 and MR.
                        let sliver: UnsafePointer<Float>, rs: Int, ds: Int
                        if transposeAll {
                            (sliver, rs, ds) = (UnsafePointer(aPack + s * mr * kc), 1, mr)
                        } else if s == fullSlivers {
                            (sliver, rs, ds) = (UnsafePointer(partialSliver), 1, mr)
                        } else if copyRows {
                            (sliver, rs, ds) = (UnsafePointer(aPack + s * mr * pitch), pitch, 1)
                        } else {
                            (sliver, rs, ds) = (a.at(i, p0), a.rowStride, a.depthStride)
                        }
                        let tile = c.base + i * ldc + j
                        if width == nr && height == mr {
                            // The tile's last K block also applies the epilogue as it stores.
                            kernels.micro(kc, sliver, rs, ds, panel, panelRowStride, tile, ldc, c.alpha, store,
                                          last ? c.epilogue.bias.map { $0 + j } : nil, last && c.epilogue.relu)
                        } else if 2 * width == nr && height == mr {
                            // Half a panel (16 filters on AVX-512): six rows at a time, one vector wide.
                            for r in stride(from: 0, to: mr, by: 6) {
                                kernels.narrow(kc, sliver + r * rs, rs, ds, panel, panelRowStride, tile + r * ldc, ldc,
                                               c.alpha, store, last ? c.epilogue.bias.map { $0 + j } : nil,
                                               last && c.epilogue.relu)
                            }
                        } else {
                            // An edge tile is computed whole (padding rows and columns are zeros) into scratch;
                            // only its real part reaches C, and then the epilogue. Half a panel wide: six rows at a
                            // time of the half-panel kernel (which reads no column past the half, so B in place too).
                            if 2 * width == nr {
                                for r in stride(from: 0, to: height, by: 6) {
                                    kernels.narrow(kc, sliver + r * rs, rs, ds, panel, panelRowStride, edgeTile + r * nr,
                                                   nr, c.alpha, true, nil, false)
                                }
                            } else {
                                kernels.micro(kc, sliver, rs, ds, panel, panelRowStride, edgeTile, nr, c.alpha, true,
                                              nil, false)
                            }
                            for r in 0..<height {
                                let dst = tile + r * ldc, src = edgeTile + r * nr
                                if store {
                                    for t in 0..<width { dst[t] = src[t] }
                                } else {
                                    for t in 0..<width { dst[t] += src[t] }
                                }
                            }
                            if last && !c.epilogue.isEmpty {
                                applyEpilogue(c.epilogue, rows: height, columns: j..<j + width, c: c.base + i * ldc,
                                              ldc: ldc)
                            }
                        }
                    }
                }
                i0 = i1
            }
            p0 += kc
        }
    }
}

/// Copies rows `rows` × depths p0..<p0+kc of op(A) (contiguous in depth) to `dst`, row r at dst + r · pitch.
@inline(__always)
private func copyRowsOfA(_ a: GEMMOperand, rows: Range<Int>, p0: Int, kc: Int, pitch: Int,
                         into dst: UnsafeMutablePointer<Float>) {
    for (r, i) in rows.enumerated() {
        (dst + r * pitch).update(from: a.at(i, p0), count: kc)
    }
}

/// Copies rows `rows` (at most `mr`: 6 or 12) × depths p0..<p0+kc of op(A) into `dst` as a sliver:
/// dst[p · mr + r], rows past the end zero.
@inline(__always)
private func packSliver(_ a: GEMMOperand, rows: Range<Int>, mr: Int, p0: Int, kc: Int,
                        into dst: UnsafeMutablePointer<Float>) {
    let height = rows.count
    if height < mr { dst.initialize(repeating: 0, count: mr * kc) }
    let src = a.at(rows.lowerBound, p0)
    if a.rowStride == 1 && height == 6 && mr == 6 {
        // op(A) = Aᵀ: the sliver's values at each depth are contiguous; vector moves instead of one per row.
        for p in 0..<kc {
            let s = UnsafeRawPointer(src + p * a.depthStride), d = UnsafeMutableRawPointer(dst + p * mr)
            d.storeBytes(of: s.loadUnaligned(as: SIMD4<Float>.self), as: SIMD4<Float>.self)
            (d + 16).storeBytes(of: (s + 16).loadUnaligned(as: SIMD2<Float>.self), as: SIMD2<Float>.self)
        }
    } else if a.rowStride == 1 && height == 12 && mr == 12 {
        for p in 0..<kc {
            let s = UnsafeRawPointer(src + p * a.depthStride), d = UnsafeMutableRawPointer(dst + p * mr)
            d.storeBytes(of: s.loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
            (d + 32).storeBytes(of: (s + 32).loadUnaligned(as: SIMD4<Float>.self), as: SIMD4<Float>.self)
        }
    } else if a.rowStride == 1 {
        // Aᵀ, a partial sliver (a Winograd weight gradient's 16 channels: 6 + 6 + 4): vector moves, not one per row.
        for p in 0..<kc { copyFloats(dst + p * mr, src + p * a.depthStride, count: height) }
    } else if a.depthStride == 1 {
        // A's rows are contiguous in depth: read each row once, write down the sliver's column.
        for r in 0..<height {
            let s = src + r * a.rowStride
            for p in 0..<kc { dst[p * mr + r] = s[p] }
        }
    } else {
        for p in 0..<kc {
            let s = src + p * a.depthStride, d = dst + p * mr
            for r in 0..<height { d[r] = s[r * a.rowStride] }
        }
    }
}

/// `packB` with the active threads sharing the panels when B is big (a VGG layer's kernel is 9 MB: packing it on
/// one thread while the other waited cost 5 % of a forward pass).
private func packBShared(transB: Bool, k: Int, n: Int, b: UnsafePointer<Float>, ldb: Int,
                         into dst: UnsafeMutablePointer<Float>, kernels: GEMMKernels) {
    let panels = (n + kernels.nr - 1) / kernels.nr
    guard engineThreadCount > 1 && k * n >= 1 << 18 && panels >= 2 else {
        return packB(transB: transB, k: k, n: n, b: b, ldb: ldb, into: dst, kernels: kernels)
    }
    let job = (transB, k, n, b, ldb, dst, kernels)
    parallelFor(panels, minChunk: 1, context: job) { context, lo, hi in
        let (transB, k, n, b, ldb, dst, kernels) = context.assumingMemoryBound(
            to: (Bool, Int, Int, UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, GEMMKernels).self).pointee
        let j0 = lo * kernels.nr, width = min(hi * kernels.nr, n) - j0
        packB(transB: transB, k: k, n: width, b: transB ? b + j0 * ldb : b + j0, ldb: ldb, into: dst + lo * k * kernels.nr,
              kernels: kernels)
    }
}

private func packB(transB: Bool, k: Int, n: Int, b: UnsafePointer<Float>, ldb: Int, into dst: UnsafeMutablePointer<Float>,
                   kernels: GEMMKernels) {
    let nr = kernels.nr
    var j = 0, panel = dst
    while j < n {
        let width = min(nr, n - j)
        if width < nr { panel.initialize(repeating: 0, count: nr * k) }
        if transB {
            // op(B)[p, j] = b[j * ldb + p]: read B's rows (contiguous in p), write down the panel's column, 64
            // depths at a time so the panel rows being written (64 × NR floats) stay in L1 across the NR rows of B.
            var p0 = 0
            while p0 < k {
                let p1 = min(p0 + 64, k)
                for q in 0..<width {
                    let src = b + (j + q) * ldb
                    for p in p0..<p1 { panel[p * nr + q] = src[p] }
                }
                p0 = p1
            }
        } else {
            for p in 0..<k {
                let src = b + p * ldb + j, row = panel + p * nr
                if width == nr {
                    var t = 0
                    while t < nr {
                        UnsafeMutableRawPointer(row + t).storeBytes(
                            of: UnsafeRawPointer(src + t).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
                        t += 8
                    }
                } else {
                    for q in 0..<width { row[q] = src[q] }
                }
            }
        }
        j += nr
        panel += nr * k
    }
}

/// C[0..<rows, columns] += bias (per column), then max(0, ·) when `relu`. The branches are decided once per call,
/// not per element, so each case is a plain SIMD loop.
@inline(never)
func applyEpilogue(_ e: GEMMEpilogue, rows: Int, columns: Range<Int>, c: UnsafeMutablePointer<Float>, ldc: Int) {
    let c = c + columns.lowerBound, n = columns.count, bias = e.bias.map { $0 + columns.lowerBound }
    if let bias {
        if e.relu { epilogueLoop(rows, n, c, ldc, bias, relu: true) } else { epilogueLoop(rows, n, c, ldc, bias, relu: false) }
    } else if e.relu {
        epilogueLoop(rows, n, c, ldc, nil, relu: true)
    }
}

@inline(__always)
private func epilogueLoop(_ rows: Int, _ n: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int,
                          _ bias: UnsafePointer<Float>?, relu: Bool) {
    let zero = SIMD8<Float>(repeating: 0)
    for r in 0..<rows {
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
