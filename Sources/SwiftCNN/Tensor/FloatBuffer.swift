#if canImport(Glibc)
import Glibc
#endif

/// A growable aligned float buffer that keeps its storage between uses, so steady-state steps allocate nothing.
public final class FloatBuffer {
    /// The storage (64-byte aligned).
    public private(set) var pointer: UnsafeMutablePointer<Float>
    /// Floats the storage holds.
    public private(set) var capacity: Int

    /// A zeroed buffer of `count` floats; throws `outOfMemory` when they cannot be allocated.
    public init(count: Int = 0) throws {
        capacity = max(count, 16)
        pointer = try tryAllocateFloats(capacity)
        pointer.initialize(repeating: 0, count: capacity)
    }

    /// An empty buffer (16 floats), which cannot fail.
    public init() {
        capacity = 16
        pointer = allocateFloats(capacity)
        pointer.initialize(repeating: 0, count: capacity)
    }

    /// Makes room for at least `count` floats; contents are zero after a growth. On failure (`outOfMemory`) the
    /// buffer keeps its old storage.
    public func reserve(_ count: Int) throws {
        guard count > capacity else { return }
        let grown = try tryAllocateFloats(count)
        free(pointer)
        capacity = count
        pointer = grown
        pointer.initialize(repeating: 0, count: count)
    }

    /// Sets the first `count` floats to zero.
    public func zero(_ count: Int) { pointer.initialize(repeating: 0, count: min(count, capacity)) }

    deinit { free(pointer) }
}
