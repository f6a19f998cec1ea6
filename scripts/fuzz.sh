#!/usr/bin/env bash
# Fuzz checkpoint loading and updates of every table kind with libFuzzer (+ ASan + UBSan),
# built with clang in build/fuzz:
#   scripts/fuzz.sh [seconds]     fuzz embtab_fuzz_load for that long (default 60), starting from
#                                 a copy of tests/fuzz/corpus (which is never written)
#   scripts/fuzz.sh --corpus      regenerate tests/fuzz/corpus (after a checkpoint format change)
# Findings (crash-*, leak-*, timeout-*, oom-* inputs) go to build/fuzz/fuzz-run/artifacts;
# replay one with `build/fuzz/tests/fuzz/embtab_fuzz_load <file>`.
# Overrides: JOBS, EMBTAB_BUILD_DIR, EMBTAB_CMAKE_ARGS (see scripts/common.sh); CXX if clang.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

mode=fuzz
seconds=60
case "${1:-}" in
    --corpus) mode=corpus ;;
    "") ;;
    *[!0-9]* | 0)
        echo "usage: scripts/fuzz.sh [seconds] | --corpus" >&2
        exit 2
        ;;
    *) seconds="$1" ;;
esac

if [[ ! -f "$EMBTAB_ROOT/include/embtab/io/checkpoint.hpp" ]]; then
    echo "fuzz.sh: include/embtab/io/checkpoint.hpp does not exist (nothing to fuzz)" >&2
    exit 1
fi

# libFuzzer comes with clang (Debian: clang + libclang-rt-dev, which embtab_deps adds for it).
case "${CXX:-}" in
    *clang*) ;;
    *) export CXX=clang++ ;;
esac
embtab_deps
EMBTAB_BUILD_DIR="${EMBTAB_BUILD_DIR:-$EMBTAB_ROOT/build/fuzz}"
embtab_configure fuzz
cmake --build "$EMBTAB_BUILD_DIR" -j "$EMBTAB_JOBS" "${EMBTAB_BUILD_TARGETS[@]}"

bin="$EMBTAB_BUILD_DIR/tests/fuzz"
seeds="$EMBTAB_ROOT/tests/fuzz/corpus"
if [[ $mode == corpus ]]; then
    rm -f "$seeds"/*
    "$bin/embtab_fuzz_make_corpus" "$seeds"
    exit 0
fi

run="$EMBTAB_BUILD_DIR/fuzz-run"
rm -rf "$run"
mkdir -p "$run/corpus" "$run/artifacts" "$run/fresh"

# The checked-in seeds should be what the generator makes now (else: scripts/fuzz.sh --corpus).
"$bin/embtab_fuzz_make_corpus" "$run/fresh" >/dev/null
if ! diff -rq "$seeds" "$run/fresh" >/dev/null; then
    echo "fuzz.sh: warning: tests/fuzz/corpus differs from what make_corpus.cpp writes now;" \
         "regenerate it with 'scripts/fuzz.sh --corpus'" >&2
fi

cp "$seeds"/* "$run/corpus/"
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
echo "fuzz.sh: fuzzing checkpoint loading and updates for ${seconds} s (log: $run/fuzz.log)"
status=0
"$bin/embtab_fuzz_load" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$run/artifacts/" \
    "$run/corpus" >"$run/fuzz.log" 2>&1 || status=$?

findings=$(find "$run/artifacts" -type f | wc -l)
if [[ $status -ne 0 || $findings -ne 0 ]]; then
    tail -n 100 "$run/fuzz.log"
    echo "fuzz.sh: FAILED (exit $status); findings in $run/artifacts:" >&2
    ls -l "$run/artifacts" >&2
    exit 1
fi
# The seed run, the last coverage line, and the final statistics.
grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^Done [0-9]+ runs|^stat::' "$run/fuzz.log" || true
echo "fuzz.sh: findings: 0 (corpus grew from $(find "$seeds" -type f | wc -l) to" \
     "$(find "$run/corpus" -type f | wc -l) inputs)"
