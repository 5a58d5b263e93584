// What the Swift kernels cannot spell: a prefetch, a vector square root (Swift's SIMD squareRoot() is a lane loop
// calling sqrtf), and eight- and sixteen-lane arithmetic as vector instructions (see VectorArithmetic.swift). Static
// inline, so the Swift optimizer inlines each into its caller as single instructions.
#ifndef SWIFTCNN_INTRINSICS_H
#define SWIFTCNN_INTRINSICS_H

/// Eight floats; Swift sees SIMD8<Float>.
typedef float swiftcnn_float8 __attribute__((ext_vector_type(8)));

/// Starts bringing the cache line at `address` into L1 for writing (a micro-tile of C that the kernel will store).
static inline __attribute__((always_inline)) void swiftcnn_prefetch_for_write(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

/// Lane-wise IEEE square root (one vsqrtps).
static inline __attribute__((always_inline)) swiftcnn_float8 swiftcnn_square_root8(swiftcnn_float8 x) {
    return __builtin_elementwise_sqrt(x);
}

// Lane-wise +, −, ×, ÷, negation: one vector instruction each.
static inline __attribute__((always_inline)) swiftcnn_float8 swiftcnn_add8(swiftcnn_float8 a, swiftcnn_float8 b) {
    return a + b;
}
static inline __attribute__((always_inline)) swiftcnn_float8 swiftcnn_subtract8(swiftcnn_float8 a, swiftcnn_float8 b) {
    return a - b;
}
static inline __attribute__((always_inline)) swiftcnn_float8 swiftcnn_multiply8(swiftcnn_float8 a, swiftcnn_float8 b) {
    return a * b;
}
static inline __attribute__((always_inline)) swiftcnn_float8 swiftcnn_divide8(swiftcnn_float8 a, swiftcnn_float8 b) {
    return a / b;
}
static inline __attribute__((always_inline)) swiftcnn_float8 swiftcnn_negate8(swiftcnn_float8 a) {
    return -a;
}

/// Sixteen floats (an AVX-512 register); Swift sees SIMD16<Float>.
typedef float swiftcnn_float16 __attribute__((ext_vector_type(16)));

static inline __attribute__((always_inline)) swiftcnn_float16 swiftcnn_add16(swiftcnn_float16 a, swiftcnn_float16 b) {
    return a + b;
}
static inline __attribute__((always_inline)) swiftcnn_float16 swiftcnn_subtract16(swiftcnn_float16 a, swiftcnn_float16 b) {
    return a - b;
}
static inline __attribute__((always_inline)) swiftcnn_float16 swiftcnn_multiply16(swiftcnn_float16 a, swiftcnn_float16 b) {
    return a * b;
}
static inline __attribute__((always_inline)) swiftcnn_float16 swiftcnn_divide16(swiftcnn_float16 a, swiftcnn_float16 b) {
    return a / b;
}
static inline __attribute__((always_inline)) swiftcnn_float16 swiftcnn_negate16(swiftcnn_float16 a) {
    return -a;
}

#endif
