// What the Swift kernels cannot spell: a prefetch, and a vector square root (Swift's SIMD squareRoot() is a lane loop
// calling sqrtf). Static inline, so the Swift optimizer inlines each into its caller as single instructions.
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

#endif
