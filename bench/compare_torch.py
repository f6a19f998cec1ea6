#!/usr/bin/python3
"""PyTorch's nn.EmbeddingBag against embtab on the same ids and shapes, in one run.

Writes the id streams (uniform and Zipf 1.05, shuffled) to a folder, times
nn.EmbeddingBag(mode='sum', sparse=True) forward, and forward + backward + optimizer step
(SGD, Adagrad), then runs embtab's bench_tables on the very same ids (EMBTAB_BENCH_IDS_DIR)
and prints ids/s and the ratios. Shapes follow bench_tables.cpp: 512 MiB fp32 tables,
dim 16/64/128, 512 bags of 32 ids per batch.

    /usr/bin/python3 bench/compare_torch.py --bench build/default/bench/bench_tables

Threads: PyTorch's "2 threads" is torch.set_num_threads(2) (intra-op parallelism in one call);
embtab's is the same: one batch cut across a thread_pool of 2 (bench pooled_split, pool:2).
The gather limit at 2 threads is two threads each gathering batches of their own.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

TABLE_BYTES = 512 << 20
BAGS, POOLING = 512, 32
IDS_PER_BATCH = BAGS * POOLING
POOL = 1 << 22


def rows_for(dim):
    return TABLE_BYTES // (dim * 4)


def make_ids(rows, zipf, seed=1):
    rng = np.random.default_rng(seed)
    if zipf == 0:
        return rng.integers(0, rows, POOL, dtype=np.int64)
    weights = np.arange(1, rows + 1, dtype=np.float64) ** -zipf
    cdf = np.cumsum(weights)
    ranks = np.searchsorted(cdf, rng.random(POOL) * cdf[-1])
    return rng.permutation(rows).astype(np.int64)[np.minimum(ranks, rows - 1)]


def median_rate(fn, batches, reps):
    rates = []
    for _ in range(reps):
        start = time.perf_counter()
        for b in batches:
            fn(b)
        rates.append(len(batches) * IDS_PER_BATCH / (time.perf_counter() - start))
    return float(np.median(rates))


def time_torch(dim, ids, threads, kind, reps, n_batches):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    bag = torch.nn.EmbeddingBag(rows_for(dim), dim, mode="sum", sparse=True)
    offsets = torch.arange(0, IDS_PER_BATCH, POOLING, dtype=torch.int64)
    t = torch.from_numpy(ids)
    batches = [t[i * IDS_PER_BATCH:(i + 1) * IDS_PER_BATCH] for i in range(n_batches)]
    if kind == "pooled":
        def step(b):
            with torch.no_grad():
                bag(b, offsets)
    else:
        opt = (torch.optim.SGD(bag.parameters(), lr=0.01) if kind == "train_sgd"
               else torch.optim.Adagrad(bag.parameters(), lr=0.01))
        grad = torch.full((BAGS, dim), 1e-3)

        def step(b):
            opt.zero_grad(set_to_none=True)
            bag(b, offsets).backward(grad)
            opt.step()
    step(batches[0])  # warm-up
    return median_rate(step, batches, reps)


def run_embtab(bench, ids_dir, reps, dims):
    env = dict(os.environ, EMBTAB_BENCH_IDS_DIR=ids_dir)
    flt = ("^(gather_limit<true>|pooled<full_f32>|pooled_split<full_f32>|train<full_f32>"
           "|train<full_f32_adagrad>)/dim:("
           + "|".join(str(d) for d in dims) + ")/")
    out = subprocess.run([bench, "--benchmark_filter=" + flt, "--benchmark_format=json",
                          f"--benchmark_repetitions={reps}", "--benchmark_min_time=0.3",
                          "--benchmark_report_aggregates_only=true"],
                         env=env, check=True, capture_output=True, text=True).stdout
    rates = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") == "median" or (reps == 1 and b["run_type"] == "iteration"):
            rates[b["run_name"]] = b["items_per_second"]
    return rates


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bench", required=True, help="path of the bench_tables program")
    ap.add_argument("--dims", default="16,64,128")
    ap.add_argument("--reps", type=int, default=5, help="repetitions (medians are reported)")
    ap.add_argument("--batches", type=int, default=30, help="batches per PyTorch repetition")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    dims = [int(d) for d in args.dims.split(",")]

    with tempfile.TemporaryDirectory() as ids_dir:
        streams = {}
        for dim in dims:
            for zipf in (0.0, 1.05):
                ids = make_ids(rows_for(dim), zipf)
                ids.astype("<i8").tofile(os.path.join(
                    ids_dir, f"ids_{rows_for(dim)}_{int(round(zipf * 100))}.bin"))
                streams[(dim, zipf)] = ids
        print("embtab bench_tables ...", file=sys.stderr)
        ours = run_embtab(args.bench, ids_dir, args.reps, dims)
        rows = []
        for (dim, zipf), ids in streams.items():
            print(f"torch dim {dim} zipf {zipf} ...", file=sys.stderr)
            z = 1 if zipf else 0
            key = f"dim:{dim}/zipf:{z}/real_time"
            for name, kind, threads, ours_name in [
                ("pooled lookup", "pooled", 1, f"pooled<full_f32>/{key}/threads:1"),
                ("pooled lookup", "pooled", 2,
                 f"pooled_split<full_f32>/dim:{dim}/zipf:{z}/pool:2/real_time"),
                ("train step, SGD", "train_sgd", 1, f"train<full_f32>/{key}"),
                ("train step, Adagrad", "train_adagrad", 1, f"train<full_f32_adagrad>/{key}"),
            ]:
                theirs = time_torch(dim, ids, threads, kind, args.reps, args.batches)
                mine = ours.get(ours_name, float("nan"))
                limit = ours.get(f"gather_limit<true>/{key}/threads:{threads}", float("nan"))
                rows.append(dict(op=name, dim=dim, zipf=zipf, threads=threads, torch=theirs,
                                 embtab=mine, ratio=mine / theirs,
                                 of_limit=mine / limit if kind == "pooled" else None))
    print(f"torch {torch.__version__}, embtab median of {args.reps}; ids/s in millions")
    print(f"{'op':20} {'dim':>4} {'ids':>8} {'thr':>3} {'torch':>8} {'embtab':>8} {'ratio':>6} {'of gather limit':>16}")
    for r in rows:
        lim = "" if r["of_limit"] is None else f"{100 * r['of_limit']:.0f}%"
        print(f"{r['op']:20} {r['dim']:>4} {'zipf' if r['zipf'] else 'uniform':>8} {r['threads']:>3} "
              f"{r['torch'] / 1e6:8.2f} {r['embtab'] / 1e6:8.2f} {r['ratio']:6.2f} {lim:>16}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
