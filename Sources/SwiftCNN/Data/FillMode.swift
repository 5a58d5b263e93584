/// How a resampled image is filled where the transform looks outside the source (Keras `fill_mode`).
public enum FillMode: Int32 {
    /// Repeat the edge pixel (aaaa|abcd|dddd).
    case nearest = 0
    /// A constant value `cval`.
    case constant = 1
    /// Mirror about the edge (dcba|abcd|dcba).
    case reflect = 2
    /// Tile the image (abcd|abcd|abcd).
    case wrap = 3

    /// The mode of a Keras name; unknown names throw.
    public init(name: String) throws {
        switch name {
        case "nearest": self = .nearest
        case "constant": self = .constant
        case "reflect": self = .reflect
        case "wrap": self = .wrap
        default: throw SwiftCNNError.invalidArgument("fill_mode must be one of 'nearest', 'constant', 'reflect', 'wrap'; received '\(name)'")
        }
    }
}
