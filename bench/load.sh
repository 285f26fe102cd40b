#!/usr/bin/env bash
# Load under ingest. Prints figures and PASS/FAIL; not a test. See bench/README.md.
#   bench/load.sh                         200,000 seeded findings, 64 clients, 60 s
#   COUNT=50000 CLIENTS=16 LOAD_SECONDS=20 bench/load.sh
#   bench/load.sh --mix 50,50,0,0         extra arguments go to the load client
# The server runs on a fresh copy of the seeded store (the load writes to it); meanwhile
# `vedette ingest --create-detectors` runs round after round into the same data directory, each
# round on a new hard-linked copy of the CloudTrail corpus (new paths, so it is read again).
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-200000}
CLIENTS=${CLIENTS:-64}
LOAD_SECONDS=${LOAD_SECONDS:-60}
PORT=${PORT:-18434}
SEEDED=bench/data/load-$COUNT
RUN=bench/out/load-run
CORPUS=bench/data/cloudtrail

cargo build --release --quiet -p vedette -p vedette-bench

NICE=()
if [ "$(id -u)" = 0 ] && [ "${BENCH_NICE:--10}" != 0 ]; then NICE=(nice -n "${BENCH_NICE:--10}"); fi

if [ ! -f "$SEEDED/params.json" ]; then
  rm -rf "$SEEDED"
  echo "seeding $COUNT findings into $SEEDED ..." >&2
  target/release/seed_findings --data-dir "$SEEDED/data" --params "$SEEDED/params.json.tmp" --count "$COUNT"
  mv "$SEEDED/params.json.tmp" "$SEEDED/params.json"
fi
if [ ! -f "$CORPUS/manifest.json" ]; then
  echo "generating the CloudTrail corpus ..." >&2
  target/release/gen_cloudtrail --out "$CORPUS"
fi

rm -rf "$RUN"
mkdir -p "$RUN"
cp -r "$SEEDED/data" "$RUN/data"
du -sh "$RUN/data" >&2

${NICE[@]+"${NICE[@]}"} target/release/vedette serve --auth any --data-dir "$RUN/data" --listen "127.0.0.1:$PORT" 2> "$RUN/serve.log" &
SERVER=$!
INGEST_LOOP=
cleanup() {
  touch "$RUN/stop"
  [ -n "$INGEST_LOOP" ] && wait "$INGEST_LOOP" 2>/dev/null || true
  kill "$SERVER" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 1 6000); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
  kill -0 "$SERVER" 2>/dev/null || { echo "server exited:" >&2; cat "$RUN/serve.log" >&2; exit 1; }
  sleep 0.1
done

# Ingest rounds until the load is over (the round in progress then finishes).
(
  round=0
  while [ ! -f "$RUN/stop" ]; do
    round=$((round + 1))
    cp -al "$CORPUS" "$RUN/logs-$round"
    if ${NICE[@]+"${NICE[@]}"} target/release/vedette ingest --data-dir "$RUN/data" --create-detectors --no-progress --json \
         "$RUN/logs-$round/AWSLogs" >> "$RUN/ingest.jsonl" 2>> "$RUN/ingest.log"; then
      echo ok >> "$RUN/ingest.rounds"
    else
      echo "failed (exit $?)" >> "$RUN/ingest.rounds"
    fi
    rm -rf "$RUN/logs-$round"
  done
) &
INGEST_LOOP=$!

echo "load average: $(cat /proc/loadavg)"
status=0
${NICE[@]+"${NICE[@]}"} target/release/load --addr "127.0.0.1:$PORT" --params "$SEEDED/params.json" \
  --clients "$CLIENTS" --seconds "$LOAD_SECONDS" "$@" || status=$?
touch "$RUN/stop"
wait "$INGEST_LOOP" || true
INGEST_LOOP=
echo "load average: $(cat /proc/loadavg)"

rounds=$(grep -c . "$RUN/ingest.rounds" 2>/dev/null || true)
failed=$(grep -vc '^ok$' "$RUN/ingest.rounds" 2>/dev/null || true)
events=$(python3 -c 'import json,sys; print(sum(json.loads(l).get("events",0) for l in open(sys.argv[1]) if l.strip()))' "$RUN/ingest.jsonl" 2>/dev/null || echo "?")
echo "concurrent ingest: ${rounds:-0} rounds (${failed:-0} failed), $events events ingested"
if [ "${failed:-0}" != 0 ]; then
  echo "ingest errors:"; tail -5 "$RUN/ingest.log"; status=1
fi
server_errors=$(grep -c 'request failed' "$RUN/serve.log" || true)
echo "server log: ${server_errors:-0} failed requests (5xx)"
[ "${server_errors:-0}" = 0 ] || status=1
exit "$status"
