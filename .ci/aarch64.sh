#!/usr/bin/env bash
# The aarch64 NEON tier on an x86-64 host: cross-builds for aarch64-unknown-linux-gnu and runs
# the tests under qemu user-mode emulation (the tiers there are scalar, portable and neon).
#
# Installs what is missing (idempotent, non-interactive): the apt packages qemu-user,
# gcc-aarch64-linux-gnu and libc6-dev-arm64-cross (as root directly, else through `sudo -n`),
# and the rustup target. The linker and runner come from .cargo/config.toml.
#
# Steps: clippy for the aarch64 target (the neon tier is compiled only there), the build without
# default features, `cargo test --release` with NNPOOL_REQUIRE_TIERS=neon (a build or CPU without the
# neon tier fails instead of skipping it). With `--report` it also runs the report example over
# every tier, which checks each workload against the scalar reference (about 2.5 minutes under
# emulation; its timings mean nothing there).
#
# PROPTEST_CASES (default 64 here) sets the case count of the property tests: emulation is
# 10-50x slower than the host (the optimized build: the generic code runs unoptimized, debug
# assertions on, in the x86-64 tests of .ci/run). NNPOOL_TEST_RUNNER (the qemu command) is for tests
# that start their own binary again in a child process: under qemu-user without binfmt_misc the
# child must be started through the emulator too.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
export DEBIAN_FRONTEND=noninteractive

TARGET=aarch64-unknown-linux-gnu
report=0
for arg in "$@"; do
    case "$arg" in
        --report) report=1 ;;
        *) echo "usage: $0 [--report]" >&2; exit 2 ;;
    esac
done

step() { printf '\n=== aarch64: %s (%ss)\n' "$1" "$SECONDS"; }

step "toolchain"
have_tools() {
    command -v qemu-aarch64 >/dev/null 2>&1 \
        && command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 \
        && [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]
}
if ! have_tools; then
    if [ "$(id -u)" -eq 0 ]; then
        as_root=()
    elif command -v sudo >/dev/null 2>&1; then
        as_root=(sudo -n)
    else
        echo "qemu-user / gcc-aarch64-linux-gnu / libc6-dev-arm64-cross missing, and neither root nor sudo" >&2
        exit 1
    fi
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross
    have_tools || { echo "aarch64 toolchain still missing after apt-get install" >&2; exit 1; }
fi
if ! rustup target list --installed | grep -qx "$TARGET"; then
    rustup target add "$TARGET"
fi
rustup component add clippy >/dev/null 2>&1 || true
qemu-aarch64 --version | head -n1
aarch64-linux-gnu-gcc --version | head -n1

# The same settings as .cargo/config.toml, so that a user-level cargo config cannot replace them.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER="${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER:-aarch64-linux-gnu-gcc}"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER:-qemu-aarch64 -L /usr/aarch64-linux-gnu}"
# Tests that re-run their own binary in a child process start it through the same emulator.
export NNPOOL_TEST_RUNNER="$CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER"
export NNPOOL_REQUIRE_TIERS=neon
export PROPTEST_CASES="${PROPTEST_CASES:-64}"
echo "NNPOOL_REQUIRE_TIERS=$NNPOOL_REQUIRE_TIERS PROPTEST_CASES=$PROPTEST_CASES NNPOOL_TEST_RUNNER=$NNPOOL_TEST_RUNNER"

step "cargo clippy --target $TARGET --all-targets -- -D warnings"
cargo clippy --target "$TARGET" --all-targets -- -D warnings

step "cargo build --target $TARGET --no-default-features"
cargo build --target "$TARGET" --no-default-features

step "cargo test --release --target $TARGET (under qemu)"
cargo test --release --no-fail-fast --target "$TARGET"

if [ "$report" -eq 1 ]; then
    step "report --tier all (under qemu: checks outputs; timings are not meaningful)"
    cargo run --release --example report --target "$TARGET" -- \
        --threads 1 --min-time 0.02 --rounds 1 --tier all
fi

step "done"
