#if canImport(Glibc)
import Glibc
#endif
/// 2-D convolution over NHWC images, Keras `Conv2D`: kernel HWIO `(kh, kw, in, filters)`, bias `(filters,)`.
/// Forward is im2col + GEMM (M = batch·outH·outW, N = filters, K = kh·kw·in), then bias and activation; a 1×1
/// convolution is a GEMM on the input itself, and narrow inputs (1–4 channels) take the im2col-free window kernel.
public final class Conv2D: Layer {
    /// Unique name within a model.
    public var name: String
    /// Keras class name.
    public var typeName: String { "Conv2D" }
    /// Number of output channels.
    public let filters: Int
    /// Window size, (rows, columns).
    public let kernelSize: (Int, Int)
    /// Step of the window, (rows, columns).
    public let strides: (Int, Int)
    /// Border rule, Keras `padding`.
    public let padding: Padding
    /// Spacing of the window's taps, Keras `dilation_rate`.
    public let dilation: (Int, Int)
    /// Activation applied to the output.
    public let activation: Activation
    /// Whether a bias is added.
    public let useBias: Bool
    /// Initial values of the kernel.
    public let kernelInitializer: Initializer
    /// Initial values of the bias.
    public let biasInitializer: Initializer
    private var geometry: WindowGeometry?
    /// Hands a pass's chunks (or image groups) to the threads as they come free.
    private let workCounter = WorkCounter()
    /// Inference reuses the Winograd-transformed kernel while the kernel is unchanged: the transform was 7 % of a
    /// batch-1 W2 prediction. Unchanged is checked value for value (weights can be written through any pointer
    /// into the parameters), which reads the kernel twice instead of transforming it. Training steps do not use
    /// it (their weights change every step).
    private var inferenceKernel: TransformedKernelCache?
    /// The (output pixel, input pixel, tap) pairs when the layer takes `tapPairForward` and its backward passes
    /// (see `usesTapPairs`); empty otherwise.
    private var pairs: [TapPair] = []

    /// Keras `Conv2D(filters, kernel_size, strides, padding, dilation_rate, activation, use_bias, ...)`.
    public init(filters: Int, kernelSize: (Int, Int), strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                dilationRate: (Int, Int) = (1, 1), activation: Activation = .linear, useBias: Bool = true,
                kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros, name: String = "") {
        self.name = name
        self.filters = filters
        self.kernelSize = kernelSize
        self.strides = strides
        self.padding = padding
        self.dilation = dilationRate
        self.activation = activation
        self.useBias = useBias
        self.kernelInitializer = kernelInitializer
        self.biasInitializer = biasInitializer
    }

    /// Reads the C ABI's text configuration (see README, "Layer configuration keys").
    public convenience init(config c: LayerConfig, name: String) throws {
        let padding = try Padding(config: c)
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

    /// Parameter shapes in Keras layout, known after `build`.
    public var parameterShapes: [[Int]] {
        let inC = geometry?.channels ?? 0
        return [[kernelSize.0, kernelSize.1, inC, filters]] + (useBias ? [[filters]] : [])
    }

    /// Checks the input shapes and returns the output shape.
    public func build(inputShapes: [[Int]]) throws -> [Int] {
        let (h, w, c) = try requireImageInput(self, inputShapes)
        let g = try WindowGeometry(inH: h, inW: w, channels: c, kernel: kernelSize, stride: strides, dilation: dilation,
                                   same: padding == .same, layer: "Layer '\(name)' (Conv2D)")
        geometry = g
        pairs = []
        if !isPointwise && !usesWindowKernel(g) && !usesWinograd(g) && g.outH * g.outW <= 4 && kernelSize.0 <= 7
            && kernelSize.1 <= 7 {
            let candidates = tapPairs(g)
            if 2 * candidates.count <= g.outH * g.outW * g.kernelH * g.kernelW { pairs = candidates }
        }
        return [g.outH, g.outW, filters]
    }

    /// Fills the parameters with their initial values.
    public func initializeParameters(_ p: [UnsafeMutablePointer<Float>], rng: inout RNG) {
        let g = geometry!, receptive = kernelSize.0 * kernelSize.1
        kernelInitializer.fill(p[0], count: g.patchSize * filters, fanIn: receptive * g.channels, fanOut: receptive * filters, rng: &rng)
        if useBias { biasInitializer.fill(p[1], count: filters, fanIn: g.channels, fanOut: filters, rng: &rng) }
    }

    /// A 1×1, stride-1, unpadded convolution reads its input directly as the GEMM's A matrix.
    private var isPointwise: Bool {
        kernelSize == (1, 1) && strides == (1, 1)
    }

    /// Forward reads the windows straight from the images (`windowConvolution`) instead of im2col + GEMM when the
    /// input is narrow: with 1–4 channels a patch row is 9–36 floats, and writing and rereading it cost as much
    /// as the product (W1 inference: im2col was 15 % of the time). Measured on Zen 4 (one thread, AVX-512) with
    /// every layer windowed: W1 inference unchanged, W2 +12 %, W5 (VGG, 2×2–32×32 images, up to 512 channels)
    /// −10 %, so wider inputs keep im2col.
    private func usesWindowKernel(_ g: WindowGeometry) -> Bool {
        g.channels <= 4 && g.dilationH == 1 && g.dilationW == 1 && g.outW >= 6 && !isPointwise
    }

    /// 3×3 stride-1 layers with enough channels take Winograd F(2×2, 3×3) in all three passes (16 multiplications
    /// per 2×2 outputs instead of 36, no im2col or col2im). The rule, measured layer by layer (one thread, training
    /// step, Xeon Sapphire Rapids, AVX-512): from 32 channels on outputs of 8×8 and up, 20-35 % faster (W2's layers,
    /// VGG's 32×32…8×8 blocks); with 16 channels (W3's 28×28 and 14×14 layers), on 7×7 and on 4×4 outputs, 0-9 %
    /// faster (16 channels: 12-17 % once the input transform read each pixel once); on 2×2 outputs (a single tile
    /// per image, the kernel transformed every step for it) 3× slower, so those keep im2col, as do narrow inputs
    /// (the window kernel).
    private func usesWinograd(_ g: WindowGeometry) -> Bool {
        kernelSize == (3, 3) && strides == (1, 1) && g.dilationH == 1 && g.dilationW == 1
            && g.channels >= 16 && filters >= 16 && g.outH >= 4 && g.outW >= 4
    }

    /// Output pixels per side of the Winograd tiles (all three passes) for outputs of outH × outW: F(4×4, 3×3) (36
    /// multiplications per 16 outputs instead of 64) where its tiles cover at most 1/8 more pixels than 2×2 tiles do
    /// (AVX-512: 1.5 times as many) and there are at least 6 per side.
    /// Measured per layer (training step, two threads, Zen 4, AVX-512): 8-27 % faster from 64 channels (VGG's 16×16
    /// and 8×8, W2's 34×34 and 15×15, W1's 11×11), 1-5 % with 16-32 channels; 4×4 (one tile per image, the kernel's
    /// transform 2.25 times bigger) 0-5 % slower. 14×14 outputs (16×16 covered, 31 % more) were 3-7 % slower with
    /// the 8-lane transforms and still are with them (W3 5-8 % slower with the AVX2 kernels); with AVX-512, where the
    /// transforms take 16 channels per instruction, 4×4 tiles made W3's training step 4-6 % faster (A/B, one and two
    /// threads), so there the limit is 1.5 times the pixels instead of 1/8 more.
    private func winogradTileSize(outH: Int, outW: Int, for isa: InstructionSet = .active) -> Int {
        func covered(_ n: Int, by tile: Int) -> Int { (n + tile - 1) / tile * tile }
        let area2 = covered(outH, by: 2) * covered(outW, by: 2), area4 = covered(outH, by: 4) * covered(outW, by: 4)
        let (over, under) = isa == .avx512 ? (3, 2) : (9, 8)
        return outH >= 6 && outW >= 6 && under * area4 <= over * area2 ? 4 : 2
    }

    /// Images so small that at least half of im2col's products would be with padding (outputs of up to 2×2, such as
    /// VGG16's last block on 32×32 inputs: 16 tap pairs instead of 36 taps) take one GEMM per (output pixel, input
    /// pixel) pair (`tapPairForward`) in all three passes.
    private var usesTapPairs: Bool { !pairs.isEmpty }

    /// A 2×2, stride-2 pooling without padding: each Winograd tile is one of its windows.
    private func isTilePooling(_ p: WindowGeometry) -> Bool {
        p.kernelH == 2 && p.kernelW == 2 && p.strideH == 2 && p.strideW == 2 && p.padTop == 0 && p.padLeft == 0
    }

    /// The forward pass's Winograd convolution (and the weight gradient's, with the same tiles).
    private func winogradShape(_ g: WindowGeometry, batch: Int) -> WinogradShape {
        WinogradShape(batch: batch, inH: g.inH, inW: g.inW, channels: g.channels, filters: filters, padTop: g.padTop,
                      padLeft: g.padLeft, outH: g.outH, outW: g.outW, tileSize: winogradTileSize(outH: g.outH, outW: g.outW))
    }

    /// The input gradient's convolution: the output gradient with the rotated kernel, padded by 2 − the padding.
    private func winogradGradientShape(_ g: WindowGeometry, batch: Int) -> WinogradShape {
        WinogradShape(batch: batch, inH: g.outH, inW: g.outW, channels: filters, filters: g.channels,
                      padTop: 2 - g.padTop, padLeft: 2 - g.padLeft, outH: g.inH, outW: g.inW,
                      tileSize: winogradTileSize(outH: g.inH, outW: g.inW))
    }

    /// Whether some window reaches past the image (padding), so the window kernel needs a padded copy.
    private func windowNeedsPadding(_ g: WindowGeometry) -> Bool {
        g.padTop > 0 || g.padLeft > 0 || (g.outH - 1) * g.strideH + g.kernelH > g.inH
            || (g.outW - 1) * g.strideW + g.kernelW > g.inW
    }

    /// Floats of the workspace region that holds the kernel as a pass reads it: packed (forward), packed transposed
    /// or transposed (input gradient), or Winograd-transformed (either).
    private func kernelCopyCount(_ g: WindowGeometry) -> Int {
        var count = max(packedBCount(k: g.patchSize, n: filters), packedBCount(k: filters, n: g.patchSize))
        if usesTapPairs { count = max(count, packedTapsCount(g, filters: filters)) }
        if usesWinograd(g) {
            // The forward kernel (and the weight gradient's dU, no bigger) and the input gradient's, each for the
            // tiles its pass takes with either instruction set (AVX-512's rule takes 4×4 tiles wherever AVX2's
            // does), so switching the instruction set between steps never outgrows the region.
            count = max(count, WinogradShape.kernelCount(channels: g.channels, filters: filters,
                                                         tileSize: winogradTileSize(outH: g.outH, outW: g.outW, for: .avx512)),
                        WinogradShape.kernelCount(channels: filters, filters: g.channels,
                                                  tileSize: winogradTileSize(outH: g.inH, outW: g.inW, for: .avx512)))
        }
        return count
    }

    /// Scratch floats for a batch.
    public func workspaceSize(batch: Int) -> Int {
        let g = geometry!
        // The pre-activation gradient, then one region that holds the kernel as the chunks' GEMMs read it: packed
        // panels (forward), packed transposed panels or the transposed kernel (input gradient). Image patches are
        // unfolded chunk by chunk into per-thread scratch, never for the whole batch.
        let kernelCopy = kernelCopyCount(g)
        // The window kernel reads padded images from a copy after those.
        let p = paddedGeometry(g)
        let paddedImages = usesWindowKernel(g) && windowNeedsPadding(g) ? batch * p.inH * p.inW * p.channels : 0
        return batch * g.outH * g.outW * filters + kernelCopy + paddedImages
    }

    /// Computes the output from the inputs.
    public func forward(_ io: LayerIO) {
        let g = geometry!
        let m = io.batch * g.outH * g.outW
        // Bias and ReLU ride in the GEMM's epilogue; other activations take a pass of their own.
        let fused = activation == .relu || activation == .linear
        let bias: UnsafePointer<Float>? = useBias ? UnsafePointer(io.parameters[1]) : nil
        if isPointwise {
            gemm(transA: false, transB: false, m: m, n: filters, k: g.patchSize, alpha: 1, a: io.inputs[0],
                 lda: g.patchSize, b: io.parameters[0], ldb: filters, beta: 0, c: io.output, ldc: filters,
                 bias: bias, relu: activation == .relu)
        } else if usesWinograd(g) {
            let shape = winogradShape(g, batch: io.batch)
            let transformed: UnsafePointer<Float>
            if io.training {
                let region = io.workspace + m * filters
                winogradTransformKernel(io.parameters[0], channels: g.channels, filters: filters, flipped: false,
                                        tileSize: shape.tileSize, into: region)
                transformed = UnsafePointer(region)
            } else {
                let cache = inferenceKernel ?? TransformedKernelCache()
                inferenceKernel = cache
                transformed = cache.transformed(io.parameters[0], channels: g.channels, filters: filters,
                                                tileSize: shape.tileSize)
            }
            // A following 2×2 max pooling is taken tile by tile (a tile is one or four pooling windows).
            let pool = io.fusedMaxPool.flatMap { fused && isTilePooling($0.geometry) ? $0.output : nil }
            winogradConvolution(io.inputs[0], shape, transformedKernel: transformed,
                                bias: bias, relu: activation == .relu, output: io.output, pooled: pool,
                                counter: workCounter)
            if pool != nil { return }
        } else if usesTapPairs {
            var packedTaps: UnsafePointer<Float>? = nil
            if gemmTakesPackedB(m: io.batch) {
                let region = io.workspace + m * filters
                packTapsForward(io.parameters[0], g, filters: filters, into: region)
                packedTaps = UnsafePointer(region)
            }
            tapPairForward(io.inputs[0], batch: io.batch, g, pairs: pairs, kernel: io.parameters[0],
                           packedTaps: packedTaps, filters: filters, bias: bias, relu: activation == .relu,
                           output: io.output)
        } else {
            // Every chunk multiplies by the same kernel: pack it once (the AVX2 GEMM reads B as panels).
            var packedKernel: UnsafePointer<Float>? = nil
            if gemmTakesPackedB(m: m) || usesWindowKernel(g) {
                let region = io.workspace + m * filters
                packB(transB: false, k: g.patchSize, n: filters, b: io.parameters[0], ldb: filters, into: region)
                packedKernel = UnsafePointer(region)
            }
            var job = ConvJob(g: g, chunks: ConvChunks(g, batch: io.batch, filters: filters), filters: filters,
                              input: io.inputs[0], kernel: io.parameters[0], bias: bias, relu: activation == .relu,
                              output: io.output, gradient: io.output, partialSums: io.output, packedKernel: packedKernel)
            job.pool = fused ? io.fusedMaxPool : nil
            if usesWindowKernel(g) {
                if windowNeedsPadding(g) {
                    let padded = io.workspace + m * filters + kernelCopyCount(g)
                    padImages(io.inputs[0], batch: io.batch, g, into: padded)
                    job.window = (UnsafePointer(padded), paddedGeometry(g))
                } else {
                    job.window = (UnsafePointer(io.inputs[0]), g)
                }
            }
            job.counter = Unmanaged.passUnretained(workCounter)
            workCounter.reset()
            let threads = job.threads(forItems: job.chunks.count)
            parallelFor(threads, minChunk: 1, context: (job, threads)) { context, lo, hi in
                let (job, threads) = context.assumingMemoryBound(to: (ConvJob, Int).self).pointee
                for t in lo..<hi { job.forward(thread: t, of: threads) }
            }
            if job.pool != nil {
                job.poolStraddlingBands()
                return
            }
        }
        if !fused { activation.forward(io.output, rows: m, width: filters) }
        // A fused pooling that could not ride along with the chunks (one GEMM for all rows, or an activation
        // applied afterwards) runs over the whole output here.
        if let pool = io.fusedMaxPool { maxPoolForward(io.output, batch: io.batch, pool.geometry, output: pool.output) }
    }

    /// Computes the input and parameter gradients from the output gradient.
    public func backward(_ io: LayerIO) {
        let g = geometry!
        let m = io.batch * g.outH * g.outW
        let activation = io.outputGradIsPreActivation ? .linear : self.activation
        // Without an activation to undo, the pre-activation gradient is the output gradient itself: no copy.
        let preGrad = activation == .linear ? io.outputGrad : io.workspace, kernelT = io.workspace + m * filters
        if io.needsParameterGrads && usesWinograd(g) && (activation == .relu || activation == .linear) {
            // Winograd's tiles, which also make the pre-activation gradient and the bias sums as they read the
            // output gradient; the kernel region holds the transformed gradient until the input gradient needs it.
            winogradWeightGradient(io.inputs[0], winogradShape(g, batch: io.batch), output: io.output,
                                   outputGrad: io.outputGrad, relu: activation == .relu,
                                   preGrad: activation == .relu ? preGrad : nil,
                                   kernelGrad: io.parameterGrads[0], biasGrad: useBias ? io.parameterGrads[1] : nil,
                                   dU: kernelT)
        } else if io.needsParameterGrads && usesTapPairs {
            activation.parallelBackward(output: io.output, outputGrad: io.outputGrad, inputGrad: preGrad, rows: m, width: filters)
            tapPairWeightGradient(io.inputs[0], preGrad: preGrad, batch: io.batch, g, pairs: pairs, filters: filters,
                                  kernelGrad: io.parameterGrads[0])
            if useBias { columnSums(preGrad, rows: m, width: filters, into: io.parameterGrads[1]) }
        } else if io.needsParameterGrads && !isPointwise {
            // Each chunk's pre-activation gradient and bias sums are made by the weight-gradient job, just before
            // its GEMM reads them, while the chunk is in cache and on every thread.
            weightGradient(io, g, activation: activation, preGrad: preGrad)
        } else {
            activation.parallelBackward(output: io.output, outputGrad: io.outputGrad, inputGrad: preGrad, rows: m, width: filters)
            if io.needsParameterGrads {
                gemm(transA: true, transB: false, m: g.patchSize, n: filters, k: m, alpha: 1, a: io.inputs[0],
                     lda: g.patchSize, b: preGrad, ldb: filters, beta: 0, c: io.parameterGrads[0], ldc: filters)
                if useBias { columnSums(preGrad, rows: m, width: filters, into: io.parameterGrads[1]) }
            }
        }
        if io.needsInputGrad[0] {
            if usesWinograd(g) {
                let shape = winogradGradientShape(g, batch: io.batch)
                winogradTransformKernel(io.parameters[0], channels: filters, filters: g.channels, flipped: true,
                                        tileSize: shape.tileSize, into: kernelT)
                winogradConvolution(preGrad, shape, transformedKernel: kernelT,
                                    bias: nil, relu: false, output: io.inputGrads[0], counter: workCounter)
            } else if usesTapPairs {
                var packedTaps: UnsafePointer<Float>? = nil
                if gemmTakesPackedB(m: io.batch) {
                    packTapsForInputGradient(io.parameters[0], g, filters: filters, into: kernelT)
                    packedTaps = UnsafePointer(kernelT)
                }
                tapPairInputGradient(preGrad, batch: io.batch, g, pairs: pairs, kernel: io.parameters[0],
                                     packedTaps: packedTaps, filters: filters, inputGrad: io.inputGrads[0])
            } else if isPointwise {
                gemm(transA: false, transB: true, m: m, n: g.patchSize, k: filters, alpha: 1, a: preGrad, lda: filters,
                     b: io.parameters[0], ldb: filters, beta: 0, c: io.inputGrads[0], ldc: g.patchSize)
            } else {
                // The chunks' GEMMs multiply by kernelᵀ (filters × patch), prepared once per step: as packed panels
                // for the AVX2 GEMM, else as kernelT[f, p] = kernel[p, f] so B's rows are read directly.
                var packedKernel: UnsafePointer<Float>? = nil
                if gemmTakesPackedB(m: m) {
                    packB(transB: true, k: filters, n: g.patchSize, b: io.parameters[0], ldb: filters, into: kernelT)
                    packedKernel = UnsafePointer(kernelT)
                } else {
                    transpose(io.parameters[0], rows: g.patchSize, cols: filters, lds: filters, into: kernelT)
                }
                var job = ConvJob(g: g, chunks: ConvChunks(g, batch: io.batch, filters: filters), filters: filters, input: io.inputs[0],
                                  kernel: kernelT, bias: nil, relu: false, output: io.inputGrads[0],
                                  gradient: preGrad, partialSums: io.inputGrads[0], packedKernel: packedKernel)
                job.counter = Unmanaged.passUnretained(workCounter)
                workCounter.reset()
                // Threads own whole images, so no two of them add into the same input pixel.
                let threads = job.threads(forItems: io.batch)
                parallelFor(threads, minChunk: 1, context: (job, threads)) { context, lo, hi in
                    let (job, threads) = context.assumingMemoryBound(to: (ConvJob, Int).self).pointee
                    for t in lo..<hi { job.inputGradient(thread: t, of: threads) }
                }
            }
        }
    }

    /// dW = Σ over chunks of columnsᵀ · preGrad, and the bias gradient Σ preGrad: each thread first turns its
    /// chunks' output gradient into preGrad, then sums into its own partials (thread 0's are the gradients
    /// themselves), then the partials are added.
    private func weightGradient(_ io: LayerIO, _ g: WindowGeometry, activation: Activation,
                                preGrad: UnsafeMutablePointer<Float>) {
        let chunks = ConvChunks(g, batch: io.batch, filters: filters)
        let size = g.patchSize * filters, biasSize = useBias ? filters : 0
        var job = ConvJob(g: g, chunks: chunks, filters: filters, input: io.inputs[0], kernel: io.parameterGrads[0],
                          bias: nil, relu: false, output: io.parameterGrads[0], gradient: preGrad,
                          partialSums: io.parameterGrads[0], packedKernel: nil)
        if activation != .linear { job.preActivation = (activation, UnsafePointer(io.output), UnsafePointer(io.outputGrad)) }
        job.biasGrad = useBias ? io.parameterGrads[1] : nil
        let threads = job.threads(forItems: chunks.count)
        job.partialSums = ScratchBuffer.forCurrentThread(count: (threads - 1) * (size + biasSize), slot: .partialSums)
        parallelFor(threads, minChunk: 1, context: (job, threads)) { context, lo, hi in
            let (job, threads) = context.assumingMemoryBound(to: (ConvJob, Int).self).pointee
            for t in lo..<hi { job.weightGradient(thread: t, of: threads) }
        }
        let dW = io.parameterGrads[0], partials = job.partialSums
        for t in 1..<threads {
            accumulate(partials + (t - 1) * size, into: dW, count: size)
            if useBias { accumulate(partials + (threads - 1) * size + (t - 1) * filters, into: io.parameterGrads[1], count: filters) }
        }
    }

    /// Hyper-parameters as text.
    public var config: [(String, String)] {
        [("filters", "\(filters)"), ("kernel_size", "\(kernelSize.0),\(kernelSize.1)"),
         ("strides", "\(strides.0),\(strides.1)"), ("padding", padding.rawValue),
         ("dilation_rate", "\(dilation.0),\(dilation.1)"), ("activation", activation.rawValue),
         ("use_bias", useBias ? "1" : "0"), ("kernel_initializer", kernelInitializer.rawValue),
         ("bias_initializer", biasInitializer.rawValue)]
    }

    /// The input's field widened by the (dilated) kernel and multiplied by the stride.
    public func receptiveField(inputs: [ReceptiveField?]) -> ReceptiveField? { inputs[0]?.through(geometry!) }

    /// Two per kernel tap and input channel for each output value, plus the bias.
    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int {
        let outputs = elementCount(outputShape)
        // Saturating: a huge kernel on a big image exceeds Int (the weights can be within limits).
        return saturatingAdd(saturatingProduct([2, kernelSize.0, kernelSize.1, inputShapes[0][2], outputs]), useBias ? outputs : 0)
    }
}

/// How a convolution's output pixels (rows of the im2col matrix, numbered across the batch) are cut into chunks
/// whose unfolded patches fit in L2: equal chunks of a multiple of 12 rows (chunks may span images), so the GEMM
/// micro-kernels' 6- and 12-row tiles cover every chunk but the last without leftover rows.
private struct ConvChunks {
    let rowsPerImage, rows, rowsPerChunk, count: Int

    init(_ g: WindowGeometry, batch: Int, filters: Int) {
        rowsPerImage = g.outH * g.outW
        rows = batch * rowsPerImage
        // ≈ 192 KB of patches per chunk, but at least 2 · filters rows: each chunk's weight-gradient GEMM reads
        // and writes the whole patch × filters dW, which must stay small next to the chunk's patches.
        let target = max(12, 49_152 / g.patchSize, 2 * filters)
        // Several chunks: a multiple of the thread count, so the threads get equal shares (3 chunks on 2 threads
        // left one waiting for a third of the pass).
        var parts = (rows + target - 1) / target
        if parts > 1 { parts = (parts + engineThreadCount - 1) / engineThreadCount * engineThreadCount }
        rowsPerChunk = ((rows + parts - 1) / parts + 11) / 12 * 12
        count = (rows + rowsPerChunk - 1) / rowsPerChunk
    }

    func rows(of chunk: Int) -> Range<Int> { chunk * rowsPerChunk..<min((chunk + 1) * rowsPerChunk, rows) }
}

/// One convolution pass split across the engine's threads; thread `t` of `n` takes a contiguous share of the work.
private struct ConvJob {
    let g: WindowGeometry
    let chunks: ConvChunks
    let filters: Int
    let input: UnsafePointer<Float>
    let kernel: UnsafePointer<Float>          // HWIO kernel (forward), transposed kernel (input gradient), dW (weight gradient)
    let bias: UnsafePointer<Float>?
    let relu: Bool
    let output: UnsafeMutablePointer<Float>   // layer output (forward), input gradient, or dW
    let gradient: UnsafePointer<Float>        // the pre-activation gradient (backward passes)
    var partialSums: UnsafeMutablePointer<Float>
    let packedKernel: UnsafePointer<Float>?   // `kernel` packed for the GEMM (forward, input gradient), if it takes that
    var pool: FusedMaxPool? = nil             // forward: max pooling of each chunk's output while it is in cache
    var window: (input: UnsafePointer<Float>, geometry: WindowGeometry)? = nil  // forward without im2col: the
                                                                               // (padded) images and their window
    // Weight gradient: the layer's activation, output and output gradient, from which each chunk's rows of
    // `gradient` are made; and the bias gradient (thread t > 0 sums into partialSums after its dW partial).
    var preActivation: (activation: Activation, output: UnsafePointer<Float>, outputGrad: UnsafePointer<Float>)? = nil
    var biasGrad: UnsafeMutablePointer<Float>? = nil
    var counter: Unmanaged<WorkCounter>? = nil  // hands out chunks (image groups for the input gradient)

    /// A fixed share of the items: the weight gradient's sums are grouped by thread, so a fixed grouping keeps
    /// training bit-identical from run to run (`set_random_seed`).
    private func share(_ t: Int, of n: Int, items: Int) -> Range<Int> { t * items / n..<(t + 1) * items / n }

    /// Work items claimed one at a time from the pass's counter until none are left (passes whose items are
    /// independent: forward chunks, the input gradient's image groups).
    private func claimed(_ items: Int) -> ClaimedItems { ClaimedItems(counter: counter!.takeUnretainedValue(), items: items) }

    func threads(forItems items: Int) -> Int { max(1, min(engineThreadCount, items)) }

    /// With one chunk (or one image) there is nothing to share out, so that chunk's GEMM uses all the threads.
    private var serial: Bool { engineThreadCount > 1 && chunks.count > 1 }


    /// Output rows of this thread's chunks: unfold the patches, multiply by the kernel, add bias, ReLU.
    func forward(thread t: Int, of n: Int) {
        let columns = ScratchBuffer.forCurrentThread(count: chunks.rowsPerChunk * g.patchSize, slot: .columns)
        for chunk in claimed(chunks.count) {
            let rows = chunks.rows(of: chunk)
            if let window, let packedKernel {
                windowConvolution(window.input, window.geometry, rows: rows, packedKernel: packedKernel,
                                  filters: filters, bias: bias, relu: relu, output: output)
            } else {
                im2col(input, g, rows: rows, columns: columns)
                gemm(transA: false, transB: false, m: rows.count, n: filters, k: g.patchSize, alpha: 1, a: columns,
                     lda: g.patchSize, b: kernel, ldb: filters, beta: 0, c: output + rows.lowerBound * filters,
                     ldc: filters, bias: bias, relu: relu, serial: serial, packedB: packedKernel)
            }
            if let pool { maxPoolRows(UnsafePointer(output), pool.geometry, output: pool.output, rows: bands(inside: rows, pool)) }
        }
    }

    /// With a fused pooling (non-overlapping windows of sH rows): pooled row (b, py) reads the output pixel rows
    /// [(b · outH + py · sH) · outW, + sH · outW). These are the pooled rows whose whole band lies in `rows`.
    private func bands(inside rows: Range<Int>, _ pool: FusedMaxPool) -> Range<Int> {
        let perImage = chunks.rowsPerImage, band = pool.geometry.strideH * g.outW, pooledH = pool.geometry.outH
        guard !rows.isEmpty else { return 0..<0 }
        let bFirst = rows.lowerBound / perImage, bLast = (rows.upperBound - 1) / perImage
        // First band starting at or after rows.lowerBound, last band ending at or before rows.upperBound.
        let startOffset = rows.lowerBound - bFirst * perImage
        let first = bFirst * pooledH + min((startOffset + band - 1) / band, pooledH)
        let endOffset = rows.upperBound - bLast * perImage
        let last = bLast * pooledH + min(endOffset / band, pooledH)
        return first..<max(first, last)
    }

    /// Pools the bands that cross a chunk boundary (no chunk holds them whole), after all chunks are done.
    func poolStraddlingBands() {
        guard let pool else { return }
        let perImage = chunks.rowsPerImage, band = pool.geometry.strideH * g.outW, pooledH = pool.geometry.outH
        var done = -1
        for chunk in 1..<max(chunks.count, 1) {
            let r = chunk * chunks.rowsPerChunk
            let b = r / perImage, offset = r - b * perImage, py = offset / band
            let row = b * pooledH + py
            if py < pooledH && offset % band != 0 && row != done {
                maxPoolRows(UnsafePointer(output), pool.geometry, output: pool.output, rows: row..<(row + 1))
                done = row
            }
        }
    }

    /// This thread's partial dW (and bias gradient) over its chunks: Σ columnsᵀ · gradient rows.
    func weightGradient(thread t: Int, of n: Int) {
        let sum = t == 0 ? output : partialSums + (t - 1) * g.patchSize * filters
        let biasSum = t == 0 ? biasGrad : biasGrad.map { _ in partialSums + (n - 1) * g.patchSize * filters + (t - 1) * filters }
        let columns = ScratchBuffer.forCurrentThread(count: chunks.rowsPerChunk * g.patchSize, slot: .columns)
        let gradient = UnsafeMutablePointer(mutating: self.gradient)
        var first = true
        for chunk in share(t, of: n, items: chunks.count) {
            let rows = chunks.rows(of: chunk), offset = rows.lowerBound * filters
            if let (activation, y, dy) = preActivation {
                activation.backward(output: y + offset, outputGrad: dy + offset, inputGrad: gradient + offset,
                                    rows: rows.count, width: filters)
            }
            if let biasSum { columnSums(gradient + offset, rows: rows.count, width: filters, into: biasSum, accumulate: !first) }
            im2col(input, g, rows: rows, columns: columns)
            gemm(transA: true, transB: false, m: g.patchSize, n: filters, k: rows.count, alpha: 1, a: columns,
                 lda: g.patchSize, b: gradient + offset, ldb: filters, beta: first ? 0 : 1,
                 c: sum, ldc: filters, serial: serial)
            first = false
        }
        if first {
            sum.initialize(repeating: 0, count: g.patchSize * filters)
            biasSum?.initialize(repeating: 0, count: filters)
        }
    }

    /// The input gradient of the image groups this thread claims: per chunk of rows, column gradients = gradient ·
    /// kernelᵀ, folded back. A thread owns whole images, so no two threads add into the same input pixel.
    func inputGradient(thread t: Int, of n: Int) {
        let imageCount = chunks.rows / chunks.rowsPerImage
        let groupSize = max(1, chunks.rowsPerChunk / chunks.rowsPerImage), groups = (imageCount + groupSize - 1) / groupSize
        let imageSize = g.inH * g.inW * g.channels
        let columnGrads = ScratchBuffer.forCurrentThread(count: chunks.rowsPerChunk * g.patchSize, slot: .columnGrads)
        for group in claimed(groups) {
            let images = group * groupSize..<min((group + 1) * groupSize, imageCount)
            (output + images.lowerBound * imageSize).initialize(repeating: 0, count: images.count * imageSize)
            var r0 = images.lowerBound * chunks.rowsPerImage
            let end = images.upperBound * chunks.rowsPerImage
            while r0 < end {
                let r1 = min(r0 + chunks.rowsPerChunk, end)
                gemm(transA: false, transB: false, m: r1 - r0, n: g.patchSize, k: filters, alpha: 1,
                     a: gradient + r0 * filters, lda: filters, b: kernel, ldb: g.patchSize, beta: 0, c: columnGrads,
                     ldc: g.patchSize, serial: n > 1, packedB: packedKernel)
                col2im(columnGrads, g, rows: r0..<r1, inputGrad: output)
                r0 = r1
            }
        }
    }
}

/// A kernel's Winograd transform, kept with a copy of the kernel it came from and the instruction set whose panel
/// width it was packed for, so that a call with the same values reuses it.
private final class TransformedKernelCache {
    private var source = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    private var result = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    private var isa: InstructionSet?
    private var tileSize = 0

    deinit {
        source.deallocate()
        result.deallocate()
    }

    /// The transform of `kernel` (3 × 3 × channels × filters) for tiles of `tileSize` outputs, recomputed only when
    /// the kernel's values, the tile size or the active instruction set differ from the last call's.
    func transformed(_ kernel: UnsafePointer<Float>, channels: Int, filters: Int, tileSize: Int) -> UnsafePointer<Float> {
        let count = 9 * channels * filters
        if isa == InstructionSet.active && tileSize == self.tileSize && source.count == count
            && memcmp(source.baseAddress!, kernel, count * 4) == 0 {
            return UnsafePointer(result.baseAddress!)
        }
        let resultCount = WinogradShape.kernelCount(channels: channels, filters: filters, tileSize: tileSize)
        if source.count != count || result.count != resultCount {
            source.deallocate()
            result.deallocate()
            source = .allocate(capacity: count)
            result = .allocate(capacity: resultCount)
        }
        _ = source.initialize(from: UnsafeBufferPointer(start: kernel, count: count))
        winogradTransformKernel(kernel, channels: channels, filters: filters, flipped: false, tileSize: tileSize,
                                into: result.baseAddress!)
        isa = InstructionSet.active
        self.tileSize = tileSize
        return UnsafePointer(result.baseAddress!)
    }
}
