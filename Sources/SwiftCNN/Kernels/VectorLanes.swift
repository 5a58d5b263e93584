// Helpers of the kernels written for a vector of `KernelVector.scalarCount` floats (the Winograd transforms), shared
// by both modules that compile them (SwiftCNNAVX512 links this file).

/// The first `lanes` floats at p (a whole vector in one load when `lanes` is the vector's width), zeros after.
@inline(__always)
func loadLanes(_ p: UnsafePointer<Float>, _ lanes: Int) -> KernelVector {
    if lanes == KernelVector.scalarCount { return UnsafeRawPointer(p).loadUnaligned(as: KernelVector.self) }
    var v = KernelVector()
    for l in 0..<lanes { v[l] = p[l] }
    return v
}

/// The first `lanes` lanes of v to p (a whole vector in one store when `lanes` is the vector's width).
@inline(__always)
func storeLanes(_ p: UnsafeMutablePointer<Float>, _ v: KernelVector, _ lanes: Int) {
    if lanes == KernelVector.scalarCount { UnsafeMutableRawPointer(p).storeBytes(of: v, as: KernelVector.self); return }
    for l in 0..<lanes { p[l] = v[l] }
}

/// Element i (0...5) of a six-vector tuple (the 1-D transforms' results), for loops over a tile's rows.
@inline(__always)
func element<V>(_ t: (V, V, V, V, V, V), _ i: Int) -> V {
    switch i { case 0: return t.0; case 1: return t.1; case 2: return t.2; case 3: return t.3; case 4: return t.4
    default: return t.5 }
}
