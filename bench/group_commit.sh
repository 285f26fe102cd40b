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

run_mode() { # $1: 0 (every write alone) or 1 (group commit), $2: round; the table goes to $RUN/mode-$1-$2.txt
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
    --clients "$CLIENTS" --seconds "$LOAD_SECONDS" --mix "$MIX" > "$RUN/mode-$mode-$2.txt" || true
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}

mkdir -p "$RUN"
rm -f "$RUN"/mode-*.txt
# Alternating rounds (A B B A ...): a shared machine's background load drifts, and the two modes
# then see the same drift.
ROUNDS=${ROUNDS:-2}
echo "load average: $(cat /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then run_mode 0 "$round"; run_mode 1 "$round"; else run_mode 1 "$round"; run_mode 0 "$round"; fi
done
for round in $(seq 1 "$ROUNDS"); do
  for mode in 0 1; do
    echo; [ "$mode" = 0 ] && echo "== round $round: every write committed alone (baseline) ==" || echo "== round $round: group commit =="
    cat "$RUN/mode-$mode-$round.txt"
  done
done
echo
python3 - "$RUN" "$ROUNDS" <<'PY'
import statistics, sys
run, rounds = sys.argv[1], int(sys.argv[2])
def table(path):
    rows = {}
    for line in open(path):
        parts = line.split()
        if len(parts) == 7 and parts[1].isdigit():
            rows[parts[0]] = dict(zip(["requests", "rps", "p50", "p99", "p999", "max"], map(float, parts[1:])))
    return rows
pairs = [(table(f"{run}/mode-0-{r}.txt"), table(f"{run}/mode-1-{r}.txt")) for r in range(1, rounds + 1)]
print(f"{'operation':<24} {'req/s ×':>8} {'p50 ÷':>8} {'p99 ÷':>8}   (group commit against the baseline; median of {rounds} rounds)")
for op in pairs[0][0]:
    ratios = [(g[op]["rps"] / b[op]["rps"], b[op]["p50"] / g[op]["p50"], b[op]["p99"] / g[op]["p99"])
              for b, g in pairs if op in b and op in g and g[op]["p50"] > 0 and g[op]["p99"] > 0]
    if ratios:
        med = [statistics.median(col) for col in zip(*ratios)]
        print(f"{op:<24} {med[0]:>8.2f} {med[1]:>8.2f} {med[2]:>8.2f}")
PY
echo "load average: $(cat /proc/loadavg)"
