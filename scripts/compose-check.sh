#!/usr/bin/env bash
# compose-check: the CI check of the compose stack. It brings up docker-compose.yml with
# docker-compose.dev.yml (the embedded broker instead of apache/kafka: nothing is pulled),
# waits until every service is healthy, places a mix of orders covering every outcome with
# `podium order place --count N --mix --wait` inside the network, checks that every order
# is terminal with the outcome it must have and the outcome counts, checks the API from the
# host, and tears the stack down (volumes included), also on failure.
#
# Needs the image: `make images` (PODIUM_IMAGE, default podium:latest). Skips (exit 0) with
# a message when no Docker engine answers. Environment: ORDERS (default 200), COMPOSE (the
# compose command; default: `docker compose` if present, else docker-compose), PODIUM_IMAGE,
# UP_TIMEOUT (seconds until healthy, default 180).
set -euo pipefail
cd "$(dirname "$0")/.."

ORDERS=${ORDERS:-200}
UP_TIMEOUT=${UP_TIMEOUT:-180}
export PODIUM_IMAGE=${PODIUM_IMAGE:-podium:latest}
# Ephemeral host ports: the check must not collide with a stack started by `make up`.
export PODIUM_API_PORT=0 KAFKA_EXTERNAL_PORT=0

say() { printf 'compose-check: %s\n' "$*"; }
fail() { say "FAIL: $*" >&2; exit 1; }

if ! docker info >/dev/null 2>&1; then
  say "SKIPPED: no Docker engine answers (docker info failed)"
  exit 0
fi
if [ -z "${COMPOSE:-}" ]; then
  if docker compose version >/dev/null 2>&1; then
    COMPOSE="docker compose"
  elif command -v docker-compose >/dev/null 2>&1; then
    COMPOSE=docker-compose
  else
    fail "neither 'docker compose' nor docker-compose is installed"
  fi
fi
docker image inspect "$PODIUM_IMAGE" >/dev/null 2>&1 || fail "image $PODIUM_IMAGE not found: run make images first"

project="podium-check-$$"
# shellcheck disable=SC2206 # COMPOSE may be two words
compose=($COMPOSE -p "$project" -f docker-compose.yml -f docker-compose.dev.yml)
start=$(date +%s)
elapsed() { echo "$(($(date +%s) - start))s"; }

cleanup() {
  status=$?
  if [ $status -ne 0 ]; then
    say "logs of the stack (tail):"
    "${compose[@]}" logs --no-color --tail 25 >&2 || true
  fi
  "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || say "warning: could not tear down $project"
  say "torn down after $(elapsed)"
  exit $status
}
trap cleanup EXIT

say "validating the compose files ($COMPOSE)"
"${compose[@]}" config -q
$COMPOSE -f docker-compose.yml config -q

say "starting $project with $PODIUM_IMAGE"
"${compose[@]}" up -d >/dev/null 2>&1 || { "${compose[@]}" up -d; fail "compose up"; }

# Wait until every container is healthy (or, for the one-shot topics, exited 0).
deadline=$(($(date +%s) + UP_TIMEOUT))
while :; do
  ids=$("${compose[@]}" ps -q)
  [ -n "$ids" ] || fail "no containers"
  waiting=()
  # shellcheck disable=SC2086
  while read -r name state exit health; do
    case "$state/$health" in
      running/healthy) ;;
      exited/*) [ "$exit" = 0 ] || fail "$name exited with status $exit" ;;
      running/unhealthy) fail "$name is unhealthy" ;;
      restarting/*) fail "$name is restarting (crashed)" ;;
      *) waiting+=("$name:$state/$health") ;;
    esac
  done < <(docker inspect -f '{{.Name}} {{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' $ids)
  [ ${#waiting[@]} -eq 0 ] && break
  [ "$(date +%s)" -lt "$deadline" ] || fail "not healthy within ${UP_TIMEOUT}s: ${waiting[*]}"
  sleep 2
done
say "all services healthy after $(elapsed)"

orchestrators=$("${compose[@]}" ps -q orchestrator | wc -l)
[ "$orchestrators" -eq 2 ] || fail "want 2 orchestrator replicas, got $orchestrators"

say "placing $ORDERS orders (--mix --wait)"
out=$("${compose[@]}" run --rm --no-deps -T cli order place --count "$ORDERS" --mix --wait \
  --timeout 3m --prefix "ci-$(date +%H%M%S)" 2>&1) || { printf '%s\n' "$out" >&2; fail "podium order place --wait exited non-zero"; }
summary=$(printf '%s\n' "$out" | sed -n '/^orders placed:/,$p')
printf '%s\n' "$summary"

count() { printf '%s\n' "$summary" | awk -v k="$1" 'NF == 2 && $1 == k { print $2; found=1 } END { if (!found) print 0 }'; }
grep -q "^orders placed: $ORDERS, terminal: $ORDERS, pending: 0\$" <<<"$summary" || fail "not every order is terminal"
! grep -q "MISMATCHED" <<<"$summary" || fail "orders ended differently from what they must"
completed=$(count completed) cancelled=$(count cancelled) failed=$(count failed)
[ $((completed + cancelled)) -eq "$ORDERS" ] || fail "completed $completed + cancelled $cancelled != $ORDERS"
[ "$completed" -gt 0 ] && [ "$cancelled" -gt 0 ] || fail "the mix must complete and cancel orders (completed $completed, cancelled $cancelled)"
[ "$failed" -eq 0 ] || fail "$failed orders failed"

# The API and the dashboard, from the host, on the published port.
port=$("${compose[@]}" port api 8080 | sed 's/.*://')
for path in /readyz /; do
  url="http://127.0.0.1:$port$path"
  if command -v curl >/dev/null 2>&1; then
    code=$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)
    [ "$code" = 200 ] || fail "GET $url: status $code, want 200"
  else
    docker run --rm --network host "$PODIUM_IMAGE" healthcheck "$url" || fail "GET $url"
  fi
done

say "OK: $ORDERS orders terminal (completed $completed, cancelled $cancelled), 2 orchestrators, API answering; $(elapsed)"
