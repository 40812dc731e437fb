#!/usr/bin/env bash
# Runs every test of gate402 on a fresh machine: installs the npm interop peers from the pinned
# lockfile, then formats-checks, lints and tests the whole workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== npm interop peers (tests/interop, pinned lockfile)"
npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --locked
