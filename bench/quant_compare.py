#!/usr/bin/env python3
"""One markdown table from our quant-gpu JSON lines and quant_reference.py's (Hugging Face + bitsandbytes):

    python3 bench/quant_compare.py ours-quant.jsonl hf-bnb.jsonl

Rows: each side's variants (the unquantized dtype first); columns: parameter MB, device MB added, ms per token and
its ratio to the same side's unquantized model, fidelity (top-1 agreement, relative logit error). Errors are listed
under the table.
"""
import json
import sys


def read(path):
    lines = []
    try:
        with open(path) as f:
            for text in f:
                text = text.strip()
                if text.startswith("{"):
                    lines.append(json.loads(text))
    except OSError as error:
        print(f"({path}: {error})")
    return lines


def ours(lines):
    rows = {}
    for line in lines:
        if line.get("benchmark") != "quant-gpu":
            continue
        # case: "<config> <dtype> <variant...> <metric>"
        parts = line["case"].split(" ")
        rows.setdefault(" ".join(parts[2:-1]), {})[parts[-1]] = line
    return rows


def theirs(lines):
    rows, errors = {}, []
    for line in lines:
        if line.get("metric") == "error":
            errors.append(f"hf-bnb {line['variant']}: {line.get('error')}")
        elif line.get("name") == "quant-gpu":
            rows.setdefault(line["variant"], {})[line["metric"]] = line
    return rows, errors


def cell(row, metric, key="value", digits=1):
    value = row.get(metric, {}).get(key)
    return "—" if value is None else f"{value:.{digits}f}"


def main():
    our_rows = ours(read(sys.argv[1]))
    their_rows, errors = theirs(read(sys.argv[2]))
    print("| impl | variant | parameters MB | device MB added | ms/token | vs unquantized | top-1 | rel. logit error |")
    print("|---|---|---|---|---|---|---|---|")
    for impl, rows in (("ours", our_rows), ("hf + bitsandbytes", their_rows)):
        first = next((r.get("per_token", {}).get("value") for r in rows.values()), None)
        for variant, row in rows.items():
            if "per_token" not in row and "parameter_bytes" not in row:
                continue
            ms = row.get("per_token", {}).get("value")
            ratio = "—" if ms is None or not first else f"{ms / first:.2f}×"
            print(f"| {impl} | {variant} | {cell(row, 'parameter_bytes')} | {cell(row, 'device_memory_added')} | "
                  f"{cell(row, 'per_token', digits=2)} | {ratio} | {cell(row, 'fidelity', 'top1_agreement', 3)} | "
                  f"{cell(row, 'fidelity', digits=4)} |")
    for error in errors:
        print(f"\n- {error}")


if __name__ == "__main__":
    main()
