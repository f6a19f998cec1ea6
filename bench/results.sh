#!/usr/bin/env bash
# Measures the figures of bench/RESULTS.md (medians of 5 repetitions) into build/results/ and
# writes them into bench/RESULTS.md (bench/results_md.py):
#   bash bench/results.sh            # builds build/default first if needed
# Needs Debian's python3-torch for the PyTorch comparison (installed here if missing).
# FBGEMM_RESULTS=<report.md>: a report that timed FBGEMM's CPU kernels beside embtab on the same
# ids and rows (numbered sections "## 1." ...); its lookup and training tables are added.
# Run it on a quiet machine: the programs time memory-bound loops, and other load shows.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

REPS="${REPS:-5}"
out="$EMBTAB_ROOT/build/results"
mkdir -p "$out"

embtab_deps
/usr/bin/python3 -c "import torch" 2>/dev/null || bash "$EMBTAB_ROOT/scripts/deps.sh" python3-torch
embtab_configure default >/dev/null
cmake --build "$EMBTAB_BUILD_DIR" -j "$EMBTAB_JOBS" --target bench_tables bench_storage bench_cafe
bench="$EMBTAB_BUILD_DIR/bench"
gb=(--benchmark_repetitions="$REPS" --benchmark_report_aggregates_only=true
    --benchmark_min_time=0.3)

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-) ($(nproc) cores)"
    echo "kernel: $(uname -r); $(c++ --version | head -1)"
    echo "torch: $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/machine.txt"

echo "== PyTorch comparison (pooled f32 at 1 and 2 threads, training steps)" >&2
/usr/bin/python3 "$EMBTAB_ROOT/bench/compare_torch.py" --bench "$bench/bench_tables" \
    --reps "$REPS" --json "$out/compare_torch.json" | tee "$out/compare_torch.txt"

echo "== storage (pooled lookup by storage)" >&2
"$bench/bench_storage" "${gb[@]}" --benchmark_out="$out/bench_storage.json"

echo "== CAFE against hashing at equal memory" >&2
"$bench/bench_cafe" "${gb[@]}" --benchmark_out="$out/bench_cafe.json"

echo "== every table kind at dim 64 (1 thread)" >&2
"$bench/bench_tables" "${gb[@]}" \
    --benchmark_filter='^(pooled|lookup|train)<[^>]*>+/dim:64/zipf:[01]/real_time(/threads:1)?$' \
    --benchmark_out="$out/bench_tables_dim64.json"

echo "== update alone, 1 and 2 threads" >&2
"$bench/bench_tables" "${gb[@]}" --benchmark_filter='^update<' \
    --benchmark_out="$out/bench_tables_update.json"

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt"
rm -f "$out/fbgemm.md"
if [[ -n ${FBGEMM_RESULTS:-} ]]; then  # a report of FBGEMM's kernels on the same ids and rows
    cp "$FBGEMM_RESULTS" "$out/fbgemm.md"
fi
/usr/bin/python3 "$EMBTAB_ROOT/bench/results_md.py" "$out" "$EMBTAB_ROOT/bench/RESULTS.md"
