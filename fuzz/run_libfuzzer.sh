#!/usr/bin/env bash
# Runs the two libFuzzer targets (built by fuzz/build_libfuzzer.sh) from the committed seed corpus, each for
# RUNS executions (default 500000, so 1,000,000 in all) or SECONDS seconds if set. New inputs go to a scratch
# corpus under .build-fuzz, so the committed corpus stays small. A crash, leak, sanitizer report, timeout or an
# allocation beyond -malloc_limit_mb stops the run with a reproducer file and a non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-500000}
LIMIT=$([ -n "${SECONDS_EACH:-}" ] && echo "-max_total_time=$SECONDS_EACH -runs=-1" || echo "-runs=$RUNS")
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
for target in layer_config weights_file; do
    scratch=.build-fuzz/corpus-$target
    mkdir -p "$scratch" .build-fuzz/artifacts
    extra=()
    options=$ASAN_OPTIONS
    [ "$target" = layer_config ] && extra=(-dict=fuzz/config.dict -max_len=256)
    # Configs may legally ask for absurd layers (a 6157 × 6157 kernel: 2.4 GB of weights): there a request over 1 GB
    # returns NULL, as when memory is short, and the engine must answer with its out-of-memory error. The weights
    # harness keeps the hard limit: its files are small, so a big allocation means a length trusted beyond the file.
    [ "$target" = layer_config ] && options=$options:max_allocation_size_mb=1024
    [ "$target" = weights_file ] && extra=(-max_len=4096)
    echo "libFuzzer: $target ($LIMIT)"
    # -malloc_limit_mb: the weights model is a few hundred floats and configs are parsed, so no legitimate call
    # allocates this much; a length field trusted beyond the input's size would.
    ASAN_OPTIONS=$options .build-fuzz/fuzz_$target $LIMIT -timeout=20 -rss_limit_mb=3072 -malloc_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix=.build-fuzz/artifacts/ "${extra[@]}" "$scratch" "fuzz/corpus/$target" 2>&1 \
        | grep -E "^(#[0-9]+ *(DONE|INITED))|Done [0-9]+ runs|stat::number_of_executed_units|ERROR|SUMMARY|==[0-9]+==|artifact|Test unit" \
        | tail -n 20
    [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "libFuzzer: $target FAILED"; exit 1; }
done
