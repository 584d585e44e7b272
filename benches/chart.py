#!/usr/bin/env python3
"""Draws nnpool against its peers from one session's measurements.

Inputs: the JSON lines of `cargo run --release --example report -- --json nnpool.jsonl` and of
`peers.py --out peers.jsonl` (../shared/peers), measured back to back on one machine.
Outputs: a PNG bar chart (median µs per workload, layout and thread count, log scale: nnpool,
the best peer, the copy roofline) and a Markdown table of the same numbers with the ratios.

    python3 benches/chart.py --ours nnpool.jsonl --peers peers.jsonl \
        --png docs/peers.png --table docs/peers.md [--machine "text"]

Needs matplotlib for the PNG (the table needs nothing).
"""

import argparse
import json
import math

PEER_SYSTEMS = {
    "torch_nchw", "torch_nhwc", "torch_mkldnn", "onnxruntime", "onnxruntime_iobind",
    "onnxruntime_ext", "litert_xnnpack", "litert_builtin",
}


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", required=True)
    ap.add_argument("--peers", required=True)
    ap.add_argument("--png")
    ap.add_argument("--table")
    ap.add_argument("--machine", default="")
    ap.add_argument("--system", default="nnpool", help="our system name to plot")
    a = ap.parse_args()

    ours = {(r["workload"], r["layout"], r["threads"]): r for r in load(a.ours)
            if r["system"] == a.system and r.get("median_ns")}
    best, roof = {}, {}
    for r in load(a.peers):
        key = (r["workload"], r["layout"], r["threads"])
        if r["workload"].startswith("_") or not r.get("median_ns"):
            continue
        if r["system"] == "roofline":
            roof[key] = r["median_ns"]
        elif r["system"] in PEER_SYSTEMS and r.get("ok") is True:
            if key not in best or r["median_ns"] < best[key][1]:
                best[key] = (r["system"], r["median_ns"])

    keys = [k for k in ours if k in best]
    order = []
    for r in load(a.ours):
        k = (r["workload"], r["layout"], r["threads"])
        if k in keys and k not in order:
            order.append(k)

    lines = [
        f"Measured on: {a.machine}" if a.machine else "",
        "",
        "| workload | layout | threads | nnpool µs | best peer µs | best peer | nnpool / best | "
        "copy roofline µs | roofline / nnpool |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    ratios = []
    for k in order:
        o = ours[k]["median_ns"]
        name, b = best[k]
        rf = roof.get(k)
        ratios.append(o / b)
        lines.append(
            f"| {k[0]} | {k[1]} | {k[2]} | {o / 1e3:.1f} | {b / 1e3:.1f} | {name} | {o / b:.2f} | "
            + (f"{rf / 1e3:.1f} | {rf / o:.2f} |" if rf else " | |"))
    if ratios:
        gm = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        lines += ["", f"Geometric mean of nnpool / best peer over {len(ratios)} rows: **{gm:.3f}**"]
    text = "\n".join(lines).strip() + "\n"
    print(text)
    if a.table:
        with open(a.table, "w") as f:
            f.write(text)

    if a.png:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        labels = [f"{w}\n{l} t{t}" for (w, l, t) in order]
        x = list(range(len(order)))
        wd = 0.27
        fig, ax = plt.subplots(figsize=(max(10, 0.62 * len(order)), 5.5))
        ax.bar([i - wd for i in x], [ours[k]["median_ns"] / 1e3 for k in order], wd,
               label="nnpool", color="#1f77b4")
        ax.bar(x, [best[k][1] / 1e3 for k in order], wd, label="best peer", color="#ff7f0e")
        ax.bar([i + wd for i in x], [roof.get(k, float("nan")) / 1e3 for k in order], wd,
               label="copy roofline", color="#999999")
        ax.set_yscale("log")
        ax.set_ylabel("median µs per call (log)")
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=90, fontsize=7)
        title = "nnpool vs best of PyTorch / ONNX Runtime / LiteRT-XNNPACK"
        if ratios:
            title += f" — geomean nnpool/best = {gm:.3f}"
        ax.set_title(title + (f"\n{a.machine}" if a.machine else ""), fontsize=9)
        ax.legend()
        fig.tight_layout()
        fig.savefig(a.png, dpi=110)


if __name__ == "__main__":
    main()
