import SwiftCNN

/// The library version, also `swiftcnn.__version__`.
let versionString = "0.1.0"
private let versionCString: UnsafeMutablePointer<CChar> = strdup(versionString)!

@_cdecl("scnn_version")
public func scnn_version() -> UnsafePointer<CChar> { UnsafePointer(versionCString) }

@_cdecl("scnn_last_error")
public func scnn_last_error() -> UnsafePointer<CChar> { lastErrorPointer() }

@_cdecl("scnn_set_num_threads")
public func scnn_set_num_threads(_ n: Int32) -> Int32 {
    guarded("scnn_set_num_threads") {
        guard n >= 1, n <= 256 else {
            throw SwiftCNNError.invalidArgument("number of threads must be between 1 and 256, received \(n)")
        }
        setEngineThreadCount(Int(n))
    }
}

@_cdecl("scnn_get_num_threads")
public func scnn_get_num_threads(_ out: UnsafeMutablePointer<Int32>?) -> Int32 {
    guarded("scnn_get_num_threads") { try required(out, "out").pointee = Int32(engineThreadCount) }
}

@_cdecl("scnn_permutation")
public func scnn_permutation(_ seed: UInt64, _ stream: UInt64, _ n: Int64, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded("scnn_permutation") {
        guard n >= 0 else { throw SwiftCNNError.invalidArgument("permutation length must be >= 0, received \(n)") }
        let out = try required(out, "out")
        var rng = RNG(seed: seed, stream: stream)
        for (i, v) in rng.permutation(Int(n)).enumerated() { out[i] = Int64(v) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
