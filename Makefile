# podium — developer entry points. `make dev` runs the demo, `make test` runs the tests.
GO       ?= go
PKGS     := ./...
BIN      := bin/podium
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)

.PHONY: all dev build test test-short test-long fuzz bench lint fmt vet tidy clean

all: build

## dev: start the embedded broker, orchestrator and workers, and place a sample of orders
dev:
	$(GO) run ./cmd/podium dev

## build: build the podium binary into bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/podium

## test: vet, format check, and every test tier that runs without Docker pulls (a few minutes),
## then the example module examples/trip (its own go.mod: vet and tests)
test: vet fmt-check
	$(GO) test -count=1 -timeout 20m $(PKGS)
	cd examples/trip && $(GO) vet ./... && $(GO) test -count=1 -timeout 5m ./...

## test-short: the pure tiers only (no broker)
test-short:
	$(GO) test -count=1 -short $(PKGS)

## fuzz: fuzz the order saga for 60s
fuzz:
	$(GO) test -run XXX -fuzz FuzzOrderSaga -fuzztime 60s ./orchestrator/order/

## lint: go vet and gofmt
lint: vet fmt-check

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null; git ls-files --others --exclude-standard '*.go' 2>/dev/null)); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

tidy:
	$(GO) mod tidy

clean:
	rm -rf bin

# --- containers: the image, the compose stack and the container test tiers -----------------
IMAGE   ?= podium:latest
# `docker compose` (v2) when the plugin is there, else the docker-compose binary (v1.29+).
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
# make up DEV=1: the embedded broker of the image instead of apache/kafka (no registry needed).
COMPOSE_FILES := -f docker-compose.yml $(if $(DEV),-f docker-compose.dev.yml)
COMPOSE_PROJECT ?= podium

.PHONY: images up down test-integration compose-check

## images: build the podium image offline (static binary + FROM scratch), tagged $(IMAGE)
images:
	VERSION=$(VERSION) GO=$(GO) scripts/build-image.sh $(IMAGE)

## up: start the compose stack on Apache Kafka (DEV=1: on the embedded broker); dashboard on :8080
up: images
	PODIUM_IMAGE=$(IMAGE) $(COMPOSE) -p $(COMPOSE_PROJECT) $(COMPOSE_FILES) up -d

## down: stop the compose stack (either variant) and delete its volumes
down:
	$(COMPOSE) -p $(COMPOSE_PROJECT) -f docker-compose.yml -f docker-compose.dev.yml down -v --remove-orphans

## compose-check: bring the dev compose stack up, place a mix of orders, check the outcomes, tear down
compose-check: images
	PODIUM_IMAGE=$(IMAGE) COMPOSE="$(COMPOSE)" scripts/compose-check.sh

## test-integration: the container tiers: testcontainers suite, TLS/SASL process tests, compose check
test-integration: compose-check
	$(GO) test -count=1 -timeout 15m ./internal/containers/... ./internal/security/...

# --- chaos: the full fault-injection suite (internal/chaos) ----------------------------------
.PHONY: chaos

## chaos: ≥20,000 orders through kill -9 of orchestrators and workers, zombies, broker restarts and network cuts, while finished sagas expire (--retention 2m); prints the table
chaos:
	PODIUM_CHAOS=full $(GO) test -count=1 -v -timeout 90m -run 'TestChaos|TestNetworkFaults|TestFencingHeldWritesLandLate|TestScaleOut' ./internal/chaos/

## bench: podium bench: latency at 1,000 orders/s, throughput and the scaling curve with 1-3
## orchestrators, the raw hop on the same broker, restore of 100,000 sagas. Writes
## bench-results/bench.json, bench.md, bench.log and profiles/ (about 3-4 minutes).
bench: build
	$(BIN) bench --rate 1000 --in-flight 1024 --scaling 1,2,3 --restore 100000 \
		--duration 20s --warmup 3s --hop-duration 4s --out bench-results --profile-dir bench-results/profiles

.PHONY: soak

## soak: podium bench --soak: 30 min at 800 orders/s over the broker, orchestrator, workers and
## API, with retention 2m and dedupe window 5m so that expiry runs during it. Samples
## throughput, latency and every process's RSS every 10 s; writes bench-results/soak/bench.json,
## bench.md and soak.svg, prints PASS/FAIL per criterion and fails on FAIL (about 31 minutes).
soak: build
	$(BIN) bench --soak 30m --rate 800 --retention 2m --dedupe-window 5m \
		--broker-args "--retention 5m --delete-retention 1m" --out bench-results/soak
