/// Geometry of a 2-D sliding window over an NHWC image (convolution or pooling).
public struct WindowGeometry {
    public var inH, inW, channels: Int
    public var kernelH, kernelW: Int
    public var strideH, strideW: Int
    public var dilationH, dilationW: Int
    public var padTop, padLeft: Int
    public var outH, outW: Int

    /// Keras's rule: 'valid' keeps only full windows; 'same' gives out = ceil(in / stride) and puts the smaller
    /// half of the padding first. Throws when a 'valid' window does not fit.
    public init(inH: Int, inW: Int, channels: Int, kernel: (Int, Int), stride: (Int, Int), dilation: (Int, Int),
                same: Bool, layer: String) throws {
        self.inH = inH; self.inW = inW; self.channels = channels
        kernelH = kernel.0; kernelW = kernel.1; strideH = stride.0; strideW = stride.1
        dilationH = dilation.0; dilationW = dilation.1
        // Checked: the sizes come from users. A window of at most 2^62 leaves the index arithmetic of the kernels
        // (output · stride − padding + tap · dilation) inside Int.
        func span(_ k: Int, _ d: Int, _ axis: String) throws -> Int {
            let s = try checkedAdd(try checkedMultiply(d, k - 1, "\(layer): dilation_rate × (kernel_size − 1) along \(axis)"), 1,
                                   "\(layer): the dilated window along \(axis)", limit: WindowGeometry.maxWindow)
            return s
        }
        let effH = try span(kernelH, dilationH, "the height"), effW = try span(kernelW, dilationW, "the width")
        if same {
            outH = (inH - 1) / strideH + 1   // ceil(in / stride), without forming in + stride − 1
            outW = (inW - 1) / strideW + 1
            padTop = max((outH - 1) * strideH + effH - inH, 0) / 2   // (outH − 1) · stride < in: no overflow
            padLeft = max((outW - 1) * strideW + effW - inW, 0) / 2
        } else {
            guard effH <= inH, effW <= inW else {
                throw SwiftCNNError.invalidArgument("\(layer): the window (\(effH)x\(effW) after dilation) is larger than "
                    + "the input (\(inH)x\(inW)) with padding='valid'; use a smaller kernel or padding='same'.")
            }
            outH = (inH - effH) / strideH + 1
            outW = (inW - effW) / strideW + 1
            padTop = 0; padLeft = 0
        }
    }

    /// The largest dilated window (2^62) a layer may slide.
    public static let maxWindow = 1 << 62

    /// Columns per output pixel: kh·kw·c (HWIO order, matching a Keras kernel reshaped to (kh·kw·c, filters)).
    public var patchSize: Int { kernelH * kernelW * channels }
}
