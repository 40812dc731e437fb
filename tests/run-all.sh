#!/usr/bin/env bash
# Runs every test of gate402 on a fresh machine: installs the npm interop peers from the pinned
# lockfile, then formats-checks, lints and tests the whole workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

# The slowloris test (tests/it/limits.rs) holds ~800 sockets at once: raise the soft
# open-files limit to the hard one (1024 is a common soft default).
hard_nofile=$(ulimit -Hn)
[ "$hard_nofile" = unlimited ] && hard_nofile=65536
ulimit -n "$hard_nofile" 2>/dev/null || ulimit -n 4096 2>/dev/null || true

# Build artefacts live outside the clone (a fresh clone on the same machine reuses them; a
# fresh machine builds cold). Override with CARGO_TARGET_DIR.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gate402/target}"
mkdir -p "$CARGO_TARGET_DIR"

echo "== npm interop peers (tests/interop, pinned lockfile)"
npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error

echo "== Python prometheus_client (the metrics test parses the exposition with it)"
python3 -c 'import prometheus_client' 2>/dev/null ||
    python3 -m pip install --quiet --disable-pip-version-check prometheus_client==0.26.0

echo "== Headless Chromium + chromedriver (browser paywall test; installed if absent)"
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null
fi

echo "== PostgreSQL on 127.0.0.1:5432 (store tests; started or installed if absent)"
pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
pg_wait() { for _ in $(seq 1 30); do pg_up && return 0; sleep 1; done; return 1; }
pg_start() {
    local v
    for v in $(ls /etc/postgresql 2>/dev/null); do
        pg_ctlcluster --skip-systemctl-redirect "$v" main start 2>/dev/null || true
    done
    pg_wait
}
if [ -z "${GATE402_TEST_PG_URL:-}" ] && ! pg_up; then
    if ! pg_start; then
        echo "PostgreSQL not running: installing it"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
        if [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
            pg_createcluster "$(ls /usr/lib/postgresql | sort -V | tail -1)" main
        fi
        pg_start || { echo "FAIL: PostgreSQL unavailable on 127.0.0.1:5432" >&2; exit 1; }
    fi
fi
if [ -z "${GATE402_TEST_PG_URL:-}" ]; then
    # Tests connect as postgres@127.0.0.1 without a password (trust on loopback only).
    if command -v psql >/dev/null && ! psql -h 127.0.0.1 -U postgres -Atc 'select 1' >/dev/null 2>&1; then
        for hba in /etc/postgresql/*/main/pg_hba.conf; do
            grep -q '^host all postgres 127.0.0.1/32 trust' "$hba" ||
                sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
        done
        for v in $(ls /etc/postgresql); do
            pg_ctlcluster --skip-systemctl-redirect "$v" main reload || true
        done
        psql -h 127.0.0.1 -U postgres -Atc 'select 1' >/dev/null ||
            { echo "FAIL: cannot connect to PostgreSQL as postgres@127.0.0.1" >&2; exit 1; }
    fi
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== buyer-only build (gate402 --no-default-features --features client: no axum/sqlx/paywall)"
cargo clippy -p gate402 --no-default-features --features client --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --locked

# Fuzzing (issue #12 H item 1): nightly + cargo-fuzz, installed once (skipped when present);
# builds every target of protocols/fuzz and gateway/fuzz (own target dirs) and runs each for
# 15 s; fails on any crash, leak, timeout or differential mismatch. Longer local run:
# bash tests/fuzz/run.sh 600.
echo "== fuzz (tests/fuzz/run.sh 15)"
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
cargo +nightly fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
bash tests/fuzz/run.sh "${GATE402_FUZZ_SECS:-15}"
