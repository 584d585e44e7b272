#!/usr/bin/env python3
"""Thread-scaling table from one side-by-side run: the report's JSON rows (--ours) and
peers.py's rows (--peers), measured at several thread counts on one machine.

    python3 benches/scaling.py --ours nnpool.jsonl --peers peers.jsonl [--machine TEXT]

Prints a Markdown table per layout: nnpool's median per thread count, its speedup over one
thread, and nnpool / best peer at that thread count (proxy timings and failed checks left out),
then the geometric mean of nnpool / best peer per thread count.
"""
import argparse
import math
from collections import defaultdict

from chart import PEER_SYSTEMS
from chart import load as rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", required=True)
    ap.add_argument("--peers", required=True)
    ap.add_argument("--machine", default="")
    a = ap.parse_args()
    ours = {}
    for r in rows(a.ours):
        if r["system"] == "nnpool" and r.get("ok"):
            ours[(r["workload"], r["layout"], r["threads"])] = r["median_ns"] / 1e3
    best = defaultdict(lambda: (math.inf, ""))
    for r in rows(a.peers):
        if r["workload"].startswith("_") or r["system"] not in PEER_SYSTEMS or not r.get("ok"):
            continue
        k = (r["workload"], r["layout"], r["threads"])
        us = r["median_ns"] / 1e3
        if us < best[k][0]:
            best[k] = (us, r["system"])
    threads = sorted({k[2] for k in ours})
    workloads = list(dict.fromkeys(k[0] for k in ours))
    if a.machine:
        print(f"Machine: {a.machine}\n")
    ratios = defaultdict(list)
    for layout in ("NCHW", "NHWC"):
        print(f"### {layout}\n")
        head = "| workload | " + " | ".join(f"{t} thr µs (×1 thr; /peer)" for t in threads) + " |"
        print(head)
        print("|---" * (len(threads) + 1) + "|")
        for w in workloads:
            one = ours.get((w, layout, 1))
            if one is None:
                continue
            cells = []
            for t in threads:
                us = ours.get((w, layout, t))
                if us is None:
                    cells.append("-")
                    continue
                b = best[(w, layout, t)][0]
                rel = f"{us / b:.2f}" if b < math.inf else "-"
                if b < math.inf:
                    ratios[t].append(us / b)
                cells.append(f"{us:.1f} ({one / us:.1f}×; {rel})")
            print(f"| {w} | " + " | ".join(cells) + " |")
        print()
    print("| threads | " + " | ".join(str(t) for t in threads) + " |")
    print("|---" * (len(threads) + 1) + "|")
    gm = [math.exp(sum(map(math.log, ratios[t])) / len(ratios[t])) for t in threads]
    print("| geomean nnpool / best peer | " + " | ".join(f"{g:.2f}" for g in gm) + " |")
    print("| rows nnpool ahead | " + " | ".join(
        f"{sum(r < 1 for r in ratios[t])}/{len(ratios[t])}" for t in threads) + " |")


if __name__ == "__main__":
    main()
