#!/usr/bin/env bash
# The whole test suite, from a fresh clone with only rustc, cargo (with rustfmt and clippy) and python3 installed:
#   1. gates that need no build: `cargo fmt --all --check` (rustfmt.toml) and tools/check_refs.py
#      (every reference in comments and docs resolves inside the repository, docs/ included),
#   2. build every workspace binary and test target in ONE cargo invocation (debug profile): one
#      feature resolution for the whole workspace, so nothing is compiled twice, and the
#      `vedette` binary the e2e suites spawn is built by the same run,
#   3. cargo clippy --workspace --all-targets -D warnings (the lints of [workspace.lints]),
#   4. cargo test --workspace (every crate, the Rust SDK conformance tests in crates/sdk-tests too;
#      reuses step 2's artifacts),
#   5. a venv at .venv with the pinned boto3 / botocore / awscli / pytest,
#   6. pytest tests/e2e against real `vedette serve` processes.
# Idempotent. A gate, build or lint failure stops at once; otherwise both test runners run, each
# prints its summary, and the script exits non-zero if either failed.
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

stage "cargo fmt --all --check"
t=$SECONDS
cargo fmt --all --check
elapsed "$t"

stage "references (tools/check_refs.py)"
t=$SECONDS
"$PYTHON" tools/check_refs.py
elapsed "$t"

stage "no module cycles (tools/check_cycles.py)"
t=$SECONDS
"$PYTHON" tools/check_cycles.py
elapsed "$t"

stage "generated model up to date (tools/gen_model.py --check)"
t=$SECONDS
# crates/model/src/generated.rs must be what the generator makes of the committed botocore model
# (tools/model/); checked before building so a stale file fails fast. Needs only python3, no network.
"$PYTHON" tools/gen_model.py --check
elapsed "$t"

stage "cargo build --workspace --bins --tests"
t=$SECONDS
# Debug, not release: the tests need debug artifacts anyway, so a release binary would mean
# compiling the whole dependency graph a second time.
cargo build --workspace --bins --tests
elapsed "$t"
export VEDETTE_BIN="$TARGET_DIR/debug/vedette"

stage "cargo clippy --workspace --all-targets -- -D warnings"
t=$SECONDS
# After the build: build scripts and proc macros are already compiled; clippy adds the
# metadata-only (check) pass over the dependencies and lints the workspace crates.
cargo clippy --workspace --all-targets -- -D warnings
elapsed "$t"

stage "cargo test --workspace"
t=$SECONDS
# --no-fail-fast: one crate's failure still lets the others report.
cargo_status=0
cargo test --workspace --no-fail-fast || cargo_status=$?
elapsed "$t"

stage "python venv ($VENV)"
t=$SECONDS
REQS=tests/e2e/requirements.txt
STAMP="$VENV/.requirements.sha256"
want=$(sha256sum "$REQS" | cut -d' ' -f1)
if [[ ! -x "$VENV/bin/python" || ! -f "$STAMP" || "$(cat "$STAMP")" != "$want" ]]; then
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" || { echo "python3 -m venv failed (Debian: apt-get install python3-venv)" >&2; exit 1; }
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$REQS"
    echo "$want" > "$STAMP"
else
    echo "    up to date"
fi
elapsed "$t"

stage "pytest tests/e2e"
t=$SECONDS
# -p no:cacheprovider: no .pytest_cache in the tree; -rfE: list failures and errors at the end.
pytest_status=0
"$VENV/bin/python" -m pytest tests/e2e -p no:cacheprovider -rfE -q "$@" || pytest_status=$?
elapsed "$t"

if (( cargo_status != 0 || pytest_status != 0 )); then
    echo "FAILED: cargo test exit $cargo_status, pytest exit $pytest_status" >&2
    exit 1
fi
echo "all test suites passed"
