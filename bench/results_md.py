#!/usr/bin/python3
"""Writes the figures bench/results.sh measured into bench/RESULTS.md.

    /usr/bin/python3 bench/results_md.py build/results bench/RESULTS.md

Replaces the text between `<!-- figures:begin -->` and `<!-- figures:end -->` (the hand-written
rest of the file, which explains the figures, is kept); medians of the repetitions results.sh
ran, ratios from the same run.
"""
import json
import os
import re
import sys

BEGIN, END = "<!-- figures:begin -->", "<!-- figures:end -->"


def load_gbench(path):
    """Google Benchmark JSON → {run name: items/s of the median (or of the only run)}."""
    with open(path) as f:
        runs = json.load(f)["benchmarks"]
    rates = {}
    for b in runs:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        rates[b["run_name"]] = b["items_per_second"]
    return rates


def million(x):
    return f"{x / 1e6:.2f}" if x == x else "n/a"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def dist(z):
    return "Zipf 1.05" if z else "uniform"


def figures(d):
    parts = []
    with open(os.path.join(d, "machine.txt")) as f:
        parts.append("Machine and run:\n\n```\n" + f.read().strip() + "\n```")

    torch_rows = json.load(open(os.path.join(d, "compare_torch.json")))
    pooled = [r for r in torch_rows if r["op"] == "pooled lookup"]
    parts.append("### Pooled lookup, f32, against PyTorch and the gather loop\n\n"
                 "Millions of ids a second (512 bags of 32 ids a call); `of gather loop` = embtab "
                 "over the plain gather loop on the same ids and threads (a reference, not a bound: "
                 "FBGEMM runs above it).\n\n" + table(
                     ["dim", "ids", "threads", "PyTorch", "embtab", "embtab / PyTorch",
                      "of gather loop"],
                     [[r["dim"], dist(r["zipf"]), r["threads"], million(r["torch"]),
                       million(r["embtab"]), f"{r['ratio']:.2f}×",
                       f"{100 * r['of_limit']:.0f}%"] for r in pooled]))
    train = [r for r in torch_rows if r["op"].startswith("train")]
    parts.append("### Training step (pooled lookup + backward + optimizer step), 1 thread\n\n"
                 + table(["optimizer", "dim", "ids", "PyTorch", "embtab", "embtab / PyTorch"],
                         [[r["op"].split(", ")[1], r["dim"], dist(r["zipf"]),
                           million(r["torch"]), million(r["embtab"]), f"{r['ratio']:.2f}×"]
                          for r in train]))

    storage = load_gbench(os.path.join(d, "bench_storage.json"))
    rows = []
    for dim in (16, 64, 128):
        for z in (0, 1):
            get = lambda s: storage.get(f"pooled_lookup<embtab::{s}>/dim:{dim}/zipf:{z}",
                                        float("nan"))
            f32 = get("f32")
            rows.append([dim, dist(z)] + [million(get(s)) for s in
                                          ("f32", "f16", "int8_rowwise", "int4_rowwise")]
                        + [f"{get('int8_rowwise') / f32:.2f}×"])
    parts.append("### Pooled lookup by storage (bench_storage)\n\n" + table(
        ["dim", "ids", "f32", "f16", "int8", "int4", "int8 / f32"], rows))

    cafe = load_gbench(os.path.join(d, "bench_cafe.json"))
    rows = []
    for dim in (16, 64):
        h, c = cafe.get(f"hash_step/dim:{dim}"), cafe.get(f"cafe_step/dim:{dim}")
        if h and c:
            rows.append([dim, million(h), million(c), f"{h / c:.2f}×"])
    parts.append("### CAFE against a hash table of the same memory (bench_cafe)\n\n"
                 "Lookup + update of 4096 ids a step, Zipf 1.05 over 10M ids, 100× compression;"
                 " millions of ids a second; the goal is a time ratio of at most 1.3×.\n\n"
                 + table(["dim", "hash", "CAFE", "CAFE time / hash time"], rows)
                 + f"\n\nHotSketch alone: insert {million(cafe.get('sketch_insert', float('nan')))}"
                 f" M/s, query {million(cafe.get('sketch_query', float('nan')))} M/s.")

    updates = load_gbench(os.path.join(d, "bench_tables_update.json"))
    rows = []
    for opt, kind in (("sgd", "full_f32"), ("adagrad", "full_f32_adagrad")):
        for dim in (16, 64, 128):
            for z in (0, 1):
                one = updates.get(f"update<{kind}>/dim:{dim}/zipf:{z}/pool:1/real_time",
                                  float("nan"))
                two = updates.get(f"update<{kind}>/dim:{dim}/zipf:{z}/pool:2/real_time",
                                  float("nan"))
                rows.append([opt, dim, dist(z), million(one), million(two), f"{two / one:.2f}×"])
    parts.append("### Update alone on 1 and 2 threads (bench_tables `update`)\n\n"
                 "update_pooled of 512 bags × 32 ids, f32 rows; 2 threads: the distinct rows "
                 "split across a `thread_pool(2)`; millions of ids a second.\n\n" + table(
                     ["optimizer", "dim", "ids", "1 thread", "2 threads", "2 / 1"], rows))

    kinds = load_gbench(os.path.join(d, "bench_tables_dim64.json"))
    by_kind = {}
    for name, rate in kinds.items():
        m = re.match(r"(pooled|lookup|train)<(.*)>/dim:64/zipf:([01])/", name)
        if m:
            kind = m.group(2).replace("embtab::", "")
            by_kind.setdefault(kind, {})[(m.group(1), int(m.group(3)))] = rate
    rows = [[k] + [million(v.get((op, z), float("nan"))) for op in ("lookup", "pooled", "train")
                   for z in (0, 1)] for k, v in by_kind.items()]
    parts.append("### Every table kind at dim 64, 1 thread (bench_tables)\n\n"
                 "Millions of ids a second; compressed kinds at 10× less memory than the f32 "
                 "table; `train` is pooled lookup + update_pooled with SGD.\n\n" + table(
                     ["kind", "lookup uniform", "lookup Zipf", "pooled uniform", "pooled Zipf",
                      "train uniform", "train Zipf"], rows))
    fbgemm = os.path.join(d, "fbgemm.md")
    if os.path.exists(fbgemm):
        parts.append(fbgemm_sections(fbgemm))
    return "\n\n".join(parts)


def fbgemm_sections(path):
    """The lookup and training sections of a report that timed FBGEMM's CPU kernels and embtab
    on the same ids and rows in one process (FBGEMM_RESULTS for results.sh), headings demoted
    under one of ours; its machine lines are kept, since its run is not this one."""
    text = open(path).read()
    keep, lines = False, []
    for line in text.splitlines():
        if line.startswith("## "):
            keep = line[3:4].isdigit()  # the numbered sections: lookups, training
            if keep:
                lines.append("#### " + line[3:])
            continue
        if keep:
            lines.append(line)
    machine = [l.replace(" (BUILD_NOTES.md)", "") for l in text.splitlines()
               if l.startswith(("- CPU:", "- embtab ", "- FBGEMM commit", "- load average"))]
    return ("### FBGEMM beside embtab (same ids and rows, one process)\n\n"
            "From a separate run of FBGEMM's CPU embedding kernels (what PyTorch and TorchRec "
            "run) beside embtab, numbers checked equal before timing:\n\n"
            + "\n".join(machine) + "\n\n" + "\n".join(lines).strip())


def main():
    results, md = sys.argv[1], sys.argv[2]
    text = open(md).read() if os.path.exists(md) else f"# Results\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        sys.exit(f"{md} has no {BEGIN} … {END} section")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(md, "w") as f:
        f.write(head + BEGIN + "\n" + figures(results) + "\n" + END + tail)
    print(f"wrote {md}")


if __name__ == "__main__":
    main()
