package chaos

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

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

// Pos is where a record was read: a partition and an offset.
type Pos struct {
	Partition int
	Offset    int64
}

// Timeline is what the podium.saga.timeline.v1 records of orders.events tell of one saga.
// A redo after a crash repeats a record's version (with other entry times, and possibly
// grouped otherwise), and so does a second saga of the order, which starts over at
// version 1: versions are deduplicated for the status, not for the starts.
type Timeline struct {
	// Records counts every record read; Repeats those whose version an earlier one had.
	Records, Repeats int
	// Version and Status are those of the last record applied by the API's rule (see
	// events.SagaTimeline): in offset order, a record continues the saga's line, or — its
	// base version below the last version applied, after a failover — replaces the records
	// applied from its base on; a redelivery (the base and version of a record applied) and
	// a record without a base version at or below the last version are skipped. Status is
	// the saga's last known status ("running", "compensating", "completed", "compensated",
	// "failed").
	Version uint64
	Status  string
	// line holds the (base, version) of the last records applied, oldest first.
	line []timelineSpan
	// gen is the highest writer generation of the records applied: a record of a lower one
	// is an ended owner's late write, skipped.
	gen int32
	// Started holds the time of every "started" entry, repeats included.
	Started []time.Time
	// Finished is the earliest time of an entry that finished the saga ("completed", or
	// "compensated" of the saga itself); zero if none.
	Finished time.Time
}

// timelineSpan is one timeline record applied: its base version and version.
type timelineSpan struct{ base, version uint64 }

// Retention is what a run's windows expired, as podium.saga-state and the workers'
// processed topics show it.
type Retention struct {
	// SnapshotTombstones counts sagas whose last record in podium.saga-state is a
	// tombstone: their finished marker was tombstoned when the retention ended.
	SnapshotTombstones int
	// IndexRecords and IndexTombstones count the records of the finished-saga index
	// (keys starting with orchestrator.IndexKeyPrefix) still in the log, and their
	// tombstones, written when the dedupe window ended (compaction keeps the last record
	// of each key).
	IndexRecords, IndexTombstones int
	// ProcessedTombstones counts the keys the workers forgot after --processed-retention
	// (tombstones on <worker>.processed).
	ProcessedTombstones int
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
	// Timelines holds what the timeline records of orders.events tell of each saga.
	Timelines map[string]*Timeline
	// LastEvent is the position of the last record of orders.events (lifecycle event or
	// timeline) of each order.
	LastEvent map[string]Pos
	// BadEvents are records of orders.events that did not decode.
	BadEvents []string
	// States is the final snapshot of every saga: the highest version, the later one on a tie
	// (the orchestrator's restore rule), since the saga's last tombstone.
	States map[string]Snapshot
	// Tombstoned lists the sagas whose last record in podium.saga-state is a tombstone.
	Tombstoned map[string]bool
	// LastSnapshot is the position of the last snapshot (not tombstone) of each saga.
	LastSnapshot map[string]Pos
	// Resurrected lists snapshots that put a finished saga back in flight: a snapshot of a
	// saga still awaiting something after a tombstone of its finished state, or with a
	// higher version than its finished state.
	Resurrected []string
	// FatMarkers lists finished snapshots that are not the small marker (they keep the
	// saga's input, a step's result or answered command IDs).
	FatMarkers []string
	// Retention is what the run's windows expired.
	Retention Retention
	// IgnoredStarts counts, by order, the OrderPlaced records the orchestrators logged as
	// ignored because the order had finished. Collect does not fill it: the harness
	// watches the orchestrators' logs (DuplicateWatch).
	IgnoredStarts map[string]int
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
	// Duplicates are OrderPlaced records written again for orders that had finished and
	// whose snapshot had been tombstoned (Load.PlaceAgain).
	Duplicates []Duplicate
}

// Duplicate is an OrderPlaced written again for a finished order after its retention:
// within the dedupe window it must start nothing.
type Duplicate struct {
	OrderID string
	// At is the wall-clock time just before it was written.
	At time.Time
	// EventsEnd and StateEnd are the end offsets of the partitions of orders.events and
	// podium.saga-state just before it was written: nothing of the order may follow.
	EventsEnd, StateEnd []int64
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
	InvFinalState   = "final saga state agrees or tombstoned, nothing in flight"
	InvResurrected  = "no finished saga back in flight (after its end or tombstone)"
	InvTimeline     = "timeline: every order started, its final status agrees"
	InvOneSaga      = "one saga per order: none started again, duplicates ignored"
	InvOnce         = "each effect applied once per idempotency key"
	InvCompleted    = "completed orders: every step's effect, none compensated"
	InvCompensated  = "cancelled orders: every dispatched step compensated"
	InvFencing      = "fencing: each saga's last snapshot is its newest state"
	InvConsumed     = "no record left unconsumed (committed == end offsets)"
	InvDLQ          = "DLQs hold only the bad records, which start no saga"
	InvEventsDecode = "orders.events holds only valid lifecycle and timeline records"
)

// Evaluate checks what a run left behind against what it placed. It is pure: Collect does
// the reading.
func Evaluate(exp Expectation, obs Observed) Report {
	r := Report{}
	inv := map[string]*Invariant{}
	for _, name := range []string{InvTerminal, InvOneTerminal, InvExpected, InvFinalState, InvResurrected, InvTimeline,
		InvOneSaga, InvOnce, InvCompleted, InvCompensated, InvFencing, InvConsumed, InvDLQ, InvEventsDecode} {
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
	effectsOf := map[string][]workers.Effect{}
	for _, e := range obs.Effects {
		effects[e.IdempotencyKey] = append(effects[e.IdempotencyKey], e)
		effectsOf[e.OrderID] = append(effectsOf[e.OrderID], e)
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

	duplicates := map[string][]Duplicate{}
	for _, d := range exp.Duplicates {
		duplicates[d.OrderID] = append(duplicates[d.OrderID], d)
	}

	ids := sortedKeys(orders)
	for _, id := range ids {
		o := orders[id]
		evs := obs.Lifecycle[id]
		snap, hasState := obs.States[id]
		tl, tombstoned := obs.Timelines[id], obs.Tombstoned[id]
		statuses := terminalStatuses(evs)

		inv[InvTerminal].Checked++
		switch {
		case !hasState && len(evs) == 0 && tl == nil && !tombstoned:
			r.Lost++
			r.Orders.Pending++
			inv[InvTerminal].fail("%s: lost (no saga state, no lifecycle event, no timeline)", id)
			continue
		case len(statuses) == 0:
			r.Stuck++
			r.Orders.Pending++
			inv[InvTerminal].fail("%s: no terminal lifecycle event (saga %s, timeline %s)", id, stateSummary(snap.State), timelineSummary(tl))
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

		// The state: in flight nowhere. A finished saga's marker is tombstoned when its
		// retention ends; a failed one waits for an operator and is never tombstoned.
		inv[InvFinalState].Checked++
		switch {
		case !hasState && tombstoned && status != "failed":
			r.Retired++
		case !hasState && tombstoned:
			r.Stuck++
			inv[InvFinalState].fail("%s: %s, but its saga state was tombstoned", id, status)
		case !hasState:
			r.Stuck++
			inv[InvFinalState].fail("%s: no saga state, and no tombstone of it", id)
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

		// The audit stream: the saga started, and ended as the lifecycle says.
		inv[InvTimeline].Checked++
		switch {
		case tl == nil:
			inv[InvTimeline].fail("%s: %s, but no timeline record", id, status)
		case len(tl.Started) == 0:
			inv[InvTimeline].fail("%s: no started entry in its timeline (%s)", id, timelineSummary(tl))
		case tl.Status != sagaStatusOf[status]:
			inv[InvTimeline].fail("%s: lifecycle %s, but its timeline ends %s", id, status, timelineSummary(tl))
		case status != "failed" && tl.Finished.IsZero():
			inv[InvTimeline].fail("%s: lifecycle %s, but no timeline entry finished the saga (%s)", id, status, timelineSummary(tl))
		}

		// One saga per order: a start after the saga finished is a second saga (a redo
		// repeats a start only before the saga moved on), and a duplicate OrderPlaced of a
		// finished order is recognised and leaves no trace.
		inv[InvOneSaga].Checked++
		if tl != nil && !tl.Finished.IsZero() {
			for _, at := range tl.Started {
				if at.After(tl.Finished) {
					inv[InvOneSaga].fail("%s: started again at %s, after it finished at %s", id, at.Format(timeFormat), tl.Finished.Format(timeFormat))
					break
				}
			}
		}
		if tl != nil {
			r.TimelineRepeats += tl.Repeats
			if len(tl.Started) > 1 {
				r.RedoneStarts++
			}
		}
		for _, d := range duplicates[id] {
			inv[InvOneSaga].Checked++
			var problems []string
			if obs.IgnoredStarts[id] == 0 {
				problems = append(problems, "no orchestrator ignored it as a finished order's")
			}
			if p, ok := obs.LastEvent[id]; ok && p.Partition < len(d.EventsEnd) && p.Offset >= d.EventsEnd[p.Partition] {
				problems = append(problems, fmt.Sprintf("orders.events[%d]@%d written after it", p.Partition, p.Offset))
			}
			if p, ok := obs.LastSnapshot[id]; ok && p.Partition < len(d.StateEnd) && p.Offset >= d.StateEnd[p.Partition] {
				problems = append(problems, fmt.Sprintf("snapshot %s[%d]@%d written after it", events.TopicSagaState, p.Partition, p.Offset))
			}
			for _, e := range effectsOf[id] {
				if !e.Time.Before(d.At) {
					problems = append(problems, fmt.Sprintf("effect %s (%s) at %s after it", e.IdempotencyKey, e.Kind, e.Time.Format(timeFormat)))
				}
			}
			if len(problems) > 0 {
				inv[InvOneSaga].fail("%s: duplicate OrderPlaced at %s: %s", id, d.At.Format(timeFormat), strings.Join(problems, "; "))
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

	for _, d := range exp.Duplicates {
		if _, ok := orders[d.OrderID]; !ok {
			inv[InvOneSaga].fail("%s: duplicate OrderPlaced of an order that was never placed", d.OrderID)
		}
	}
	for _, f := range obs.FatMarkers {
		inv[InvFinalState].fail("%s", f)
	}

	inv[InvResurrected].Checked = len(obs.States) + len(obs.Tombstoned)
	for _, d := range obs.Resurrected {
		inv[InvResurrected].fail("%s", d)
	}
	r.Retention = obs.Retention
	r.Duplicates = len(exp.Duplicates)
	for _, d := range exp.Duplicates {
		if obs.IgnoredStarts[d.OrderID] > 0 {
			r.DuplicatesIgnored++
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
	unknown := map[string]string{} // saga -> where it was seen
	for id := range obs.Tombstoned {
		unknown[id] = "a tombstone of its state"
	}
	for id := range obs.Timelines {
		unknown[id] = "a timeline"
	}
	for id := range obs.States {
		unknown[id] = "a saga state"
	}
	for _, id := range sortedKeys(unknown) {
		if _, ok := orders[id]; !ok {
			inv[InvDLQ].fail("saga %s exists (%s), but no such order was placed", id, unknown[id])
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
	for _, tl := range obs.Timelines {
		inv[InvEventsDecode].Checked += tl.Records
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

// sagaStatusOf maps an order's terminal lifecycle status to its saga's status.
var sagaStatusOf = map[string]string{
	"completed": string(saga.StatusCompleted),
	"cancelled": string(saga.StatusCompensated),
	"failed":    string(saga.StatusFailed),
}

// timeFormat shows times in violations to the millisecond.
const timeFormat = "15:04:05.000"

func timelineSummary(tl *Timeline) string {
	if tl == nil {
		return "none"
	}
	return fmt.Sprintf("%s v%d, %d records (%d repeated), %d started", tl.Status, tl.Version, tl.Records, tl.Repeats, len(tl.Started))
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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
