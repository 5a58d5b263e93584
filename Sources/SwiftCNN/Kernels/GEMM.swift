/// Row-major single-precision GEMM: C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C.
/// `beta == 0` overwrites C without reading it (C may hold garbage). Thread-safe; uses both cores on big work.
/// PLACEHOLDER: forwards to the reference until the packed SIMD kernel lands.
public func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                 a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                 beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    gemmReference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                  b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
}
