// Eight- and sixteen-lane float arithmetic as vector instructions. The standard library's SIMD8<Float> operators are
// lane loops (eight scalar adds) that LLVM's SLP vectorizer has to rebuild into vectors. In short loops it does; in the long
// straight-line Winograd tile transforms it rebuilt them as 4-lane halves, lanes picked apart with shuffles
// (F(4×4, 3×3)'s output transform of one tile: 737 instructions, 145 of them shuffles; with these: 402, none).
// These overloads are more specific than the standard library's generic ones, so every SIMD8<Float> (SIMD16<Float>)
// expression in the module takes them; each is one instruction from Intrinsics.h (two ymm instructions for SIMD16 in
// the x86-64-v3 engine), and each is the same IEEE operation as before. SwiftCNNAVX512 compiles this file too (a
// symbolic link), for the shared kernels it compiles with SIMD16.

import SwiftCNNIntrinsics

extension SIMD8 where Scalar == Float {
    @_transparent static func + (a: Self, b: Self) -> Self { swiftcnn_add8(a, b) }
    @_transparent static func - (a: Self, b: Self) -> Self { swiftcnn_subtract8(a, b) }
    @_transparent static func * (a: Self, b: Self) -> Self { swiftcnn_multiply8(a, b) }
    @_transparent static func / (a: Self, b: Self) -> Self { swiftcnn_divide8(a, b) }
    @_transparent static func * (a: Self, b: Float) -> Self { swiftcnn_multiply8(a, Self(repeating: b)) }
    @_transparent static func * (a: Float, b: Self) -> Self { swiftcnn_multiply8(Self(repeating: a), b) }
    @_transparent static prefix func - (a: Self) -> Self { swiftcnn_negate8(a) }
    @_transparent static func += (a: inout Self, b: Self) { a = swiftcnn_add8(a, b) }
    @_transparent static func -= (a: inout Self, b: Self) { a = swiftcnn_subtract8(a, b) }
    @_transparent static func *= (a: inout Self, b: Self) { a = swiftcnn_multiply8(a, b) }
}

extension SIMD16 where Scalar == Float {
    @_transparent static func + (a: Self, b: Self) -> Self { swiftcnn_add16(a, b) }
    @_transparent static func - (a: Self, b: Self) -> Self { swiftcnn_subtract16(a, b) }
    @_transparent static func * (a: Self, b: Self) -> Self { swiftcnn_multiply16(a, b) }
    @_transparent static func / (a: Self, b: Self) -> Self { swiftcnn_divide16(a, b) }
    @_transparent static func * (a: Self, b: Float) -> Self { swiftcnn_multiply16(a, Self(repeating: b)) }
    @_transparent static func * (a: Float, b: Self) -> Self { swiftcnn_multiply16(Self(repeating: a), b) }
    @_transparent static prefix func - (a: Self) -> Self { swiftcnn_negate16(a) }
    @_transparent static func += (a: inout Self, b: Self) { a = swiftcnn_add16(a, b) }
    @_transparent static func -= (a: inout Self, b: Self) { a = swiftcnn_subtract16(a, b) }
    @_transparent static func *= (a: inout Self, b: Self) { a = swiftcnn_multiply16(a, b) }
}
