/// 2-D convolution over NHWC images, Keras `Conv2D`: kernel HWIO `(kh, kw, in, filters)`, bias `(filters,)`.
/// Forward is im2col + GEMM (M = batch·outH·outW, N = filters, K = kh·kw·in), then bias and activation.
public final class Conv2D: Layer {
    public var name: String
    public var typeName: String { "Conv2D" }
    public let filters: Int
    public let kernelSize: (Int, Int)
    public let strides: (Int, Int)
    public let same: Bool
    public let dilation: (Int, Int)
    public let activation: Activation
    public let useBias: Bool
    public let kernelInitializer: Initializer
    public let biasInitializer: Initializer
    private var geometry: WindowGeometry?

    public init(filters: Int, kernelSize: (Int, Int), strides: (Int, Int) = (1, 1), padding: String = "valid",
                dilationRate: (Int, Int) = (1, 1), activation: Activation = .linear, useBias: Bool = true,
                kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros, name: String = "") {
        self.name = name
        self.filters = filters
        self.kernelSize = kernelSize
        self.strides = strides
        self.same = padding == "same"
        self.dilation = dilationRate
        self.activation = activation
        self.useBias = useBias
        self.kernelInitializer = kernelInitializer
        self.biasInitializer = biasInitializer
    }

    public convenience init(config c: LayerConfig, name: String) throws {
        let padding = try c.string("padding", default: "valid")
        guard padding == "valid" || padding == "same" else {
            throw SwiftCNNError.invalidArgument("Conv2D: padding must be 'valid' or 'same', received '\(padding)'")
        }
        let strides = try c.pair("strides", default: (1, 1)), dilation = try c.pair("dilation_rate", default: (1, 1))
        if (strides.0 > 1 || strides.1 > 1) && (dilation.0 > 1 || dilation.1 > 1) {
            throw SwiftCNNError.invalidArgument("Conv2D: strides > 1 not supported in conjunction with dilation_rate > 1. "
                + "Received: strides=\(strides) and dilation_rate=\(dilation)")
        }
        self.init(filters: try c.int("filters", min: 1), kernelSize: try c.pair("kernel_size"), strides: strides,
                  padding: padding, dilationRate: dilation, activation: try Activation(name: c.string("activation", default: "linear")),
                  useBias: try c.bool("use_bias", default: true),
                  kernelInitializer: try Initializer(name: c.string("kernel_initializer", default: "glorot_uniform")),
                  biasInitializer: try Initializer(name: c.string("bias_initializer", default: "zeros")), name: name)
    }

    public var parameterShapes: [[Int]] {
        let inC = geometry?.channels ?? 0
        return [[kernelSize.0, kernelSize.1, inC, filters]] + (useBias ? [[filters]] : [])
    }

    public func build(inputShapes: [[Int]]) throws -> [Int] {
        let (h, w, c) = try requireImageInput(self, inputShapes)
        let g = try WindowGeometry(inH: h, inW: w, channels: c, kernel: kernelSize, stride: strides, dilation: dilation,
                                   same: same, layer: "Layer '\(name)' (Conv2D)")
        geometry = g
        return [g.outH, g.outW, filters]
    }

    public func initializeParameters(_ p: [UnsafeMutablePointer<Float>], rng: inout RNG) {
        let g = geometry!, receptive = kernelSize.0 * kernelSize.1
        kernelInitializer.fill(p[0], count: g.patchSize * filters, fanIn: receptive * g.channels, fanOut: receptive * filters, rng: &rng)
        if useBias { biasInitializer.fill(p[1], count: filters, fanIn: g.channels, fanOut: filters, rng: &rng) }
    }

    /// A 1×1, stride-1, unpadded convolution reads its input directly as the GEMM's A matrix.
    private var isPointwise: Bool {
        kernelSize == (1, 1) && strides == (1, 1)
    }

    public func workspaceSize(batch: Int) -> Int {
        let g = geometry!
        let m = batch * g.outH * g.outW
        return (isPointwise ? 0 : 2 * m * g.patchSize) + m * filters
    }

    public func forward(_ io: LayerIO) {
        let g = geometry!
        let m = io.batch * g.outH * g.outW
        let a: UnsafePointer<Float>
        if isPointwise {
            a = UnsafePointer(io.inputs[0])
        } else {
            im2col(io.inputs[0], batch: io.batch, g, columns: io.workspace)
            a = UnsafePointer(io.workspace)
        }
        // Bias and ReLU ride in the GEMM's epilogue; other activations take a pass of their own.
        let fused = activation == .relu || activation == .linear
        gemm(transA: false, transB: false, m: m, n: filters, k: g.patchSize, alpha: 1, a: a, lda: g.patchSize,
             b: io.parameters[0], ldb: filters, beta: 0, c: io.output, ldc: filters,
             bias: useBias ? UnsafePointer(io.parameters[1]) : nil, relu: activation == .relu)
        if !fused { activation.forward(io.output, rows: m, width: filters) }
    }

    public func backward(_ io: LayerIO) {
        let g = geometry!
        let m = io.batch * g.outH * g.outW
        let colSize = isPointwise ? 0 : m * g.patchSize
        let columns = io.workspace, columnGrad = io.workspace + colSize
        let preGrad = io.workspace + 2 * colSize
        let activation = io.outputGradIsPreActivation ? .linear : self.activation
        activation.backward(output: io.output, outputGrad: io.outputGrad, inputGrad: preGrad, rows: m, width: filters)
        let a: UnsafePointer<Float> = isPointwise ? UnsafePointer(io.inputs[0]) : UnsafePointer(columns)
        if io.needsParameterGrads {
            gemm(transA: true, transB: false, m: g.patchSize, n: filters, k: m, alpha: 1, a: a, lda: g.patchSize,
                 b: preGrad, ldb: filters, beta: 0, c: io.parameterGrads[0], ldc: filters)
            if useBias {
                columnSums(preGrad, rows: m, width: filters, into: io.parameterGrads[1])
            }
        }
        if io.needsInputGrad[0] {
            let target = isPointwise ? io.inputGrads[0] : columnGrad
            gemm(transA: false, transB: true, m: m, n: g.patchSize, k: filters, alpha: 1, a: preGrad, lda: filters,
                 b: io.parameters[0], ldb: filters, beta: 0, c: target, ldc: g.patchSize)
            if !isPointwise { col2im(columnGrad, batch: io.batch, g, inputGrad: io.inputGrads[0]) }
        }
    }

    public var config: [(String, String)] {
        [("filters", "\(filters)"), ("kernel_size", "\(kernelSize.0),\(kernelSize.1)"),
         ("strides", "\(strides.0),\(strides.1)"), ("padding", same ? "same" : "valid"),
         ("dilation_rate", "\(dilation.0),\(dilation.1)"), ("activation", activation.rawValue),
         ("use_bias", useBias ? "1" : "0"), ("kernel_initializer", kernelInitializer.rawValue),
         ("bias_initializer", biasInitializer.rawValue)]
    }
}
