#!/usr/bin/env bash
# Builds the libFuzzer targets: the engine library instrumented with AddressSanitizer and coverage (edges and
# comparisons, which guide libFuzzer), and the two C harnesses linked against it with clang from the Swift
# toolchain (inline 8-bit counters and a PC table: the coverage form libFuzzer reads). Output: .build-fuzz/fuzz_layer_config, .build-fuzz/fuzz_weights_file.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=.build-fuzz
FLAGS=(-c release --build-path "$BUILD" -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table)
swift build "${FLAGS[@]}" --product swiftcnn
LIB=$(swift build "${FLAGS[@]}" --show-bin-path)
CLANG=${CLANG:-$(dirname "$(readlink -f "$(command -v swift)")")/clang}
for target in fuzz_layer_config fuzz_weights_file; do
    "$CLANG" -g -O1 -fsanitize=fuzzer,address -I Sources/SwiftCNNC/include "fuzz/c/$target.c" \
        -L"$LIB" -lswiftcnn -Wl,-rpath,"$LIB" -o "$BUILD/$target"
done
echo "built $BUILD/fuzz_layer_config $BUILD/fuzz_weights_file"
