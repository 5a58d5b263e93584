import SwiftCNN

/// The library version, also `swiftcnn.__version__`.
let versionString = "0.1.0"
private let versionCString: UnsafeMutablePointer<CChar> = strdup(versionString)!

/// The library version string.
@_cdecl("scnn_version")
public func scnn_version() -> UnsafePointer<CChar> { UnsafePointer(versionCString) }

/// The calling thread's last error message.
@_cdecl("scnn_last_error")
public func scnn_last_error() -> UnsafePointer<CChar> { lastErrorPointer() }

/// Sets the engine's thread count.
@_cdecl("scnn_set_num_threads")
public func scnn_set_num_threads(_ n: Int32) -> Int32 {
    guarded("scnn_set_num_threads") {
        guard n >= 1, n <= 256 else {
            throw SwiftCNNError.invalidArgument("number of threads must be between 1 and 256, received \(n)")
        }
        setEngineThreadCount(Int(n))
    }
}

private let instructionSetNames: [InstructionSet: UnsafeMutablePointer<CChar>] =
    Dictionary(uniqueKeysWithValues: InstructionSet.allCases.map { ($0, strdup($0.rawValue)!) })

/// The GEMM kernels in use: "avx512" or "avx2" (static string).
@_cdecl("scnn_instruction_set")
public func scnn_instruction_set() -> UnsafePointer<CChar> { UnsafePointer(instructionSetNames[InstructionSet.active]!) }

/// The engine's thread count.
@_cdecl("scnn_get_num_threads")
public func scnn_get_num_threads(_ out: UnsafeMutablePointer<Int32>?) -> Int32 {
    guarded("scnn_get_num_threads") { try required(out, "out").pointee = Int32(engineThreadCount) }
}

/// A seeded permutation of 0..<n from the engine's RNG.
@_cdecl("scnn_permutation")
public func scnn_permutation(_ seed: UInt64, _ stream: UInt64, _ n: Int64, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded("scnn_permutation") {
        let n = try checkedCount(n, "permutation length", limit: maxElementCount)
        let out = try required(out, "out")
        // Shuffled in the caller's buffer (no copy of n values is allocated); the same swaps as RNG.permutation.
        let values = UnsafeMutableBufferPointer(start: out, count: n)
        for i in 0..<n { values[i] = Int64(i) }
        var rng = RNG(seed: seed, stream: stream)
        if n > 1 {
            for i in stride(from: n - 1, to: 0, by: -1) { values.swapAt(i, rng.nextInt(below: i + 1)) }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Resamples a batch of images through one affine transform each.
@_cdecl("scnn_augment")
public func scnn_augment(_ input: UnsafePointer<Float>?, _ count: Int64, _ h: Int64, _ w: Int64, _ c: Int64,
                         _ transforms: UnsafePointer<Float>?, _ fillMode: Int32, _ cval: Float, _ rescale: Double,
                         _ clip255: Int32, _ out: UnsafeMutablePointer<Float>?) -> Int32 {
    guarded("scnn_augment") {
        let input = try required(input, "in"), transforms = try required(transforms, "transforms")
        let out = try required(out, "out")
        guard count >= 0, h > 0, w > 0, c > 0 else {
            throw SwiftCNNError.invalidArgument("scnn_augment: count must be >= 0 and h, w, c > 0 (received \(count), \(h), \(w), \(c))")
        }
        let image = try checkedProduct([Int(h), Int(w), Int(c)], "scnn_augment: image size h × w × c", limit: (1 << 31) - 1)
        _ = try checkedMultiply(Int(count), image, "scnn_augment: count × image size", limit: maxElementCount)
        _ = try checkedMultiply(Int(count), 9, "scnn_augment: transform parameters", limit: maxElementCount)
        guard let fill = FillMode(rawValue: fillMode) else {
            throw SwiftCNNError.invalidArgument("scnn_augment: fill_mode must be 0...3, received \(fillMode)")
        }
        for i in 0..<Int(count * 9) where !transforms[i].isFinite {
            throw SwiftCNNError.invalidArgument("scnn_augment: transform parameters contain a non-finite value at index \(i)")
        }
        guard rescale.isFinite, cval.isFinite else { throw SwiftCNNError.invalidArgument("scnn_augment: rescale and cval must be finite") }
        augmentBatch(input, count: Int(count), height: Int(h), width: Int(w), channels: Int(c), transforms: transforms,
                     fill: fill, cval: cval, rescale: rescale, clip255: clip255 != 0, output: out)
    }
}

/// Row-major C = alpha · op(A) · op(B) + beta · C with the engine's GEMM (benchmarks and tests compare it with BLAS).
@_cdecl("scnn_gemm")
public func scnn_gemm(_ transA: Int32, _ transB: Int32, _ m: Int64, _ n: Int64, _ k: Int64, _ alpha: Float,
                      _ a: UnsafePointer<Float>?, _ lda: Int64, _ b: UnsafePointer<Float>?, _ ldb: Int64,
                      _ beta: Float, _ c: UnsafeMutablePointer<Float>?, _ ldc: Int64) -> Int32 {
    guarded("scnn_gemm") {
        let a = try required(a, "a"), b = try required(b, "b"), c = try required(c, "c")
        guard m >= 0, n >= 0, k >= 0 else {
            throw SwiftCNNError.invalidArgument("scnn_gemm: m, n, k must be >= 0, received \(m), \(n), \(k)")
        }
        // A row of A as stored is k long (m when transposed); of B, n long (k when transposed); of C, n long.
        let aRow = transA != 0 ? m : k, bRow = transB != 0 ? k : n
        guard lda >= aRow, ldb >= bRow, ldc >= n else {
            throw SwiftCNNError.invalidArgument("scnn_gemm: leading dimensions too small: lda \(lda) (needs >= \(aRow)), "
                                                + "ldb \(ldb) (needs >= \(bRow)), ldc \(ldc) (needs >= \(n))")
        }
        gemm(transA: transA != 0, transB: transB != 0, m: Int(m), n: Int(n), k: Int(k), alpha: alpha,
             a: a, lda: Int(lda), b: b, ldb: Int(ldb), beta: beta, c: c, ldc: Int(ldc))
    }
}
