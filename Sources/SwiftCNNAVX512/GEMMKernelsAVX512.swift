// GEMM micro-kernels for AVX-512 (x86-64-v4), compiled in their own module with -march=x86-64-v4 so that nothing
// else in the engine contains AVX-512 instructions. The engine calls them only after checking that the CPU has
// AVX-512 (see InstructionSet.swift); on other CPUs this code is never executed.
//
// Same contract as the AVX2 kernel in GEMM.swift: C[tile] (+)= alpha · A[rows × kc] · B[kc × cols], A's element
// (i, p) at a[i * rs + p * ds] (broadcast straight from memory, so A is never packed), B's rows contiguous with
// stride ldb. 32 zmm registers hold 24 accumulators, two B vectors and a broadcast.

@inline(__always)
private func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
private func addStore16(_ p: UnsafeMutablePointer<Float>, _ v: SIMD16<Float>, _ alpha: Float, _ store: Bool) {
    let raw = UnsafeMutableRawPointer(p)
    let result = store ? v * alpha : raw.loadUnaligned(as: SIMD16<Float>.self) + v * alpha
    raw.storeBytes(of: result, as: SIMD16<Float>.self)
}

/// C[12×32] (+)= alpha · A[12×kc] · B[kc×32]: 24 SIMD16 accumulators for the whole K loop.
@inline(never)
public func kernel12x32AVX512(_ kc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ds: Int, _ b: UnsafePointer<Float>,
                              _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ store: Bool) {
    var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
    var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
    var c40 = SIMD16<Float>(), c41 = SIMD16<Float>(), c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
    var c60 = SIMD16<Float>(), c61 = SIMD16<Float>(), c70 = SIMD16<Float>(), c71 = SIMD16<Float>()
    var c80 = SIMD16<Float>(), c81 = SIMD16<Float>(), c90 = SIMD16<Float>(), c91 = SIMD16<Float>()
    var ca0 = SIMD16<Float>(), ca1 = SIMD16<Float>(), cb0 = SIMD16<Float>(), cb1 = SIMD16<Float>()
    var pa = a, pb = b
    let a6 = 6 * rs
    for _ in 0..<kc {
        let b0 = load16(pb), b1 = load16(pb + 16)
        var s = SIMD16<Float>(repeating: pa[0]); c00.addProduct(s, b0); c01.addProduct(s, b1)
        s = SIMD16<Float>(repeating: pa[rs]); c10.addProduct(s, b0); c11.addProduct(s, b1)
        s = SIMD16<Float>(repeating: pa[2 * rs]); c20.addProduct(s, b0); c21.addProduct(s, b1)
        s = SIMD16<Float>(repeating: pa[3 * rs]); c30.addProduct(s, b0); c31.addProduct(s, b1)
        s = SIMD16<Float>(repeating: pa[4 * rs]); c40.addProduct(s, b0); c41.addProduct(s, b1)
        s = SIMD16<Float>(repeating: pa[5 * rs]); c50.addProduct(s, b0); c51.addProduct(s, b1)
        s = SIMD16<Float>(repeating: pa[a6]); c60.addProduct(s, b0); c61.addProduct(s, b1)
        s = SIMD16<Float>(repeating: pa[a6 + rs]); c70.addProduct(s, b0); c71.addProduct(s, b1)
        s = SIMD16<Float>(repeating: pa[a6 + 2 * rs]); c80.addProduct(s, b0); c81.addProduct(s, b1)
        s = SIMD16<Float>(repeating: pa[a6 + 3 * rs]); c90.addProduct(s, b0); c91.addProduct(s, b1)
        s = SIMD16<Float>(repeating: pa[a6 + 4 * rs]); ca0.addProduct(s, b0); ca1.addProduct(s, b1)
        s = SIMD16<Float>(repeating: pa[a6 + 5 * rs]); cb0.addProduct(s, b0); cb1.addProduct(s, b1)
        pa += ds
        pb += ldb
    }
    var pc = c
    addStore16(pc, c00, alpha, store); addStore16(pc + 16, c01, alpha, store); pc += ldc
    addStore16(pc, c10, alpha, store); addStore16(pc + 16, c11, alpha, store); pc += ldc
    addStore16(pc, c20, alpha, store); addStore16(pc + 16, c21, alpha, store); pc += ldc
    addStore16(pc, c30, alpha, store); addStore16(pc + 16, c31, alpha, store); pc += ldc
    addStore16(pc, c40, alpha, store); addStore16(pc + 16, c41, alpha, store); pc += ldc
    addStore16(pc, c50, alpha, store); addStore16(pc + 16, c51, alpha, store); pc += ldc
    addStore16(pc, c60, alpha, store); addStore16(pc + 16, c61, alpha, store); pc += ldc
    addStore16(pc, c70, alpha, store); addStore16(pc + 16, c71, alpha, store); pc += ldc
    addStore16(pc, c80, alpha, store); addStore16(pc + 16, c81, alpha, store); pc += ldc
    addStore16(pc, c90, alpha, store); addStore16(pc + 16, c91, alpha, store); pc += ldc
    addStore16(pc, ca0, alpha, store); addStore16(pc + 16, ca1, alpha, store); pc += ldc
    addStore16(pc, cb0, alpha, store); addStore16(pc + 16, cb1, alpha, store)
}

/// C[12×16] (+)= alpha · A[12×kc] · B[kc×16]: the 16 columns left over when N is not a multiple of 32.
@inline(never)
public func kernel12x16AVX512(_ kc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ds: Int, _ b: UnsafePointer<Float>,
                              _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ store: Bool) {
    var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()
    var c4 = SIMD16<Float>(), c5 = SIMD16<Float>(), c6 = SIMD16<Float>(), c7 = SIMD16<Float>()
    var c8 = SIMD16<Float>(), c9 = SIMD16<Float>(), ca = SIMD16<Float>(), cb = SIMD16<Float>()
    var pa = a, pb = b
    let a6 = 6 * rs
    for _ in 0..<kc {
        let b0 = load16(pb)
        c0.addProduct(SIMD16<Float>(repeating: pa[0]), b0)
        c1.addProduct(SIMD16<Float>(repeating: pa[rs]), b0)
        c2.addProduct(SIMD16<Float>(repeating: pa[2 * rs]), b0)
        c3.addProduct(SIMD16<Float>(repeating: pa[3 * rs]), b0)
        c4.addProduct(SIMD16<Float>(repeating: pa[4 * rs]), b0)
        c5.addProduct(SIMD16<Float>(repeating: pa[5 * rs]), b0)
        c6.addProduct(SIMD16<Float>(repeating: pa[a6]), b0)
        c7.addProduct(SIMD16<Float>(repeating: pa[a6 + rs]), b0)
        c8.addProduct(SIMD16<Float>(repeating: pa[a6 + 2 * rs]), b0)
        c9.addProduct(SIMD16<Float>(repeating: pa[a6 + 3 * rs]), b0)
        ca.addProduct(SIMD16<Float>(repeating: pa[a6 + 4 * rs]), b0)
        cb.addProduct(SIMD16<Float>(repeating: pa[a6 + 5 * rs]), b0)
        pa += ds
        pb += ldb
    }
    var pc = c
    addStore16(pc, c0, alpha, store); pc += ldc
    addStore16(pc, c1, alpha, store); pc += ldc
    addStore16(pc, c2, alpha, store); pc += ldc
    addStore16(pc, c3, alpha, store); pc += ldc
    addStore16(pc, c4, alpha, store); pc += ldc
    addStore16(pc, c5, alpha, store); pc += ldc
    addStore16(pc, c6, alpha, store); pc += ldc
    addStore16(pc, c7, alpha, store); pc += ldc
    addStore16(pc, c8, alpha, store); pc += ldc
    addStore16(pc, c9, alpha, store); pc += ldc
    addStore16(pc, ca, alpha, store); pc += ldc
    addStore16(pc, cb, alpha, store)
}

/// C[4×32] (+)= alpha · A[4×kc] · B[kc×32]: rows left over below a multiple of 12.
@inline(never)
public func kernel4x32AVX512(_ kc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ds: Int, _ b: UnsafePointer<Float>,
                             _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ store: Bool) {
    var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
    var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
    var pa = a, pb = b
    for _ in 0..<kc {
        let b0 = load16(pb), b1 = load16(pb + 16)
        var s = SIMD16<Float>(repeating: pa[0]); c00.addProduct(s, b0); c01.addProduct(s, b1)
        s = SIMD16<Float>(repeating: pa[rs]); c10.addProduct(s, b0); c11.addProduct(s, b1)
        s = SIMD16<Float>(repeating: pa[2 * rs]); c20.addProduct(s, b0); c21.addProduct(s, b1)
        s = SIMD16<Float>(repeating: pa[3 * rs]); c30.addProduct(s, b0); c31.addProduct(s, b1)
        pa += ds
        pb += ldb
    }
    var pc = c
    addStore16(pc, c00, alpha, store); addStore16(pc + 16, c01, alpha, store); pc += ldc
    addStore16(pc, c10, alpha, store); addStore16(pc + 16, c11, alpha, store); pc += ldc
    addStore16(pc, c20, alpha, store); addStore16(pc + 16, c21, alpha, store); pc += ldc
    addStore16(pc, c30, alpha, store); addStore16(pc + 16, c31, alpha, store)
}

/// C[4×16] (+)= alpha · A[4×kc] · B[kc×16].
@inline(never)
public func kernel4x16AVX512(_ kc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ds: Int, _ b: UnsafePointer<Float>,
                             _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ store: Bool) {
    var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()
    var pa = a, pb = b
    for _ in 0..<kc {
        let b0 = load16(pb)
        c0.addProduct(SIMD16<Float>(repeating: pa[0]), b0)
        c1.addProduct(SIMD16<Float>(repeating: pa[rs]), b0)
        c2.addProduct(SIMD16<Float>(repeating: pa[2 * rs]), b0)
        c3.addProduct(SIMD16<Float>(repeating: pa[3 * rs]), b0)
        pa += ds
        pb += ldb
    }
    var pc = c
    addStore16(pc, c0, alpha, store); pc += ldc
    addStore16(pc, c1, alpha, store); pc += ldc
    addStore16(pc, c2, alpha, store); pc += ldc
    addStore16(pc, c3, alpha, store)
}
