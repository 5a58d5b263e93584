/// A max pooling computed by the layer that produces its input: its window and where its output goes.
public struct FusedMaxPool {
    /// The pooling's window over the convolution's output.
    public let geometry: WindowGeometry
    /// Where the pooled values go (the pooling node's activation).
    public let output: UnsafeMutablePointer<Float>
}
