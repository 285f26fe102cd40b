#!/usr/bin/env bash
# Newcomer demo: build Vedette, ingest the bundled example CloudTrail logs, VPC flow log and Route 53 Resolver query log
# (examples/, with the instance inventory examples/inventory) into ./vedette-data (creating a detector for each
# account/Region they come from), then serve the GuardDuty API on 127.0.0.1:8433 in local-testing auth mode.
# Query it with the aws CLI as README.md shows. Ctrl-C stops the server; the data stays in ./vedette-data.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_DIR=${VEDETTE_DATA_DIR:-vedette-data}
LISTEN=${VEDETTE_LISTEN:-127.0.0.1:8433}
cargo build --release -p vedette
./target/release/vedette ingest --data-dir "$DATA_DIR" --create-detectors \
  --inventory examples/inventory/describe-instances.json examples/cloudtrail examples/vpc
echo
echo "Serving on http://$LISTEN (auth: any). In another terminal:"
echo "  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1"
echo "  aws --endpoint-url http://$LISTEN guardduty list-detectors"
exec ./target/release/vedette serve --data-dir "$DATA_DIR" --listen "$LISTEN" --auth any
