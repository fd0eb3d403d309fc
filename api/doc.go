// Package api is `podium api`: a bounded read model of the sagas in its window — orders,
// returns, and the sagas of any other type — built from the podium.saga-state changelog and
// the audit stream on orders.events, the HTTP API over it, the live dashboard, and
// Prometheus metrics.
//
// # Read model
//
// The Service reads every partition of podium.saga-state and of orders.events directly (no
// consumer group, no committed offsets): first from the start up to the high watermark
// captured when it starts (the restore), then it follows each partition's tail.
//
// # Saga types and statuses
//
// Every saga has a type, the name of its definition (State.Definition without its version:
// "order", "returns"), and a status as its definition names it (saga.Definition.Label):
// pending, approved, completed, cancelling, cancelled or failed for an order; requested,
// picked-up, refunded, rejecting, rejected or failed for a return. The API serves
// Config.Definitions (default: every built-in type, sagas.Definitions()); a saga of another
// definition is held and listed all the same, with the engine's status (running,
// completed, compensating, compensated, failed), and a saga of another version of a served
// definition takes that definition's labels. Which operator requests a saga accepts, and
// how its compensations stand, are the engine's own rules (saga.Refusal, saga.UndoState).
//
// From podium.saga-state it takes each saga's status, steps and summary: the snapshot
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
// operator requests (podium.order.control-rejected.v1 for orders,
// podium.saga.control-rejected.v1 for sagas of any type) that the saga's records do not hold
// (the saga had finished) as "rejected" entries. A saga's timeline is the entries of its
// records, oldest first, or — for a saga written before timeline records existed — its
// format-1 snapshot's history. It keeps the newest 200 entries (TimelineLimit) and counts
// the older ones (history_dropped). Lifecycle events on the same topic
// (podium.order.approved.v1 and the other order types, podium.saga.lifecycle.v1) and the
// deferred requests (podium.*.control-deferred.v1) are not needed and skipped.
// The two topics are read concurrently, so either may be ahead: an order can be known by
// its timeline before its first snapshot, and a newer timeline record moves the status on
// before the snapshot of the same version arrives.
//
// The read model is bounded, whatever the number of sagas ever seen (of every type
// together):
//   - a finished saga (completed or compensated; failed is not finished: it waits for an
//     operator) is dropped Config.Retention after it finished (default 7 days, the
//     orchestrator's default --retention); a tombstoned saga counts as finished then;
//   - at most Config.MaxOrders sagas are held (default 100,000): beyond that the finished
//     sagas that finished first are dropped. Sagas in flight are never dropped; they are
//     bounded by the work in flight, and may take the count above the cap.
//
// Both run as records are applied and once a minute. What is held per saga is compact: the
// summary (type and status interned), the steps as small fixed-size records with interned
// strings and without the engine's derived command IDs, and the timeline in a varint
// encoding with a symbol table for kinds, steps and repeated details — about 720 bytes of
// heap per finished order with a 13-entry timeline (BenchmarkReadModelMemory, 50,000
// orders), so the default cap is about 70 MiB. Raise --max-orders to rate × retention to
// keep every saga of the retention window. A saga that left the read model answers 404,
// with a message naming the window.
//
// The ReadModel is in memory, indexed by ID, by type and status, by recency and by finish
// time, and safe for concurrent use; records are decoded outside its lock. /readyz answers
// 200 once every partition of both topics was restored up to its starting watermark. The
// view is eventually consistent: an order placed through the API appears once the
// orchestrator has written its first snapshot or timeline record. The restore reads all of
// orders.events that Kafka retains, so its time grows with that topic's retention.
//
// # HTTP API (JSON)
//
// The /orders endpoints serve order sagas (an ID of a saga of another type answers 404
// naming its /sagas endpoint); the /sagas endpoints serve sagas of every type, orders too.
//
//	GET  /orders/{id}             status, steps (state, attempts, outcome, compensation), the timeline
//	                              ("history", "history_dropped"), "snapshot" (held, removed, none),
//	                              "actions" (the requests the engine would apply now), the OrderPlaced
//	                              document ("order") and, once finished, "expires_at"; 404 if not in the window
//	GET  /orders?status=&limit=&cursor=  a page of orders, newest update first; limit 1..500 (default 50);
//	                              400 for an unknown status (the answer lists the valid ones), a bad limit or cursor
//	POST /orders                  an OrderPlaced document, validated like the orchestrator does
//	                              (events.ValidateOrderPlaced): 400 listing every problem, 413 over
//	                              the body limit, 409 if the read model holds the order ID (the
//	                              orchestrator recognises older duplicates itself),
//	                              202 {"order_id"} once published to orders.placed
//	POST /orders/{id}/cancel      optional body {"reason": "..."}; publishes podium.order.cancel.v1
//	POST /orders/{id}/retry       optional body {"reason": "..."}; publishes podium.order.retry.v1
//	GET  /orders/{id}/dag.svg     the saga's DAG coloured by the order's state
//	GET  /sagas/{id}              a saga of any type, as GET /orders/{id} shows an order, with "type" and
//	                              its start document as "input"
//	GET  /sagas?type=&status=&limit=&cursor=  a page of sagas, newest update first, of one type (a
//	                              definition's name) or every type, in one status (as the type's definition
//	                              names it; without a type, any type's) or every status; 400 for an unknown
//	                              type or status (the answer lists the valid ones), a bad limit or cursor
//	POST /sagas/{id}/cancel       optional body {"reason": "..."}; publishes podium.saga.cancel.v1
//	POST /sagas/{id}/retry        optional body {"reason": "..."}; publishes podium.saga.retry.v1
//	GET  /sagas/{id}/dag.svg      the saga's DAG coloured by its state
//	GET  /saga/diagram.svg        a definition's DAG (?definition= its ID or name, default the first served)
//	GET  /events                  server-sent events: "stats" every second (counts by type and status),
//	                              "orders" with the sagas of every type that changed; 503 with Retry-After
//	                              beyond Config.MaxSSEClients open streams
//	GET  /login, POST /login, POST /logout   the dashboard's login (with a token only)
//	GET  /healthz, /readyz, /metrics
//
// Cancel and retry answer 404 when the read model does not know the saga (a just-started
// saga may take a moment to appear: try again), and 409 when the read model shows the
// orchestrator would reject the request (saga.Refusal: a cancel of a saga that is not
// running — an order that is not pending or approved —, a retry of a saga that is not
// failed), with a message in the words of its definition ("cannot cancel: the order is
// completed (only pending and approved orders can be cancelled)"). The check uses the read
// model, which can be a moment behind; the orchestrator decides and records a rejection in
// the saga's history. 202 means the request was published to orders.control, not that it
// took effect.
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
// Personal data. Payment tokens never leave podium: the start document of a saga (an
// OrderPlaced, a ReturnRequested) shown by GET /orders/{id}, GET /sagas/{id} and the saga
// pages has payment.token (any field whose name contains "token", at any depth, in the
// input and in step results) replaced by "[redacted]", and the saga's token is removed from
// reasons, results and the timeline wherever the read model holds the saga's input (a
// finished saga's last snapshot may omit it: reasons are machine reasons, never the input).
// Email addresses are masked (a***@example.com) and addresses (shipping_address,
// pickup_address, any "*_address") reduced to city and country unless
// Config.ShowPersonalData (--show-personal-data). Lists, the dashboard and the server-sent
// events show summaries only: type, status, amounts, step counts and the machine reason.
// The rules are in one place (privacy, applied by Service.detail for every view of one
// saga).
//
// Limits. Request bodies are capped (Config.MaxBody), /events streams are capped
// (Config.MaxSSEClients, default 100), and the server has read-header (5s), read (30s),
// write (30s) and idle (2m) timeouts; an event stream sets a 10s deadline per write
// instead of the write timeout, so it lives as long as its client.
//
// # Dashboard
//
// GET / shows live counts by status of every saga type, throughput (sagas completed and
// compensated per second over the last ten seconds) and the recent and failed sagas of
// every type; /ui/orders lists orders by status, /ui/sagas sagas by type and status;
// /ui/orders/{id} shows one order and /ui/sagas/{id} one saga of any type: its DAG as
// inline SVG (package diagram, the same rendering as `podium saga diagram`), its steps and
// its timeline, updated live, with the cancel and retry the engine would accept.
// The pages are rendered on the server with html/template; the small scripts and the
// stylesheet are embedded with go:embed. Nothing is loaded from elsewhere (the pages send
// a Content-Security-Policy of 'self').
//
// # Concurrency
//
// One goroutine per partition of podium.saga-state and of orders.events feeds the read
// model, each retrying on its own after an error, and one more expires finished sagas
// every minute; HTTP handlers read it concurrently. Serve returns when its context ends,
// after closing the server-sent event streams and shutting the HTTP server down.
package api
