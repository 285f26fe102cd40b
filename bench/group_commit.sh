#!/usr/bin/env bash
# Group commit (store): API latency under concurrent writes with every write committed alone
# (VEDETTE_GROUP_COMMIT=0, the baseline) and with group commit (the default), in the same run.
# Prints both load tables and the ratios; not a test. See bench/README.md.
#   bench/group_commit.sh                          50,000 seeded findings, 64 clients, 20 s per mode
#   COUNT=20000 CLIENTS=32 LOAD_SECONDS=10 bench/group_commit.sh
# (bench/load.sh measures the same client with `vedette ingest` running beside the server.)
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-50000}
CLIENTS=${CLIENTS:-64}
LOAD_SECONDS=${LOAD_SECONDS:-20}
PORT=${PORT:-18435}
SEEDED=bench/data/load-$COUNT
RUN=bench/out/group-commit
MIX=${MIX:-35,35,15,15}

cargo build --release --quiet -p vedette -p vedette-bench
if [ ! -f "$SEEDED/params.json" ]; then
  rm -rf "$SEEDED"
  echo "seeding $COUNT findings into $SEEDED ..." >&2
  target/release/seed_findings --data-dir "$SEEDED/data" --params "$SEEDED/params.json.tmp" --count "$COUNT"
  mv "$SEEDED/params.json.tmp" "$SEEDED/params.json"
fi

run_mode() { # $1: 0 (every write alone) or 1 (group commit); prints the load table to $RUN/mode-$1.txt
  local mode=$1 dir="$RUN/mode-$1"
  rm -rf "$dir"; mkdir -p "$dir"
  cp -r "$SEEDED/data" "$dir/data"
  VEDETTE_GROUP_COMMIT=$mode target/release/vedette serve --auth any --data-dir "$dir/data" \
    --listen "127.0.0.1:$PORT" 2> "$dir/serve.log" &
  local server=$!
  for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.1
  done
  target/release/load --addr "127.0.0.1:$PORT" --params "$SEEDED/params.json" \
    --clients "$CLIENTS" --seconds "$LOAD_SECONDS" --mix "$MIX" > "$RUN/mode-$mode.txt" || true
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}

mkdir -p "$RUN"
echo "load average: $(cat /proc/loadavg)"
run_mode 0
run_mode 1
for mode in 0 1; do
  echo; [ "$mode" = 0 ] && echo "== every write committed alone (baseline) ==" || echo "== group commit =="
  cat "$RUN/mode-$mode.txt"
done
echo
python3 - "$RUN/mode-0.txt" "$RUN/mode-1.txt" <<'PY'
import sys
def table(path):
    rows = {}
    for line in open(path):
        parts = line.split()
        if len(parts) == 7 and parts[1].isdigit():
            rows[parts[0]] = dict(zip(["requests", "rps", "p50", "p99", "p999", "max"], map(float, parts[1:])))
    return rows
base, group = table(sys.argv[1]), table(sys.argv[2])
print(f"{'operation':<24} {'req/s ×':>8} {'p50 ÷':>8} {'p99 ÷':>8}   (group commit against the baseline)")
for op in base:
    if op in group and group[op]["p50"] > 0 and group[op]["p99"] > 0:
        b, g = base[op], group[op]
        print(f"{op:<24} {g['rps'] / b['rps']:>8.2f} {b['p50'] / g['p50']:>8.2f} {b['p99'] / g['p99']:>8.2f}")
PY
echo "load average: $(cat /proc/loadavg)"
