#if canImport(Glibc)
import Glibc
#endif

/// One image's random transform, in Keras ImageDataGenerator terms: rotation `theta` and `shear` in degrees,
/// shifts `tx` (rows) and `ty` (columns) in pixels, zooms `zx` (rows) and `zy` (columns), flips, a brightness
/// factor (1 = unchanged) and a final rescale factor.
public struct ImageTransform {
    /// Rotation and shear in degrees, shifts in pixels (rows, columns).
    public var theta: Double = 0, tx: Double = 0, ty: Double = 0, shear: Double = 0
    /// Zoom factors (rows, columns).
    public var zx: Double = 1, zy: Double = 1
    /// Mirror left-right, top-bottom.
    public var flipHorizontal = false, flipVertical = false
    /// Brightness factor (1 = unchanged).
    public var brightness: Double = 1
    /// Final multiplier (Keras `rescale`).
    public var rescale: Double = 1

    /// The identity transform.
    public init() {}

    /// Reads the nine values of the C ABI layout (theta, tx, ty, shear, zx, zy, flip_h, flip_v, brightness).
    public init(values p: UnsafePointer<Float>, rescale: Double) {
        theta = Double(p[0]); tx = Double(p[1]); ty = Double(p[2]); shear = Double(p[3])
        zx = Double(p[4]); zy = Double(p[5]); flipHorizontal = p[6] != 0; flipVertical = p[7] != 0
        brightness = Double(p[8]); self.rescale = rescale
    }

    /// The map from output (row, col) to input (row, col): Keras's rotation · shift · shear · zoom about the
    /// image centre, with flips folded in (a flip is a mirror of the output grid), as a 2×3 matrix.
    public func matrix(height h: Int, width w: Int) -> (Double, Double, Double, Double, Double, Double) {
        let t = theta * Double.pi / 180, s = shear * Double.pi / 180
        // rotation · shift · shear · zoom, as 3×3 affine matrices in (row, col).
        func mul(_ a: [Double], _ b: [Double]) -> [Double] {
            [a[0] * b[0] + a[1] * b[3], a[0] * b[1] + a[1] * b[4], a[0] * b[2] + a[1] * b[5] + a[2],
             a[3] * b[0] + a[4] * b[3], a[3] * b[1] + a[4] * b[4], a[3] * b[2] + a[4] * b[5] + a[5]]
        }
        var m = [cos(t), -sin(t), 0, sin(t), cos(t), 0]
        m = mul(m, [1, 0, tx, 0, 1, ty])
        m = mul(m, [1, -sin(s), 0, 0, cos(s), 0])
        m = mul(m, [zx, 0, 0, 0, zy, 0])
        let cy = Double(h) / 2 - 0.5, cx = Double(w) / 2 - 0.5
        m = mul([1, 0, cy, 0, 1, cx], mul(m, [1, 0, -cy, 0, 1, -cx]))
        // Flips act on the output after the affine transform: output (r, c) reads transformed (r', c').
        if flipVertical { m = mul(m, [-1, 0, Double(h - 1), 0, 1, 0]) }
        if flipHorizontal { m = mul(m, [1, 0, 0, 0, -1, Double(w - 1)]) }
        return (m[0], m[1], m[2], m[3], m[4], m[5])
    }
}
