package sample

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/orchestrator/returns"
)

func TestFirstReturnsCoverEveryKind(t *testing.T) {
	g := NewGenerator("t", 1)
	seen := map[ReturnKind]bool{}
	for range ReturnKinds {
		seen[g.NextReturn().Kind] = true
	}
	for _, k := range ReturnKinds {
		if !seen[k] {
			t.Errorf("kind %s not among the first %d returns", k, len(ReturnKinds))
		}
	}
}

// Every generated return is valid on the wire (schema and refund rule), its ID is not an
// order ID of the same generator, and it carries what the reference workers make of it.
func TestReturnsAreValidAndConsistent(t *testing.T) {
	g := NewGenerator("t", 7)
	ids := map[string]bool{}
	kinds := map[ReturnKind]int{}
	for i := range 300 {
		o := g.Next()
		ids[o.Placed.OrderID] = true
		r := g.NextReturn()
		kinds[r.Kind]++
		id := r.Requested.ReturnID
		if ids[id] {
			t.Fatalf("duplicate saga ID %s", id)
		}
		ids[id] = true
		var sum int64
		for _, it := range r.Requested.Items {
			sum += int64(it.Quantity) * it.UnitPrice
		}
		if sum != r.Requested.Refund {
			t.Errorf("%s: refund %d, want sum of lines %d", id, r.Requested.Refund, sum)
		}
		if got, want := r.Want, ExpectedReturn(r.Kind); got != want {
			t.Errorf("%s: got want %+v, want %+v", id, got, want)
		}
		if i < 20 {
			checkOnTheWire(t, r.Requested)
		}
	}
	for _, k := range ReturnKinds {
		if kinds[k] == 0 {
			t.Errorf("kind %s never generated", k)
		}
	}
	if n := kinds[ReturnHappy]; n < 120 || n > 240 {
		t.Errorf("refunded returns: got %d of 300, want about 60%%", n)
	}
}

func checkOnTheWire(t *testing.T, r events.ReturnRequested) {
	t.Helper()
	env, err := events.NewEvent(events.TypeReturnRequested, r.ReturnID, r)
	if err != nil {
		t.Fatalf("NewEvent: %v", err)
	}
	value, headers, err := events.Encode(env)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	got, err := events.Decode(events.Record{Topic: events.TopicReturnsRequested, Value: value, Headers: headers})
	if err != nil {
		t.Fatalf("%s does not decode: %v", r.ReturnID, err)
	}
	if got.Subject != r.ReturnID {
		t.Errorf("subject: got %s, want %s", got.Subject, r.ReturnID)
	}
}

// Each kind trips exactly the rule of the reference workers it is named after.
func TestReturnKindsTripTheirRule(t *testing.T) {
	g := NewGenerator("t", 3)
	for _, k := range ReturnKinds {
		r := g.MakeReturn(k).Requested
		checks := map[ReturnKind]bool{
			ReturnNoPickupPartner:    r.PickupAddress.Country == "AQ",
			ReturnNotRestockable:     strings.HasPrefix(r.Items[0].SKU, "FINAL-"),
			ReturnRefundDeclined:     r.Payment.Token == "tok_refundDeclined",
			ReturnAmountExceedsLimit: r.Refund > 1_000_000,
			ReturnBounced:            strings.HasSuffix(r.Customer.Email, "@bounce.example"),
		}
		for rule, tripped := range checks {
			if tripped != (rule == k) {
				t.Errorf("%s: rule %s tripped %v, want %v", k, rule, tripped, rule == k)
			}
		}
	}
}

// The statuses the sample expects are the returns saga's labels.
func TestExpectedStatusesAreTheSagaLabels(t *testing.T) {
	l := returns.Definition().Labels
	if l.Completed != StatusRefunded || l.Compensated != StatusRejected {
		t.Errorf("got labels %+v, want completed %s and compensated %s", l, StatusRefunded, StatusRejected)
	}
}

func TestSameSeedSameReturns(t *testing.T) {
	a, b := NewGenerator("x", 3), NewGenerator("x", 3)
	for i := range 50 {
		ra, rb := a.NextReturn(), b.NextReturn()
		ja, _ := json.Marshal(ra)
		jb, _ := json.Marshal(rb)
		if string(ja) != string(jb) {
			t.Fatalf("return %d differs:\n%s\n%s", i, ja, jb)
		}
	}
}

func TestTrackerWithReturns(t *testing.T) {
	g := NewGenerator("t", 1)
	tr := NewTracker()
	t0 := time.Unix(0, 0)
	order := g.Make(Happy)
	happy, declined, bounced, stuck := g.MakeReturn(ReturnHappy), g.MakeReturn(ReturnRefundDeclined), g.MakeReturn(ReturnBounced), g.MakeReturn(ReturnNotRestockable)
	tr.Placed(order, t0)
	for _, r := range []Return{happy, declined, bounced, stuck} {
		tr.PlacedReturn(r, t0)
	}
	if got := tr.Pending(); got != 5 {
		t.Fatalf("pending: got %d, want 5", got)
	}
	if tr.Observe(happy.Requested.ReturnID, "picked-up", "", t0.Add(time.Millisecond)) {
		t.Error("picked-up made the return terminal")
	}
	if !tr.Observe(happy.Requested.ReturnID, StatusRefunded, "", t0.Add(10*time.Millisecond)) {
		t.Error("refunded did not make the return terminal")
	}
	if !tr.Observe(declined.Requested.ReturnID, StatusRejected, "refund_declined", t0.Add(20*time.Millisecond)) {
		t.Error("rejected did not make the return terminal")
	}
	tr.Observe(bounced.Requested.ReturnID, StatusRefunded, "", t0.Add(30*time.Millisecond))
	tr.Observe(order.Placed.OrderID, "completed", "", t0.Add(30*time.Millisecond))
	tr.Observe(stuck.Requested.ReturnID, "failed", "timeout", t0.Add(40*time.Millisecond))
	if got := tr.Pending(); got != 0 {
		t.Errorf("pending: got %d, want 0", got)
	}
	// An operator's retry finishes the failed return's rejection.
	tr.Observe(stuck.Requested.ReturnID, StatusRejected, "not_restockable", t0.Add(50*time.Millisecond))
	s := tr.Summary()
	if s.ByStatus[StatusRefunded] != 2 || s.ByStatus[StatusRejected] != 2 || s.ByStatus["completed"] != 1 {
		t.Errorf("by status: got %v, want 2 refunded, 2 rejected, 1 completed", s.ByStatus)
	}
	if s.ByReason["refund_declined"] != 1 || s.ByReason["not_restockable"] != 1 {
		t.Errorf("by reason: got %v, want refund_declined 1, not_restockable 1", s.ByReason)
	}
	if len(s.Mismatches) != 0 {
		t.Errorf("mismatches: got %v, want none", s.Mismatches)
	}
	tr.Observe(happy.Requested.ReturnID, StatusRejected, "late", t0.Add(60*time.Millisecond))
	if s := tr.Summary(); len(s.Mismatches) != 1 || !strings.Contains(s.Mismatches[0], happy.Requested.ReturnID) {
		t.Errorf("mismatches: got %v, want the conflicting return", s.Mismatches)
	}
}
