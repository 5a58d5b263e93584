// swift-tools-version:5.9
import PackageDescription

// Code generation for AVX2 + FMA (x86-64-v3): without -march the SIMD kernels compile to SSE2 and scalar fmaf
// calls. v3, not v4: machines of this kind do not all have AVX-512 (some report only avx2/fma), and one
// AVX-512 instruction there is an illegal-instruction crash. -mtune=generic keeps LLVM from over-unrolling
// the micro-kernels and spilling accumulators.
let engineFlags: [SwiftSetting] = [
    .unsafeFlags(["-Xcc", "-march=x86-64-v3", "-Xcc", "-mtune=generic", "-enforce-exclusivity=unchecked"]),
]

// The AVX-512 micro-kernels are compiled for x86-64-v4 in a module of their own and called only after a run-time
// check of the CPU (InstructionSet.swift), so the library still runs on AVX2-only machines.
let avx512Flags: [SwiftSetting] = [
    .unsafeFlags(["-Xcc", "-march=x86-64-v4", "-Xcc", "-mtune=generic", "-enforce-exclusivity=unchecked"]),
]

let package = Package(
    name: "SwiftCNN",
    products: [
        .library(name: "SwiftCNN", targets: ["SwiftCNN"]),
        .library(name: "swiftcnn", type: .dynamic, targets: ["SwiftCNNC"]),
    ],
    targets: [
        // What Swift cannot spell (prefetch, a vector square root): header-only static inline C.
        .target(name: "SwiftCNNIntrinsics"),
        .target(name: "SwiftCNNAVX512", dependencies: ["SwiftCNNIntrinsics"], swiftSettings: avx512Flags),
        .target(name: "SwiftCNN", dependencies: ["SwiftCNNAVX512", "SwiftCNNIntrinsics"], swiftSettings: engineFlags),
        .target(
            name: "SwiftCNNC",
            dependencies: ["SwiftCNN"],
            swiftSettings: engineFlags,
            // The Swift runtime is linked into libswiftcnn.so, so Python needs no toolchain to import it.
            linkerSettings: [.unsafeFlags(["-static-stdlib", "-no-toolchain-stdlib-rpath"])]
        ),
        .testTarget(name: "SwiftCNNTests", dependencies: ["SwiftCNN"], swiftSettings: engineFlags),
    ]
)
