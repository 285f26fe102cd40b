#!/usr/bin/env bash
# Runs cargo-fuzz targets one after another, each for a fixed time, at the lowest CPU priority.
#
#   scripts/fuzz.sh [TARGET...] [--seconds N] [--minimize]
#
# No TARGET: every target in fuzz/fuzz_targets. Default 600 s per target. Needs a nightly
# toolchain and cargo-fuzz (`rustup toolchain install nightly`, `cargo install cargo-fuzz`); CI
# does not run this, it replays the committed corpora in `cargo test -p vedette-fuzzing`.
#
# Each target fuzzes into fuzz/work/<target> (git-ignored), seeded from fuzz/corpus/<target>, with
# -rss_limit_mb=2048 (a leak or blow-up is a crash) and -timeout=10 (a hang is a crash). Crash,
# timeout and OOM reproducers are copied to fuzz/regressions/<target>/ (commit them with the fix;
# the replay tests run them). --minimize merges the working corpus back into a minimal
# fuzz/corpus/<target> (libFuzzer -set_cover_merge=1 -use_counters=0: a small set of inputs that
# keeps every covered edge, hit counts aside, so the committed corpus stays small).
# Prints executions, corpus size and findings per target.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
SECONDS_PER_TARGET=600
MINIMIZE=0
TARGETS=()
while (($#)); do
    case "$1" in
        --seconds) SECONDS_PER_TARGET=$2; shift 2 ;;
        --seconds=*) SECONDS_PER_TARGET=${1#*=}; shift ;;
        --minimize) MINIMIZE=1; shift ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) TARGETS+=("$1"); shift ;;
    esac
done
if ((${#TARGETS[@]} == 0)); then
    for f in fuzz/fuzz_targets/*.rs; do TARGETS+=("$(basename "$f" .rs)"); done
fi

FUZZ=(nice -n 19 cargo +nightly fuzz)
TRIPLE=$(rustc +nightly -vV | sed -n 's/^host: //p')
BIN=fuzz/target/$TRIPLE/release
for target in "${TARGETS[@]}"; do
    [[ -f fuzz/fuzz_targets/$target.rs ]] || { echo "no such target: $target" >&2; exit 2; }
done
# Build every target once, then run the binaries themselves: `cargo fuzz run` would rebuild
# whenever the sources change meanwhile (other work goes on in the tree), eating the time budget.
"${FUZZ[@]}" build

printf '%-12s %12s %8s %14s %8s %s\n' target executions seconds corpus rss_mb findings
for target in "${TARGETS[@]}"; do
    work=fuzz/work/$target
    artifacts=fuzz/artifacts/$target
    mkdir -p "$work" "$artifacts" "fuzz/corpus/$target"
    log=fuzz/work/$target.log
    status=0
    started=$SECONDS
    # One process, one job (libFuzzer's -jobs/-workers would fork more): other builds share the
    # machine. Artifacts (crash-*, timeout-*, oom-*, slow-unit-*) land in fuzz/artifacts/<target>/.
    nice -n 19 "$BIN/$target" "$work" "fuzz/corpus/$target" -artifact_prefix="$artifacts/" \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
    took=$((SECONDS - started))
    execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1 || true)
    rss=$(grep -oE 'stat::peak_rss_mb: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1 || true)
    # libFuzzer's last status line: "corp: <units>/<bytes>".
    corpus=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1 | cut -d' ' -f2 || true)
    found=()
    for f in "$artifacts"/*; do
        [[ -f $f ]] || continue
        mkdir -p "fuzz/regressions/$target"
        cp "$f" "fuzz/regressions/$target/"
        found+=("$(basename "$f")")
        rm "$f"
    done
    if ((MINIMIZE)); then
        fresh=$(mktemp -d)
        nice -n 19 "$BIN/$target" "$fresh" "fuzz/corpus/$target" "$work" -set_cover_merge=1 -use_counters=0 \
            -rss_limit_mb=2048 -timeout=10 \
            >>"$log" 2>&1 && {
            # Named inputs (seeds, documented cases) stay whatever their coverage; the merge names
            # its picks by content hash.
            find "fuzz/corpus/$target" -type f -regextype posix-extended ! -regex '.*/[0-9a-f]{40}' -exec cp {} "$fresh/" \;
            rm -rf "fuzz/corpus/$target"
            mv "$fresh" "fuzz/corpus/$target"
        } || rm -rf "$fresh"
    fi
    note=${found[*]:-none}
    ((status == 0)) || note="exit $status: $note (log $log)"
    printf '%-12s %12s %8s %14s %8s %s\n' "$target" "${execs:-?}" "$took" "${corpus:-?}" "${rss:-?}" "$note"
done
