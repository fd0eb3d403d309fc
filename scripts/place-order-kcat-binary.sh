#!/usr/bin/env bash
# Place one order as a CloudEvent in binary mode (ce_* headers + JSON data) with kcat.
#   scripts/place-order-kcat-binary.sh [ORDER_ID] [BROKERS]
set -euo pipefail
id=${1:-ord-$(date +%s%N)}
brokers=${2:-${PODIUM_KAFKA_BROKERS:-127.0.0.1:9092}}
data='{"order_id":"'"$id"'","customer":{"id":"cus-7","email":"ada@example.com"},"seller_id":"sel-3","currency":"EUR","items":[{"sku":"SKU-RED-1","quantity":1,"unit_price":500}],"total":500,"payment":{"token":"tok_mastercard"},"shipping_address":{"name":"Ada L.","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"}}'
printf '%s|%s\n' "$id" "$data" | kcat -P -b "$brokers" -t orders.placed -K '|' -X partitioner=murmur2_random \
  -H ce_specversion=1.0 -H "ce_id=$(cat /proc/sys/kernel/random/uuid)" -H ce_source=scripts/kcat \
  -H ce_type=podium.order.placed.v1 -H "ce_subject=$id" -H content-type=application/json
echo "placed $id (binary mode)"
