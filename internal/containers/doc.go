// Package containers is podium's container test tier (DESIGN §10, tier 4). Its tests run
// the embedded broker, the orchestrator and the five reference workers as containers of
// the locally built image (tag podium:test, built from the repository by
// scripts/build-image.sh: a static binary in an image FROM scratch, nothing pulled) on one
// Docker network, with testcontainers-go, and break them the way production breaks them:
// a stopped and restarted orchestrator, a worker frozen with `docker pause` for longer than
// its step timeout, an orchestrator cut off from the network and reconnected. Every test
// places a mix of orders covering every outcome of the order saga and checks that each
// order ends terminal with the outcome it must have.
//
// The test process itself talks to the broker through its published port: the broker
// advertises broker:9092 (its name on the network), and the test's Kafka configuration
// dials that name at the mapped host port instead (pkafka.Config.Dial).
//
// The tests skip with a message when no Docker engine answers, and with -short. They
// disable testcontainers' reaper (TESTCONTAINERS_RYUK_DISABLED=true unless set otherwise),
// whose image would have to be pulled; every container and network is removed by the
// test's cleanup instead. There is no non-test code in this package.
package containers
