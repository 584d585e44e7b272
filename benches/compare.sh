#!/usr/bin/env bash
# Measures nnpool and its peers back to back on this machine and renders the comparison:
# the report's JSON rows, peers.py (PyTorch, ONNX Runtime, LiteRT/XNNPACK, copy roofline) with
# --ours, and the chart and table in docs/.
#
#   benches/compare.sh [threads, default 1,2]
#
# Needs ../shared/peers set up (its setup.sh) and matplotlib in that venv for the PNG.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-1,2}
peers=${PEERS_DIR:-../shared/peers}
venv=${PEERS_VENV:-$HOME/.cache/nnpool-peers/venv}
out=${OUT_DIR:-target/compare}
mkdir -p "$out" docs
cargo run --release --example report -- --threads "$threads" --min-time 0.5 --rounds 5 \
    --json "$out/nnpool.jsonl" | tee "$out/report.txt"
"$venv/bin/python" "$peers/peers.py" --threads "$threads" --out "$out/peers.jsonl" \
    --ours "$out/nnpool.jsonl" --table "$out/peers.txt" > /dev/null
machine="$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; $(rustc --version)"
"$venv/bin/python" benches/chart.py --ours "$out/nnpool.jsonl" --peers "$out/peers.jsonl" \
    --png docs/peers.png --table docs/peers.md --machine "$machine"
