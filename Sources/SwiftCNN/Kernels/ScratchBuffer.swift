#if canImport(Glibc)
import Glibc
#endif

/// Per-thread scratch that grows when needed and is reused, so steady-state work allocates nothing. Separate
/// slots let nested users on one thread (a convolution's column chunk, then the GEMM it calls) keep their buffers.
public enum ScratchBuffer {
    public enum Slot: Int { case gemm = 0, columns, columnGrads, partialSums, tile }
    private static let slotCount = 5

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { raw in
            guard let raw else { return }
            let header = raw.assumingMemoryBound(to: Int.self)
            for slot in 0..<slotCount { free(UnsafeMutableRawPointer(bitPattern: header[2 * slot + 1])) }
            free(raw)
        }
        return key
    }()

    /// A buffer of at least `count` floats owned by the calling thread.
    public static func forCurrentThread(count: Int, slot: Slot = .gemm) -> UnsafeMutablePointer<Float> {
        var header = pthread_getspecific(key)?.assumingMemoryBound(to: Int.self)
        if header == nil {
            let h = malloc(2 * slotCount * MemoryLayout<Int>.stride)!.assumingMemoryBound(to: Int.self)
            h.initialize(repeating: 0, count: 2 * slotCount)
            pthread_setspecific(key, h)
            header = h
        }
        let capacity = header! + 2 * slot.rawValue, address = capacity + 1
        if capacity.pointee < max(count, 1) {
            free(UnsafeMutableRawPointer(bitPattern: address.pointee))
            let p = allocateFloats(max(count, 1))
            capacity.pointee = max(count, 1)
            address.pointee = Int(bitPattern: p)
        }
        return UnsafeMutablePointer<Float>(bitPattern: address.pointee)!
    }
}
