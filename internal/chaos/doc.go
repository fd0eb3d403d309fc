// Package chaos proves that podium loses nothing when its processes and network fail. It
// holds the tools of the chaos suite and the suite itself (the package's tests):
//
//   - Cluster runs a whole podium — the embedded broker with a data directory, orchestrator
//     instances and reference workers — as separate processes of the built binary, and
//     injects process faults: kill -9, SIGSTOP/SIGCONT (a zombie), restarts, scaling.
//   - Network puts an embedded toxiproxy (github.com/Shopify/toxiproxy/v2) between every
//     process and the broker, one proxy per role (orchestrator, worker, other): the broker
//     advertises a small router that reads the Kafka client ID of each new connection and
//     sends it through its role's proxy, so the orchestrator can be blackholed while the
//     workers keep talking, and the reverse.
//   - Load places a paced mix of sample orders (internal/sample) whose outcomes are known.
//   - Collect reads what a finished run left behind — orders.events (lifecycle events and
//     the podium.saga.timeline.v1 audit records), podium.saga-state (snapshots, their
//     tombstones, the finished-saga index), the workers' processed topics, effect files,
//     committed and end offsets of every group, the dead-letter topics — and Evaluate
//     checks it against the invariants: every placed order reaches exactly one terminal
//     status, the one its content demands; no saga is in flight in the end (a finished
//     saga's state may be gone: tombstoned after --retention); no finished saga is put back
//     in flight; every order's timeline starts once and ends as its lifecycle says; no order
//     starts a second saga, and a duplicate OrderPlaced of a finished order leaves no trace;
//     every effect is applied once per idempotency key; every effect of a cancelled order
//     is compensated; no record is left unconsumed; the DLQs hold only the records that
//     were deliberately malformed. The Report prints the faults, the orders, what the
//     windows expired and one line per invariant.
//
// Retention is active in every run: orchestrators with the shortest windows they accept
// (--retention 2m, --dedupe-window 4m) and workers with --processed-retention 4m, so that
// finished sagas' markers are tombstoned, finished-saga index records written and expired
// and processed keys forgotten while faults go on (the full run; the short one waits the
// half minute more it takes for the first retentions to end). Orders whose retention
// ended are placed again and must start nothing. The in-process suite moves its
// orchestrators' clock on instead of waiting.
//
// `go test ./internal/chaos/` runs the short suite (a few minutes, a handful of faults);
// `PODIUM_CHAOS=full go test -run 'TestChaos|TestNetwork' -timeout 90m ./internal/chaos/`
// (make chaos) runs the full one: at least 20,000 orders, 20 kills of the orchestrator,
// 10 of workers, broker restarts, 5 s and 45 s network cuts and a zombie.
//
// Pass or fail never depends on timing: waits poll a condition with a generous deadline,
// and only the invariants decide. Cluster, Network and Load are safe for concurrent use.
package chaos
