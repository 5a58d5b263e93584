#if canImport(Glibc)
import Glibc
#endif

/// A dense float32 array in NHWC order (`batch, height, width, channels`), or any other row-major shape.
/// The tensor owns its 64-byte-aligned storage.
public final class Tensor {
    /// The dimensions, outermost first.
    public let shape: [Int]
    /// Number of elements (product of `shape`).
    public let count: Int
    /// The elements, row-major.
    public let data: UnsafeMutablePointer<Float>

    /// A zero-filled tensor of the given shape.
    public init(shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.data = allocateFloats(count)
        data.initialize(repeating: 0, count: count)
    }

    /// A tensor holding `values` (row-major); `values.count` must equal the product of `shape`.
    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "Tensor: \(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    deinit { free(data) }

    /// The elements as a Swift array.
    public var values: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// Element at a flat row-major index.
    public subscript(index: Int) -> Float {
        get { data[index] }
        set { data[index] = newValue }
    }
}

/// 64-byte aligned, uninitialised float storage for small scratch of bounded size (per-thread kernel buffers);
/// release with `free`. Everything sized by users goes through `tryAllocateFloats`, which reports failure.
@inline(__always)
func allocateFloats(_ count: Int) -> UnsafeMutablePointer<Float> {
    do { return try tryAllocateFloats(count) } catch { fatalError("swiftcnn: \(error)") }
}

