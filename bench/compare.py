#!/usr/bin/env python3
"""Joins the JSON lines of our bench and bench/reference.py and prints a ratio table (markdown).

    python3 bench/compare.py ours.jsonl hf.jsonl

Rows are matched on (name, config, device, dtype, batch, metric); the last line of each wins. `speedup` > 1 means
ours is faster (reference ms / our ms, or our rate / reference rate). The `issue` column holds the reference numbers
quoted in the benchmark issue (OPT-2.7b fp16, Flan-T5-XL bf16, on the issue's GPU), for orientation only.
"""
import json
import sys

KEY = ("name", "config", "device", "dtype", "batch", "metric")
ISSUE = {
    ("caption", "opt-2.7b", "cuda", "float16", 1, "latency"): 342,
    ("decode-token", "opt-2.7b", "cuda", "float16", 1, "per_token"): 11.4,
    ("beam", "opt-2.7b", "cuda", "float16", 1, "latency"): 409,
    ("caption-batch", "opt-2.7b", "cuda", "float16", 8, "throughput"): 24.5,
    ("image-encoding", "opt-2.7b", "cuda", "float16", 1, "latency"): 13.3,
    ("image-encoding", "opt-2.7b", "cuda", "float16", 32, "throughput"): 890,
    ("itm", "itm-vit-g", "cuda", "float16", 32, "throughput"): 833,
    ("itc", "itm-vit-g", "cuda", "float16", 32, "throughput"): 650,
    ("caption", "flan-t5-xl", "cuda", "bfloat16", 1, "latency"): 1550,
    ("caption-static-compiled", "opt-2.7b", "cuda", "float16", 1, "latency"): 174,
}


def load(path):
    rows = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            row = json.loads(line)
            if all(k in row for k in KEY):
                rows[tuple(row[k] for k in KEY)] = row
    return rows


def fmt(value):
    return "—" if value is None else f"{value:.4g}"


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: compare.py OURS.jsonl REFERENCE.jsonl")
    ours, ref = load(sys.argv[1]), load(sys.argv[2])
    print("| benchmark | config | device | dtype | batch | metric | unit | ours | reference | speedup | issue |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for key in sorted(set(ours) | set(ref), key=lambda k: tuple(str(x) for x in k)):
        mine, theirs = ours.get(key), ref.get(key)
        unit = (mine or theirs)["unit"]
        a = mine["value"] if mine else None
        b = theirs["value"] if theirs else None
        speedup = None
        if a and b:
            speedup = b / a if unit in ("ms", "s") else a / b
        print("| " + " | ".join(str(k) for k in key[:6]) + f" | {unit} | {fmt(a)} | {fmt(b)} | {fmt(speedup)} | {fmt(ISSUE.get(key))} |")


if __name__ == "__main__":
    main()
