#!/usr/bin/env bash
# The quality benchmark: builds bench/quality (Release, build/default) and trains the DLRM
# application with each method at each compression ratio, stationary and with drifting
# popularity, over several seeds (two runs at a time, one a core). Each finished run is appended
# to a results CSV; the report (Markdown) and the plot (SVG) are redrawn from it.
#   bash bench/quality.sh headline   # Criteo's real cardinalities (33.8M ids), 8M training and
#                                    # 1M test samples, 3 seeds: bench/QUALITY.md, quality.svg
#                                    # (about 3 h on 2 cores)
#   bash bench/quality.sh small      # scale 0.05 (1.69M ids), 1M / 200k samples, 3 seeds:
#                                    # bench/QUALITY-small.md, quality-small.svg (~25 min)
#   bash bench/quality.sh headline --scenarios drift --methods cafe,hash   # a piece: appends
#                                    # its runs to that preset's results file
#   bash bench/quality.sh headline --render-only                           # redraw only
#   bash bench/quality.sh [args...]  # no preset: the program's own defaults (bench/quality --help),
#                                    # appending to its --results file
# A preset starts its results file afresh only when given no further arguments.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

preset=()
results=""
case "${1:-}" in
    headline)
        shift
        results=bench/quality_results.csv
        preset=(--scale 1 --train 8000000 --test 1000000 --seeds 1,2,3
                --methods hash,multihash,freqsplit,hash_perfield,cafe,cafe_multihash,cafe_lean,cafe_int8
                --ratios 100,1000,10000
                --results "$results" --md bench/QUALITY.md --svg bench/quality.svg)
        ;;
    small)
        shift
        results=bench/quality_results_small.csv
        preset=(--scale 0.05 --train 1000000 --test 200000 --seeds 1,2,3
                --methods hash,multihash,qr,freqsplit,hash_perfield,cafe
                --ratios 10,100,1000,10000
                --results "$results" --md bench/QUALITY-small.md --svg bench/quality-small.svg)
        ;;
esac

embtab_deps
embtab_configure default -DEMBTAB_BUILD_BENCHMARKS=ON
cmake --build "$EMBTAB_BUILD_DIR" --target quality -j "$EMBTAB_JOBS"
cd "$EMBTAB_ROOT"
if [[ -n $results && $# -eq 0 ]]; then
    rm -f "$results"  # a preset's full run starts afresh; pieces append
fi
exec "$EMBTAB_BUILD_DIR/bench/quality" "${preset[@]}" "$@"
