/// dst (cols × rows) = srcᵀ for a row-major `rows × cols` source with row stride `lds`. Goes in 8 × 8 blocks so
/// that both the reads and the writes touch a few cache lines at a time (a plain double loop strides through
/// memory on one side and was a tenth of a VGG layer's backward step).
public func transpose(_ src: UnsafePointer<Float>, rows: Int, cols: Int, lds: Int, into dst: UnsafeMutablePointer<Float>) {
    let block = 8
    var i0 = 0
    while i0 < rows {
        let i1 = min(i0 + block, rows)
        var j0 = 0
        while j0 < cols {
            let j1 = min(j0 + block, cols)
            for i in i0..<i1 {
                let row = src + i * lds
                for j in j0..<j1 { dst[j * rows + i] = row[j] }
            }
            j0 = j1
        }
        i0 = i1
    }
}

/// dst[0..<count] += src[0..<count].
public func accumulate(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        let d = UnsafeMutableRawPointer(dst + i)
        d.storeBytes(of: d.loadUnaligned(as: SIMD8<Float>.self) + UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self),
                     as: SIMD8<Float>.self)
        i += 8
    }
    while i < count { dst[i] += src[i]; i += 1 }
}
