import SwiftCNNAVX512

/// Winograd F(2×2, 3×3) and F(4×4, 3×3) convolution for 3×3, stride-1, undilated windows over NHWC images: every
/// 2×2 (4×4) block of output pixels comes from the 4×4 (6×6) input tile under it with 16 (36) multiplications per
/// (channel, filter) pair instead of 36 (144). Per chunk of tiles: the tiles are transformed (V = Bᵀ d B, one matrix
/// of tiles × channels per tile entry ξ: 16 or 36 planes), multiplied by the transformed kernel (U = G g Gᵀ, as many
/// matrices of channels × filters, packed for the GEMM) in one GEMM per plane, and transformed back (Y = Aᵀ M A) with
/// bias and ReLU. Only additions in the transforms, vectorised over channels
/// (NHWC keeps them contiguous). Windows reaching past the image read zeros, so one routine serves any padding:
/// the forward pass ('valid' or 'same') and the input gradient (the output gradient convolved with the kernel
/// rotated by 180°, in and out channels swapped, padded by 2 − the forward padding).
///
/// The error against direct convolution is a few float roundings per output for F(2×2, 3×3) (the transforms'
/// coefficients are 0, ±1 and ±½), several times that for F(4×4, 3×3) (coefficients up to 8 and 1/24, the usual
/// points 0, ±1, ±2); the tests bound both.
public struct WinogradShape {
    public var batch, inH, inW, channels, filters: Int
    /// Zeros before the first input row and column; the output is `outH × outW` whatever lies past the input.
    public var padTop, padLeft: Int
    public var outH, outW: Int
    /// Output pixels per tile side: 2 for F(2×2, 3×3), 4 for F(4×4, 3×3).
    public var tileSize: Int

    public init(batch: Int, inH: Int, inW: Int, channels: Int, filters: Int, padTop: Int, padLeft: Int,
                outH: Int, outW: Int, tileSize: Int = 2) {
        precondition(tileSize == 2 || tileSize == 4, "Winograd tiles are 2×2 or 4×4 outputs")
        self.batch = batch; self.inH = inH; self.inW = inW; self.channels = channels; self.filters = filters
        self.padTop = padTop; self.padLeft = padLeft; self.outH = outH; self.outW = outW; self.tileSize = tileSize
    }

    /// Whether the transforms of `width` channels (filters) take SwiftCNNAVX512's 16-lane instance: on a CPU with
    /// AVX-512, and the width in whole 16s (other widths take the engine's 8-lane one, tail lanes included).
    static func takesWideTransforms(width: Int) -> Bool { InstructionSet.active == .avx512 && width % 16 == 0 }

    /// Input pixels per tile side (the tile's window), and the transformed tile's entries (planes).
    var window: Int { tileSize + 2 }
    var planes: Int { window * window }
    var tilesH: Int { (outH + tileSize - 1) / tileSize }
    var tilesW: Int { (outW + tileSize - 1) / tileSize }
    var tiles: Int { batch * tilesH * tilesW }

    /// Floats of a transformed kernel (`winogradTransformKernel`) for tiles of `tileSize` outputs.
    public static func kernelCount(channels: Int, filters: Int, tileSize: Int = 2) -> Int {
        (tileSize + 2) * (tileSize + 2) * kernelBlockStride(channels: channels, filters: filters)
    }

    /// Floats from one of a transformed kernel's blocks (one per plane) (a GEMM B operand in packed panels) to the next: an odd
    /// number of cache lines. At a whole number of 4 KB (512 × 512: 1 MB) the transform's 16 stores and 9 tap
    /// loads per step all fell in one cache set; the transforms took 10 % of a VGG training step.
    static func kernelBlockStride(channels: Int, filters: Int) -> Int {
        (packedBCount(k: channels, n: filters) / 16 | 1) * 16
    }

    /// Tiles per chunk and the number of chunks: the chunk's transformed tiles and products (planes · tiles ·
    /// (channels + filters) floats) in half of L2, at least 4 micro-tiles of rows for the GEMMs; several chunks
    /// come in a multiple of the thread count (equal shares), each a whole number of micro-tiles of rows when
    /// chunks are big (a partial sliver is repacked in each of the GEMMs).
    /// Floats from one plane of a chunk's transformed tiles (V, M: `tiles` × `width` channels or filters) to the
    /// next: an odd number of cache lines, so the planes a tile's transform touches at once fall in different
    /// L1 sets. Planes a whole number of 4 KB apart (384 tiles × 16 channels) all shared one set: that layer's input
    /// transform ran 60 % slower.
    static func planeStride(tiles: Int, width: Int) -> Int { ((tiles * width + 15) / 16 | 1) * 16 }

    /// Where a chunk's transformed tiles (V: `width` = channels; M: filters) lie: entry ξ of tile t at
    /// ξ · entry + t · tile. Up to 128 channels and filters, tile by tile (each tile's entries contiguous, so the
    /// transforms read and write one stream; the GEMMs read and write rows `tile` apart): W3 13 %, W2 13 % faster
    /// per training step than plane by plane on Zen 4 (two threads), VGG's 32×32 layer 8 % (one thread). With wider
    /// layers, plane by plane (each plane a contiguous matrix): tile by tile everywhere, VGG's training step measured
    /// 5 % slower (two threads).
    func layout(tiles: Int, width: Int) -> (entry: Int, tile: Int) {
        max(channels, filters) <= 128 ? (width, planes * width)
                                      : (WinogradShape.planeStride(tiles: tiles, width: width), width)
    }

    var chunking: (size: Int, count: Int) {
        let fit = CacheSizes.current.l2 / 2 / 4 / (planes * (channels + filters))
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

    /// V[ξ][tile][channel] = (Bᵀ d B)[ξ] of each tile's input window (4×4 or 6×6), a vector of channels at a time
    /// (WinogradInputTransform.swift: 16 channels per vector where the CPU has AVX-512 and the channels come in 16s).
    /// Pixels past the image read as zeros.
    func transformInput(_ input: UnsafePointer<Float>, tiles: Range<Int>, into v: UnsafeMutablePointer<Float>) {
        let (entry, tile) = layout(tiles: tiles.count, width: channels)
        let (b, ty, tx) = position(tiles.lowerBound)
        if WinogradShape.takesWideTransforms(width: channels) {
            transformInputTilesAVX512(input, inH: inH, inW: inW, channels: channels, padTop: padTop, padLeft: padLeft,
                                      tilesH: tilesH, tilesW: tilesW, first: (b, ty, tx), count: tiles.count,
                                      entryStride: entry, tileStride: tile, window: window, into: v)
        } else {
            let walk = InputTileWalk(input: input, inH: inH, inW: inW, channels: channels, padTop: padTop,
                                     padLeft: padLeft, tilesH: tilesH, tilesW: tilesW, first: (b, ty, tx),
                                     count: tiles.count, entryStride: entry, tileStride: tile)
            if tileSize == 2 { transformInputTiles4(walk, into: v) } else { transformInputTiles6(walk, into: v) }
        }
    }
}

/// U[ξ] = G g Gᵀ for every (channel, filter) pair of a 3×3 HWIO kernel, written as one GEMM B operand (channels ×
/// filters) per plane (16 for tiles of 2×2 outputs, 36 for 4×4) already in the active instruction set's packed panels.
/// `flipped`: the kernel of the input gradient, g'[ky][kx][f][c] = g[2 − ky][2 − kx][c][f], where `channels` and
/// `filters` are those of the gradient's convolution (the forward layer's filters and channels).
public func winogradTransformKernel(_ kernel: UnsafePointer<Float>, channels: Int, filters: Int, flipped: Bool,
                                    tileSize: Int = 2, into dst: UnsafeMutablePointer<Float>) {
    precondition(tileSize == 2 || tileSize == 4, "Winograd tiles are 2×2 or 4×4 outputs")
    let block = WinogradShape.kernelBlockStride(channels: channels, filters: filters), nr = GEMMKernels.active.nr
    let planes = (tileSize + 2) * (tileSize + 2)
    // Every entry of the used panels is written below but the last panel's columns past `filters`: zero only that
    // panel (clearing all blocks first was a serial pass as long as the transform).
    if filters % nr != 0 {
        let lastPanel = filters / nr * channels * nr
        for xi in 0..<planes { (dst + xi * block + lastPanel).initialize(repeating: 0, count: channels * nr) }
    }
    let context = (kernel, channels, filters, flipped, dst, block, tileSize)
    // Threads take groups of 8 filters, so the vector path below starts on a multiple of 8.
    parallelFor((filters + 7) / 8, minChunk: max(1, 512 / max(channels, 1)), context: context) { raw, loGroup, hiGroup in
        let (kernel, channels, filters, flipped, dst, block, tileSize) = raw.assumingMemoryBound(
            to: (UnsafePointer<Float>, Int, Int, Bool, UnsafeMutablePointer<Float>, Int, Int).self).pointee
        let nr = GEMMKernels.active.nr, tapStride = channels * filters
        let lo = loGroup * 8, hi = min(hiGroup * 8, filters)
        @inline(__always) func eight(_ taps: UnsafePointer<Float>, tapStride: Int, rotated: Bool,
                                     out: UnsafeMutablePointer<Float>, laneStride: Int, lanes: Int) {
            if tileSize == 2 {
                transformEightKernels(taps, tapStride: tapStride, rotated: rotated, out: out, block: block,
                                      laneStride: laneStride, lanes: lanes, size: 4)
            } else {
                transformEightKernels(taps, tapStride: tapStride, rotated: rotated, out: out, block: block,
                                      laneStride: laneStride, lanes: lanes, size: 6)
            }
        }
        // Eight kernels per vector. The forward kernel's filters are contiguous (HWIO), as in the packed panels:
        // eight filters at a time along the thread's filters (the taps read in order, the panel rows written in
        // order), vector stores (8 divides NR, so a group never straddles two panels). The rotated kernel's
        // contiguous axis is its channels (the forward filters), which lie down a panel column: sixteen channels
        // (a cache line of each tap) at a time for each filter, each lane stored to its row; those 16 rows of
        // the blocks stay in L1 while the thread's filters fill their columns. What the vectors leave (fewer than
        // 8 filters or channels) is gathered into eight lanes padded with zeros and takes the same code, so every
        // kernel's transform has the same bits.
        if !flipped {
            let vectorEnd = lo + (hi - lo) / 8 * 8
            for c in 0..<channels {
                for f0 in stride(from: lo, to: vectorEnd, by: 8) {
                    eight(kernel + c * filters + f0, tapStride: tapStride, rotated: false,
                          out: dst + (f0 / nr) * channels * nr + f0 % nr + c * nr, laneStride: 1, lanes: 8)
                }
            }
            if vectorEnd < hi {
                // The last filters (past them, the zeros of the last panel's padding columns are rewritten as zeros).
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 9 * 8) { taps in
                    taps.initialize(repeating: 0)
                    for c in 0..<channels {
                        for tap in 0..<9 {
                            for f in vectorEnd..<hi { taps[tap * 8 + f - vectorEnd] = kernel[tap * tapStride + c * filters + f] }
                        }
                        eight(taps.baseAddress!, tapStride: 8, rotated: false,
                              out: dst + (vectorEnd / nr) * channels * nr + vectorEnd % nr + c * nr, laneStride: 1, lanes: 8)
                    }
                }
            }
        } else {
            let vectorEnd = channels / 8 * 8
            for c0 in stride(from: 0, to: vectorEnd, by: 16) {
                for f in lo..<hi {
                    for c in stride(from: c0, to: min(c0 + 16, vectorEnd), by: 8) {
                        eight(kernel + f * channels + c, tapStride: tapStride, rotated: true,
                              out: dst + (f / nr) * channels * nr + f % nr + c * nr, laneStride: nr, lanes: 8)
                    }
                }
            }
            if vectorEnd < channels {
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 9 * 8) { taps in
                    taps.initialize(repeating: 0)
                    for f in lo..<hi {
                        for tap in 0..<9 {
                            for c in vectorEnd..<channels { taps[tap * 8 + c - vectorEnd] = kernel[tap * tapStride + f * channels + c] }
                        }
                        eight(taps.baseAddress!, tapStride: 8, rotated: true,
                              out: dst + (f / nr) * channels * nr + f % nr + vectorEnd * nr, laneStride: nr,
                              lanes: channels - vectorEnd)
                    }
                }
            }
        }
    }
}

/// The 1-D kernel transform G x of three taps (x0, x1, x2): 4 values for tiles of 2 outputs (`size` 4), 6 for
/// tiles of 4 (`size` 6; the rest zero).
@inline(__always)
private func kernelTransform1D(_ x0: SIMD8<Float>, _ x1: SIMD8<Float>, _ x2: SIMD8<Float>, size: Int)
    -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
    if size == 4 { return (x0, (x0 + x1 + x2) * 0.5, (x0 - x1 + x2) * 0.5, x2, SIMD8(), SIMD8()) }
    // G of F(4×4, 3×3): rows ¼·(1, 0, 0), −⅙·(1, 1, 1), −⅙·(1, −1, 1), (1/24, 1/12, 1/6), (1/24, −1/12, 1/6), (0, 0, 1).
    let outer = x0 + x2, quarter = x0 * (1 / 24) + x2 * (1 / 6), middle = x1 * (1 / 12)
    return (x0 * 0.25, (outer + x1) * (-1 / 6), (outer - x1) * (-1 / 6), quarter + middle, quarter - middle, x2)
}


/// U[ξ] = (G g Gᵀ)[ξ] of eight 3×3 kernels at once, lane l of every vector one kernel: tap (ky, kx) at
/// taps + (3 ky + kx) · tapStride (the rotated kernel: 8 − that), eight contiguous floats; U[ξ]'s lane l to
/// out + ξ · block + l · laneStride (one vector store when laneStride is 1; else only the first `lanes`). `size`:
/// the transformed tile's side (4 or 6, a literal at every call).
@inline(__always)
private func transformEightKernels(_ taps: UnsafePointer<Float>, tapStride: Int, rotated: Bool,
                                   out: UnsafeMutablePointer<Float>, block: Int, laneStride: Int, lanes: Int, size: Int) {
    @inline(__always) func tap(_ ky: Int, _ kx: Int) -> SIMD8<Float> {
        let index = rotated ? 8 - (3 * ky + kx) : 3 * ky + kx
        return UnsafeRawPointer(taps + index * tapStride).loadUnaligned(as: SIMD8<Float>.self)
    }
    @inline(__always) func put(_ xi: Int, _ v: SIMD8<Float>) {
        let at = out + xi * block
        if laneStride == 1 {
            UnsafeMutableRawPointer(at).storeBytes(of: v, as: SIMD8<Float>.self)
        } else {
            for l in 0..<lanes { at[l * laneStride] = v[l] }
        }
    }
    // G g: each column of taps (kx) transformed along ky; then (G g) Gᵀ: each row a of that transformed along kx.
    let c0 = kernelTransform1D(tap(0, 0), tap(1, 0), tap(2, 0), size: size)
    let c1 = kernelTransform1D(tap(0, 1), tap(1, 1), tap(2, 1), size: size)
    let c2 = kernelTransform1D(tap(0, 2), tap(1, 2), tap(2, 2), size: size)
    for a in 0..<size {
        let row = kernelTransform1D(element(c0, a), element(c1, a), element(c2, a), size: size)
        for b in 0..<size { put(size * a + b, element(row, b)) }
    }
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
        let v = ScratchBuffer.forCurrentThread(count: s.planes * WinogradShape.planeStride(tiles: chunkSize, width: c),
                                               slot: .columns)
        let m = ScratchBuffer.forCurrentThread(count: s.planes * WinogradShape.planeStride(tiles: chunkSize, width: f),
                                               slot: .columnGrads)
        s.transformInput(input, tiles: t0..<t1, into: v)
        let block = WinogradShape.kernelBlockStride(channels: c, filters: f)
        let layoutV = s.layout(tiles: count, width: c), layoutM = s.layout(tiles: count, width: f)
        for xi in 0..<s.planes {
            gemm(transA: false, transB: false, m: count, n: f, k: c, alpha: 1, a: v + xi * layoutV.entry,
                 lda: layoutV.tile, b: kernel + xi * block, ldb: f, beta: 0, c: m + xi * layoutM.entry,
                 ldc: layoutM.tile, serial: true,
                 packedB: kernel + xi * block)
        }
        transformOutput(tiles: t0..<t1, from: m, entryStride: layoutM.entry, tileStride: layoutM.tile)
    }

    /// Y = Aᵀ M A for each tile: its 2×2 or 4×4 output pixels (those inside the output), + bias, ReLU; and the maxima
    /// of its 2×2 windows (one or four) when pooling (WinogradOutputTransform.swift: 16 filters per vector where the
    /// CPU has AVX-512 and the filters come in 16s).
    private func transformOutput(tiles: Range<Int>, from m: UnsafePointer<Float>, entryStride: Int, tileStride: Int) {
        let (b, ty, tx) = s.position(tiles.lowerBound)
        if WinogradShape.takesWideTransforms(width: s.filters) {
            transformOutputTilesAVX512(m, filters: s.filters, outH: s.outH, outW: s.outW, tilesH: s.tilesH,
                                       tilesW: s.tilesW, first: (b, ty, tx), count: tiles.count, entryStride: entryStride,
                                       tileStride: tileStride, bias: bias, relu: relu, output: output, pooled: pooled,
                                       tileSize: s.tileSize)
        } else {
            let walk = OutputTileWalk(m: m, filters: s.filters, outH: s.outH, outW: s.outW, tilesH: s.tilesH,
                                      tilesW: s.tilesW, first: (b, ty, tx), count: tiles.count, entryStride: entryStride,
                                      tileStride: tileStride, bias: bias, relu: relu, output: output, pooled: pooled)
            if s.tileSize == 2 { transformOutputTiles2(walk) } else { transformOutputTiles4(walk) }
        }
    }
}

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
/// forward's input transform and dM = A dY Aᵀ the output transform's adjoint of each tile's 2×2 (4×4) output gradient,
/// then dW = Gᵀ dU G per (channel, filter). One GEMM per plane (16 or 36) of channels × tiles × filters per chunk instead of an im2col
/// GEMM of 9 · channels × pixels × filters.
///
/// In the same pass over the output gradient: the pre-activation gradient (`outputGrad` where `output` > 0 for
/// ReLU, else `outputGrad` itself) is written to `preGrad` when given (the input gradient reads it next; a linear
/// layer's is the output gradient, so it passes nil) and summed into the
/// bias gradient. `dU` holds planes · channels · filters floats (the sum; threads other than the first sum into
/// per-thread scratch first).
public func winogradWeightGradient(_ input: UnsafePointer<Float>, _ s: WinogradShape, output: UnsafePointer<Float>,
                                   outputGrad: UnsafePointer<Float>, relu: Bool, preGrad: UnsafeMutablePointer<Float>?,
                                   kernelGrad: UnsafeMutablePointer<Float>, biasGrad: UnsafeMutablePointer<Float>?,
                                   dU: UnsafeMutablePointer<Float>) {
    let (size, chunks) = s.chunking
    let threads = max(1, min(engineThreadCount, chunks))
    let uSize = s.planes * s.channels * s.filters, bSize = biasGrad == nil ? 0 : s.filters
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
    winogradKernelGradient(dU, channels: s.channels, filters: s.filters, tileSize: s.tileSize, into: kernelGrad)
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
        let c = s.channels, f = s.filters, uSize = s.planes * c * f
        let sum = t == 0 ? dU : partials + (t - 1) * uSize
        let biasSum = t == 0 ? biasGrad : biasGrad.map { _ in partials + (threads - 1) * uSize + (t - 1) * f }
        let v = ScratchBuffer.forCurrentThread(count: s.planes * WinogradShape.planeStride(tiles: chunkSize, width: c),
                                               slot: .columns)
        let m = ScratchBuffer.forCurrentThread(count: s.planes * WinogradShape.planeStride(tiles: chunkSize, width: f),
                                               slot: .columnGrads)
        var first = true
        // A fixed share of the chunks per thread, summed in order: the sums' grouping, and so the rounding, is
        // the same in every run (bit-identical training for a seed).
        for chunk in t * chunks / threads..<(t + 1) * chunks / threads {
            let t0 = chunk * chunkSize, t1 = min(t0 + chunkSize, s.tiles), count = t1 - t0
            guard count > 0 else { continue }
            if first { biasSum?.initialize(repeating: 0, count: f) }
            s.transformInput(input, tiles: t0..<t1, into: v)
            let layoutV = s.layout(tiles: count, width: c), layoutM = s.layout(tiles: count, width: f)
            transformOutputGradient(tiles: t0..<t1, into: m, entryStride: layoutM.entry, tileStride: layoutM.tile,
                                    biasSum: biasSum)
            for xi in 0..<s.planes {
                gemm(transA: true, transB: false, m: c, n: f, k: count, alpha: 1, a: v + xi * layoutV.entry,
                     lda: layoutV.tile, b: m + xi * layoutM.entry, ldb: layoutM.tile, beta: first ? 0 : 1, c: sum + xi * c * f, ldc: f, serial: true)
            }
            first = false
        }
        if first {
            sum.initialize(repeating: 0, count: uSize)
            biasSum?.initialize(repeating: 0, count: f)
        }
    }

    /// dM[ξ][tile][filter] = (A dY Aᵀ)[ξ] of each tile's 2×2 or 4×4 pre-activation gradient (ReLU's mask applied, zero
    /// past the output), which is also stored to `preGrad` and added to the bias sums (WinogradOutputTransform.swift:
    /// 16 filters per vector where the CPU has AVX-512 and the filters come in 16s).
    private func transformOutputGradient(tiles: Range<Int>, into m: UnsafeMutablePointer<Float>, entryStride: Int,
                                         tileStride: Int, biasSum: UnsafeMutablePointer<Float>?) {
        let (b, ty, tx) = s.position(tiles.lowerBound)
        if WinogradShape.takesWideTransforms(width: s.filters) {
            transformOutputGradientTilesAVX512(outputGrad, output: output, relu: relu, preGrad: preGrad,
                                               filters: s.filters, outH: s.outH, outW: s.outW, tilesH: s.tilesH,
                                               tilesW: s.tilesW, first: (b, ty, tx), count: tiles.count,
                                               entryStride: entryStride, tileStride: tileStride, biasSum: biasSum,
                                               tileSize: s.tileSize, into: m)
        } else {
            let walk = OutputGradientTileWalk(outputGrad: outputGrad, output: output, relu: relu, preGrad: preGrad,
                                              filters: s.filters, outH: s.outH, outW: s.outW, tilesH: s.tilesH,
                                              tilesW: s.tilesW, first: (b, ty, tx), count: tiles.count,
                                              entryStride: entryStride, tileStride: tileStride, biasSum: biasSum)
            if s.tileSize == 2 { transformOutputGradientTiles2(walk, into: m) } else { transformOutputGradientTiles4(walk, into: m) }
        }
    }
}

/// The 1-D adjoint of F(4×4, 3×3)'s kernel transform, Gᵀ x of six values (Gᵀ's rows (¼, −⅙, −⅙, 1/24, 1/24, 0),
/// (0, −⅙, ⅙, 1/12, −1/12, 0), (0, −⅙, −⅙, ⅙, ⅙, 1)).
@_transparent
private func kernelGradientTransform4(_ x0: SIMD8<Float>, _ x1: SIMD8<Float>, _ x2: SIMD8<Float>, _ x3: SIMD8<Float>,
                                      _ x4: SIMD8<Float>, _ x5: SIMD8<Float>) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
    let s12 = x1 + x2, s34 = x3 + x4
    return (x0 * 0.25 - s12 * (1 / 6) + s34 * (1 / 24), (x2 - x1) * (1 / 6) + (x3 - x4) * (1 / 12),
            (s34 - s12) * (1 / 6) + x5)
}

/// The 1-D adjoint of F(2×2, 3×3)'s kernel transform, Gᵀ x of four values (Gᵀ's rows (1, ½, ½, 0), (0, ½, −½, 0),
/// (0, ½, ½, 1)).
@_transparent
private func kernelGradientTransform2(_ x0: SIMD8<Float>, _ x1: SIMD8<Float>, _ x2: SIMD8<Float>, _ x3: SIMD8<Float>)
    -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
    (x0 + (x1 + x2) * 0.5, (x1 - x2) * 0.5, (x1 + x2) * 0.5 + x3)
}

/// dW (3×3 HWIO) = Gᵀ dU G for every (channel, filter): the adjoint of `winogradTransformKernel` (unpacked: dU is
/// 16 or 36 row-major channels × filters matrices for tiles of `tileSize` outputs). Eight filters per vector.
private func winogradKernelGradient(_ dU: UnsafePointer<Float>, channels: Int, filters: Int, tileSize: Int,
                                    into dW: UnsafeMutablePointer<Float>) {
    let plane = channels * filters, n = tileSize + 2, zero = SIMD8<Float>()
    for c in 0..<channels {
        var j = 0
        while j < filters {
            let lanes = min(8, filters - j)
            @inline(__always) func u(_ xi: Int) -> SIMD8<Float> { load8(dU + xi * plane + c * filters + j, lanes) }
            // Gᵀ of six values (the last two unused for 2×2 tiles).
            @inline(__always) func adjoint(_ x0: SIMD8<Float>, _ x1: SIMD8<Float>, _ x2: SIMD8<Float>, _ x3: SIMD8<Float>,
                                           _ x4: SIMD8<Float>, _ x5: SIMD8<Float>) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
                n == 4 ? kernelGradientTransform2(x0, x1, x2, x3) : kernelGradientTransform4(x0, x1, x2, x3, x4, x5)
            }
            // Gᵀ dU: each column q of the n × n grid to 3 rows; then each of those rows along its n columns.
            @inline(__always) func column(_ q: Int) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
                guard q < n else { return (zero, zero, zero) }
                return adjoint(u(q), u(n + q), u(2 * n + q), u(3 * n + q), n == 6 ? u(4 * n + q) : zero,
                               n == 6 ? u(5 * n + q) : zero)
            }
            let q0 = column(0), q1 = column(1), q2 = column(2), q3 = column(3), q4 = column(4), q5 = column(5)
            @inline(__always) func putRow(_ ky: Int, _ x0: SIMD8<Float>, _ x1: SIMD8<Float>, _ x2: SIMD8<Float>,
                                          _ x3: SIMD8<Float>, _ x4: SIMD8<Float>, _ x5: SIMD8<Float>) {
                let r = adjoint(x0, x1, x2, x3, x4, x5)
                store8(dW + ((ky * 3) * channels + c) * filters + j, r.0, lanes)
                store8(dW + ((ky * 3 + 1) * channels + c) * filters + j, r.1, lanes)
                store8(dW + ((ky * 3 + 2) * channels + c) * filters + j, r.2, lanes)
            }
            putRow(0, q0.0, q1.0, q2.0, q3.0, q4.0, q5.0)
            putRow(1, q0.1, q1.1, q2.1, q3.1, q4.1, q5.1)
            putRow(2, q0.2, q1.2, q2.2, q3.2, q4.2, q5.2)
            j += lanes
        }
    }
}
