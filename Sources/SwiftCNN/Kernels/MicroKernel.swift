// The GEMM micro-kernels, written once for a vector of `KernelVector.scalarCount` floats and compiled twice: into
// the engine (x86-64-v3, KernelVector = SIMD8: AVX2 ymm registers) and, through a symbolic link of this very file,
// into the SwiftCNNAVX512 module (x86-64-v4, KernelVector = SIMD16: zmm registers). So the tests on an AVX2-only
// machine run the same source as the AVX-512 path. Each module defines `KernelVector` and exports these as
// named entry points (MicroKernelAVX2.swift, SwiftCNNAVX512/MicroKernelAVX512.swift).
//
// Tile: MR rows × NR = 2 vectors of C. MR = 6 (6×16 on AVX2: 12 accumulators, two B vectors and a broadcast fill
// 15 of the 16 ymm registers; 6×32 on AVX-512). AVX-512's 32 registers also hold a 12-row tile (24 accumulators:
// per depth step 14 loads feed 24 FMAs instead of 8 feeding 12), which the driver takes for deep products
// (`GEMMKernels.forDepth`). Both are made of the same six-row block (`SixRows`): the 12-row kernel is two of them
// sharing the B vectors. A is read in place or from a packed sliver: element (r, p) at a[r · rs + p · ds] (a packed
// sliver has rs = 1, ds = MR). B is a packed panel (kc rows of NR contiguous floats) or read in place.

import SwiftCNNIntrinsics

/// Rows of C in the six-row micro-tile (AVX2's GEMM tile, and the convolution window kernel's on every CPU).
let microTileRows = 6

/// Rows of C in the tall micro-tile (AVX-512's, for deep products).
let tallMicroTileRows = 12

/// Columns of C in one micro-tile (and the width of a packed B panel).
let microTileColumns = 2 * KernelVector.scalarCount

@inline(__always)
private func loadVector(_ p: UnsafePointer<Float>) -> KernelVector {
    UnsafeRawPointer(p).loadUnaligned(as: KernelVector.self)
}

/// alpha · v. The scalar is splatted explicitly (vector × scalar compiled to lane shuffles for SIMD16), and the
/// usual alpha = 1 costs nothing.
@inline(__always)
private func scaled(_ v: KernelVector, _ alpha: Float) -> KernelVector {
    alpha == 1 ? v : laneProduct(v, KernelVector(repeating: alpha))
}

// The kernels' sums and products take the standard library's operators (lane loops the vectorizer turns into one
// instruction each here), not VectorArithmetic.swift's one-instruction overloads: with those in the stores after
// the depth loop, LLVM's register allocator rotated the AVX2 kernel's twelve accumulators through 20 register
// moves per depth step (W3 training 7 % slower). Generic functions see only the standard library's operators.
@inline(__always)
private func laneSum<V: SIMD>(_ a: V, _ b: V) -> V where V.Scalar: FloatingPoint { a + b }

@inline(__always)
private func laneProduct<V: SIMD>(_ a: V, _ b: V) -> V where V.Scalar: FloatingPoint { a * b }

@inline(__always)
private func storeVector(_ p: UnsafeMutablePointer<Float>, _ v: KernelVector, _ alpha: Float, _ store: Bool) {
    let raw = UnsafeMutableRawPointer(p)
    let result = store ? scaled(v, alpha) : laneSum(raw.loadUnaligned(as: KernelVector.self), scaled(v, alpha))
    raw.storeBytes(of: result, as: KernelVector.self)
}

/// `storeVector`, then the epilogue: + bias (a vector of the tile's columns, zeros without bias), max(0, ·) when
/// `relu`. The value is still in a register, so the epilogue costs no pass over C.
@inline(__always)
private func storeVector(_ p: UnsafeMutablePointer<Float>, _ v: KernelVector, _ alpha: Float, _ store: Bool,
                         _ bias: KernelVector, _ relu: Bool) {
    let raw = UnsafeMutableRawPointer(p)
    var result = laneSum(store ? scaled(v, alpha) : laneSum(raw.loadUnaligned(as: KernelVector.self), scaled(v, alpha)),
                         bias)
    if relu { result = result.replacing(with: KernelVector(), where: result .< KernelVector()) }
    raw.storeBytes(of: result, as: KernelVector.self)
}

/// Six rows × two vectors of C accumulating in registers (every method is inlined, so the twelve fields are twelve
/// registers, never memory).
private struct SixRows {
    var c00 = KernelVector(), c01 = KernelVector(), c10 = KernelVector(), c11 = KernelVector()
    var c20 = KernelVector(), c21 = KernelVector(), c30 = KernelVector(), c31 = KernelVector()
    var c40 = KernelVector(), c41 = KernelVector(), c50 = KernelVector(), c51 = KernelVector()

    /// += A's six values at `pa` (rows rs apart) ⊗ one depth row of B (b0, b1).
    @inline(__always)
    mutating func accumulate(_ pa: UnsafePointer<Float>, _ rs: Int, _ b0: KernelVector, _ b1: KernelVector) {
        var s = KernelVector(repeating: pa[0]); c00.addProduct(s, b0); c01.addProduct(s, b1)
        s = KernelVector(repeating: pa[rs]); c10.addProduct(s, b0); c11.addProduct(s, b1)
        s = KernelVector(repeating: pa[2 &* rs]); c20.addProduct(s, b0); c21.addProduct(s, b1)
        s = KernelVector(repeating: pa[3 &* rs]); c30.addProduct(s, b0); c31.addProduct(s, b1)
        s = KernelVector(repeating: pa[4 &* rs]); c40.addProduct(s, b0); c41.addProduct(s, b1)
        s = KernelVector(repeating: pa[5 &* rs]); c50.addProduct(s, b0); c51.addProduct(s, b1)
    }

    /// C (six rows ldc apart) = or += alpha · the accumulators, then the epilogue (`bias`: the tile's NR columns of
    /// it, or nil; `relu`).
    @inline(__always)
    func store(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ store: Bool,
               _ bias: UnsafePointer<Float>?, _ relu: Bool) {
        let w = KernelVector.scalarCount
        var pc = c
        if bias == nil && !relu {
            storeVector(pc, c00, alpha, store); storeVector(pc + w, c01, alpha, store); pc += ldc
            storeVector(pc, c10, alpha, store); storeVector(pc + w, c11, alpha, store); pc += ldc
            storeVector(pc, c20, alpha, store); storeVector(pc + w, c21, alpha, store); pc += ldc
            storeVector(pc, c30, alpha, store); storeVector(pc + w, c31, alpha, store); pc += ldc
            storeVector(pc, c40, alpha, store); storeVector(pc + w, c41, alpha, store); pc += ldc
            storeVector(pc, c50, alpha, store); storeVector(pc + w, c51, alpha, store)
            return
        }
        let bias0 = bias.map { loadVector($0) } ?? KernelVector()
        let bias1 = bias.map { loadVector($0 + w) } ?? KernelVector()
        storeVector(pc, c00, alpha, store, bias0, relu); storeVector(pc + w, c01, alpha, store, bias1, relu); pc += ldc
        storeVector(pc, c10, alpha, store, bias0, relu); storeVector(pc + w, c11, alpha, store, bias1, relu); pc += ldc
        storeVector(pc, c20, alpha, store, bias0, relu); storeVector(pc + w, c21, alpha, store, bias1, relu); pc += ldc
        storeVector(pc, c30, alpha, store, bias0, relu); storeVector(pc + w, c31, alpha, store, bias1, relu); pc += ldc
        storeVector(pc, c40, alpha, store, bias0, relu); storeVector(pc + w, c41, alpha, store, bias1, relu); pc += ldc
        storeVector(pc, c50, alpha, store, bias0, relu); storeVector(pc + w, c51, alpha, store, bias1, relu)
    }
}

/// C[6 × NR] = (store) or += alpha · A[6 × kc] · B[kc × NR], B's rows ldb apart (a packed panel: ldb = NR; B read
/// in place: its row stride, for products with too few rows to repay packing); the 12 accumulators stay in
/// registers for the whole depth loop. The driver passes the epilogue (`bias`: the tile's NR columns of it, or nil;
/// `relu`) with a tile's last K block, and it is applied as the tile is stored.
@inline(__always)
func microKernel(_ kc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ds: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                 _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ store: Bool,
                 _ bias: UnsafePointer<Float>?, _ relu: Bool) {
    microKernel(runs: 1, runLength: kc, runStride: 0, a, rs, ds, b, ldb, c, ldc, alpha, store, bias, relu)
}

/// `microKernel` on 12 rows: two six-row blocks (rows 0-5 at a, 6-11 at a + 6 · rs) multiplying the same B
/// vectors, 24 accumulators.
@inline(__always)
func tallMicroKernel(_ kc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ds: Int, _ b: UnsafePointer<Float>,
                     _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ store: Bool,
                     _ bias: UnsafePointer<Float>?, _ relu: Bool) {
    let w = KernelVector.scalarCount, lower = 6 &* rs
    // C's 24 lines are stored (and read, when accumulating) only after the depth loop: requested now, they arrive
    // while it runs instead of stalling the stores (1024³ on Zen 4: 11 % of the kernel's time was its stores).
    for r in 0..<12 {
        swiftcnn_prefetch_for_write(c + r &* ldc)
        swiftcnn_prefetch_for_write(c + (r &* ldc &+ w))
    }
    var top = SixRows(), bottom = SixRows()
    var pa = a, pb = b
    for _ in 0..<kc {
        let b0 = loadVector(pb), b1 = loadVector(pb + w)
        top.accumulate(pa, rs, b0, b1)
        bottom.accumulate(pa + lower, rs, b0, b1)
        pa += ds
        pb += ldb
    }
    // One store site for both halves: with two, the function grew too big for the inliner, the second store
    // became a call and the accumulators went through memory.
    for half in 0..<2 {
        (half == 0 ? top : bottom).store(c + half &* 6 &* ldc, ldc, alpha, store, bias, relu)
    }
}

/// `microKernel` for a panel whose second vector of columns is padding (a product with NR/2 columns left, such as
/// 16 filters on AVX-512): C[6 × one vector]. Even and odd depths accumulate apart (12 accumulators, enough to keep
/// the FMA units busy), summed at the end; the full tile would spend half its FMAs on zeros and go through the edge
/// path.
@inline(__always)
func narrowMicroKernel(_ kc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ds: Int, _ b: UnsafePointer<Float>,
                       _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ store: Bool,
                       _ bias: UnsafePointer<Float>?, _ relu: Bool) {
    for r in 0..<6 { swiftcnn_prefetch_for_write(c + r &* ldc) }
    var e0 = KernelVector(), e1 = KernelVector(), e2 = KernelVector(), e3 = KernelVector()
    var e4 = KernelVector(), e5 = KernelVector()
    var o0 = KernelVector(), o1 = KernelVector(), o2 = KernelVector(), o3 = KernelVector()
    var o4 = KernelVector(), o5 = KernelVector()
    var pa = a, pb = b, p = 0
    while p &+ 2 <= kc {
        let b0 = loadVector(pb), b1 = loadVector(pb + ldb), qa = pa + ds
        e0.addProduct(KernelVector(repeating: pa[0]), b0); o0.addProduct(KernelVector(repeating: qa[0]), b1)
        e1.addProduct(KernelVector(repeating: pa[rs]), b0); o1.addProduct(KernelVector(repeating: qa[rs]), b1)
        e2.addProduct(KernelVector(repeating: pa[2 &* rs]), b0); o2.addProduct(KernelVector(repeating: qa[2 &* rs]), b1)
        e3.addProduct(KernelVector(repeating: pa[3 &* rs]), b0); o3.addProduct(KernelVector(repeating: qa[3 &* rs]), b1)
        e4.addProduct(KernelVector(repeating: pa[4 &* rs]), b0); o4.addProduct(KernelVector(repeating: qa[4 &* rs]), b1)
        e5.addProduct(KernelVector(repeating: pa[5 &* rs]), b0); o5.addProduct(KernelVector(repeating: qa[5 &* rs]), b1)
        pa += 2 &* ds
        pb += 2 &* ldb
        p &+= 2
    }
    if p < kc {
        let b0 = loadVector(pb)
        e0.addProduct(KernelVector(repeating: pa[0]), b0); e1.addProduct(KernelVector(repeating: pa[rs]), b0)
        e2.addProduct(KernelVector(repeating: pa[2 &* rs]), b0); e3.addProduct(KernelVector(repeating: pa[3 &* rs]), b0)
        e4.addProduct(KernelVector(repeating: pa[4 &* rs]), b0); e5.addProduct(KernelVector(repeating: pa[5 &* rs]), b0)
    }
    let biasVector = bias.map { loadVector($0) } ?? KernelVector()
    storeVector(c, e0 + o0, alpha, store, biasVector, relu)
    storeVector(c + ldc, e1 + o1, alpha, store, biasVector, relu)
    storeVector(c + 2 &* ldc, e2 + o2, alpha, store, biasVector, relu)
    storeVector(c + 3 &* ldc, e3 + o3, alpha, store, biasVector, relu)
    storeVector(c + 4 &* ldc, e4 + o4, alpha, store, biasVector, relu)
    storeVector(c + 5 &* ldc, e5 + o5, alpha, store, biasVector, relu)
}

/// The micro-kernel with the depth walked as `runs` runs of `runLength` elements, run t of row r starting at
/// a + r · rs + t · runStride (ds = 1 within a run). A convolution's window over an NHWC image is kh runs of kw · c
/// contiguous floats, one image row apart, so the kernel reads the patches in place: no im2col. One run is a GEMM.
@inline(__always)
func microKernel(runs: Int, runLength: Int, runStride: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ds: Int,
                 _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float,
                 _ store: Bool, _ bias: UnsafePointer<Float>?, _ relu: Bool) {
    let w = KernelVector.scalarCount
    for r in 0..<6 {                                       // C's lines, for the stores after the loop (see `tallMicroKernel`)
        swiftcnn_prefetch_for_write(c + r &* ldc)
        swiftcnn_prefetch_for_write(c + (r &* ldc &+ w))
    }
    var rows = SixRows()
    var pb = b
    for t in 0..<runs {
        var pa = a + t &* runStride
        for _ in 0..<runLength {
            rows.accumulate(pa, rs, loadVector(pb), loadVector(pb + w))
            pa += ds
            pb += ldb
        }
    }
    rows.store(c, ldc, alpha, store, bias, relu)
}

/// One row of C over `n` columns, B read in place (row p at b + p · ldb): the matrix–vector product of a Dense
/// layer on one sample. Eight vectors of columns per pass, so each depth step reads whole cache lines of B and B
/// streams through once; then one vector at a time with four accumulators over alternate depths; then scalars.
@inline(__always)
func rowKernel(_ kc: Int, _ a: UnsafePointer<Float>, _ ds: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
               _ c: UnsafeMutablePointer<Float>, _ n: Int, _ alpha: Float, _ store: Bool) {
    let w = KernelVector.scalarCount
    var j = 0
    while j + 8 * w <= n {
        var acc0 = KernelVector(), acc1 = KernelVector(), acc2 = KernelVector(), acc3 = KernelVector()
        var acc4 = KernelVector(), acc5 = KernelVector(), acc6 = KernelVector(), acc7 = KernelVector()
        var pa = a, pb = b + j
        for _ in 0..<kc {
            let s = KernelVector(repeating: pa[0])
            acc0.addProduct(s, loadVector(pb)); acc1.addProduct(s, loadVector(pb + w))
            acc2.addProduct(s, loadVector(pb + 2 * w)); acc3.addProduct(s, loadVector(pb + 3 * w))
            acc4.addProduct(s, loadVector(pb + 4 * w)); acc5.addProduct(s, loadVector(pb + 5 * w))
            acc6.addProduct(s, loadVector(pb + 6 * w)); acc7.addProduct(s, loadVector(pb + 7 * w))
            pa += ds
            pb += ldb
        }
        storeVector(c + j, acc0, alpha, store); storeVector(c + j + w, acc1, alpha, store)
        storeVector(c + j + 2 * w, acc2, alpha, store); storeVector(c + j + 3 * w, acc3, alpha, store)
        storeVector(c + j + 4 * w, acc4, alpha, store); storeVector(c + j + 5 * w, acc5, alpha, store)
        storeVector(c + j + 6 * w, acc6, alpha, store); storeVector(c + j + 7 * w, acc7, alpha, store)
        j += 8 * w
    }
    while j + w <= n {
        var acc0 = KernelVector(), acc1 = KernelVector(), acc2 = KernelVector(), acc3 = KernelVector()
        var pa = a, pb = b + j
        var p = 0
        while p + 4 <= kc {
            acc0.addProduct(KernelVector(repeating: pa[0]), loadVector(pb))
            acc1.addProduct(KernelVector(repeating: pa[ds]), loadVector(pb + ldb))
            acc2.addProduct(KernelVector(repeating: pa[2 * ds]), loadVector(pb + 2 * ldb))
            acc3.addProduct(KernelVector(repeating: pa[3 * ds]), loadVector(pb + 3 * ldb))
            pa += 4 * ds
            pb += 4 * ldb
            p += 4
        }
        while p < kc {
            acc0.addProduct(KernelVector(repeating: pa[0]), loadVector(pb))
            pa += ds
            pb += ldb
            p += 1
        }
        storeVector(c + j, laneSum(laneSum(acc0, acc1), laneSum(acc2, acc3)), alpha, store)
        j += w
    }
    while j < n {
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
