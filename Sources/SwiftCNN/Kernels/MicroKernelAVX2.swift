// The AVX2 instance of the shared micro-kernels (MicroKernel.swift): the engine is compiled for x86-64-v3, so
// KernelVector = SIMD8 lives in ymm registers. The same source, with SIMD16, is the AVX-512 module's.

typealias KernelVector = SIMD8<Float>

/// `microKernel` on a 6 × 16 tile (see MicroKernel.swift).
@inline(never)
func microKernelAVX2(_ kc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ds: Int, _ b: UnsafePointer<Float>,
                     _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ store: Bool,
                     _ bias: UnsafePointer<Float>?, _ relu: Bool) {
    microKernel(kc, a, rs, ds, b, ldb, c, ldc, alpha, store, bias, relu)
}

/// `rowKernel` with 8-float vectors (see MicroKernel.swift).
@inline(never)
func rowKernelAVX2(_ kc: Int, _ a: UnsafePointer<Float>, _ ds: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                   _ c: UnsafeMutablePointer<Float>, _ n: Int, _ alpha: Float, _ store: Bool) {
    rowKernel(kc, a, ds, b, ldb, c, n, alpha, store)
}

/// `microKernel(runs:…)`: a convolution tile read straight from the image (see MicroKernel.swift).
@inline(never)
func windowKernelAVX2(_ runs: Int, _ runLength: Int, _ runStride: Int, _ a: UnsafePointer<Float>, _ rs: Int,
                      _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ ldc: Int,
                      _ bias: UnsafePointer<Float>?, _ relu: Bool) {
    microKernel(runs: runs, runLength: runLength, runStride: runStride, a, rs, 1, b, microTileColumns, c, ldc, 1, true,
                bias, relu)
}

/// `narrowMicroKernel` on a 6 × 8 tile (see MicroKernel.swift).
@inline(never)
func narrowMicroKernelAVX2(_ kc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ds: Int, _ b: UnsafePointer<Float>,
                           _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ store: Bool,
                           _ bias: UnsafePointer<Float>?, _ relu: Bool) {
    narrowMicroKernel(kc, a, rs, ds, b, ldb, c, ldc, alpha, store, bias, relu)
}
