package chaos

import (
	"strings"
	"testing"
	"time"

	"github.com/podiumhq/podium/internal/sample"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
	"github.com/podiumhq/podium/workers"
)

// t0 is when the world's sagas started; they finished a second later, and their effects
// are between.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// world is a finished run that Evaluate must find clean: one happy, one bounced, one
// out-of-stock and one seller-unavailable order, each with exactly its effects; the happy
// one's state was tombstoned after its retention, and it was placed again after that.
func world(t *testing.T) (Expectation, Observed) {
	t.Helper()
	g := sample.NewGenerator("w", 1)
	orders := []sample.Order{g.Make(sample.Happy), g.Make(sample.Bounced), g.Make(sample.OutOfStock), g.Make(sample.SellerUnavailable)}
	obs := Observed{Lifecycle: map[string][]Lifecycle{}, States: map[string]Snapshot{}, Timelines: map[string]*Timeline{},
		Tombstoned: map[string]bool{}, LastEvent: map[string]Pos{}, LastSnapshot: map[string]Pos{}, IgnoredStarts: map[string]int{}}
	effect := func(id, step string) {
		obs.Effects = append(obs.Effects, workers.Effect{IdempotencyKey: id + "/" + step, OrderID: id, Kind: "k", Worker: "w", Time: t0.Add(time.Second / 2)})
	}
	state := func(id string, status saga.Status) {
		obs.States[id] = Snapshot{State: &saga.State{SagaID: id, Status: status, Version: 9, Steps: map[string]*saga.StepState{
			order.StepReserveInventory: {Status: saga.StepSucceeded},
		}}}
		obs.LastSnapshot[id] = Pos{0, 10}
	}
	timeline := func(id string, status saga.Status) {
		obs.Timelines[id] = &Timeline{Records: 5, Version: 9, Status: string(status), Started: []time.Time{t0}, Finished: t0.Add(time.Second)}
		obs.LastEvent[id] = Pos{0, 20}
	}
	for _, o := range orders {
		id := o.Placed.OrderID
		switch o.Kind {
		case sample.Happy, sample.Bounced:
			obs.Lifecycle[id] = []Lifecycle{{OrderID: id, Status: "approved"}, {OrderID: id, Status: "completed"}}
			state(id, saga.StatusCompleted)
			timeline(id, saga.StatusCompleted)
			for _, s := range compensable {
				effect(id, s)
			}
			if o.Kind == sample.Happy {
				effect(id, order.StepSendConfirmation)
			}
		default:
			obs.Lifecycle[id] = []Lifecycle{{OrderID: id, Status: "cancelled", Reason: o.Want.Reason}}
			state(id, saga.StatusCompensated)
			timeline(id, saga.StatusCompensated)
			for _, s := range dispatchedBy[o.Kind] {
				effect(id, s)
				effect(id, s+"/undo")
			}
			effect(id, order.StepSendCancellationNotice)
		}
	}
	obs.Lags = []Lag{{Group: "g", Topic: "t", Partition: 0, Committed: 7, Start: 0, End: 7}, {Group: "g", Topic: "t", Partition: 1, Committed: -1, Start: 0, End: 0}}
	bad := Injected{Topic: "orders.placed", DLQ: "orders.dlq", Value: []byte("bad-1")}
	obs.DeadLetters = []DeadLetter{{DLQ: "orders.dlq", Value: []byte("bad-1")}, {DLQ: "orders.dlq", Value: []byte("bad-1")}}

	retired := orders[0].Placed.OrderID
	delete(obs.States, retired)
	obs.Tombstoned[retired] = true
	obs.LastSnapshot[retired] = Pos{0, 11} // its marker, then the tombstone
	dup := Duplicate{OrderID: retired, At: t0.Add(3 * time.Minute), EventsEnd: []int64{21}, StateEnd: []int64{12}}
	obs.IgnoredStarts[retired] = 1
	return Expectation{Orders: orders, Injected: []Injected{bad}, Duplicates: []Duplicate{dup}}, obs
}

func TestEvaluateCleanRun(t *testing.T) {
	exp, obs := world(t)
	r := Evaluate(exp, obs)
	if !r.OK() {
		t.Fatalf("a clean run fails:%s", r)
	}
	if got, want := r.Orders.Completed, 2; got != want {
		t.Errorf("completed = %d, want %d", got, want)
	}
	if got, want := r.Orders.Cancelled, 2; got != want {
		t.Errorf("cancelled = %d, want %d", got, want)
	}
	if got, want := r.Retired, 1; got != want {
		t.Errorf("retired = %d, want %d", got, want)
	}
	if got, want := r.DuplicatesIgnored, 1; got != want {
		t.Errorf("duplicates ignored = %d, want %d", got, want)
	}
}

// TestEvaluateFindsViolations breaks a clean run in one way per case and expects exactly the
// matching invariant to fail.
func TestEvaluateFindsViolations(t *testing.T) {
	cases := []struct {
		name      string
		invariant string
		breakIt   func(exp *Expectation, obs *Observed)
		lost      int
		dup       int
		stuck     int
	}{
		{"lost order", InvTerminal, func(exp *Expectation, obs *Observed) {
			id := exp.Orders[1].Placed.OrderID
			delete(obs.Lifecycle, id)
			delete(obs.States, id)
			delete(obs.Timelines, id)
		}, 1, 0, 0},
		{"no terminal event", InvTerminal, func(exp *Expectation, obs *Observed) {
			id := exp.Orders[0].Placed.OrderID
			obs.Lifecycle[id] = obs.Lifecycle[id][:1]
		}, 0, 0, 1},
		{"two terminal statuses", InvOneTerminal, func(exp *Expectation, obs *Observed) {
			id := exp.Orders[1].Placed.OrderID
			obs.Lifecycle[id] = append(obs.Lifecycle[id], Lifecycle{OrderID: id, Status: "failed"})
		}, 0, 0, 0},
		{"wrong reason", InvExpected, func(exp *Expectation, obs *Observed) {
			id := exp.Orders[2].Placed.OrderID
			obs.Lifecycle[id][0].Reason = "card_declined"
		}, 0, 0, 0},
		{"final state still running", InvFinalState, func(exp *Expectation, obs *Observed) {
			id := exp.Orders[1].Placed.OrderID
			obs.States[id].State.Status = saga.StatusRunning
		}, 0, 0, 1},
		{"terminal state with a step in flight", InvFinalState, func(exp *Expectation, obs *Observed) {
			id := exp.Orders[1].Placed.OrderID
			obs.States[id].State.Steps[order.StepReserveInventory].Status = saga.StepDispatched
		}, 0, 0, 1},
		{"no saga state and no tombstone", InvFinalState, func(exp *Expectation, obs *Observed) {
			delete(obs.States, exp.Orders[1].Placed.OrderID)
		}, 0, 0, 1},
		{"a failed order's state tombstoned", InvFinalState, func(exp *Expectation, obs *Observed) {
			id := exp.Orders[1].Placed.OrderID
			obs.Lifecycle[id][1].Status = "failed"
			obs.Timelines[id].Status = string(saga.StatusFailed)
			exp.Orders[1].Want = sample.Outcome{Status: "failed"}
			delete(obs.States, id)
			obs.Tombstoned[id] = true
		}, 0, 0, 1},
		{"a finished snapshot that is not a marker", InvFinalState, func(exp *Expectation, obs *Observed) {
			obs.FatMarkers = []string{"x: not a marker"}
		}, 0, 0, 0},
		{"a finished saga back in flight", InvResurrected, func(exp *Expectation, obs *Observed) {
			obs.Resurrected = []string{"x: running v3 after the tombstone of its finished state"}
		}, 0, 0, 0},
		{"no timeline", InvTimeline, func(exp *Expectation, obs *Observed) {
			delete(obs.Timelines, exp.Orders[2].Placed.OrderID)
		}, 0, 0, 0},
		{"timeline never started", InvTimeline, func(exp *Expectation, obs *Observed) {
			obs.Timelines[exp.Orders[2].Placed.OrderID].Started = nil
		}, 0, 0, 0},
		{"timeline ends otherwise", InvTimeline, func(exp *Expectation, obs *Observed) {
			obs.Timelines[exp.Orders[2].Placed.OrderID].Status = string(saga.StatusCompensating)
		}, 0, 0, 0},
		{"timeline never finished the saga", InvTimeline, func(exp *Expectation, obs *Observed) {
			obs.Timelines[exp.Orders[1].Placed.OrderID].Finished = time.Time{}
		}, 0, 0, 0},
		{"a second saga after the first finished", InvOneSaga, func(exp *Expectation, obs *Observed) {
			tl := obs.Timelines[exp.Orders[1].Placed.OrderID]
			tl.Started = append(tl.Started, tl.Finished.Add(time.Minute))
		}, 0, 0, 0},
		{"a duplicate start not ignored", InvOneSaga, func(exp *Expectation, obs *Observed) {
			obs.IgnoredStarts = nil
		}, 0, 0, 0},
		{"an event after a duplicate start", InvOneSaga, func(exp *Expectation, obs *Observed) {
			obs.LastEvent[exp.Orders[0].Placed.OrderID] = Pos{0, 21}
		}, 0, 0, 0},
		{"a snapshot after a duplicate start", InvOneSaga, func(exp *Expectation, obs *Observed) {
			obs.LastSnapshot[exp.Orders[0].Placed.OrderID] = Pos{0, 12}
		}, 0, 0, 0},
		{"an effect after a duplicate start", InvOneSaga, func(exp *Expectation, obs *Observed) {
			id := exp.Orders[0].Placed.OrderID
			obs.Effects = append(obs.Effects, workers.Effect{IdempotencyKey: id + "/" + order.StepSendConfirmation + "/x", OrderID: id, Time: exp.Duplicates[0].At})
		}, 0, 0, 0},
		{"a duplicate of an order never placed", InvOneSaga, func(exp *Expectation, obs *Observed) {
			exp.Duplicates = append(exp.Duplicates, Duplicate{OrderID: "ghost", At: t0})
			obs.IgnoredStarts["ghost"] = 1
		}, 0, 0, 0},
		{"duplicated effect", InvOnce, func(exp *Expectation, obs *Observed) {
			obs.Effects = append(obs.Effects, obs.Effects[0])
		}, 0, 1, 0},
		{"effect of an order never placed", InvOnce, func(exp *Expectation, obs *Observed) {
			obs.Effects = append(obs.Effects, workers.Effect{IdempotencyKey: "ghost/reserve-inventory", OrderID: "ghost"})
		}, 0, 0, 0},
		{"completed order compensated", InvCompleted, func(exp *Expectation, obs *Observed) {
			id := exp.Orders[0].Placed.OrderID
			obs.Effects = append(obs.Effects, workers.Effect{IdempotencyKey: id + "/" + order.StepAuthorizePayment + "/undo", OrderID: id})
		}, 0, 0, 0},
		{"completed order without an effect", InvCompleted, func(exp *Expectation, obs *Observed) {
			obs.Effects = obs.Effects[1:]
		}, 0, 0, 0},
		{"cancelled order not compensated", InvCompensated, func(exp *Expectation, obs *Observed) {
			id := exp.Orders[3].Placed.OrderID
			var kept []workers.Effect
			for _, e := range obs.Effects {
				if e.IdempotencyKey != id+"/"+order.StepAssignDelivery+"/undo" {
					kept = append(kept, e)
				}
			}
			obs.Effects = kept
		}, 0, 0, 0},
		{"the failing step caused an effect", InvCompensated, func(exp *Expectation, obs *Observed) {
			id := exp.Orders[2].Placed.OrderID // out of stock
			obs.Effects = append(obs.Effects,
				workers.Effect{IdempotencyKey: id + "/" + order.StepReserveInventory, OrderID: id},
				workers.Effect{IdempotencyKey: id + "/" + order.StepReserveInventory + "/undo", OrderID: id})
		}, 0, 0, 0},
		{"stale last snapshot", InvFencing, func(exp *Expectation, obs *Observed) {
			obs.StaleLast = []string{"x: stale"}
		}, 0, 0, 0},
		{"unconsumed records", InvConsumed, func(exp *Expectation, obs *Observed) {
			obs.Lags[0].Committed = 5
		}, 0, 0, 0},
		{"nothing committed on a partition with records", InvConsumed, func(exp *Expectation, obs *Observed) {
			obs.Lags[1].End = 3
		}, 0, 0, 0},
		{"unexpected dead letter", InvDLQ, func(exp *Expectation, obs *Observed) {
			obs.DeadLetters = append(obs.DeadLetters, DeadLetter{DLQ: "payment.dlq", Value: []byte("a real command")})
		}, 0, 0, 0},
		{"injected record missing from its DLQ", InvDLQ, func(exp *Expectation, obs *Observed) {
			obs.DeadLetters = nil
		}, 0, 0, 0},
		{"a saga for a record that was no valid order", InvDLQ, func(exp *Expectation, obs *Observed) {
			obs.States["chaos-bad-1-2"] = Snapshot{State: &saga.State{SagaID: "chaos-bad-1-2", Status: saga.StatusRunning}}
		}, 0, 0, 0},
		{"a saga, retired since, for a record that was no valid order", InvDLQ, func(exp *Expectation, obs *Observed) {
			obs.Timelines["chaos-bad-1-2"] = &Timeline{Records: 1, Status: string(saga.StatusCompleted)}
			obs.Tombstoned["chaos-bad-1-2"] = true
		}, 0, 0, 0},
		{"undecodable lifecycle event", InvEventsDecode, func(exp *Expectation, obs *Observed) {
			obs.BadEvents = []string{"orders.events[0]@3: malformed JSON"}
		}, 0, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			exp, obs := world(t)
			c.breakIt(&exp, &obs)
			r := Evaluate(exp, obs)
			if r.OK() {
				t.Fatalf("got OK, want %q to fail:%s", c.invariant, r)
			}
			for _, inv := range r.Invariants {
				want := inv.Name == c.invariant
				if got := inv.Failed() > 0; got != want {
					t.Errorf("invariant %q failed = %v, want %v:%s", inv.Name, got, want, r)
				}
			}
			if r.Lost != c.lost || r.DuplicatedEffects != c.dup || r.Stuck != c.stuck {
				t.Errorf("lost/duplicated/stuck = %d/%d/%d, want %d/%d/%d", r.Lost, r.DuplicatedEffects, r.Stuck, c.lost, c.dup, c.stuck)
			}
			if !strings.Contains(r.String(), "FAIL (") {
				t.Errorf("the table does not show the failure:%s", r)
			}
		})
	}
}

func TestReportTableListsFaults(t *testing.T) {
	exp, obs := world(t)
	r := Evaluate(exp, obs)
	f := NewFaultLog(nil)
	f.Add(FaultOrchestratorKill, "orch-1")
	f.Add(FaultOrchestratorKill, "orch-2")
	f.Add(FaultOrchestratorKillRest, "orch-3")
	r.Faults = f
	out := r.String()
	for _, want := range []string{"orchestrator kill -9 ", "    2", "lost 0, duplicated effects 0, stuck 0", "PASS: every invariant held"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if got, want := f.Kills(), 3; got != want {
		t.Errorf("Kills() = %d, want %d", got, want)
	}
}

func TestLagUnconsumed(t *testing.T) {
	cases := []struct {
		lag  Lag
		want bool
	}{
		{Lag{Committed: -1, Start: 0, End: 0}, false},
		{Lag{Committed: -1, Start: 4, End: 4}, false},
		{Lag{Committed: 4, Start: 4, End: 4}, false},
		{Lag{Committed: -1, Start: 0, End: 2}, true},
		{Lag{Committed: 1, Start: 0, End: 2}, true},
		{Lag{Committed: 2, Start: 0, End: 2}, false},
	}
	for _, c := range cases {
		if got := c.lag.Unconsumed(); got != c.want {
			t.Errorf("%+v.Unconsumed() = %v, want %v", c.lag, got, c.want)
		}
	}
}
