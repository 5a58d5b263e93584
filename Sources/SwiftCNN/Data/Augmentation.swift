#if canImport(Glibc)
import Glibc
#endif

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

/// One image's random transform, in Keras ImageDataGenerator terms: rotation `theta` and `shear` in degrees,
/// shifts `tx` (rows) and `ty` (columns) in pixels, zooms `zx` (rows) and `zy` (columns), flips, a brightness
/// factor (1 = unchanged) and a final rescale factor.
public struct ImageTransform {
    public var theta: Double = 0, tx: Double = 0, ty: Double = 0, shear: Double = 0
    public var zx: Double = 1, zy: Double = 1
    public var flipHorizontal = false, flipVertical = false
    public var brightness: Double = 1
    public var rescale: Double = 1

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

/// Maps a coordinate outside 0..<n into range by the fill rule; nil means "use cval".
@inline(__always)
private func wrapIndex(_ i: Int, _ n: Int, _ mode: FillMode) -> Int? {
    if i >= 0 && i < n { return i }
    switch mode {
    case .constant: return nil
    case .nearest: return i < 0 ? 0 : n - 1
    case .wrap: let r = i % n; return r < 0 ? r + n : r
    case .reflect:
        if n == 1 { return 0 }
        let period = 2 * n
        var r = i % period
        if r < 0 { r += period }
        return r < n ? r : period - 1 - r
    }
}

/// A source coordinate limited to ±2^52 (NaN, from an infinite zoom times zero, counts as far outside).
@inline(__always)
private func sourceCoordinate(_ v: Double) -> Double {
    let limit = 4_503_599_627_370_496.0   // 2^52
    return v.isNaN ? -limit : min(max(v, -limit), limit)
}

/// Resamples one image (h, w, c) through `t` with bilinear interpolation, then applies brightness (clipped to the
/// input's 0..255 range when `clip255`) and rescale. `output` must not alias `input`.
public func augmentImage(_ input: UnsafePointer<Float>, height h: Int, width w: Int, channels c: Int, transform t: ImageTransform,
                         fill: FillMode, cval: Float, clip255: Bool, output: UnsafeMutablePointer<Float>) {
    let (a, b, ox, d, e, oy) = t.matrix(height: h, width: w)
    let brightness = Float(t.brightness), rescale = Float(t.rescale)
    for r in 0..<h {
        for col in 0..<w {
            // Clamped so that the conversions to Int below cannot trap (a shift of 1e19 is legal input); beyond
            // 2^52 a Double has no fraction left, so the clamp changes no result.
            let sy = sourceCoordinate(a * Double(r) + b * Double(col) + ox)
            let sx = sourceCoordinate(d * Double(r) + e * Double(col) + oy)
            let y0 = Int(sy.rounded(.down)), x0 = Int(sx.rounded(.down))
            let fy = Float(sy - Double(y0)), fx = Float(sx - Double(x0))
            let rows = (wrapIndex(y0, h, fill), wrapIndex(y0 + 1, h, fill))
            let cols = (wrapIndex(x0, w, fill), wrapIndex(x0 + 1, w, fill))
            let out = output + (r * w + col) * c
            // As scipy's mode='constant' (which Keras uses): no interpolation beyond the edges.
            if fill == .constant && (sy < -1e-6 || sy > Double(h - 1) + 1e-6 || sx < -1e-6 || sx > Double(w - 1) + 1e-6) {
                for ch in 0..<c { out[ch] = cval * rescale }
                continue
            }
            // Offsets of the four neighbours (-1: outside, use cval), computed once for all channels.
            func offset(_ y: Int?, _ x: Int?) -> Int { (y != nil && x != nil) ? (y! * w + x!) * c : -1 }
            let o00 = offset(rows.0, cols.0), o01 = offset(rows.0, cols.1)
            let o10 = offset(rows.1, cols.0), o11 = offset(rows.1, cols.1)
            // Weights; exact grid points (shifts, flips, 90° rotations) give weight 1 to one neighbour, so a
            // neighbour outside the image never blends in.
            let w00 = (1 - fy) * (1 - fx), w01 = (1 - fy) * fx, w10 = fy * (1 - fx), w11 = fy * fx
            for ch in 0..<c {
                var v: Float = 0
                if w00 != 0 { v += w00 * (o00 >= 0 ? input[o00 + ch] : cval) }
                if w01 != 0 { v += w01 * (o01 >= 0 ? input[o01 + ch] : cval) }
                if w10 != 0 { v += w10 * (o10 >= 0 ? input[o10 + ch] : cval) }
                if w11 != 0 { v += w11 * (o11 >= 0 ? input[o11 + ch] : cval) }
                if brightness != 1 {
                    v *= brightness
                    if clip255 { v = min(max(v, 0), 255) }
                }
                out[ch] = v * rescale
            }
        }
    }
}

/// Augments `count` images of one shape, one transform each (9 floats per image: theta, tx, ty, shear, zx, zy,
/// flip_h, flip_v, brightness), across the engine's threads.
public func augmentBatch(_ input: UnsafePointer<Float>, count: Int, height h: Int, width w: Int, channels c: Int,
                         transforms: UnsafePointer<Float>, fill: FillMode, cval: Float, rescale: Double, clip255: Bool,
                         output: UnsafeMutablePointer<Float>) {
    let job = (input, h, w, c, transforms, fill, cval, rescale, clip255, output)
    parallelFor(count, minChunk: 1, context: job) { context, lo, hi in
        let (input, h, w, c, transforms, fill, cval, rescale, clip255, output) = context.assumingMemoryBound(
            to: (UnsafePointer<Float>, Int, Int, Int, UnsafePointer<Float>, FillMode, Float, Double, Bool,
                 UnsafeMutablePointer<Float>).self).pointee
        let size = h * w * c
        for i in lo..<hi {
            augmentImage(input + i * size, height: h, width: w, channels: c,
                         transform: ImageTransform(values: transforms + 9 * i, rescale: rescale),
                         fill: fill, cval: cval, clip255: clip255, output: output + i * size)
        }
    }
}
