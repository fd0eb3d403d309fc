// Package api is `podium api`: a bounded read model of the orders in its window, built
// from the podium.saga-state changelog and the audit stream on orders.events, the HTTP API
// over it, the live dashboard, and Prometheus metrics.
//
// # Read model
//
// The Service reads every partition of podium.saga-state and of orders.events directly (no
// consumer group, no committed offsets): first from the start up to the high watermark
// captured when it starts (the restore), then it follows each partition's tail.
//
// From podium.saga-state it takes each order's status, steps and summary: the snapshot
// with the highest Version wins (a stale snapshot from a zombie writer or a replay is
// ignored). Snapshots of format 2 (no history; a finished saga's may omit its input and
// step results) and of format 1 (with the history) are read; keys beginning with "~" are
// the orchestrator's internal records and are skipped. A tombstone — the orchestrator
// removes a finished saga's snapshot after its retention window — drops the order's steps
// and input but keeps its last known summary and its timeline.
//
// From orders.events it takes the timeline records (podium.saga.timeline.v1): each carries
// the history entries one batch of the orchestrator appended to a saga, and the saga's
// version before (base_version) and after them. They are applied in offset order: a record
// with the base version and version of one applied is a redelivery and is skipped; a
// record whose base version is below the last version applied replaces the entries applied
// after that base (after a failover the new owner redoes the saga from its snapshot, and
// what a zombie owner wrote meanwhile is dropped; the last six records of each order are
// remembered for this); a record of an older orchestrator, without a base version, is
// skipped when its version is at most the last one applied. It also takes the rejections of
// operator requests (podium.order.control-rejected.v1) that the saga's records do not hold
// (the order had finished) as "rejected" entries. An order's timeline is the entries of its records,
// oldest first, or — for an order written before timeline records existed — its format-1
// snapshot's history. It keeps the newest 200 entries (TimelineLimit) and counts the older
// ones (history_dropped). Lifecycle events on the same topic are not needed and skipped.
// The two topics are read concurrently, so either may be ahead: an order can be known by
// its timeline before its first snapshot, and a newer timeline record moves the status on
// before the snapshot of the same version arrives.
//
// The read model is bounded, whatever the number of orders ever seen:
//   - a finished order (completed or cancelled; failed is not finished: it waits for an
//     operator) is dropped Config.Retention after it finished (default 7 days, the
//     orchestrator's default --retention); a tombstoned order counts as finished then;
//   - at most Config.MaxOrders orders are held (default 100,000): beyond that the finished
//     orders that finished first are dropped. Orders in flight are never dropped; they are
//     bounded by the work in flight, and may take the count above the cap.
//
// Both run as records are applied and once a minute. What is held per order is compact: the
// summary, the steps as small fixed-size records with interned strings and without the
// engine's derived command IDs, and the timeline in a varint encoding with a symbol table
// for kinds, steps and repeated details — about 720 bytes of heap per finished order with a
// 13-entry timeline (BenchmarkReadModelMemory, 50,000 orders), so the default cap is about
// 70 MiB. Raise --max-orders to rate × retention to keep every order of the retention
// window. An order that left the read model answers 404, with a message naming the window.
//
// The ReadModel is in memory, indexed by ID, by status, by recency and by finish time, and
// safe for concurrent use; records are decoded outside its lock. /readyz answers 200 once
// every partition of both topics was restored up to its starting watermark. The view is
// eventually consistent: an order placed through the API appears once the orchestrator has
// written its first snapshot or timeline record. The restore reads all of orders.events
// that Kafka retains, so its time grows with that topic's retention.
//
// # HTTP API (JSON)
//
//	GET  /orders/{id}             status, steps (state, attempts, outcome, compensation), the timeline
//	                              ("history", "history_dropped"), "snapshot" (held, removed, none) and,
//	                              once finished, "expires_at"; 404 if not in the window
//	GET  /orders?status=&limit=&cursor=  a page, newest update first; limit 1..500 (default 50);
//	                              400 for an unknown status (the answer lists the valid ones), a bad limit or cursor
//	POST /orders                  an OrderPlaced document, validated like the orchestrator does
//	                              (events.ValidateOrderPlaced): 400 listing every problem, 413 over
//	                              the body limit, 409 if the read model holds the order ID (the
//	                              orchestrator recognises older duplicates itself),
//	                              202 {"order_id"} once published to orders.placed
//	POST /orders/{id}/cancel      optional body {"reason": "..."}; publishes podium.order.cancel.v1
//	POST /orders/{id}/retry       optional body {"reason": "..."}; publishes podium.order.retry.v1
//	GET  /orders/{id}/dag.svg     the saga's DAG coloured by the order's state
//	GET  /saga/diagram.svg        a definition's DAG (?definition=, default the order saga)
//	GET  /events                  server-sent events: "stats" every second, "orders" with changes;
//	                              503 with Retry-After beyond Config.MaxSSEClients open streams
//	GET  /login, POST /login, POST /logout   the dashboard's login (with a token only)
//	GET  /healthz, /readyz, /metrics
//
// Cancel and retry answer 404 when the read model does not know the order (a just-placed
// order may take a moment to appear: try again), and 409 when the read model shows the
// orchestrator would reject the request (a cancel of an order that is not pending or
// approved, a retry of an order that is not failed). The check uses the read model, which can be a moment
// behind; the orchestrator decides and records a rejection in the order's history. 202
// means the request was published to orders.control, not that it took effect.
//
// # Security
//
// Authentication. With Config.Token set, every endpoint but /healthz, /readyz, /metrics,
// the login page and /static/ (its stylesheet) needs the token: API clients send
// "Authorization: Bearer <token>"; the dashboard's login page (a form posting the token)
// sets a session cookie (HttpOnly, SameSite=Strict, Secure over TLS) holding its expiry
// and an HMAC-SHA256 of it keyed by a key derived from the token — never the token — valid
// for SessionLifetime (12 hours) or until logout; changing the token ends every session.
// Tokens and signatures are compared in constant time. A request without valid
// credentials gets 401 with a JSON error, or, when it is a browser navigation (GET
// accepting text/html), a redirect to /login that comes back afterwards. Without a token
// nothing is authenticated: bind the API to a trusted interface (the default address is
// 127.0.0.1:8080; the API warns when it listens beyond loopback without a token).
//
// Cross-site requests. Every request that may change something (POST) is checked with
// net/http's CrossOriginProtection: a browser's Sec-Fetch-Site must be same-origin (or
// none), else its Origin must be this server's host or one of Config.AllowedOrigins;
// requests without either (curl, the CLI) pass. Otherwise 403. And every POST but the
// login forms must be application/json (else 415), so that no HTML form of another site
// can send one. With the SameSite=Strict cookie, a page of another site cannot act with
// a logged-in operator's session.
//
// Personal data. Payment tokens never leave podium: the OrderPlaced document shown by
// GET /orders/{id} and the order page has payment.token (any field whose name contains
// "token", at any depth, in the input and in step results) replaced by "[redacted]", and
// the order's token is removed from reasons, results and the timeline wherever the read
// model holds the order's input (a finished order's last snapshot may omit it: reasons
// are machine reasons, never the input). Email addresses are masked (a***@example.com)
// and addresses reduced to city and country unless Config.ShowPersonalData
// (--show-personal-data). Lists, the dashboard and the server-sent events show summaries
// only: status, amounts, step counts and the machine reason. The rules are in one place
// (privacy, applied by Service.detail for every view of one order).
//
// Limits. Request bodies are capped (Config.MaxBody), /events streams are capped
// (Config.MaxSSEClients, default 100), and the server has read-header (5s), read (30s),
// write (30s) and idle (2m) timeouts; an event stream sets a 10s deadline per write
// instead of the write timeout, so it lives as long as its client.
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
// One goroutine per partition of podium.saga-state and of orders.events feeds the read
// model, each retrying on its own after an error, and one more expires finished orders
// every minute; HTTP handlers read it concurrently. Serve returns when its context ends,
// after closing the server-sent event streams and shutting the HTTP server down.
package api
