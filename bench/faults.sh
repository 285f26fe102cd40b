#!/usr/bin/env bash
# Long fault runs: the fault tests of crates/vedette/tests/faults.rs with many
# iterations on the release binary. CI runs the same tests with a few iterations.
#   bench/faults.sh                     200 kill rounds each for ingest and API writes
#   ITERATIONS=1000 bench/faults.sh
#   VEDETTE_FAULT_SEED=123 bench/faults.sh   replay the random kill points of a failed run
set -euo pipefail
cd "$(dirname "$0")/.."
export VEDETTE_FAULT_ITERATIONS=${ITERATIONS:-200}
exec cargo test --release -p vedette --test faults -- --nocapture --test-threads 1 "$@"
