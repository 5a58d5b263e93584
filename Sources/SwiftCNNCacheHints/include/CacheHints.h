// Cache hints the Swift kernels cannot spell: Swift has no prefetch. Static inline, so the Swift optimizer inlines
// them into the micro-kernels as single instructions.
#ifndef SWIFTCNN_CACHE_HINTS_H
#define SWIFTCNN_CACHE_HINTS_H

/// Starts bringing the cache line at `address` into L1 for writing (a micro-tile of C that the kernel will store).
static inline __attribute__((always_inline)) void swiftcnn_prefetch_for_write(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

#endif
