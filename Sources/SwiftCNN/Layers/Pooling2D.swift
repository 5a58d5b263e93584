/// Keras `MaxPooling2D` and `AveragePooling2D`: a window of `poolSize` moved by `strides` (default: the pool size).
public final class Pooling2D: Layer {
    /// Unique name within a model.
    public var name: String
    /// Max or average.
    public let mode: PoolingMode
    /// Keras class name: `MaxPooling2D` or `AveragePooling2D`.
    public var typeName: String { mode == .max ? "MaxPooling2D" : "AveragePooling2D" }
    /// Window size, (rows, columns).
    public let poolSize: (Int, Int)
    /// Step of the window, (rows, columns).
    public let strides: (Int, Int)
    /// Border rule, Keras `padding`.
    public let padding: Padding
    private var geometry: WindowGeometry?
    /// The largest pooling window, in cells (2^24).
    public static let maxWindowArea = 1 << 24

    /// Keras `MaxPooling2D` / `AveragePooling2D(pool_size, strides=None, padding)`.
    public init(mode: PoolingMode, poolSize: (Int, Int) = (2, 2), strides: (Int, Int)? = nil, padding: Padding = .valid,
                name: String = "") {
        self.name = name
        self.mode = mode
        self.poolSize = poolSize
        self.strides = strides ?? poolSize
        self.padding = padding
    }

    /// Reads the C ABI's text configuration (pool_size, strides, padding).
    public convenience init(mode: PoolingMode, config c: LayerConfig, name: String) throws {
        let padding = try Padding(config: c)
        let pool = try c.pair("pool_size", default: (2, 2))
        self.init(mode: mode, poolSize: pool, strides: try c.pair("strides", default: pool), padding: padding, name: name)
    }

    /// Checks the image input and computes the window's geometry.
    public func build(inputShapes: [[Int]]) throws -> [Int] {
        let (h, w, c) = try requireImageInput(self, inputShapes)
        // The pooling loops visit every cell of a window: bound its area so a huge 'same' window cannot hang.
        _ = try checkedMultiply(poolSize.0, poolSize.1, "Layer '\(name)' (\(typeName)): pool_size area",
                                limit: Pooling2D.maxWindowArea)
        let g = try WindowGeometry(inH: h, inW: w, channels: c, kernel: poolSize, stride: strides, dilation: (1, 1),
                                   same: padding == .same, layer: "Layer '\(name)' (\(typeName))")
        geometry = g
        return [g.outH, g.outW, c]
    }

    /// The window of a max pooling that a preceding convolution may compute for it: non-overlapping ('valid',
    /// strides equal to the pool size), so each band of input rows makes its own output rows.
    public var fusableMaxPool: WindowGeometry? {
        mode == .max && padding == .valid && poolSize == strides ? geometry : nil
    }

    /// Max pooling's backward marks, per image, which channels already routed their gradient.
    public func workspaceSize(batch: Int) -> Int { mode == .max ? batch * geometry!.channels : 0 }

    /// Pools every window of every image.
    public func forward(_ io: LayerIO) {
        switch mode {
        case .max:
            maxPoolForward(io.inputs[0], batch: io.batch, geometry!, output: io.output)
        case .average:
            avgPoolForward(io.inputs[0], batch: io.batch, geometry!, output: io.output)
        }
    }

    /// Routes each output gradient to the window's maximum, or spreads it evenly over the window.
    public func backward(_ io: LayerIO) {
        guard io.needsInputGrad[0] else { return }
        switch mode {
        case .max:
            maxPoolBackward(io.outputGrad, input: io.inputs[0], output: io.output, batch: io.batch, geometry!,
                            inputGrad: io.inputGrads[0], taken: io.workspace)
        case .average:
            avgPoolBackward(io.outputGrad, batch: io.batch, geometry!, inputGrad: io.inputGrads[0])
        }
    }

    /// pool_size, strides, padding.
    public var config: [(String, String)] {
        [("pool_size", "\(poolSize.0),\(poolSize.1)"), ("strides", "\(strides.0),\(strides.1)"), ("padding", padding.rawValue)]
    }

    /// The input's field widened by the window and multiplied by the stride.
    public func receptiveField(inputs: [ReceptiveField?]) -> ReceptiveField? { inputs[0]?.through(geometry!) }

    /// One operation per window element for each output value.
    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { poolSize.0 * poolSize.1 * elementCount(outputShape) }
}
