#!/usr/bin/env bash
# Create or verify podium's topics on a real cluster (any Kafka: podium topics create speaks
# the admin protocol). Pass the usual flags, e.g. --kafka-brokers, --partitions, SASL/TLS.
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./cmd/podium topics create "$@"
