/// How a sliding window (convolution or pooling) treats the image border, Keras's `padding` argument.
public enum Padding: String, CaseIterable {
    /// Only windows that lie wholly inside the image.
    case valid
    /// Zeros around the image so that out = ceil(in / stride); the smaller half of the padding goes first.
    case same

    /// Reads `padding` from a text configuration (default `valid`); anything but "valid" or "same" throws.
    init(config c: LayerConfig) throws {
        let text = try c.string("padding", default: "valid")
        guard let padding = Padding(rawValue: text) else {
            throw SwiftCNNError.invalidArgument("\(c.layerType): padding must be 'valid' or 'same', received '\(text)'")
        }
        self = padding
    }
}
