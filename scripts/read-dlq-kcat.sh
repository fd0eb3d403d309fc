#!/usr/bin/env bash
# Show dead letters with their reasons.   scripts/read-dlq-kcat.sh [TOPIC] [BROKERS]
set -euo pipefail
topic=${1:-orders.dlq}
brokers=${2:-${PODIUM_KAFKA_BROKERS:-127.0.0.1:9092}}
exec kcat -C -b "$brokers" -t "$topic" -o beginning -e -f 'key=%k headers=%h\n  %s\n'
