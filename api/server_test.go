package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/returns"
)

// fakePublisher records what would be written to Kafka.
type fakePublisher struct {
	mu   sync.Mutex
	msgs []kafkago.Message
	err  error
}

func (p *fakePublisher) WriteMessages(_ context.Context, msgs ...kafkago.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	p.msgs = append(p.msgs, msgs...)
	return nil
}

func (p *fakePublisher) messages() []kafkago.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.msgs)
}

// newTestService returns a service that is not connected to Kafka, serving the built-in
// definitions (the default), its model holding one order of every scenario
// ("ord-<scenario>") and, updated after them, one return of every returns scenario
// ("ret-<scenario>"), and its fake publisher.
func newTestService(t *testing.T, mod func(*Config)) (*Service, *fakePublisher) {
	t.Helper()
	pub := &fakePublisher{}
	cfg := Config{
		Kafka:     pkafka.Config{Brokers: []string{"127.0.0.1:1"}},
		Publisher: pub,
		Logger:    zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	s.model.now = (&testClock{now: t0.Add(time.Hour)}).Now
	for i, sc := range scenarios {
		applyRuns(t, s, sc.run(t, "ord-"+sc.name, t0.Add(time.Duration(i)*time.Minute)))
	}
	for i, sc := range returnScenarios {
		applyRuns(t, s, sc.run(t, "ret-"+sc.name, t0.Add(time.Duration(10+i)*time.Minute)))
	}
	return s, pub
}

// held is the number of sagas newTestService holds.
var held = len(scenarios) + len(returnScenarios)

type response struct {
	code   int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// do serves one request; a POST is sent as application/json unless header sets
// Content-Type.
func do(t *testing.T, h http.Handler, method, target string, body []byte, header ...string) response {
	t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return response{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func TestGetOrder(t *testing.T) {
	s, _ := newTestService(t, nil)
	h := s.Handler()

	r := do(t, h, "GET", "/orders/ord-cancelled", nil)
	if r.code != http.StatusOK {
		t.Fatalf("got %d %s, want 200", r.code, r.body)
	}
	var d OrderDetail
	r.json(t, &d)
	if d.OrderID != "ord-cancelled" || d.Status != string(order.StatusCancelled) || d.Reason != "customer changed their mind" {
		t.Errorf("got %s %s %q, want ord-cancelled cancelled with the cancel reason", d.OrderID, d.Status, d.Reason)
	}
	wantSteps := []struct {
		name, state, comp string
		attempts          int
	}{
		{order.StepReserveInventory, "compensated", "compensated", 1},
		{order.StepAuthorizePayment, "compensated", "compensated", 1},
		{order.StepPrepareShipment, "compensated", "compensated", 1},
		{order.StepAssignDelivery, "compensated", "compensated", 1},
		{order.StepSendConfirmation, "skipped", "", 0},
		{order.StepSendCancellationNotice, "succeeded", "", 1},
	}
	if len(d.Steps) != len(wantSteps) {
		t.Fatalf("got %d steps, want %d", len(d.Steps), len(wantSteps))
	}
	for i, w := range wantSteps {
		g := d.Steps[i]
		comp := ""
		if g.Compensation != nil {
			comp = g.Compensation.State
		}
		if g.Name != w.name || string(g.State) != w.state || comp != w.comp || g.Attempts != w.attempts {
			t.Errorf("step %d: got %s %s (compensation %q) attempts %d, want %s %s (%q) %d", i, g.Name, g.State, comp, g.Attempts,
				w.name, w.state, w.comp, w.attempts)
		}
	}
	if d.Steps[0].Outcome != "success" || d.Steps[0].Worker != "inventory" {
		t.Errorf("reserve-inventory: got outcome %q worker %q, want success inventory", d.Steps[0].Outcome, d.Steps[0].Worker)
	}
	want := runCancelled(t, "ord-cancelled", t0.Add(4*time.Minute)).history
	if !equalTimeline(d.History, want) || d.HistoryDropped != 0 {
		t.Errorf("history: got %v (%d dropped), want %v", kinds(d.History), d.HistoryDropped, kinds(want))
	}
	// The order finished (compensated) before its cancellation notice was sent: its
	// retention window runs from then.
	if d.Snapshot != SnapshotHeld || d.ExpiresAt == nil || d.ExpiresAt.After(d.UpdatedAt.Add(DefaultRetention)) ||
		!d.ExpiresAt.After(d.CreatedAt.Add(DefaultRetention)) {
		t.Errorf("snapshot %q expires %v: want held, expiring %s after it finished (between %v and %v)", d.Snapshot, d.ExpiresAt,
			DefaultRetention, d.CreatedAt, d.UpdatedAt)
	}
	if d.History[1].CommandID == "" || d.History[1].Kind != "dispatched" {
		t.Errorf("history[1]: got %+v, want a dispatch with its command ID", d.History[1])
	}
	var placed events.OrderPlaced
	if err := json.Unmarshal(d.Order, &placed); err != nil || placed.OrderID != "ord-cancelled" || placed.Total != 3998 {
		t.Errorf("order: got %s (%v), want the OrderPlaced document", d.Order, err)
	}

	r = do(t, h, "GET", "/orders/ord-nope", nil)
	var eb ErrorBody
	r.json(t, &eb)
	if r.code != http.StatusNotFound || !strings.Contains(eb.Error, "ord-nope") || !strings.Contains(eb.Error, "7 days after they finished") {
		t.Errorf("unknown order: got %d %q, want 404 naming the order and the API's window", r.code, eb.Error)
	}
}

func TestListOrders(t *testing.T) {
	s, _ := newTestService(t, nil)
	h := s.Handler()

	tests := []struct {
		target    string
		wantCode  int
		wantIDs   []string
		wantError string
	}{
		{"/orders?status=cancelled", 200, []string{"ord-cancelled", "ord-declined"}, ""},
		{"/orders?status=FAILED", 200, []string{"ord-failed"}, ""},
		{"/orders?limit=2", 200, []string{"ord-failed", "ord-cancelling"}, ""},
		{"/orders?status=shipped", 400, nil, `unknown status "shipped"`},
		{"/orders?limit=0", 400, nil, "want an integer from 1 to 500"},
		{"/orders?limit=501", 400, nil, "want an integer from 1 to 500"},
		{"/orders?limit=ten", 400, nil, "want an integer from 1 to 500"},
		{"/orders?cursor=@@", 400, nil, "malformed cursor"},
	}
	for _, tc := range tests {
		r := do(t, h, "GET", tc.target, nil)
		if r.code != tc.wantCode {
			t.Errorf("%s: got %d %s, want %d", tc.target, r.code, r.body, tc.wantCode)
			continue
		}
		if tc.wantError != "" {
			var eb ErrorBody
			r.json(t, &eb)
			if !strings.Contains(eb.Error, tc.wantError) {
				t.Errorf("%s: got error %q, want %q", tc.target, eb.Error, tc.wantError)
			}
			continue
		}
		var p Page
		r.json(t, &p)
		var ids []string
		for _, o := range p.Orders {
			ids = append(ids, o.OrderID)
		}
		if !slices.Equal(ids, tc.wantIDs) {
			t.Errorf("%s: got %v, want %v", tc.target, ids, tc.wantIDs)
		}
	}

	r := do(t, h, "GET", "/orders?status=shipped", nil)
	var eb ErrorBody
	r.json(t, &eb)
	if want := []string{"pending", "approved", "completed", "cancelling", "cancelled", "failed"}; !slices.Equal(eb.ValidStatuses, want) {
		t.Errorf("unknown status: got valid statuses %v, want %v", eb.ValidStatuses, want)
	}

	// Paging with the cursor visits every order once.
	var all []string
	next := "/orders?limit=3"
	for next != "" {
		var p Page
		do(t, h, "GET", next, nil).json(t, &p)
		for _, o := range p.Orders {
			all = append(all, o.OrderID)
		}
		next = ""
		if p.NextCursor != "" {
			next = "/orders?limit=3&cursor=" + p.NextCursor
		}
	}
	if len(all) != len(scenarios) {
		t.Errorf("paging: got %d orders %v, want %d", len(all), all, len(scenarios))
	}
}

func orderBody(t *testing.T, id string, edit func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(placedJSON(t, id), &m); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m)
	}
	return mustJSON(t, m)
}

func TestPlaceOrder(t *testing.T) {
	s, pub := newTestService(t, func(c *Config) { c.MaxBody = 4096 })
	h := s.Handler()

	r := do(t, h, "POST", "/orders", orderBody(t, "ord-new", nil), "Content-Type", "application/json")
	if r.code != http.StatusAccepted {
		t.Fatalf("valid order: got %d %s, want 202", r.code, r.body)
	}
	var pr PlaceResponse
	r.json(t, &pr)
	if pr.OrderID != "ord-new" || r.header.Get("Location") != "/orders/ord-new" {
		t.Errorf("got order %q location %q, want ord-new and /orders/ord-new", pr.OrderID, r.header.Get("Location"))
	}
	msgs := pub.messages()
	if len(msgs) != 1 || msgs[0].Topic != events.TopicOrdersPlaced || string(msgs[0].Key) != "ord-new" {
		t.Fatalf("published: got %v, want one record on orders.placed keyed ord-new", msgs)
	}
	env, err := events.Decode(events.Record{Topic: msgs[0].Topic, Key: msgs[0].Key, Value: msgs[0].Value, Headers: toHeaders(msgs[0].Headers)})
	if err != nil || env.Type != events.TypeOrderPlaced || env.Subject != "ord-new" {
		t.Errorf("published record: got %s %s (%v), want a valid OrderPlaced for ord-new", env.Type, env.Subject, err)
	}

	huge := orderBody(t, "ord-huge", func(m map[string]any) { m["seller_id"] = strings.Repeat("x", 5000) })
	tests := []struct {
		name      string
		body      []byte
		header    []string
		wantCode  int
		wantRules []string // every rule must be listed
	}{
		{"malformed JSON", []byte(`{"order_id": "ord-x",`), nil, 400, []string{events.RuleMalformedJSON}},
		{"not an object", []byte(`[1,2]`), nil, 400, []string{"schema: type"}},
		{"schema violations", orderBody(t, "ord-bad", func(m map[string]any) {
			m["currency"] = "eur"
			m["items"] = []any{map[string]any{"sku": "SKU-1", "quantity": 0, "unit_price": 100}}
			delete(m, "customer")
		}), nil, 400, []string{"schema: minimum", "schema: required"}},
		{"total differs from the lines", orderBody(t, "ord-total", func(m map[string]any) { m["total"] = 1 }), nil, 400, []string{events.RuleTotal}},
		{"oversized body", huge, nil, 413, nil},
		{"existing order", orderBody(t, "ord-pending", nil), nil, 409, nil},
	}
	for _, tc := range tests {
		r := do(t, h, "POST", "/orders", tc.body, tc.header...)
		if r.code != tc.wantCode {
			t.Errorf("%s: got %d %s, want %d", tc.name, r.code, r.body, tc.wantCode)
			continue
		}
		var eb ErrorBody
		r.json(t, &eb)
		if eb.Error == "" {
			t.Errorf("%s: got no error message", tc.name)
		}
		var rules []string
		for _, p := range eb.Problems {
			rules = append(rules, p.Rule)
			if p.Message == "" {
				t.Errorf("%s: problem %+v has no message", tc.name, p)
			}
		}
		for _, want := range tc.wantRules {
			if !slices.Contains(rules, want) {
				t.Errorf("%s: got problems %v, want %q among them", tc.name, rules, want)
			}
		}
	}
	if n := len(pub.messages()); n != 1 {
		t.Errorf("rejected orders: got %d records published in all, want only the valid one", n)
	}

	pub.err = errors.New("broker down")
	if r := do(t, h, "POST", "/orders", orderBody(t, "ord-later", nil)); r.code != http.StatusServiceUnavailable {
		t.Errorf("publish failure: got %d, want 503", r.code)
	}
}

func TestPlaceOrderListsEveryProblem(t *testing.T) {
	s, _ := newTestService(t, nil)
	body := orderBody(t, "bad id!", func(m map[string]any) {
		m["currency"] = "XXQ"
		m["items"] = []any{
			map[string]any{"sku": "A", "quantity": 0, "unit_price": 1},
			map[string]any{"sku": "B", "quantity": 20000, "unit_price": -1},
		}
	})
	r := do(t, s.Handler(), "POST", "/orders", body)
	var eb ErrorBody
	r.json(t, &eb)
	if r.code != http.StatusBadRequest || len(eb.Problems) < 4 {
		t.Fatalf("got %d with %d problems %+v, want 400 with at least 4", r.code, len(eb.Problems), eb.Problems)
	}
	var fields []string
	for _, p := range eb.Problems {
		fields = append(fields, p.Field)
	}
	for _, want := range []string{"/order_id", "/items/0/quantity", "/items/1/quantity", "/items/1/unit_price"} {
		if !slices.Contains(fields, want) {
			t.Errorf("got problem fields %v, want %s among them", fields, want)
		}
	}
}

func TestControlRequests(t *testing.T) {
	s, pub := newTestService(t, nil)
	h := s.Handler()
	tests := []struct {
		name     string
		target   string
		body     string
		wantCode int
		wantType string
	}{
		{"cancel a pending order", "/orders/ord-pending/cancel", `{"reason":"customer asked"}`, 202, events.TypeOrderCancel},
		{"cancel without a body", "/orders/ord-approved/cancel", "", 202, events.TypeOrderCancel},
		{"retry a failed order", "/orders/ord-failed/retry", "", 202, events.TypeOrderRetry},
		{"cancel an unknown order", "/orders/ord-nope/cancel", "", 404, ""},
		{"retry an unknown order", "/orders/ord-nope/retry", "", 404, ""},
		{"cancel a completed order", "/orders/ord-completed/cancel", "", 409, ""},
		{"cancel a cancelled order", "/orders/ord-cancelled/cancel", "", 409, ""},
		{"cancel a cancelling order", "/orders/ord-cancelling/cancel", "", 409, ""},
		{"cancel a failed order", "/orders/ord-failed/cancel", "", 409, ""},
		{"retry a pending order", "/orders/ord-pending/retry", "", 409, ""},
		{"malformed body", "/orders/ord-pending/cancel", `{"reason":`, 400, ""},
		{"reason too long", "/orders/ord-pending/cancel", `{"reason":"` + strings.Repeat("r", 2000) + `"}`, 400, ""},
	}
	for _, tc := range tests {
		before := len(pub.messages())
		r := do(t, h, "POST", tc.target, []byte(tc.body))
		if r.code != tc.wantCode {
			t.Errorf("%s: got %d %s, want %d", tc.name, r.code, r.body, tc.wantCode)
			continue
		}
		msgs := pub.messages()[before:]
		if tc.wantType == "" {
			if len(msgs) != 0 {
				t.Errorf("%s: got %d records published, want none", tc.name, len(msgs))
			}
			continue
		}
		if len(msgs) != 1 || msgs[0].Topic != events.TopicOrdersControl {
			t.Fatalf("%s: got %v, want one record on orders.control", tc.name, msgs)
		}
		env, err := events.Decode(events.Record{Topic: msgs[0].Topic, Key: msgs[0].Key, Value: msgs[0].Value, Headers: toHeaders(msgs[0].Headers)})
		if err != nil || env.Type != tc.wantType {
			t.Errorf("%s: got type %s (%v), want %s", tc.name, env.Type, err, tc.wantType)
		}
		var req events.ControlRequest
		_ = env.DecodeData(&req)
		if req.OrderID == "" || req.Reason == "" || req.RequestedBy != "api" {
			t.Errorf("%s: got request %+v, want order, reason and requested_by api", tc.name, req)
		}
	}
}

func TestTokenGuardsReadsAndWrites(t *testing.T) {
	s, pub := newTestService(t, func(c *Config) { c.Token = "s3cret" })
	h := s.Handler()
	tests := []struct {
		name     string
		method   string
		target   string
		auth     string
		wantCode int
	}{
		{"place without token", "POST", "/orders", "", 401},
		{"place with a wrong token", "POST", "/orders", "Bearer nope", 401},
		{"place with a basic auth header", "POST", "/orders", "Basic czNjcmV0", 401},
		{"place with the token", "POST", "/orders", "Bearer s3cret", 202},
		{"cancel without token", "POST", "/orders/ord-pending/cancel", "", 401},
		{"cancel with the token", "POST", "/orders/ord-pending/cancel", "Bearer s3cret", 202},
		{"cancel a saga without token", "POST", "/sagas/ret-requested/cancel", "", 401},
		{"cancel a saga with the token", "POST", "/sagas/ret-requested/cancel", "Bearer s3cret", 202},
		{"read a saga without token", "GET", "/sagas/ret-requested", "", 401},
		{"read a saga with the token", "GET", "/sagas/ret-requested", "Bearer s3cret", 200},
		{"read without token", "GET", "/orders/ord-pending", "", 401},
		{"read with a wrong token", "GET", "/orders/ord-pending", "Bearer nope", 401},
		{"read with the token", "GET", "/orders/ord-pending", "Bearer s3cret", 200},
	}
	for _, tc := range tests {
		var body []byte
		if tc.target == "/orders" {
			body = orderBody(t, "ord-tok-"+strings.ReplaceAll(tc.name, " ", "-"), nil)
		}
		r := do(t, h, tc.method, tc.target, body, "Authorization", tc.auth)
		if r.code != tc.wantCode {
			t.Errorf("%s: got %d %s, want %d", tc.name, r.code, r.body, tc.wantCode)
		}
		if tc.wantCode == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: got WWW-Authenticate %q, want Bearer", tc.name, r.header.Get("WWW-Authenticate"))
		}
	}
	if n := len(pub.messages()); n != 3 {
		t.Errorf("got %d records published, want 3 (the authorised requests)", n)
	}
}

func TestHealthReadyAndMetrics(t *testing.T) {
	s, _ := newTestService(t, nil)
	h := s.Handler()
	if r := do(t, h, "GET", "/healthz", nil); r.code != 200 {
		t.Errorf("healthz: got %d, want 200", r.code)
	}
	if r := do(t, h, "GET", "/readyz", nil); r.code != http.StatusServiceUnavailable {
		t.Errorf("readyz before the restore: got %d, want 503", r.code)
	}
	s.model.SetReady()
	r := do(t, h, "GET", "/readyz", nil)
	var rd Readiness
	r.json(t, &rd)
	if r.code != 200 || !rd.Ready || rd.Orders != held {
		t.Errorf("readyz after the restore: got %d %+v, want 200 ready with %d sagas", r.code, rd, held)
	}
	do(t, h, "GET", "/orders/ord-nope", nil)
	do(t, h, "POST", "/orders", []byte("{"))

	r = do(t, h, "GET", "/metrics", nil)
	body := string(r.body)
	for _, want := range []string{
		`podium_api_orders{status="cancelled"} 2`,
		`podium_api_orders{status="completed"} 1`,
		`podium_api_orders{status="failed"} 1`,
		`podium_api_orders{status="pending"} 1`,
		`podium_api_orders_total_known 13`,
		`podium_api_sagas{status="cancelled",type="order"} 2`,
		`podium_api_sagas{status="refunded",type="returns"} 1`,
		`podium_api_sagas{status="picked-up",type="returns"} 1`,
		`podium_api_snapshots_total{result="applied"}`,
		`podium_api_http_requests_total{code="404",method="GET",route="GET /orders/{id}"} 1`,
		`podium_api_rejected_requests_total{reason="invalid"} 1`,
		`podium_api_throughput_per_second{event="completed"}`,
		`podium_api_ready 0`, // set by Consume, not by the model alone
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics: missing %q", want)
		}
	}
}

func TestDiagrams(t *testing.T) {
	s, _ := newTestService(t, nil)
	h := s.Handler()
	tests := []struct {
		target   string
		wantCode int
		want     []string
	}{
		{"/orders/ord-cancelled/dag.svg", 200, []string{`data-step="reserve-inventory" data-state="compensated"`, `data-undo-state="compensated"`}},
		{"/orders/ord-failed/dag.svg", 200, []string{`data-undo-state="compensation_failed"`, `data-state="failed"`}},
		{"/orders/ord-nope/dag.svg", 404, nil},
		{"/saga/diagram.svg", 200, []string{`data-definition="order"`, `data-step="send-cancellation-notice"`}},
		{"/saga/diagram.svg?definition=nope", 404, nil},
	}
	for _, tc := range tests {
		r := do(t, h, "GET", tc.target, nil)
		if r.code != tc.wantCode {
			t.Errorf("%s: got %d, want %d", tc.target, r.code, tc.wantCode)
			continue
		}
		if tc.wantCode == 200 && r.header.Get("Content-Type") != "image/svg+xml" {
			t.Errorf("%s: got content type %q, want image/svg+xml", tc.target, r.header.Get("Content-Type"))
		}
		for _, w := range tc.want {
			if !bytes.Contains(r.body, []byte(w)) {
				t.Errorf("%s: missing %s", tc.target, w)
			}
		}
	}
}

func TestDashboardPages(t *testing.T) {
	s, _ := newTestService(t, nil)
	h := s.Handler()
	tests := []struct {
		target   string
		wantCode int
		want     []string
	}{
		{"/", 200, []string{`data-count="order/cancelled">2<`, `data-count="order/total">7<`, `data-count="returns/rejected">1<`,
			`data-count="returns/total">6<`, `data-count="total">13<`, `/static/dashboard.js`}},
		{"/ui/orders?status=cancelled", 200, []string{`href="/ui/orders/ord-cancelled"`, `href="/ui/orders/ord-declined"`}},
		{"/ui/orders?status=bogus", 400, []string{"unknown status", "valid: pending, approved"}},
		{"/ui/orders/ord-cancelled", 200, []string{`<svg xmlns="http://www.w3.org/2000/svg" class="saga-diagram"`, `class="timeline"`, "customer changed their mind", `/static/order.js`}},
		{"/ui/orders/ord-cancelled/live", 200, []string{`class="order-live"`, `class="saga-diagram"`}},
		{"/ui/orders/ord-nope", 404, []string{"not in the read model"}},
		{"/ui/saga", 200, []string{`data-definition="order"`, "podium.inventory.reserve.v1"}},
		{"/ui/go?id=ord-failed", 303, nil},
		{"/static/style.css", 200, []string{"--st-compensated"}},
		{"/static/podium.js", 200, []string{"EventSource"}},
	}
	for _, tc := range tests {
		r := do(t, h, "GET", tc.target, nil)
		if r.code != tc.wantCode {
			t.Errorf("%s: got %d, want %d", tc.target, r.code, tc.wantCode)
			continue
		}
		for _, w := range tc.want {
			if !bytes.Contains(r.body, []byte(w)) {
				t.Errorf("%s: missing %s", tc.target, w)
			}
		}
		if r.code < 300 && strings.HasPrefix(r.header.Get("Content-Type"), "text/html") && !strings.Contains(r.header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("%s: got CSP %q, want script-src 'self'", tc.target, r.header.Get("Content-Security-Policy"))
		}
	}
}

// sseReader reads server-sent events from a stream.
type sseReader struct {
	sc *bufio.Scanner
}

func (r *sseReader) next() (event string, data []byte, err error) {
	for r.sc.Scan() {
		line := r.sc.Text()
		switch {
		case line == "" && event != "":
			return event, data, nil
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = []byte(strings.TrimPrefix(line, "data: "))
		}
	}
	if err := r.sc.Err(); err != nil {
		return "", nil, err
	}
	return "", nil, io.EOF
}

func TestEventsStreamStatsAndChanges(t *testing.T) {
	s, _ := newTestService(t, nil)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("got content type %q, want text/event-stream", ct)
	}
	rd := &sseReader{sc: bufio.NewScanner(resp.Body)}
	rd.sc.Buffer(nil, 1<<20)

	event, data, err := rd.next()
	if err != nil || event != "stats" {
		t.Fatalf("first event: got %q (%v), want stats", event, err)
	}
	var st Stats
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	if st.Total != held || st.Counts[string(order.StatusCancelled)] != 2 || st.Throughput.Window != 10 {
		t.Errorf("stats: got total %d, %d cancelled, window %d; want %d, 2, 10", st.Total, st.Counts[string(order.StatusCancelled)], st.Throughput.Window, held)
	}
	if got := st.Types[returns.DefinitionName]; got[returns.StatusRefunded] != 1 || got[returns.StatusPickedUp] != 1 || len(got) != 6 {
		t.Errorf("stats: got returns counts %v, want each of the six statuses, one refunded and one picked up", got)
	}

	// A change after the stream opened arrives as an "orders" event.
	r := runCompleted(t, "ord-live", t0)
	for _, snap := range r.snaps {
		s.apply(kafkago.Message{Key: []byte(snap.SagaID), Value: mustJSON(t, snap)})
	}
	for {
		event, data, err := rd.next()
		if err != nil {
			t.Fatalf("waiting for the orders event: %v", err)
		}
		if event != "orders" {
			continue
		}
		var oe OrdersEvent
		if err := json.Unmarshal(data, &oe); err != nil {
			t.Fatal(err)
		}
		if len(oe.Orders) != 1 || oe.Orders[0].OrderID != "ord-live" || oe.Orders[0].Status != string(order.StatusCompleted) {
			t.Fatalf("orders event: got %+v, want ord-live completed", oe)
		}
		break
	}

	// Closing the streams (server shutdown) ends the response.
	s.closeStreams()
	for {
		if _, _, err := rd.next(); err != nil {
			break
		}
	}
}

func TestConfigValidateListsEveryProblem(t *testing.T) {
	err := Config{Addr: "nope", Partitions: -1, MaxBody: -5, Kafka: pkafka.Config{Brokers: []string{"x"}}}.Validate()
	if err == nil {
		t.Fatal("got nil, want errors")
	}
	for _, want := range []string{`addr "nope"`, "partitions -1", "max body -5", `broker "x"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %q, want it to mention %q", err, want)
		}
	}
}

func toHeaders(hs []kafkago.Header) []events.Header {
	out := make([]events.Header, len(hs))
	for i, h := range hs {
		out[i] = events.Header{Key: h.Key, Value: h.Value}
	}
	return out
}
