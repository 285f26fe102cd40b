#!/usr/bin/env bash
# Ingest benchmark. Prints a table; not a test. See bench/README.md.
#   bench/ingest.sh            generate the corpus if missing, then measure everything
#   SKIP_RSIGMA=1 bench/ingest.sh   without the peer
#   SIGMA_RULES=DIR bench/ingest.sh  the peer's rules (SigmaHQ rules/cloud/aws/cloudtrail); without it, no peer
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=bench/data
RSIGMA=bench/.tools/bin/rsigma

cargo build --release --quiet -p vedette -p vedette-bench

# On a shared machine the measured processes run at a raised priority (root only) so that
# background work perturbs them less; BENCH_NICE=0 turns this off.
NICE=()
if [ "$(id -u)" = 0 ] && [ "${BENCH_NICE:--10}" != 0 ]; then NICE=(nice -n "${BENCH_NICE:--10}"); fi

if [ ! -f "$DATA/cloudtrail/manifest.json" ]; then
  echo "generating the CloudTrail corpus (deterministic, ~1.2 GB uncompressed) ..." >&2
  target/release/gen_cloudtrail --out "$DATA/cloudtrail"
fi
if [ ! -f "$DATA/records.ndjson" ] || [ "$DATA/records.ndjson" -ot "$DATA/cloudtrail/manifest.json" ]; then
  echo "writing the same records as NDJSON for the peer ..." >&2
  target/release/to_ndjson --out "$DATA/records.ndjson" "$DATA/cloudtrail"
fi

extra=()
if [ -n "${SKIP_RSIGMA:-}" ]; then
  extra+=(--skip-rsigma)
elif [ -z "${SIGMA_RULES:-}" ]; then
  echo "SIGMA_RULES is not set: the peer (rsigma) is skipped" >&2
  extra+=(--skip-rsigma)
else
  extra+=(--rules "$SIGMA_RULES")
  if [ ! -x "$RSIGMA" ]; then
    echo "installing the peer (rsigma 0.23.0) into bench/.tools; this compiles for several minutes ..." >&2
    CARGO_TARGET_DIR=bench/.tools/target cargo install rsigma --version 0.23.0 --locked --root bench/.tools
  fi
fi

# rsigma 0.23.0: `engine eval --rules DIR` reads NDJSON events on stdin and prints one JSON line per match.
exec ${NICE[@]+"${NICE[@]}"} target/release/ingest_bench --data "$DATA" --work bench/out --rsigma "$RSIGMA" \
  --rsigma-args="${RSIGMA_ARGS:---rules {rules}}" ${extra[@]+"${extra[@]}"} "$@"
