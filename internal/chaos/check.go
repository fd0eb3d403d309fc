package chaos

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/sample"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
	"github.com/podiumhq/podium/workers"
)

// Lifecycle is one event read from orders.events.
type Lifecycle struct {
	OrderID string
	Status  string
	Reason  string
	ID      string // the CloudEvents id: a re-published event keeps it
}

// Snapshot is a saga state with where it was read.
type Snapshot struct {
	State     *saga.State
	Partition int
	Offset    int64
}

// Lag is a group's committed offset of one partition against the partition's bounds.
type Lag struct {
	Group     string
	Topic     string
	Partition int
	Committed int64 // -1: nothing committed
	Start     int64 // first offset still in the log
	End       int64 // high watermark
}

// Unconsumed reports whether records of the partition were never committed by the group.
func (l Lag) Unconsumed() bool {
	if l.End == l.Start && l.Committed < 0 {
		return false // empty partition, nothing to consume
	}
	return l.Committed != l.End
}

// DeadLetter is a record read from a dead-letter topic.
type DeadLetter struct {
	DLQ    string // the dead-letter topic
	Origin string // dlq.topic: where the record was first read
	Where  string // dlq.topic/dlq.partition@dlq.offset
	Reason string
	Value  []byte
}

// Injected is a record written on purpose to be dead-lettered.
type Injected struct {
	Topic string // where it was written
	DLQ   string // where it must end up
	Value []byte // unique: the checker recognises it by its bytes
}

// Observed is everything Collect read from a finished run.
type Observed struct {
	// Lifecycle holds the events of orders.events by order ID, in offset order.
	Lifecycle map[string][]Lifecycle
	// BadEvents are records of orders.events that did not decode.
	BadEvents []string
	// States is the final snapshot of every saga: the highest version, the later one on a tie
	// (the orchestrator's restore rule).
	States map[string]Snapshot
	// Divergent counts snapshots that share a saga and version with an earlier one but
	// disagree with it: two writers were alive at once (a zombie wrote after its partition
	// moved, or a write of an ended generation landed late). DivergentExamples describes the
	// first one of each saga.
	Divergent         int
	DivergentExamples []string
	// StaleLast lists sagas whose last snapshot in the log (the one compaction keeps) is not
	// their newest state: a stale writer wrote after the owner's last write.
	StaleLast []string
	// Effects are the lines of the workers' effect files.
	Effects []workers.Effect
	// TornEffects counts effect lines that did not parse (a write cut by kill -9).
	TornEffects int
	// Lags are the committed offsets of the orchestrator's and the workers' groups.
	Lags []Lag
	// DeadLetters are the records of every dead-letter topic.
	DeadLetters []DeadLetter
}

// Expectation is what a run placed and injected.
type Expectation struct {
	Orders   []sample.Order
	Injected []Injected
}

// compensable are the order saga's steps that have a compensation, in saga order.
var compensable = []string{order.StepReserveInventory, order.StepAuthorizePayment, order.StepPrepareShipment, order.StepAssignDelivery}

// dispatchedBy lists, for each kind of order that must be cancelled, the compensable steps
// whose command succeeds (and so must be compensated): the steps that run in parallel with
// the failing one or before it. The failing step itself causes no effect.
var dispatchedBy = map[sample.Kind][]string{
	sample.OutOfStock:         {order.StepAuthorizePayment},
	sample.CardDeclined:       {order.StepReserveInventory},
	sample.InsufficientFunds:  {order.StepReserveInventory},
	sample.AmountExceedsLimit: {order.StepReserveInventory},
	sample.SellerUnavailable:  {order.StepReserveInventory, order.StepAuthorizePayment, order.StepAssignDelivery},
	sample.NoDeliveryPartner:  {order.StepReserveInventory, order.StepAuthorizePayment, order.StepPrepareShipment},
}

// Invariant names, in report order.
const (
	InvTerminal     = "every placed order reached a terminal status"
	InvOneTerminal  = "exactly one terminal status per order"
	InvExpected     = "status matches the order's content (sample.Expected)"
	InvFinalState   = "final saga state agrees, nothing in flight"
	InvOnce         = "each effect applied once per idempotency key"
	InvCompleted    = "completed orders: every step's effect, none compensated"
	InvCompensated  = "cancelled orders: every dispatched step compensated"
	InvFencing      = "fencing: each saga's last snapshot is its newest state"
	InvConsumed     = "no record left unconsumed (committed == end offsets)"
	InvDLQ          = "DLQs hold only the bad records, which start no saga"
	InvEventsDecode = "orders.events holds only valid lifecycle events"
)

// Evaluate checks what a run left behind against what it placed. It is pure: Collect does
// the reading.
func Evaluate(exp Expectation, obs Observed) Report {
	r := Report{}
	inv := map[string]*Invariant{}
	for _, name := range []string{InvTerminal, InvOneTerminal, InvExpected, InvFinalState, InvOnce, InvCompleted,
		InvCompensated, InvFencing, InvConsumed, InvDLQ, InvEventsDecode} {
		inv[name] = &Invariant{Name: name}
		r.Invariants = append(r.Invariants, inv[name])
	}

	orders := map[string]sample.Order{}
	for _, o := range exp.Orders {
		orders[o.Placed.OrderID] = o
	}
	r.Orders.Placed = len(orders)
	r.Orders.ByReason = map[string]int{}

	// Effects by idempotency key, and by order.
	effects := map[string][]workers.Effect{}
	byOrder := map[string]map[string]bool{} // order -> idempotency keys with an effect
	for _, e := range obs.Effects {
		effects[e.IdempotencyKey] = append(effects[e.IdempotencyKey], e)
		if byOrder[e.OrderID] == nil {
			byOrder[e.OrderID] = map[string]bool{}
		}
		byOrder[e.OrderID][e.IdempotencyKey] = true
	}
	inv[InvOnce].Checked = len(effects)
	for _, key := range sortedKeys(effects) {
		es := effects[key]
		if len(es) > 1 {
			r.DuplicatedEffects += len(es) - 1
			inv[InvOnce].fail("%s: %d effects (%s)", key, len(es), effectKinds(es))
		}
		if _, ok := orders[es[0].OrderID]; !ok {
			inv[InvOnce].fail("%s: effect of an order that was never placed", key)
		}
	}

	ids := sortedKeys(orders)
	for _, id := range ids {
		o := orders[id]
		evs := obs.Lifecycle[id]
		snap, hasState := obs.States[id]
		statuses := terminalStatuses(evs)

		inv[InvTerminal].Checked++
		switch {
		case !hasState && len(evs) == 0:
			r.Lost++
			r.Orders.Pending++
			inv[InvTerminal].fail("%s: lost (no saga state, no lifecycle event)", id)
			continue
		case len(statuses) == 0:
			r.Stuck++
			r.Orders.Pending++
			inv[InvTerminal].fail("%s: no terminal lifecycle event (saga %s)", id, stateSummary(snap.State))
			continue
		}

		inv[InvOneTerminal].Checked++
		if len(statuses) > 1 {
			inv[InvOneTerminal].fail("%s: terminal statuses %v", id, statuses)
		}
		status, reason := statuses[0], terminalReason(evs, statuses[0])
		switch status {
		case "completed":
			r.Orders.Completed++
		case "cancelled":
			r.Orders.Cancelled++
			r.Orders.ByReason[reason]++
		default:
			r.Orders.Failed++
		}

		inv[InvExpected].Checked++
		if status != o.Want.Status || (o.Want.Reason != "" && reason != o.Want.Reason) {
			inv[InvExpected].fail("%s (%s): want %s %s, got %s %s", id, o.Kind, o.Want.Status, o.Want.Reason, status, reason)
		}

		inv[InvFinalState].Checked++
		switch {
		case !hasState:
			r.Stuck++
			inv[InvFinalState].fail("%s: no saga state", id)
		case !snap.State.Status.Terminal():
			r.Stuck++
			inv[InvFinalState].fail("%s: final state %s", id, stateSummary(snap.State))
		case string(order.StatusOf(snap.State)) != status:
			inv[InvFinalState].fail("%s: final state %s, lifecycle %s", id, order.StatusOf(snap.State), status)
		default:
			if inflight := awaiting(snap.State); len(inflight) > 0 {
				r.Stuck++
				inv[InvFinalState].fail("%s: %s but steps still in flight: %v", id, snap.State.Status, inflight)
			}
		}

		keys := byOrder[id]
		switch status {
		case "completed":
			inv[InvCompleted].Checked++
			var problems []string
			for _, step := range compensable {
				if !keys[id+"/"+step] {
					problems = append(problems, "no effect of "+step)
				}
				if keys[id+"/"+step+"/undo"] {
					problems = append(problems, step+" compensated")
				}
			}
			confirmed := keys[id+"/"+order.StepSendConfirmation]
			if o.Kind == sample.Bounced && confirmed {
				problems = append(problems, "confirmation sent to a bouncing address")
			}
			if o.Kind != sample.Bounced && !confirmed {
				problems = append(problems, "no confirmation sent")
			}
			if keys[id+"/"+order.StepSendCancellationNotice] {
				problems = append(problems, "cancellation notice sent")
			}
			if len(problems) > 0 {
				inv[InvCompleted].fail("%s (%s): %s", id, o.Kind, strings.Join(problems, "; "))
			}
		case "cancelled":
			inv[InvCompensated].Checked++
			var problems []string
			want := map[string]bool{}
			for _, step := range dispatchedBy[o.Kind] {
				want[step] = true
			}
			for _, step := range compensable {
				did, undid := keys[id+"/"+step], keys[id+"/"+step+"/undo"]
				switch {
				case did && !undid:
					problems = append(problems, step+" not compensated")
				case !did && undid:
					problems = append(problems, step+" compensated without an effect")
				case want[step] && !did:
					problems = append(problems, "no effect of "+step+" (it must have run)")
				case !want[step] && did:
					problems = append(problems, step+" ran although it must not")
				}
			}
			if keys[id+"/"+order.StepSendConfirmation] {
				problems = append(problems, "confirmation sent")
			}
			if !keys[id+"/"+order.StepSendCancellationNotice] {
				problems = append(problems, "no cancellation notice sent")
			}
			if len(problems) > 0 {
				inv[InvCompensated].fail("%s (%s): %s", id, o.Kind, strings.Join(problems, "; "))
			}
		}
	}

	inv[InvFencing].Checked = len(obs.States)
	for _, d := range obs.StaleLast {
		inv[InvFencing].fail("%s", d)
	}
	r.ZombieWrites, r.ZombieExamples = obs.Divergent, obs.DivergentExamples

	inv[InvConsumed].Checked = len(obs.Lags)
	for _, l := range obs.Lags {
		if l.Unconsumed() {
			inv[InvConsumed].fail("group %s, %s[%d]: committed %d, end %d", l.Group, l.Topic, l.Partition, l.Committed, l.End)
		}
	}

	inv[InvDLQ].Checked = len(obs.DeadLetters)
	found := map[int]bool{}
	for _, dl := range obs.DeadLetters {
		i := slices.IndexFunc(exp.Injected, func(in Injected) bool { return in.DLQ == dl.DLQ && bytes.Equal(in.Value, dl.Value) })
		if i < 0 {
			inv[InvDLQ].fail("%s: unexpected dead letter from %s (%s): %.120q", dl.DLQ, dl.Where, dl.Reason, dl.Value)
			continue
		}
		found[i] = true
	}
	for _, id := range sortedKeys(obs.States) {
		if _, ok := orders[id]; !ok {
			inv[InvDLQ].fail("saga %s exists, but no such order was placed", id)
		}
	}
	for i, in := range exp.Injected {
		if !found[i] {
			inv[InvDLQ].fail("%s: injected record written to %s never reached it: %.80q", in.DLQ, in.Topic, in.Value)
		}
	}

	inv[InvEventsDecode].Checked = len(obs.BadEvents)
	for _, evs := range obs.Lifecycle {
		inv[InvEventsDecode].Checked += len(evs)
	}
	for _, b := range obs.BadEvents {
		inv[InvEventsDecode].fail("%s", b)
	}
	r.TornEffects = obs.TornEffects
	return r
}

// terminalStatuses returns the distinct terminal statuses among evs, in order of appearance.
func terminalStatuses(evs []Lifecycle) []string {
	var out []string
	for _, e := range evs {
		switch e.Status {
		case "completed", "cancelled", "failed":
			if !slices.Contains(out, e.Status) {
				out = append(out, e.Status)
			}
		}
	}
	return out
}

// terminalReason is the reason of the first event with the status.
func terminalReason(evs []Lifecycle, status string) string {
	for _, e := range evs {
		if e.Status == status {
			return e.Reason
		}
	}
	return ""
}

// awaiting lists the steps of s that still wait for a reply or a retry.
func awaiting(s *saga.State) []string {
	var out []string
	for name, st := range s.Steps {
		if st != nil && st.Awaiting() {
			out = append(out, name+"="+string(st.Status))
		}
	}
	sort.Strings(out)
	return out
}

func stateSummary(s *saga.State) string {
	if s == nil {
		return "without state"
	}
	steps := make([]string, 0, len(s.Steps))
	for name, st := range s.Steps {
		if st != nil {
			steps = append(steps, name+"="+string(st.Status))
		}
	}
	sort.Strings(steps)
	return fmt.Sprintf("%s v%d gen %d [%s]", s.Status, s.Version, s.Generation, strings.Join(steps, " "))
}

// stateDigest is what two snapshots of one version must agree on.
func stateDigest(s *saga.State) string {
	steps := make([]string, 0, len(s.Steps))
	for name, st := range s.Steps {
		if st != nil {
			steps = append(steps, fmt.Sprintf("%s=%s/%d/%d", name, st.Status, st.Do.Attempt, st.Undo.Attempt))
		}
	}
	sort.Strings(steps)
	return fmt.Sprintf("%s %s", s.Status, strings.Join(steps, " "))
}

func effectKinds(es []workers.Effect) string {
	kinds := make([]string, len(es))
	for i, e := range es {
		kinds[i] = e.Worker + ":" + e.Kind
	}
	return strings.Join(kinds, ", ")
}

// isLifecycleType reports whether typ is a public lifecycle event type.
func isLifecycleType(typ string) bool {
	switch typ {
	case events.TypeOrderApproved, events.TypeOrderCompleted, events.TypeOrderCancelled, events.TypeOrderFailed:
		return true
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
