#!/usr/bin/env bash
# Flow-log and DNS-log ingest benchmark. Prints a table; not a test. See bench/README.md.
#   bench/flow_dns.sh              generate the corpus if missing, then measure everything
#   bench/flow_dns.sh --repeat 5   extra flags go to target/release/flow_dns_bench (see --help)
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=bench/data/flowdns

cargo build --release --quiet -p vedette -p vedette-bench

# On a shared machine the measured processes run at a raised priority (root only) so that
# background work perturbs them less; BENCH_NICE=0 turns this off.
NICE=()
if [ "$(id -u)" = 0 ] && [ "${BENCH_NICE:--10}" != 0 ]; then NICE=(nice -n "${BENCH_NICE:--10}"); fi

if [ ! -f "$DATA/manifest.json" ]; then
  echo "generating the flow-log and query-log corpus (deterministic, ~1.1 GB uncompressed) ..." >&2
  target/release/gen_flow_dns --out "$DATA"
fi

exec ${NICE[@]+"${NICE[@]}"} target/release/flow_dns_bench --data "$DATA" --work bench/out/flowdns "$@"
