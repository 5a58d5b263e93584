// The AVX-512 instances of the shared Winograd transforms (WinogradInputTransform.swift, WinogradOutputTransform.swift:
// links to the engine's files), compiled here with KernelVector = SIMD16. The engine calls these only on a CPU with
// AVX-512 and for widths in whole 16s (WinogradShape.takesWideTransforms).

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
