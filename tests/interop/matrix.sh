#!/usr/bin/env bash
# Regenerates the two tables of docs/interop.md (interop cells, peer grades) from a fresh run of
# the tests behind them: each matrix test records its outcome in $GATE402_MATRIX_OUT instead of
# comparing it with the docs, then `interop_matrix write` rewrites the tables (versions from
# tests/interop/package-lock.json, results, today's date). In CI the same tests compare their
# fresh outcome with the committed tables and fail on any difference (see tests/support/matrix.rs).
# Needs what tests/run-all.sh installs (npm peers). Usage: bash tests/interop/matrix.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
gen() { cargo run -q -p gate402-tests --example interop_matrix -- "$@"; }
mapfile -t it < <(gen tests integration)
mapfile -t mcp < <(gen tests mcp)
export GATE402_MATRIX_OUT="$out"
cargo test -q -p gate402-tests --test integration -- --exact "${it[@]}"
cargo test -q -p gate402 --test mcp -- --exact "${mcp[@]}"
unset GATE402_MATRIX_OUT
gen write "$out"
