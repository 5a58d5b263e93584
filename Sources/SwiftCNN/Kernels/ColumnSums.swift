/// sums[j] = Σ_r x[r * width + j]: the bias gradient of a layer whose rows are samples (or pixels).
/// Eight columns per SIMD8 and four rows per step in independent accumulators, so the adds do not wait on each
/// other; a conv layer's bias gradient reads the whole pre-activation gradient (batch × pixels × filters).
/// With `accumulate` the sums are added to what `sums` holds (a thread's running partial over several chunks).
public func columnSums(_ x: UnsafePointer<Float>, rows: Int, width: Int, into sums: UnsafeMutablePointer<Float>,
                       accumulate: Bool = false) {
    var j = 0
    while j + 8 <= width {
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
        var p = UnsafeRawPointer(x + j)
        let stride = width * MemoryLayout<Float>.stride
        var r = 0
        while r + 4 <= rows {
            s0 += p.loadUnaligned(as: SIMD8<Float>.self)
            s1 += (p + stride).loadUnaligned(as: SIMD8<Float>.self)
            s2 += (p + 2 * stride).loadUnaligned(as: SIMD8<Float>.self)
            s3 += (p + 3 * stride).loadUnaligned(as: SIMD8<Float>.self)
            p += 4 * stride
            r += 4
        }
        while r < rows {
            s0 += p.loadUnaligned(as: SIMD8<Float>.self)
            p += stride
            r += 1
        }
        var total = (s0 + s1) + (s2 + s3)
        if accumulate { total += UnsafeRawPointer(sums + j).loadUnaligned(as: SIMD8<Float>.self) }
        UnsafeMutableRawPointer(sums + j).storeBytes(of: total, as: SIMD8<Float>.self)
        j += 8
    }
    while j < width {
        var s: Float = 0
        for r in 0..<rows { s += x[r * width + j] }
        sums[j] = accumulate ? sums[j] + s : s
        j += 1
    }
}
