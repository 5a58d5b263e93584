#if canImport(Glibc)
import Glibc
#endif

/// A growable aligned float buffer that keeps its storage between uses, so steady-state steps allocate nothing.
public final class FloatBuffer {
    /// The storage (64-byte aligned).
    public private(set) var pointer: UnsafeMutablePointer<Float>
    /// Floats the storage holds.
    public private(set) var capacity: Int

    /// A zero-filled buffer of at least `count` floats.
    public init(count: Int = 0) {
        capacity = max(count, 16)
        pointer = allocateFloats(capacity)
        pointer.initialize(repeating: 0, count: capacity)
    }

    /// Makes room for at least `count` floats; contents are zero after a growth.
    public func reserve(_ count: Int) {
        guard count > capacity else { return }
        free(pointer)
        capacity = count
        pointer = allocateFloats(count)
        pointer.initialize(repeating: 0, count: count)
    }

    /// Sets the first `count` floats to zero.
    public func zero(_ count: Int) { pointer.initialize(repeating: 0, count: min(count, capacity)) }

    deinit { free(pointer) }
}
