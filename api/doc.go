// Package api is `podium api`: a read model of every order built from the
// podium.saga-state changelog, the HTTP API over it, the live dashboard, and Prometheus
// metrics.
//
// # Read model
//
// The Service reads every partition of podium.saga-state directly (no consumer group, no
// committed offsets): first from the start up to the high watermark captured when it
// starts (the restore), then it follows each partition's tail. Of each order it keeps the
// snapshot with the highest Version (a stale snapshot from a zombie writer or a replay is
// ignored) and drops the order on a tombstone. The ReadModel is in memory, indexed by ID,
// by status and by recency, and safe for concurrent use; it keeps each snapshot's bytes
// once and parses them again only for a detail view. /readyz answers 200 once every
// partition was restored up to its starting watermark. The view is eventually consistent:
// an order placed through the API appears once the orchestrator has written its first
// snapshot.
//
// # HTTP API (JSON)
//
//	GET  /orders/{id}             status, steps (state, attempts, outcome, compensation), history; 404 if unknown
//	GET  /orders?status=&limit=&cursor=  a page, newest update first; limit 1..500 (default 50);
//	                              400 for an unknown status (the answer lists the valid ones), a bad limit or cursor
//	POST /orders                  an OrderPlaced document, validated like the orchestrator does
//	                              (events.ValidateOrderPlaced): 400 listing every problem, 413 over
//	                              the body limit, 409 if the read model already has the order ID,
//	                              202 {"order_id"} once published to orders.placed
//	POST /orders/{id}/cancel      optional body {"reason": "..."}; publishes podium.order.cancel.v1
//	POST /orders/{id}/retry       optional body {"reason": "..."}; publishes podium.order.retry.v1
//	GET  /orders/{id}/dag.svg     the saga's DAG coloured by the order's state
//	GET  /saga/diagram.svg        a definition's DAG (?definition=, default the order saga)
//	GET  /events                  server-sent events: "stats" every second, "orders" with changes
//	GET  /healthz, /readyz, /metrics
//
// Cancel and retry answer 404 when the read model does not know the order (a just-placed
// order may take a moment to appear: try again), and 409 when the read model shows the
// orchestrator would reject the request (a cancel of an order that is not pending or
// approved, a retry of an order that is not failed). The check uses the read model, which can be a moment
// behind; the orchestrator decides and records a rejection in the order's history. 202
// means the request was published to orders.control, not that it took effect.
//
// Request bodies are read as JSON whatever their Content-Type (curl's default included).
//
// With Config.Token set, every POST needs "Authorization: Bearer <token>" (compared in
// constant time); without it the answer is 401. Reads are never authenticated.
//
// # Dashboard
//
// GET / shows live counts by status, throughput (completed and cancelled per second over
// the last ten seconds) and the recent and failed orders; /ui/orders lists orders by
// status; /ui/orders/{id} shows one order: its DAG as inline SVG (package diagram, the
// same rendering as `podium saga diagram`), its steps and its timeline, updated live.
// The pages are rendered on the server with html/template; the small scripts and the
// stylesheet are embedded with go:embed. Nothing is loaded from elsewhere (the pages send
// a Content-Security-Policy of 'self').
//
// # Concurrency
//
// One goroutine per changelog partition feeds the read model, each retrying on its own
// after an error; HTTP handlers read it concurrently. Serve returns when its context ends,
// after closing the server-sent event streams and shutting the HTTP server down.
package api
