// The AVX-512 instance of the shared micro-kernels (MicroKernel.swift, a link to the engine's file): this module is
// compiled with -march=x86-64-v4, so KernelVector = SIMD16 lives in zmm registers. The engine calls these only after
// checking that the CPU has AVX-512 (InstructionSet.swift); on other CPUs this code is never executed.

typealias KernelVector = SIMD16<Float>

/// Columns of C in one AVX-512 micro-tile (the packed B panel width): 32.
public let microTileColumnsAVX512 = microTileColumns

/// Rows of C in the tall AVX-512 micro-tile: 12.
public let tallMicroTileRowsAVX512 = tallMicroTileRows

/// `microKernel` on a 6 × 32 tile (see MicroKernel.swift).
@inline(never)
public func microKernelAVX512(_ kc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ds: Int, _ b: UnsafePointer<Float>,
                              _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ store: Bool,
                              _ bias: UnsafePointer<Float>?, _ relu: Bool) {
    microKernel(kc, a, rs, ds, b, ldb, c, ldc, alpha, store, bias, relu)
}

/// `tallMicroKernel` on a 12 × 32 tile (see MicroKernel.swift).
@inline(never)
public func tallMicroKernelAVX512(_ kc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ds: Int,
                                  _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int,
                                  _ alpha: Float, _ store: Bool, _ bias: UnsafePointer<Float>?, _ relu: Bool) {
    tallMicroKernel(kc, a, rs, ds, b, ldb, c, ldc, alpha, store, bias, relu)
}

/// `rowKernel` with 16-float vectors (see MicroKernel.swift).
@inline(never)
public func rowKernelAVX512(_ kc: Int, _ a: UnsafePointer<Float>, _ ds: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                            _ c: UnsafeMutablePointer<Float>, _ n: Int, _ alpha: Float, _ store: Bool) {
    rowKernel(kc, a, ds, b, ldb, c, n, alpha, store)
}

/// `microKernel(runs:…)`: a convolution tile read straight from the image (see MicroKernel.swift).
@inline(never)
public func windowKernelAVX512(_ runs: Int, _ runLength: Int, _ runStride: Int, _ a: UnsafePointer<Float>, _ rs: Int,
                               _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ ldc: Int,
                               _ bias: UnsafePointer<Float>?, _ relu: Bool) {
    microKernel(runs: runs, runLength: runLength, runStride: runStride, a, rs, 1, b, microTileColumns, c, ldc, 1, true,
                bias, relu)
}

/// `narrowMicroKernel` on a 6 × 16 tile (see MicroKernel.swift).
@inline(never)
public func narrowMicroKernelAVX512(_ kc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ds: Int, _ b: UnsafePointer<Float>,
                                    _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ store: Bool,
                                    _ bias: UnsafePointer<Float>?, _ relu: Bool) {
    narrowMicroKernel(kc, a, rs, ds, b, ldb, c, ldc, alpha, store, bias, relu)
}
