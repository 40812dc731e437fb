#!/usr/bin/env bash
# End-to-end load bench of `gate402 serve` against a bare pass-through proxy (issue I):
# bare backend, bare proxy, `gate402 simnet` and `gate402 serve` (release, SQLite store) on
# loopback, driven by wrk. Not part of the test command (it measures; nothing asserts a time).
#
#   bash tests/bench/e2e_load.sh                 # the table: every row, median of 3 × 5 s
#   bash tests/bench/e2e_load.sh memory          # RSS at 16 / 1,000 connections, after 1M requests
#   bash tests/bench/e2e_load.sh flood           # paid traffic under an unpaid flood (50 ms AddInvoice)
#   bash tests/bench/e2e_load.sh hold            # start everything and wait (for perf record -p)
#   bash tests/bench/e2e_load.sh bench --runs 1 --seconds 3 --rows free,paid
#
# Figures and what they showed: docs/benchmarks.md "End-to-end load".
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gate402/target}"
if ! command -v wrk >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
fi
# 1,000 keep-alive connections need more than a 1024-descriptor soft limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 8192 2>/dev/null || true
cargo build --release --locked -p gate402 --bin gate402 --example e2e_load
mode="${1:-bench}"
[ $# -gt 0 ] && shift
exec "$CARGO_TARGET_DIR/release/examples/e2e_load" "$mode" --gate402 "$CARGO_TARGET_DIR/release/gate402" "$@"
