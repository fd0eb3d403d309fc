// Package bench is `podium bench`: it measures podium end to end on a real broker and puts
// the result next to the broker's own limit.
//
// A run starts the embedded broker as its own process (or uses an existing cluster), first
// measures the raw command/reply hop through it — an echo process answering requests with
// kafka-go's Writer and fetches as podium configures them, at one and at N requests in
// flight — and raw produce, then starts the orchestrator(s) and the five reference workers as processes and
// places orders, open-loop at a fixed rate or closed-loop with a fixed number in flight. It
// reports the end-to-end latency (OrderPlaced written → terminal lifecycle event read)
// percentiles, sustained orders/s, the efficiency ratio
//
//	(orders/s × command round trips per order) / raw round trips/s,
//
// the CPU seconds per 1,000 orders of every process (from /proc), the orchestrators'
// resident memory per saga, and the records written per order. A separate run times the
// restore of a partition holding many saga snapshots.
//
// Latencies of the open-loop generator count from when an order was due, so a generator or
// writer that falls behind shows in the figures instead of hiding them. The generator reads
// lifecycle events without schema validation, to take as little CPU from the measured
// processes as it can; its own CPU is reported too.
//
// Run is not safe for concurrent use with another Run on the same broker.
package bench
