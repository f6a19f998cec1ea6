#!/usr/bin/env bash
# The quality benchmark: builds bench/quality (Release, build/default) and trains the DLRM example
# with every method at 10x..10000x, stationary and with drift, two runs at a time (one a core).
# Writes bench/QUALITY.md and bench/quality.svg (from bench/quality_results.csv).
#   bash bench/quality.sh                    # everything, from a fresh results file (~20-25 min
#                                            # on 2 cores)
#   bash bench/quality.sh --scenarios drift --methods cafe,hash   # a piece: appends its runs to
#                                            # the results file and redraws the report
#   bash bench/quality.sh --render-only      # redraw QUALITY.md / quality.svg only
# Arguments go to the program (bench/quality --help lists them).
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

embtab_deps
embtab_configure default -DEMBTAB_BUILD_BENCHMARKS=ON
cmake --build "$EMBTAB_BUILD_DIR" --target quality -j "$EMBTAB_JOBS"
cd "$EMBTAB_ROOT"
if [[ $# -eq 0 ]]; then
    rm -f bench/quality_results.csv  # a full run starts afresh; pieces append
fi
exec "$EMBTAB_BUILD_DIR/bench/quality" "$@"
