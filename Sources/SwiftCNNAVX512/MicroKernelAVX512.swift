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

/// The Winograd input transform of a chunk's tiles, 16 channels per vector (see WinogradInputTransform.swift);
/// `channels` a multiple of 16. Entry ξ of tile t (t counted from the chunk's first, at `first`) goes to
/// v + t · tileStride + ξ · entryStride.
public func transformInputTilesAVX512(_ input: UnsafePointer<Float>, inH: Int, inW: Int, channels: Int, padTop: Int,
                                      padLeft: Int, tilesH: Int, tilesW: Int, first: (b: Int, ty: Int, tx: Int),
                                      count: Int, entryStride: Int, tileStride: Int, window: Int,
                                      into v: UnsafeMutablePointer<Float>) {
    let walk = InputTileWalk(input: input, inH: inH, inW: inW, channels: channels, padTop: padTop, padLeft: padLeft,
                             tilesH: tilesH, tilesW: tilesW, first: first, count: count, entryStride: entryStride,
                             tileStride: tileStride)
    if window == 4 { transformInputTiles4(walk, into: v) } else { transformInputTiles6(walk, into: v) }
}

/// The Winograd output transform of a chunk's tiles, 16 filters per vector (see WinogradOutputTransform.swift);
/// `filters` a multiple of 16.
public func transformOutputTilesAVX512(_ m: UnsafePointer<Float>, filters: Int, outH: Int, outW: Int, tilesH: Int,
                                       tilesW: Int, first: (b: Int, ty: Int, tx: Int), count: Int, entryStride: Int,
                                       tileStride: Int, bias: UnsafePointer<Float>?, relu: Bool,
                                       output: UnsafeMutablePointer<Float>, pooled: UnsafeMutablePointer<Float>?,
                                       tileSize: Int) {
    let walk = OutputTileWalk(m: m, filters: filters, outH: outH, outW: outW, tilesH: tilesH, tilesW: tilesW,
                              first: first, count: count, entryStride: entryStride, tileStride: tileStride, bias: bias,
                              relu: relu, output: output, pooled: pooled)
    if tileSize == 2 { transformOutputTiles2(walk) } else { transformOutputTiles4(walk) }
}

/// The adjoint of the output transform for the weight gradient, 16 filters per vector (see
/// WinogradOutputTransform.swift); `filters` a multiple of 16.
public func transformOutputGradientTilesAVX512(_ outputGrad: UnsafePointer<Float>, output: UnsafePointer<Float>,
                                               relu: Bool, preGrad: UnsafeMutablePointer<Float>?, filters: Int,
                                               outH: Int, outW: Int, tilesH: Int, tilesW: Int,
                                               first: (b: Int, ty: Int, tx: Int), count: Int, entryStride: Int,
                                               tileStride: Int, biasSum: UnsafeMutablePointer<Float>?, tileSize: Int,
                                               into m: UnsafeMutablePointer<Float>) {
    let walk = OutputGradientTileWalk(outputGrad: outputGrad, output: output, relu: relu, preGrad: preGrad,
                                      filters: filters, outH: outH, outW: outW, tilesH: tilesH, tilesW: tilesW,
                                      first: first, count: count, entryStride: entryStride, tileStride: tileStride,
                                      biasSum: biasSum)
    if tileSize == 2 { transformOutputGradientTiles2(walk, into: m) } else { transformOutputGradientTiles4(walk, into: m) }
}
