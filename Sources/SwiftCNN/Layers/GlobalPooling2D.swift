/// Keras `GlobalAveragePooling2D` / `GlobalMaxPooling2D`: (h, w, c) → (c,).
public final class GlobalPooling2D: Layer {
    /// Unique name within a model.
    public var name: String
    /// Max or average over all pixels.
    public let mode: PoolingMode
    /// Keras class name: `GlobalMaxPooling2D` or `GlobalAveragePooling2D`.
    public var typeName: String { mode == .max ? "GlobalMaxPooling2D" : "GlobalAveragePooling2D" }
    private var h = 0, w = 0, c = 0

    /// A global pooling of the given mode.
    public init(mode: PoolingMode, name: String = "") {
        self.name = name
        self.mode = mode
    }

    /// Checks the image input; the output is one value per channel.
    public func build(inputShapes: [[Int]]) throws -> [Int] {
        (h, w, c) = try requireImageInput(self, inputShapes)
        return [c]
    }

    /// Max or mean of each channel over all pixels: eight channels at a time, in registers across the pixels (the
    /// running value read and written through the output pointer at every pixel ran at a tenth of the speed).
    public func forward(_ io: LayerIO) {
        let pixels = h * w, isMax = mode == .max, c = self.c
        for b in 0..<io.batch {
            let x = io.inputs[0] + b * pixels * c, y = io.output + b * c
            var ch = 0
            while ch + 8 <= c {
                var acc = isMax ? SIMD8<Float>(repeating: -.infinity) : SIMD8<Float>()
                for p in 0..<pixels {
                    let v = UnsafeRawPointer(x + p * c + ch).loadUnaligned(as: SIMD8<Float>.self)
                    // The comparisons of the one-channel loop below (and of Swift's max): a NaN pixel is skipped.
                    acc = isMax ? acc.replacing(with: v, where: v .> acc) : acc + v
                }
                if !isMax { acc /= Float(pixels) }
                UnsafeMutableRawPointer(y + ch).storeBytes(of: acc, as: SIMD8<Float>.self)
                ch += 8
            }
            for ch in ch..<c {
                var acc: Float = isMax ? -.infinity : 0
                for p in 0..<pixels { let v = x[p * c + ch]; acc = isMax ? (v > acc ? v : acc) : acc + v }
                y[ch] = isMax ? acc : acc / Float(pixels)
            }
        }
    }

    /// Routes each channel's gradient to its first maximum, or spreads it evenly over the pixels.
    public func backward(_ io: LayerIO) {
        guard io.needsInputGrad[0] else { return }
        let pixels = h * w, c = self.c
        for b in 0..<io.batch {
            let x = io.inputs[0] + b * pixels * c, y = io.output + b * c
            let dx = io.inputGrads[0] + b * pixels * c, dy = io.outputGrad + b * c
            if mode == .max {
                dx.initialize(repeating: 0, count: pixels * c)
                // The gradient goes to the first maximum of each channel.
                for ch in 0..<c {
                    for p in 0..<pixels where x[p * c + ch] == y[ch] { dx[p * c + ch] = dy[ch]; break }
                }
            } else {
                let inv = 1 / Float(pixels)
                // One row of dy / pixels, copied to every pixel.
                for ch in 0..<c { dx[ch] = dy[ch] * inv }
                for p in 1..<max(pixels, 1) { (dx + p * c).update(from: dx, count: c) }
            }
        }
    }

    /// The output is a vector: no receptive field.
    public func receptiveField(inputs: [ReceptiveField?]) -> ReceptiveField? { nil }

    /// One operation per input value.
    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { elementCount(inputShapes[0]) }
}
