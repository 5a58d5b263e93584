import XCTest
import SwiftCNN

/// `gemm` against the naive `gemmReference` on awkward shapes, every transpose combination, alpha/beta, and
/// leading dimensions wider than the logical matrices.
final class GEMMTests: XCTestCase {
    private func check(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, alpha: Float = 1, beta: Float = 0,
                       pad: Int = 0, line: UInt = #line) {
        var rng = RNG(seed: UInt64(m * 131 + n * 17 + k))
        let aRows = transA ? k : m, aCols = transA ? m : k
        let bRows = transB ? n : k, bCols = transB ? k : n
        let lda = aCols + pad, ldb = bCols + pad, ldc = n + pad
        let a = (0..<(aRows * lda)).map { _ in Float(rng.nextUniform(-1, 1)) }
        let b = (0..<(bRows * ldb)).map { _ in Float(rng.nextUniform(-1, 1)) }
        let c0 = (0..<(m * ldc)).map { _ in beta == 0 ? Float.nan : Float(rng.nextUniform(-1, 1)) }
        var expected = c0.map { $0.isNaN ? 0 : $0 }, actual = c0
        gemmReference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                      beta: beta, c: &expected, ldc: ldc)
        forEachInstructionSet { isa in
        actual = c0
        gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
             beta: beta, c: &actual, ldc: ldc)
        let tolerance = 1e-5 * Float(max(k, 1)).squareRoot() * 4
        for i in 0..<m {
            for j in 0..<n {
                let e = expected[i * ldc + j], g = actual[i * ldc + j]
                if !(abs(e - g) <= tolerance * max(1, abs(e))) {
                    XCTFail("\(isa) m=\(m) n=\(n) k=\(k) tA=\(transA) tB=\(transB): C[\(i),\(j)] = \(g), expected \(e)",
                            line: line)
                    return
                }
            }
        }
        }
    }

    func testOddShapesAllTransposes() {
        for (m, n, k) in [(1, 1, 1), (7, 5, 3), (6, 16, 9), (13, 33, 17), (17, 7, 100), (100, 48, 27), (12, 64, 300)] {
            for tA in [false, true] {
                for tB in [false, true] { check(m: m, n: n, k: k, transA: tA, transB: tB) }
            }
        }
    }

    func testAlphaBetaAndPaddedLeadingDimensions() {
        check(m: 19, n: 40, k: 11, transA: false, transB: false, alpha: 0.5, beta: 1, pad: 3)
        check(m: 8, n: 20, k: 30, transA: true, transB: true, alpha: -2, beta: 0.25, pad: 5)
        check(m: 5, n: 5, k: 0, transA: false, transB: false, alpha: 1, beta: 0.5)
    }

    /// Convolution-shaped products: forward (M big, N = filters), weight gradient (transA), data gradient (transB).
    /// Sizes around the AVX-512 tiles (12 × 32, 12 × 16) and the AVX2 tile (6 × 16) exercise every edge path.
    func testConvolutionShapes() {
        for (m, n) in [(12, 32), (24, 48), (25, 63), (107, 80), (11, 17), (96, 16), (193, 129)] {
            check(m: m, n: n, k: 37, transA: false, transB: false)
            check(m: m, n: n, k: 300, transA: true, transB: false)
        }
        check(m: 676, n: 32, k: 9, transA: false, transB: false)
        check(m: 288, n: 64, k: 242, transA: true, transB: false)
        check(m: 242, n: 288, k: 64, transA: false, transB: true)
    }

    /// Wide B (1,030 columns: 64 full 16-column panels and a 6-column one) split across threads, in every transpose
    /// combination and with accumulation into C, so the packed-panel path and its partial last panel are covered.
    func testWidePackedPanels() {
        for tA in [false, true] {
            for tB in [false, true] { check(m: 130, n: 1030, k: 70, transA: tA, transB: tB) }
        }
        check(m: 31, n: 1030, k: 300, transA: false, transB: false, alpha: 0.5, beta: 1, pad: 2)
        // Depths past one K block (576): 1,300 → 3 blocks, accumulated into C.
        check(m: 50, n: 70, k: 1300, transA: true, transB: false)
        check(m: 61, n: 300, k: 1300, transA: false, transB: true, alpha: 1, beta: 1)
    }

    /// Deep products (k ≥ 4 · kc for any L1: 2,100 > 4 · 512) take AVX-512's 12-row tile: full and partial slivers,
    /// a partial panel, every transpose, accumulation into C and padded leading dimensions.
    func testDeepProductsTallTile() {
        for tA in [false, true] {
            for tB in [false, true] { check(m: 37, n: 45, k: 2100, transA: tA, transB: tB) }
        }
        check(m: 30, n: 64, k: 2111, transA: false, transB: false, alpha: -0.5, beta: 1, pad: 3)
    }

    /// Rows of A a multiple of 2 KB apart (lda 512 or 1024 floats) are copied to a padded pitch before the product:
    /// one and several K blocks, a partial last sliver, several M blocks, accumulation and the epilogue's neighbours.
    func testRowsOfAPowerOfTwoApart() {
        check(m: 41, n: 70, k: 512, transA: false, transB: false)
        check(m: 29, n: 100, k: 1024, transA: false, transB: true, alpha: 0.5, beta: 1)
        check(m: 700, n: 65, k: 1000, transA: false, transB: false, pad: 24)
        check(m: 13, n: 64, k: 2048, transA: false, transB: false, beta: 0.25)
    }

    /// A last panel half padding (n % NR = NR/2: 16 or 48 columns on AVX-512, 8 or 40 on AVX2) takes the narrow
    /// kernel: shallow and deep (12-row slivers, two narrow tiles each), odd depths, accumulation, in-place B.
    func testHalfPanels() {
        for n in [8, 16, 40, 48] {
            check(m: 37, n: n, k: 17, transA: false, transB: false)
            check(m: 50, n: n, k: 2101, transA: true, transB: false, alpha: 0.5, beta: 1, pad: 2)
            check(m: 30, n: n, k: 300, transA: false, transB: true)
            // Fewer rows than `fewRows`: B read in place, a half panel by the half-panel kernel (a Winograd weight
            // gradient: 16 × 16 from a depth of tiles), full and partial slivers, the tall tile's depths too.
            check(m: 16, n: n, k: 252, transA: true, transB: false)
            check(m: 17, n: n, k: 2101, transA: false, transB: false, alpha: 0.5, beta: 1, pad: 1)
            check(m: 5, n: n, k: 40, transA: true, transB: false, beta: 1)
            check(m: 23, n: n, k: 2101, transA: true, transB: false)   // a partial sliver of 11 rows of Aᵀ (12-row tile)
        }
    }

    /// Few rows and a big product (a Dense layer on one or a few samples): the columns are split across threads.
    func testFewRowsSplitByColumns() {
        check(m: 1, n: 600, k: 4000, transA: false, transB: false)
        check(m: 5, n: 700, k: 1500, transA: true, transB: true, alpha: 2, beta: 0.5, pad: 3)
        check(m: 11, n: 333, k: 1200, transA: false, transB: true)
        // Fewer rows than `fewRows`, B read in place (whole panels split across threads, the last columns by the
        // row kernel), with and without accumulation.
        check(m: 5, n: 700, k: 1500, transA: false, transB: false)
        check(m: 23, n: 333, k: 900, transA: true, transB: false, alpha: 0.5, beta: 1, pad: 1)
    }

    /// The fused epilogue equals bias + ReLU applied after the reference product (single and several K blocks).
    func testBiasAndReLUEpilogue() {
        for (m, n, k) in [(13, 40, 9), (7, 21, 600), (64, 64, 288), (100, 48, 20), (101, 45, 600), (2, 700, 3000), (29, 70, 2100),
                          (60, 16, 2500), (16, 16, 252), (9, 48, 30)] {
            var rng = RNG(seed: UInt64(m + n + k))
            let a = (0..<(m * k)).map { _ in Float(rng.nextUniform(-1, 1)) }
            let b = (0..<(k * n)).map { _ in Float(rng.nextUniform(-1, 1)) }
            let bias = (0..<n).map { _ in Float(rng.nextUniform(-1, 1)) }
            var expected = [Float](repeating: 0, count: m * n), actual = [Float](repeating: .nan, count: m * n)
            gemmReference(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: n,
                          beta: 0, c: &expected, ldc: n)
            for i in 0..<(m * n) { expected[i] = max(expected[i] + bias[i % n], 0) }
            forEachInstructionSet { isa in
                actual = [Float](repeating: .nan, count: m * n)
                gemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: n, beta: 0,
                     c: &actual, ldc: n, bias: bias, relu: true)
                for i in 0..<(m * n) where !(abs(actual[i] - expected[i]) <= 1e-4 * max(1, abs(expected[i]))) {
                    XCTFail("\(isa) m=\(m) n=\(n) k=\(k): C[\(i)] = \(actual[i]), expected \(expected[i])")
                    return
                }
            }
        }
    }

    /// The bias-gradient reduction against a plain double-precision loop, for widths with and without a SIMD tail.
    func testColumnSums() {
        for (rows, width) in [(1, 1), (3, 8), (7, 13), (4099, 32), (50, 64), (9, 10)] {
            var rng = RNG(seed: UInt64(rows * 7 + width))
            let x = (0..<(rows * width)).map { _ in Float(rng.nextUniform(-1, 1)) }
            var sums = [Float](repeating: .nan, count: width)
            columnSums(x, rows: rows, width: width, into: &sums)
            for j in 0..<width {
                var expected = 0.0
                for r in 0..<rows { expected += Double(x[r * width + j]) }
                XCTAssertEqual(Double(sums[j]), expected, accuracy: 1e-5 * Double(rows), "rows=\(rows) width=\(width) j=\(j)")
            }
        }
    }
}
