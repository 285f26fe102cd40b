#!/usr/bin/env bash
# API benchmark. Prints a table; not a test. See bench/README.md.
#   bench/api.sh                 seed 1,000,000 findings once (bench/data/api), serve, load, report
#   COUNT=200000 bench/api.sh    a smaller store (its own directory)
#   CONNECTIONS=1,4,16 SECONDS_PER=10 bench/api.sh
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-1000000}
DIR=bench/data/api-$COUNT
mkdir -p bench/out
PORT=${PORT:-18433}

cargo build --release --quiet -p vedette -p vedette-bench

# On a shared machine the measured processes run at a raised priority (root only) so that
# background work perturbs them less; BENCH_NICE=0 turns this off.
NICE=()
if [ "$(id -u)" = 0 ] && [ "${BENCH_NICE:--10}" != 0 ]; then NICE=(nice -n "${BENCH_NICE:--10}"); fi

if [ ! -f "$DIR/params.json" ]; then
  rm -rf "$DIR"
  echo "seeding $COUNT findings into $DIR (through the store API) ..." >&2
  /usr/bin/time -f "seeding: %e s, peak RSS %M KiB" target/release/seed_findings --data-dir "$DIR/data" --params "$DIR/params.json.tmp" --count "$COUNT"
  mv "$DIR/params.json.tmp" "$DIR/params.json"
fi
du -sh "$DIR/data" >&2

${NICE[@]+"${NICE[@]}"} target/release/vedette serve --auth any --data-dir "$DIR/data" --listen "127.0.0.1:$PORT" 2> bench/out/api-serve.log &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 1 6000); do  # up to 10 min: opening may migrate the schema
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
  kill -0 "$SERVER" 2>/dev/null || { echo "server exited:" >&2; cat bench/out/api-serve.log >&2; exit 1; }
  sleep 0.1
done
echo "server pid $SERVER, RSS after start: $(awk '/VmRSS/{print $2" "$3}' /proc/$SERVER/status)" >&2
echo "load average: $(cat /proc/loadavg)"
${NICE[@]+"${NICE[@]}"} target/release/api_load --addr "127.0.0.1:$PORT" --params "$DIR/params.json" --server-pid "$SERVER" \
  --connections "${CONNECTIONS:-1,4}" --seconds "${SECONDS_PER:-8}" "$@"
echo "load average: $(cat /proc/loadavg)"
