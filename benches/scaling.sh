#!/usr/bin/env bash
# Thread scaling, side by side: the report's JSON rows and peers.py's at several thread counts
# in one session, then benches/scaling.py's table. Meant for a many-core machine; it needs only
# the report binary, peers.py with its Python packages, and this repo's workloads.
#
#   benches/scaling.sh [threads, default 1,2,4,8,16]
#
# REPORT (default target/release/examples/report, built by `cargo build --release --example
# report`), PEERS_DIR (default ../shared/peers), PYTHON (default python3) and OUT_DIR (default
# target/scaling) override the paths.
set -uo pipefail
cd "$(dirname "$0")/.."
threads=${1:-1,2,4,8,16}
report=${REPORT:-target/release/examples/report}
peers=${PEERS_DIR:-../shared/peers}
python=${PYTHON:-python3}
out=${OUT_DIR:-target/scaling}
mkdir -p "$out"
{ lscpu; nproc; } > "$out/machine.txt" 2>&1
"$report" --threads "$threads" --min-time 0.15 --rounds 3 --json "$out/nnpool.jsonl" \
    > "$out/report.txt" || exit 1
"$python" "$peers/peers.py" --workloads benches/workloads.json --threads "$threads" \
    --min-time 0.1 --rounds 3 --out "$out/peers.jsonl" --ours "$out/nnpool.jsonl" \
    --table "$out/peers.txt" > "$out/peers.log" 2>&1 || exit 1
machine="$(sed -n 's/^Model name: *//p' "$out/machine.txt" | head -1), $(nproc) cores"
"$python" benches/scaling.py --ours "$out/nnpool.jsonl" --peers "$out/peers.jsonl" \
    --machine "$machine" | tee "$out/scaling.md"
