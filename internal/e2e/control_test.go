package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/podiumhq/podium/api"
	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/client"
	"github.com/podiumhq/podium/internal/sample"
	"github.com/podiumhq/podium/orchestrator"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// controlOutcome is a podium.order.control-rejected.v1 or -deferred.v1 event read from
// orders.events.
type controlOutcome struct {
	Type string
	events.ControlOutcome
}

// request publishes an operator request and returns its CloudEvents id.
func (s *stack) request(typ, id string) string {
	s.t.Helper()
	req := events.ControlRequest{OrderID: id, Reason: "test", RequestedBy: "test"}
	if typ == events.TypeSagaCancel || typ == events.TypeSagaRetry {
		req.OrderID, req.SagaID = "", id
	}
	m, err := client.ControlMessage(typ, req)
	if err != nil {
		s.t.Fatal(err)
	}
	var doc struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(m.Value, &doc); err != nil || doc.ID == "" {
		s.t.Fatalf("reading back the request's id: %v", err)
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	if err := s.writer.WriteMessages(ctx, m); err != nil {
		s.t.Fatal(err)
	}
	return doc.ID
}

// awaitOutcome waits for the answer of type typ to the request requestID of order id.
func (s *stack) awaitOutcome(id, requestID, typ string, timeout time.Duration) events.ControlOutcome {
	s.t.Helper()
	var got events.ControlOutcome
	s.waitFor(timeout, fmt.Sprintf("%s for request %s of %s", typ, requestID, id), func() (bool, string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, o := range s.outcomes[id] {
			if o.RequestID == requestID && o.Type == typ {
				got = o.ControlOutcome
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", s.outcomes[id])
	})
	return got
}

// appliedBy reports whether a timeline record of order id lists the request as applied.
func (s *stack) appliedBy(id, requestID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tl := range s.timelines[id] {
		if slices.Contains(tl.AppliedRequests, requestID) {
			return true
		}
	}
	return false
}

// commandsFor counts the records of every command topic keyed by order id.
func (s *stack) commandsFor(id string) int {
	s.t.Helper()
	n := 0
	for _, w := range events.Workers {
		for _, m := range s.records(events.CommandsTopic(w), testPartitions) {
			if string(m.Key) == id {
				n++
			}
		}
	}
	return n
}

// startAPI runs the API's read model over the stack's broker and returns its handler.
func (s *stack) startAPI() http.Handler {
	s.t.Helper()
	svc, err := api.New(api.Config{Kafka: s.kafka, Partitions: testPartitions})
	if err != nil {
		s.t.Fatalf("starting the API: %v", err)
	}
	s.start("api", svc.Consume)
	select {
	case <-svc.Restored():
	case <-time.After(30 * time.Second):
		s.t.Fatal("the API's read model was not restored within 30s")
	}
	return svc.Handler()
}

// apiOrder gets an order from the API (nil on 404).
func apiOrder(t *testing.T, h http.Handler, id string) *api.OrderDetail {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/orders/"+id, nil)
	req.Header.Set("Accept", "application/json")
	h.ServeHTTP(rec, req)
	if rec.Code == http.StatusNotFound {
		return nil
	}
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /orders/%s: %d %s", id, rec.Code, rec.Body)
	}
	var d api.OrderDetail
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
		t.Fatalf("GET /orders/%s: %v", id, err)
	}
	return &d
}

// TestControlRejectedVisibly cancels a completed order and retries an unknown one: both
// are rejected on orders.events with their reason, and the API shows the cancel's
// rejection in the order's timeline; the order stays completed.
func TestControlRejectedVisibly(t *testing.T) {
	s := newStack(t, fastSaga())
	s.startWorkers()
	s.startOrchestrator("orchestrator")
	h := s.startAPI()
	done := s.gen.Make(sample.Happy)
	s.place(done)
	s.waitTerminal(60 * time.Second)
	id := done.Placed.OrderID

	req := s.request(events.TypeOrderCancel, id)
	o := s.awaitOutcome(id, req, events.TypeOrderControlRejected, 30*time.Second)
	if o.Reason != events.ControlOrderFinished || o.Status != string(order.StatusCompleted) || o.Action != saga.ControlCancel {
		t.Errorf("cancel of a completed order: got %+v, want rejected as order_finished, status completed", o)
	}
	s.waitFor(30*time.Second, "the rejection in the API's timeline", func() (bool, string) {
		d := apiOrder(t, h, id)
		if d == nil {
			return false, "order not in the read model"
		}
		for _, e := range d.History {
			if e.Kind == saga.HistoryRejected && strings.Contains(e.Detail, req) {
				return d.Status == string(order.StatusCompleted), fmt.Sprintf("status %s", d.Status)
			}
		}
		return false, fmt.Sprintf("status %s, %d history entries, none the rejection", d.Status, len(d.History))
	})

	unknown := s.request(events.TypeOrderRetry, "no-such-order")
	if o := s.awaitOutcome("no-such-order", unknown, events.TypeOrderControlRejected, 30*time.Second); o.Reason != events.ControlUnknownOrder {
		t.Errorf("retry of an unknown order: got reason %s, want unknown_order", o.Reason)
	}
	if d := apiOrder(t, h, "no-such-order"); d != nil {
		t.Errorf("a rejection made the API hold an unknown order: %+v", d.Summary)
	}
}

// TestEarlyCancel sends two cancels before their orders: both are held (deferred) and
// survive an orchestrator restart. The order that then arrives ends cancelled without a
// single command; the one that never arrives is rejected when the window passes (the
// orchestrators' clock is moved on, not waited for).
func TestEarlyCancel(t *testing.T) {
	s := newStack(t, fastSaga())
	s.startWorkers()
	s.startOrchestrator("orchestrator-1")
	arrives := s.gen.Make(sample.Happy)
	id := arrives.Placed.OrderID
	const never = "ord-never-placed"

	reqArrives := s.request(events.TypeOrderCancel, id)
	reqNever := s.request(events.TypeOrderCancel, never)
	for _, c := range []struct{ id, req string }{{id, reqArrives}, {never, reqNever}} {
		o := s.awaitOutcome(c.id, c.req, events.TypeOrderControlDeferred, 30*time.Second)
		if o.Reason != events.ControlHeldForOrder || o.Until == nil || o.Until.Before(time.Now().Add(4*time.Minute)) {
			t.Errorf("%s: got %+v, want held for the default window of 5 minutes", c.id, o)
		}
	}

	// A failover: the held cancels are in podium.saga-state, the next owner restores them.
	s.stop("orchestrator-1")
	s.startOrchestrator("orchestrator-2")

	s.tracker.Placed(sample.Order{Kind: arrives.Kind, Placed: arrives.Placed, Want: sample.Outcome{Status: "cancelled", Reason: "test"}}, time.Now())
	if err := client.PlaceOrders(s.ctx, s.writer, []events.OrderPlaced{arrives.Placed}, 1, nil); err != nil {
		t.Fatal(err)
	}
	s.waitFor(60*time.Second, "the early-cancelled order to be cancelled", func() (bool, string) {
		st := s.states()[id]
		if st == nil {
			return false, "no saga"
		}
		return order.StatusOf(st) == order.StatusCancelled, string(order.StatusOf(st))
	})
	if !s.appliedBy(id, reqArrives) {
		t.Errorf("no timeline record of %s lists the cancel %s as applied", id, reqArrives)
	}
	if n := s.commandsFor(id); n != 0 {
		t.Errorf("%d commands were sent for an order cancelled before it arrived, want none", n)
	}
	if got := s.history(id); len(got) < 2 || got[1].Kind != saga.HistoryCancel {
		t.Errorf("history: got %v, want started, cancel, …", got)
	}
	s.mu.Lock()
	for _, o := range s.outcomes[never] {
		if o.Type == events.TypeOrderControlRejected {
			t.Errorf("the cancel of %s was rejected before its window passed: %+v", never, o)
		}
	}
	s.mu.Unlock()

	s.advance(orchestrator.DefaultEarlyCancelWindow + time.Second)
	o := s.awaitOutcome(never, reqNever, events.TypeOrderControlRejected, 30*time.Second)
	if o.Reason != events.ControlUnknownOrder || o.Action != saga.ControlCancel {
		t.Errorf("expired cancel: got %+v, want rejected as unknown_order", o)
	}
	// Both held records were tombstoned: the changelog holds no early cancel any more.
	s.waitFor(30*time.Second, "the held cancels to be tombstoned", func() (bool, string) {
		live := map[string]bool{}
		for _, m := range s.records(events.TopicSagaState, testPartitions) {
			if k := string(m.Key); strings.HasPrefix(k, orchestrator.IndexKeyPrefix+"early.") {
				live[k] = m.Value != nil
			}
		}
		var held []string
		for k, v := range live {
			if v {
				held = append(held, k)
			}
		}
		return len(live) == 2 && len(held) == 0, fmt.Sprintf("records %v, still held %v", live, held)
	})
}
