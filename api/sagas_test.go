package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/returns"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// The read model holds sagas of every type: each with its type, and its status as its
// definition names it; lists filter by type, by status, or both.
func TestReadModelHoldsEverySagaType(t *testing.T) {
	m, _ := newTestModel(t, Limits{})
	for i, sc := range scenarios {
		applyRun(t, m, sc.run(t, "ord-"+sc.name, t0.Add(time.Duration(i)*time.Second)))
	}
	for i, sc := range returnScenarios {
		applyRun(t, m, sc.run(t, "ret-"+sc.name, t0.Add(time.Duration(10+i)*time.Second)))
	}
	for _, sc := range returnScenarios {
		sum, ok := m.Get("ret-" + sc.name)
		if !ok || sum.Type != returns.DefinitionName || sum.Status != sc.want || sum.SagaID != "ret-"+sc.name || sum.OrderID != "" {
			t.Errorf("ret-%s: got %+v, want type returns, status %s, no order ID", sc.name, sum, sc.want)
		}
		if sum.Total != 2500 || sum.Currency != "EUR" || sum.StepsTotal != 4 {
			t.Errorf("ret-%s: got amount %d %s, %d steps; want the refund 2500 EUR and 4 steps", sc.name, sum.Total, sum.Currency, sum.StepsTotal)
		}
	}
	if sum, _ := m.Get("ord-approved"); sum.Type != OrderType || sum.OrderID != "ord-approved" || sum.Status != "approved" {
		t.Errorf("ord-approved: got %+v, want an order, approved", sum)
	}

	counts, total := m.Counts()
	if total != held {
		t.Errorf("total: got %d, want %d", total, held)
	}
	for _, sc := range returnScenarios {
		if got := counts[returns.DefinitionName][sc.want]; got != 1 {
			t.Errorf("count of returns %s: got %d, want 1", sc.want, got)
		}
	}
	if got := counts[OrderType][string(order.StatusCancelled)]; got != 2 {
		t.Errorf("count of orders cancelled: got %d, want 2", got)
	}

	ids := func(p SagaPage) []string {
		var out []string
		for _, s := range p.Sagas {
			out = append(out, s.SagaID)
		}
		return out
	}
	tests := []struct {
		name    string
		q       ListQuery
		want    []string
		wantErr string
	}{
		{"a status of one type", ListQuery{Type: "returns", Status: "rejected"}, []string{"ret-rejected"}, ""},
		{"a status every type has", ListQuery{Status: "failed"}, []string{"ret-failed", "ord-failed"}, ""},
		{"a status of another type", ListQuery{Type: OrderType, Status: "refunded"}, nil, `unknown status "refunded"`},
		{"one type", ListQuery{Type: "returns", Limit: 2}, []string{"ret-failed", "ret-rejected"}, ""},
		{"every type", ListQuery{Limit: 3}, []string{"ret-failed", "ret-rejected", "ret-rejecting"}, ""},
		{"an engine status (sagas of other definitions)", ListQuery{Status: "running"}, nil, ""},
	}
	for _, tc := range tests {
		p, err := m.List(tc.q)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: got error %v, want %q", tc.name, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%s: got error %v", tc.name, err)
		case !slices.Equal(ids(p), tc.want):
			t.Errorf("%s: got %v, want %v", tc.name, ids(p), tc.want)
		}
	}

	// Paging through one type, with the cursor, visits each of its sagas once.
	var all []string
	q := ListQuery{Type: "returns", Limit: 4}
	for {
		p, err := m.List(q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ids(p)...)
		if p.NextCursor == "" {
			break
		}
		q.Cursor = p.NextCursor
	}
	if len(all) != len(returnScenarios) || !strings.HasPrefix(strings.Join(all, ","), "ret-failed,ret-rejected") {
		t.Errorf("paging returns: got %v, want the %d returns, newest first", all, len(returnScenarios))
	}

	wantStatuses := []string{"pending", "approved", "completed", "cancelling", "cancelled", "failed",
		"requested", "picked-up", "refunded", "rejecting", "rejected", "running", "compensating", "compensated"}
	if got := m.Statuses(""); !slices.Equal(got, wantStatuses) {
		t.Errorf("statuses: got %v, want %v", got, wantStatuses)
	}
	if got, want := m.Statuses("returns"), []string{"requested", "picked-up", "refunded", "rejecting", "rejected", "failed"}; !slices.Equal(got, want) {
		t.Errorf("statuses of returns: got %v, want %v", got, want)
	}
}

// A saga of a definition the read model does not serve is held and listed, with the
// engine's status; one of a later version of a served definition takes its labels.
func TestSagasOfOtherDefinitions(t *testing.T) {
	m, _ := newTestModel(t, Limits{})
	for _, rec := range []struct{ id, def string }{{"trip-1", "trip"}, {"ret-v2", "returns@v2"}} {
		_, err := m.Apply([]byte(rec.id), []byte(`{"format":2,"saga_id":"`+rec.id+`","definition":"`+rec.def+
			`","status":"running","milestones":["booked"],"version":3,"updated_at":"2026-03-01T12:00:00Z"}`))
		if err != nil {
			t.Fatal(err)
		}
	}
	if sum, _ := m.Get("trip-1"); sum.Type != "trip" || sum.Status != string(saga.StatusRunning) {
		t.Errorf("a saga of an unknown definition: got type %q status %q, want trip running", sum.Type, sum.Status)
	}
	if sum, _ := m.Get("ret-v2"); sum.Type != "returns" || sum.Status != "booked" || sum.Definition != "returns@v2" {
		t.Errorf("a return of version 2: got type %q status %q definition %q, want returns, its milestone, returns@v2", sum.Type, sum.Status, sum.Definition)
	}
	if p, err := m.List(ListQuery{Type: "trip", Status: "running"}); err != nil || len(p.Sagas) != 1 {
		t.Errorf("trips running: got %+v (%v), want trip-1", p, err)
	}
	if !m.KnownType("trip") || m.KnownType("cruise") {
		t.Errorf("KnownType: got trip %v cruise %v, want true false", m.KnownType("trip"), m.KnownType("cruise"))
	}
}

func TestGetSaga(t *testing.T) {
	s, _ := newTestService(t, nil)
	h := s.Handler()

	r := do(t, h, "GET", "/sagas/ret-rejected", nil)
	if r.code != http.StatusOK {
		t.Fatalf("got %d %s, want 200", r.code, r.body)
	}
	var d SagaDetail
	r.json(t, &d)
	if d.SagaID != "ret-rejected" || d.Type != "returns" || d.Status != returns.StatusRejected || d.Reason != "not_restockable" ||
		d.FailedStep != returns.StepRestock || d.Definition != "returns" {
		t.Errorf("got %s %s %s %q %q, want ret-rejected, a rejected return, not_restockable at restock", d.SagaID, d.Type, d.Status, d.Reason, d.FailedStep)
	}
	wantSteps := []struct{ name, state, comp string }{
		{returns.StepSchedulePickup, "compensated", "compensated"},
		{returns.StepRestock, "failed", saga.UndoNotNeeded},
		{returns.StepRefundPayment, "compensated", "compensated"},
		{returns.StepSendRefundNotice, "skipped", ""},
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
		if g.Name != w.name || string(g.State) != w.state || comp != w.comp {
			t.Errorf("step %d: got %s %s (compensation %q), want %s %s (%q)", i, g.Name, g.State, comp, w.name, w.state, w.comp)
		}
	}
	if want := runReturnRejected(t, "ret-rejected", t0.Add(14*time.Minute)).history; !equalTimeline(d.History, want) {
		t.Errorf("history: got %v, want %v", kinds(d.History), kinds(want))
	}
	var in events.ReturnRequested
	if err := json.Unmarshal(d.Input, &in); err != nil || in.ReturnID != "ret-rejected" || in.Payment.Token != Redacted ||
		in.Customer.Email != "g***@example.com" || in.PickupAddress != (events.Address{City: "Hamburg", Country: "DE"}) {
		t.Errorf("input: got %s (%v), want the ReturnRequested with the token redacted, email and address masked", d.Input, err)
	}
	if d.Links["self"] != "/sagas/ret-rejected" || d.Links["dashboard"] != "/ui/sagas/ret-rejected" || len(d.Actions) != 0 {
		t.Errorf("got links %v actions %v, want the /sagas links and no action", d.Links, d.Actions)
	}
	if bytes.Contains(r.body, []byte(`"order_id":"ret-`)) || bytes.Contains(r.body, []byte(`"order":`)) {
		t.Errorf("a return's detail names an order: %s", r.body)
	}

	// An order is a saga too; the /orders endpoints serve orders only.
	var od SagaDetail
	do(t, h, "GET", "/sagas/ord-failed", nil).json(t, &od)
	if od.Type != OrderType || od.Status != "failed" || !slices.Equal(od.Actions, []string{saga.ControlRetry}) || len(od.Input) == 0 {
		t.Errorf("an order as a saga: got type %s status %s actions %v, want order failed [retry] with its input", od.Type, od.Status, od.Actions)
	}
	for _, target := range []string{"/orders/ret-refunded", "/orders/ret-refunded/dag.svg"} {
		r := do(t, h, "GET", target, nil)
		var eb ErrorBody
		r.json(t, &eb)
		if r.code != http.StatusNotFound || !strings.Contains(eb.Error, "/sagas/ret-refunded") {
			t.Errorf("%s: got %d %q, want 404 pointing to /sagas/ret-refunded", target, r.code, eb.Error)
		}
	}
	r = do(t, h, "GET", "/sagas/ret-nope", nil)
	var eb ErrorBody
	r.json(t, &eb)
	if r.code != http.StatusNotFound || !strings.Contains(eb.Error, `saga "ret-nope" not found`) {
		t.Errorf("unknown saga: got %d %q, want 404", r.code, eb.Error)
	}
}

func TestListSagas(t *testing.T) {
	s, _ := newTestService(t, nil)
	h := s.Handler()
	tests := []struct {
		target    string
		wantCode  int
		wantIDs   []string
		wantError string
	}{
		{"/sagas?type=returns&status=picked-up", 200, []string{"ret-picked-up"}, ""},
		{"/sagas?status=failed", 200, []string{"ret-failed", "ord-failed"}, ""},
		{"/sagas?type=order&status=cancelled", 200, []string{"ord-cancelled", "ord-declined"}, ""},
		{"/sagas?limit=2", 200, []string{"ret-failed", "ret-rejected"}, ""},
		{"/sagas?type=returns&status=cancelled", 400, nil, `unknown status "cancelled"`},
		{"/sagas?type=cruise", 400, nil, `unknown saga type "cruise"`},
		{"/sagas?limit=0", 400, nil, "want an integer from 1 to 500"},
		{"/orders?status=refunded", 400, nil, `unknown status "refunded"`},
		{"/orders?limit=2", 200, []string{"ord-failed", "ord-cancelling"}, ""},
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
		var ids []string
		if strings.HasPrefix(tc.target, "/orders") {
			var p Page
			r.json(t, &p)
			for _, o := range p.Orders {
				ids = append(ids, o.OrderID)
			}
		} else {
			var p SagaPage
			r.json(t, &p)
			for _, o := range p.Sagas {
				ids = append(ids, o.SagaID)
			}
		}
		if !slices.Equal(ids, tc.wantIDs) {
			t.Errorf("%s: got %v, want %v", tc.target, ids, tc.wantIDs)
		}
	}
	var eb ErrorBody
	do(t, h, "GET", "/sagas?type=returns&status=shipped", nil).json(t, &eb)
	if want := []string{"requested", "picked-up", "refunded", "rejecting", "rejected", "failed"}; !slices.Equal(eb.ValidStatuses, want) {
		t.Errorf("unknown status of returns: got valid statuses %v, want %v", eb.ValidStatuses, want)
	}
	eb = ErrorBody{}
	do(t, h, "GET", "/sagas?type=cruise", nil).json(t, &eb)
	if want := []string{"order", "returns"}; !slices.Equal(eb.ValidTypes, want) {
		t.Errorf("unknown type: got valid types %v, want %v", eb.ValidTypes, want)
	}
}

func TestSagaControlRequests(t *testing.T) {
	s, pub := newTestService(t, nil)
	h := s.Handler()
	tests := []struct {
		name      string
		target    string
		wantCode  int
		wantType  string
		wantError string
	}{
		{"cancel a requested return", "/sagas/ret-requested/cancel", 202, events.TypeSagaCancel, ""},
		{"cancel a picked-up return", "/sagas/ret-picked-up/cancel", 202, events.TypeSagaCancel, ""},
		{"retry a failed return", "/sagas/ret-failed/retry", 202, events.TypeSagaRetry, ""},
		{"cancel an order as a saga", "/sagas/ord-pending/cancel", 202, events.TypeSagaCancel, ""},
		{"cancel a refunded return", "/sagas/ret-refunded/cancel", 409, "",
			"cannot cancel: the returns saga is refunded (only requested and picked-up returns sagas can be cancelled)"},
		{"retry a rejecting return", "/sagas/ret-rejecting/retry", 409, "",
			"cannot retry: the returns saga is rejecting (only failed returns sagas can be retried)"},
		{"cancel a completed order", "/orders/ord-completed/cancel", 409, "",
			"cannot cancel: the order is completed (only pending and approved orders can be cancelled)"},
		{"cancel a return as an order", "/orders/ret-requested/cancel", 404, "", "/sagas/ret-requested/cancel"},
		{"cancel an unknown saga", "/sagas/ret-nope/cancel", 404, "", `saga "ret-nope" not found`},
	}
	for _, tc := range tests {
		before := len(pub.messages())
		r := do(t, h, "POST", tc.target, []byte(`{"reason":"customer kept it"}`))
		if r.code != tc.wantCode {
			t.Errorf("%s: got %d %s, want %d", tc.name, r.code, r.body, tc.wantCode)
			continue
		}
		msgs := pub.messages()[before:]
		if tc.wantType == "" {
			var eb ErrorBody
			r.json(t, &eb)
			if !strings.Contains(eb.Error, tc.wantError) || len(msgs) != 0 {
				t.Errorf("%s: got error %q and %d records published, want %q and none", tc.name, eb.Error, len(msgs), tc.wantError)
			}
			continue
		}
		id := strings.Split(tc.target, "/")[2]
		var resp ControlResponse
		r.json(t, &resp)
		if resp.SagaID != id || resp.OrderID != "" {
			t.Errorf("%s: got answer %+v, want saga_id %s", tc.name, resp, id)
		}
		if len(msgs) != 1 || msgs[0].Topic != events.TopicOrdersControl || string(msgs[0].Key) != id {
			t.Fatalf("%s: got %v, want one record on orders.control keyed %s", tc.name, msgs, id)
		}
		env, err := events.Decode(events.Record{Topic: msgs[0].Topic, Key: msgs[0].Key, Value: msgs[0].Value, Headers: toHeaders(msgs[0].Headers)})
		if err != nil || env.Type != tc.wantType || env.Subject != id {
			t.Errorf("%s: got %s about %s (%v), want %s about %s", tc.name, env.Type, env.Subject, err, tc.wantType, id)
		}
		var req events.ControlRequest
		_ = env.DecodeData(&req)
		if req.SagaID != id || req.OrderID != "" || req.Reason != "customer kept it" || req.RequestedBy != "api" {
			t.Errorf("%s: got request %+v, want saga_id %s, the reason and requested_by api", tc.name, req, id)
		}
	}
}

// A rejected operator request of a saga of any type shows in its timeline, like an
// order's; its lifecycle events change nothing (the timeline records carry the status).
func TestSagaOutcomesOnOrdersEvents(t *testing.T) {
	m, _ := newTestModel(t, Limits{})
	applyRun(t, m, runReturnRefunded(t, "ret-1", t0))
	encode := func(typ string, data any) ([]byte, []events.Header) {
		t.Helper()
		env, err := events.NewEvent(typ, "ret-1", data)
		if err != nil {
			t.Fatal(err)
		}
		env.Time = t0.Add(time.Minute)
		v, h, err := events.Encode(env)
		if err != nil {
			t.Fatal(err)
		}
		return v, h
	}
	v, h := encode(events.TypeSagaLifecycle, events.SagaLifecycle{SagaID: "ret-1", Definition: "returns", Status: "refunded", Event: events.LifecycleCompleted})
	if ch, err := m.ApplyEvent([]byte("ret-1"), v, h); err != nil || !ch.Other || ch.Applied {
		t.Errorf("lifecycle event: got %+v (%v), want other", ch, err)
	}
	v, h = encode(events.TypeSagaControlRejected, events.ControlOutcome{SagaID: "ret-1", Action: "cancel", RequestID: "req-9",
		Reason: events.ControlOrderFinished, Message: "the saga is refunded", Status: "refunded"})
	ch, err := m.ApplyEvent([]byte("ret-1"), v, h)
	if err != nil || !ch.Applied || ch.To != "refunded" || ch.Type != "returns" {
		t.Errorf("rejection: got %+v (%v), want applied, still refunded", ch, err)
	}
	vw, _ := m.view("ret-1")
	tl := vw.timeline(m.syms)
	if last := tl[len(tl)-1]; last.Kind != saga.HistoryRejected || last.Detail != "cancel: the saga is refunded (order_finished, request req-9)" {
		t.Errorf("got last entry %+v, want the rejection", last)
	}
	// Binary mode, as another producer may write it.
	data := mustJSON(t, events.ControlOutcome{SagaID: "ret-1", Action: "retry", RequestID: "req-10", Reason: events.ControlInvalidStatus})
	headers := []events.Header{
		{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte("rej-10")},
		{Key: "ce_source", Value: []byte("podium/orchestrator")}, {Key: "ce_type", Value: []byte(events.TypeSagaControlRejected)},
		{Key: "ce_subject", Value: []byte("ret-1")}, {Key: "ce_time", Value: []byte(t0.Add(2 * time.Minute).Format(time.RFC3339Nano))},
		{Key: "content-type", Value: []byte("application/json")},
	}
	if ch, err := m.ApplyEvent([]byte("ret-1"), data, headers); err != nil || !ch.Applied {
		t.Errorf("binary-mode rejection: got %+v (%v), want applied", ch, err)
	}
	vw, _ = m.view("ret-1")
	if tl := vw.timeline(m.syms); tl[len(tl)-1].Detail != "retry: invalid_status (request req-10)" {
		t.Errorf("binary-mode rejection: got last entry %+v, want the rejection", tl[len(tl)-1])
	}
}

func TestSagaDiagramsAndPages(t *testing.T) {
	s, _ := newTestService(t, nil)
	h := s.Handler()
	tests := []struct {
		target   string
		wantCode int
		want     []string
	}{
		{"/sagas/ret-rejected/dag.svg", 200, []string{`data-definition="returns"`, `data-step="refund-payment" data-state="compensated"`,
			`data-undo-state="not_needed"`}},
		{"/sagas/ord-cancelled/dag.svg", 200, []string{`data-definition="order"`}},
		{"/saga/diagram.svg?definition=returns", 200, []string{`data-definition="returns"`, `data-step="send-refund-notice"`}},
		{"/ui/sagas", 200, []string{`id="saga-list"`, `href="/ui/sagas/ret-failed"`, `href="/ui/orders/ord-failed"`, `<td class="type">returns</td>`}},
		{"/ui/sagas?type=returns&status=rejected", 200, []string{`href="/ui/sagas/ret-rejected"`, `data-status="picked-up"`}},
		{"/ui/sagas?type=returns&status=cancelled", 400, []string{"unknown status", "valid: requested, picked-up"}},
		{"/ui/sagas/ret-rejected", 200, []string{`class="saga-diagram"`, `class="timeline"`, "not_restockable", `data-api="/sagas/ret-rejected"`,
			"g***@example.com", `data-type="returns"`}},
		{"/ui/sagas/ret-requested/live", 200, []string{`class="order-live"`, `data-actions="cancel"`}},
		{"/ui/orders/ord-approved/live", 200, []string{`data-actions="cancel"`}},
		{"/ui/sagas/ret-nope", 404, []string{"not in the read model"}},
		{"/ui/orders/ret-refunded", 303, nil},
		{"/ui/saga", 200, []string{`data-definition="returns"`, "podium.payment.refund.v1"}},
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
	}
	for target, want := range map[string]string{"/ui/go?id=ret-failed": "/ui/sagas/ret-failed", "/ui/go?id=ord-failed": "/ui/orders/ord-failed",
		"/ui/orders/ret-refunded": "/ui/sagas/ret-refunded"} {
		if r := do(t, h, "GET", target, nil); r.code != http.StatusSeeOther || r.header.Get("Location") != want {
			t.Errorf("%s: got %d to %q, want 303 to %s", target, r.code, r.header.Get("Location"), want)
		}
	}
}
