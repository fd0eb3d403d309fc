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
// resident memory per saga, and the records and bytes written per order. A separate run
// times the restore of a partition holding many saga snapshots.
//
// Bytes per order: every podium process counts what its Kafka producer wrote, by topic
// (internal/kafka: podium_kafka_produced_bytes_total, the record batches as sent, after
// compression — what the broker stores — and podium_kafka_produced_record_bytes_total, key +
// value + headers before compression). The benchmark scrapes both from every child's
// /metrics at the start and at the end of the measured window, adds its own (the load
// generator writes orders.placed with pkafka.Producer; it reads the same process-wide
// counters in-process), keeps podium's topics, and divides the growth by the orders that
// ended in the window: bytes_per_order, record_bytes_per_order and each topic's share.
//
// Soak (Config.Soak): one open-loop run at the fixed rate for a long time over the broker,
// the orchestrators, the workers and the API process, to show that throughput, latency and
// every process's memory stay flat (DESIGN §5a). At the end of every window (10 s) it
// records the orders/s that ended in the window, the p50 and p99 latency of those orders,
// and the resident size of every process by name (the load generator under "bench"). The
// generator stays bounded itself: it holds the orders in flight and the current window's
// latencies, and counts the rest. The verdict has three criteria, each PASS or FAIL with
// its numbers: every order terminal with the outcome its inputs call for (after the
// drain); for every process, each sample of the last 10 minutes within ±15 % of its sample
// at minute 10 (soaks shorter than 20 minutes: each sample of the last half against the
// sample nearest one third, and the verdict says it is scaled); no window after the first
// (warm-up) under 90 % of the offered rate. Config.Retention and Config.DedupeWindow shorten
// the processes' windows so that expiry runs during the soak. SoakResult.SVG draws it.
//
// Latencies of the open-loop generator count from when an order was due, so a generator or
// writer that falls behind shows in the figures instead of hiding them. The generator reads
// lifecycle events without schema validation, to take as little CPU from the measured
// processes as it can; its own CPU is reported too.
//
// Run is not safe for concurrent use with another Run on the same broker.
package bench
