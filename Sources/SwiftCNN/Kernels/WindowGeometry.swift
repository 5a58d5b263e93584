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
        let effH = dilationH * (kernelH - 1) + 1, effW = dilationW * (kernelW - 1) + 1
        if same {
            outH = (inH + strideH - 1) / strideH
            outW = (inW + strideW - 1) / strideW
            padTop = max((outH - 1) * strideH + effH - inH, 0) / 2
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

    /// Columns per output pixel: kh·kw·c (HWIO order, matching a Keras kernel reshaped to (kh·kw·c, filters)).
    public var patchSize: Int { kernelH * kernelW * channels }
}
