package sample

import (
	"testing"
	"time"
)

func TestFirstOrdersCoverEveryKind(t *testing.T) {
	g := NewGenerator("t", 1)
	seen := map[Kind]bool{}
	for range Kinds {
		seen[g.Next().Kind] = true
	}
	for _, k := range Kinds {
		if !seen[k] {
			t.Errorf("kind %s not among the first %d orders", k, len(Kinds))
		}
	}
}

func TestOrdersAreConsistent(t *testing.T) {
	g := NewGenerator("t", 7)
	ids := map[string]bool{}
	for range 500 {
		o := g.Next()
		if ids[o.Placed.OrderID] {
			t.Fatalf("duplicate order ID %s", o.Placed.OrderID)
		}
		ids[o.Placed.OrderID] = true
		var sum int64
		for _, it := range o.Placed.Items {
			sum += int64(it.Quantity) * it.UnitPrice
		}
		if sum != o.Placed.Total {
			t.Errorf("%s: total %d, want sum of lines %d", o.Placed.OrderID, o.Placed.Total, sum)
		}
		if got, want := o.Want, Expected(o.Kind); got != want {
			t.Errorf("%s: want %+v, got %+v", o.Placed.OrderID, want, got)
		}
	}
}

func TestSameSeedSameOrders(t *testing.T) {
	a, b := NewGenerator("x", 3), NewGenerator("x", 3)
	for i := range 50 {
		oa, ob := a.Next(), b.Next()
		if oa.Placed.OrderID != ob.Placed.OrderID || oa.Kind != ob.Kind || oa.Placed.Total != ob.Placed.Total {
			t.Fatalf("order %d differs: %+v vs %+v", i, oa, ob)
		}
	}
}

func TestTrackerSummary(t *testing.T) {
	g := NewGenerator("t", 1)
	tr := NewTracker()
	t0 := time.Unix(0, 0)
	happy, oos, bounce := g.Make(Happy), g.Make(OutOfStock), g.Make(Bounced)
	for _, o := range []Order{happy, oos, bounce} {
		tr.Placed(o, t0)
	}
	if got := tr.Pending(); got != 3 {
		t.Fatalf("pending = %d, want 3", got)
	}
	tr.Observe(happy.Placed.OrderID, "approved", "", t0.Add(time.Millisecond))
	if !tr.Observe(happy.Placed.OrderID, "completed", "", t0.Add(10*time.Millisecond)) {
		t.Error("completed did not make the order terminal")
	}
	tr.Observe(oos.Placed.OrderID, "cancelled", "out_of_stock", t0.Add(20*time.Millisecond))
	tr.Observe(happy.Placed.OrderID, "completed", "", t0.Add(30*time.Millisecond)) // duplicate event
	s := tr.Summary()
	if got, want := s.Pending, []string{bounce.Placed.OrderID}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("pending = %v, want %v", got, want)
	}
	if s.ByStatus["completed"] != 1 || s.ByStatus["cancelled"] != 1 || s.ByReason["out_of_stock"] != 1 {
		t.Errorf("counts = %v / %v", s.ByStatus, s.ByReason)
	}
	if len(s.Mismatches) != 0 {
		t.Errorf("mismatches = %v, want none", s.Mismatches)
	}
	tr.Observe(bounce.Placed.OrderID, "cancelled", "bounced", t0.Add(40*time.Millisecond))
	if s := tr.Summary(); len(s.Mismatches) != 1 {
		t.Errorf("mismatches = %v, want the bounced order", s.Mismatches)
	}
}
