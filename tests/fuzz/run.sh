#!/usr/bin/env bash
# Bounded fuzzing of every gate402 parser a stranger reaches (issue #12 "H", item 1).
#
#   bash tests/fuzz/run.sh [SECONDS_PER_TARGET]      # default 15 (the CI budget)
#   bash tests/fuzz/run.sh 600                       # the longer local run (10 min/target)
#   FUZZ_TARGETS="mpp_diff jcs_diff" bash tests/fuzz/run.sh 60   # a subset
#   FUZZ_CRATES=protocols bash tests/fuzz/run.sh 60                # one crate only
#
# FUZZ_CRATES defaults to both fuzz crates: protocols/fuzz (optimised, -O) and gateway/fuzz
# (`config`, `buyer_offers`: the whole gateway instrumented — sqlx, alloy, tonic… — so it is
# built as a dev build with line tables; an optimised one-codegen-unit build took 14.5 min on 2
# cores, the dev build about 3–4 min cold, nothing when warm).
#
# Builds all cargo-fuzz targets of protocols/fuzz and gateway/fuzz once (nightly, ASan, debug
# assertions, own target dirs $HOME/.cache/gate402/fuzz/<crate>, outside the clone), then runs each for
# SECONDS_PER_TARGET with the committed seeds (<crate>/fuzz/seeds/<target>, read-only) plus a
# scratch corpus in a
# temporary directory, so nothing generated lands in the repository. Exits non-zero on any
# crash, panic, failed assertion (round trips, differential mismatches), leak, per-input
# timeout or out-of-memory; the failing input is kept and printed (base64) so it can be added
# to the seeds and to a regression unit test. Prints execs/s and libFuzzer's final cov/ft.
# Needs: `cargo +nightly` and cargo-fuzz (tests/run-all.sh installs it).
set -euo pipefail

SECS="${1:-15}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CRATES="${FUZZ_CRATES:-protocols gateway}"
TRIPLE="$(rustc +nightly -vV | sed -n 's/^host: //p')"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gate402-fuzz.XXXXXX")"
FAILED=()

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "tests/fuzz/run.sh: needs a nightly toolchain and cargo-fuzz" \
        "(rustup toolchain install nightly; cargo install cargo-fuzz --locked)" >&2
    exit 2
fi

start=$(date +%s)
printf '%-16s %10s %9s %7s %7s\n' target execs execs/s cov ft >"$WORK/summary"
n=0
for crate in $CRATES; do
    CRATE="$ROOT/$crate"
    # Fuzz builds live outside the clone, one dir per fuzz crate (instrumented: never mixed
    # with the workspace's own artefacts); a fresh clone on a warm machine reuses them.
    export CARGO_TARGET_DIR="${GATE402_FUZZ_TARGET_DIR:-$HOME/.cache/gate402/fuzz}/$crate"
    cd "$CRATE"
    b=$(date +%s)
    if [ "$crate" = gateway ]; then
        # Dev profile of gateway/fuzz/Cargo.toml (line tables, many codegen units).
        BIN_DIR="$CARGO_TARGET_DIR/$TRIPLE/debug"
        cargo +nightly fuzz build --dev --debug-assertions
    else
        BIN_DIR="$CARGO_TARGET_DIR/$TRIPLE/release"
        cargo +nightly fuzz build -O --debug-assertions
    fi
    echo "fuzz build $crate: $(($(date +%s) - b)) s"
    all="$(cargo +nightly fuzz list)"
    targets="$all"
    if [ -n "${FUZZ_TARGETS:-}" ]; then
        targets=""
        for t in $FUZZ_TARGETS; do grep -qx "$t" <<<"$all" && targets="$targets $t"; done
    fi
    for t in $targets; do
        n=$((n + 1))
        mkdir -p "$WORK/corpus/$t" "$WORK/artifacts/$t"
        log="$WORK/$t.log"
        echo "=== $crate/$t: ${SECS}s"
        # -timeout: one input taking > 10 s is a hang; -rss_limit_mb/-malloc_limit_mb bound
        # memory; -detect_leaks=1 (LeakSanitizer); -max_len bounds inputs (16 KiB, above our
        # header limits, so the size checks are reached).
        if ! "$BIN_DIR/$t" "$WORK/corpus/$t" "$CRATE/fuzz/seeds/$t" \
            -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
            -detect_leaks=1 -max_len=16384 -print_final_stats=1 \
            -artifact_prefix="$WORK/artifacts/$t/" >"$log" 2>&1; then
            FAILED+=("$crate/$t")
            tail -n 60 "$log"
            for a in "$WORK/artifacts/$t"/*; do
                [ -f "$a" ] || continue
                echo "failing input $a (base64): $(base64 -w0 "$a")"
            done
        fi
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        secs_run=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
        last=$(grep -E '^#[0-9]+' "$log" | grep 'cov:' | tail -1 || true)
        cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
        ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
        secs_run=${secs_run:-$SECS}
        [ "$secs_run" -gt 0 ] || secs_run=1
        printf '%-16s %10s %9s %7s %7s\n' "$t" "${execs:-?}" "$((${execs:-0} / secs_run))" \
            "${cov:-?}" "${ft:-?}" >>"$WORK/summary"
    done
done
cat "$WORK/summary"
echo "total: $(($(date +%s) - start)) s (builds + ${SECS}s x $n targets)"
if [ "${#FAILED[@]}" -gt 0 ]; then
    echo "FUZZ FAILURES: ${FAILED[*]} (logs and inputs kept in $WORK)" >&2
    exit 1
fi
rm -rf "$WORK"
