/// Naive row-major GEMM, the oracle for the optimised `gemm`:
/// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, where op(X) is X or its transpose.
/// `lda`, `ldb`, `ldc` are the row strides of A, B, C as stored. Accumulates in Double.
public func gemmReference(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                          a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                          beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    for i in 0..<m {
        for j in 0..<n {
            var sum = 0.0
            for p in 0..<k {
                let av = transA ? a[p * lda + i] : a[i * lda + p]
                let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                sum += Double(av) * Double(bv)
            }
            let prior = beta == 0 ? 0 : beta * c[i * ldc + j]
            c[i * ldc + j] = alpha * Float(sum) + prior
        }
    }
}
