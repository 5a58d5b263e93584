/// Keras `GlobalAveragePooling2D` / `GlobalMaxPooling2D`: (h, w, c) → (c,).
public final class GlobalPooling2D: Layer {
    public var name: String
    public let max: Bool
    public var typeName: String { max ? "GlobalMaxPooling2D" : "GlobalAveragePooling2D" }
    private var h = 0, w = 0, c = 0

    public init(max: Bool, name: String = "") {
        self.name = name
        self.max = max
    }

    public func build(inputShapes: [[Int]]) throws -> [Int] {
        (h, w, c) = try requireImageInput(self, inputShapes)
        return [c]
    }

    public func forward(_ io: LayerIO) {
        let pixels = h * w
        for b in 0..<io.batch {
            let x = io.inputs[0] + b * pixels * c, y = io.output + b * c
            for ch in 0..<c { y[ch] = max ? -Float.infinity : 0 }
            for p in 0..<pixels {
                for ch in 0..<c { y[ch] = max ? Swift.max(y[ch], x[p * c + ch]) : y[ch] + x[p * c + ch] }
            }
            if !max { for ch in 0..<c { y[ch] /= Float(pixels) } }
        }
    }

    public func backward(_ io: LayerIO) {
        guard io.needsInputGrad[0] else { return }
        let pixels = h * w
        for b in 0..<io.batch {
            let x = io.inputs[0] + b * pixels * c, y = io.output + b * c
            let dx = io.inputGrads[0] + b * pixels * c, dy = io.outputGrad + b * c
            if max {
                dx.initialize(repeating: 0, count: pixels * c)
                // The gradient goes to the first maximum of each channel.
                for ch in 0..<c {
                    for p in 0..<pixels where x[p * c + ch] == y[ch] { dx[p * c + ch] = dy[ch]; break }
                }
            } else {
                let inv = 1 / Float(pixels)
                for p in 0..<pixels { for ch in 0..<c { dx[p * c + ch] = dy[ch] * inv } }
            }
        }
    }
}
