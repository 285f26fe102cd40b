#!/usr/bin/env bash
# The whole test suite, from a fresh clone with only rustc, cargo and python3 installed:
#   1. build the `vedette` binary (debug profile: the e2e suite needs it, and the test build
#      below reuses every dependency it compiled),
#   2. cargo test --workspace (every crate, the Rust SDK conformance tests in crates/sdk-tests too),
#   3. a venv at .venv with the pinned boto3 / botocore / awscli / pytest,
#   4. pytest tests/e2e against real `vedette serve` processes.
# Idempotent; stops at the first failing stage; prints each runner's summary.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
VENV=${VEDETTE_VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}

stage() { printf '\n==> %s\n' "$*"; }
elapsed() { printf '    (%ss)\n' "$((SECONDS - $1))"; }

# CI has no terminal; keep cargo's output plain there.
if [[ "${CI:-}" == "true" ]]; then
    export CARGO_TERM_COLOR=never CARGO_TERM_PROGRESS_WHEN=never
fi

stage "cargo build -p vedette"
t=$SECONDS
cargo build -p vedette
elapsed "$t"
export VEDETTE_BIN="$TARGET_DIR/debug/vedette"

stage "cargo test --workspace"
t=$SECONDS
# --no-fail-fast: one crate's failure still lets the others report.
cargo test --workspace --no-fail-fast
elapsed "$t"

stage "python venv ($VENV)"
t=$SECONDS
REQS=tests/e2e/requirements.txt
STAMP="$VENV/.requirements.sha256"
want=$(sha256sum "$REQS" | cut -d' ' -f1)
if [[ ! -x "$VENV/bin/python" || ! -f "$STAMP" || "$(cat "$STAMP")" != "$want" ]]; then
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$REQS"
    echo "$want" > "$STAMP"
else
    echo "    up to date"
fi
elapsed "$t"

stage "pytest tests/e2e"
t=$SECONDS
# -p no:cacheprovider: no .pytest_cache in the tree; -rfE: list failures and errors at the end.
"$VENV/bin/python" -m pytest tests/e2e -p no:cacheprovider -rfE -q "$@"
elapsed "$t"
