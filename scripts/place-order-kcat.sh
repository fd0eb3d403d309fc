#!/usr/bin/env bash
# Place one order with kcat, as any non-Go producer would.
#   scripts/place-order-kcat.sh [ORDER_ID] [BROKERS] [PARTITIONER]
# PARTITIONER defaults to murmur2_random (the Java client's, so the record lands on its home
# partition); try consistent_random (kcat's default) to see podium forward it.
set -euo pipefail
id=${1:-ord-$(date +%s%N)}
brokers=${2:-${PODIUM_KAFKA_BROKERS:-127.0.0.1:9092}}
partitioner=${3:-murmur2_random}
order=$(cat <<JSON
{"order_id":"$id","customer":{"id":"cus-7","email":"ada@example.com"},"seller_id":"sel-3","currency":"EUR","items":[{"sku":"SKU-RED-1","quantity":2,"unit_price":1999}],"total":3998,"payment":{"token":"tok_visa"},"shipping_address":{"name":"Ada L.","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"}}
JSON
)
printf '%s|%s\n' "$id" "$order" | kcat -P -b "$brokers" -t orders.placed -K '|' -X "partitioner=$partitioner"
echo "placed $id (partitioner $partitioner)"
