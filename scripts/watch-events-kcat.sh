#!/usr/bin/env bash
# Follow the public lifecycle events with kcat.   scripts/watch-events-kcat.sh [BROKERS]
set -euo pipefail
brokers=${1:-${PODIUM_KAFKA_BROKERS:-127.0.0.1:9092}}
exec kcat -C -b "$brokers" -t orders.events -o end -f '%k  %s\n'
