package chaos

import (
	"fmt"
	"strings"
	"time"

	"github.com/podiumhq/podium/events"
)

// maxExamples caps the violations an invariant keeps for the report.
const maxExamples = 15

// Invariant is the result of one invariant.
type Invariant struct {
	Name string
	// Checked is how many things (orders, keys, partitions, records) were checked.
	Checked int
	// Violations are the first maxExamples violations; Omitted counts the others.
	Violations []string
	Omitted    int
}

// Failed is the number of violations.
func (i *Invariant) Failed() int { return len(i.Violations) + i.Omitted }

func (i *Invariant) fail(format string, args ...any) {
	if len(i.Violations) >= maxExamples {
		i.Omitted++
		return
	}
	i.Violations = append(i.Violations, fmt.Sprintf(format, args...))
}

// OrderCounts is what became of the placed orders.
type OrderCounts struct {
	Placed, Completed, Cancelled, Failed, Pending int
	ByReason                                      map[string]int
}

// Report is the outcome of a chaos run: the faults injected, the orders, and one line per
// invariant.
type Report struct {
	Title    string
	Duration time.Duration
	Faults   *FaultLog
	Orders   OrderCounts
	// Lost orders left no trace; Stuck orders never reached a terminal state; DuplicatedEffects
	// counts effects beyond the first of an idempotency key.
	Lost, Stuck, DuplicatedEffects int
	// TornEffects counts effect lines cut by a kill (not a violation: skipped on load).
	TornEffects int
	// Retired counts terminal orders without a saga state because its marker was
	// tombstoned after the retention (not a violation).
	Retired int
	// Retention is what the run's windows expired.
	Retention Retention
	// Duplicates counts the OrderPlaced records written again for finished orders after
	// their retention; DuplicatesIgnored those an orchestrator logged as ignored.
	Duplicates, DuplicatesIgnored int
	// TimelineRepeats counts the timeline records that repeated a version (a redo after a
	// crash); RedoneStarts the orders started more than once before they finished (a redo
	// of the start, not a second saga). Not violations.
	TimelineRepeats, RedoneStarts int
	// ZombieWrites counts snapshots written by a writer whose generation had ended and that
	// disagree with the owner's snapshot of the same version (see Observed.Divergent). They are
	// not violations as long as the owner's state stays the newest and the last one.
	ZombieWrites   int
	ZombieExamples []string
	Invariants     []*Invariant
}

// OK reports whether every invariant held.
func (r Report) OK() bool {
	for _, inv := range r.Invariants {
		if inv.Failed() > 0 {
			return false
		}
	}
	return r.Lost == 0 && r.Stuck == 0 && r.DuplicatedEffects == 0
}

// String renders the report as a table.
func (r Report) String() string {
	var b strings.Builder
	title := r.Title
	if title == "" {
		title = "podium chaos"
	}
	fmt.Fprintf(&b, "\n== %s ==\n", title)
	if r.Duration > 0 {
		fmt.Fprintf(&b, "duration: %s\n", r.Duration.Round(time.Second))
	}
	if r.Faults != nil {
		b.WriteString("\nfaults injected\n")
		for _, f := range r.Faults.Counts() {
			fmt.Fprintf(&b, "  %-52s %5d", f.Kind, f.Count)
			if f.Note != "" {
				fmt.Fprintf(&b, "   (%s)", f.Note)
			}
			b.WriteByte('\n')
		}
	}
	o := r.Orders
	fmt.Fprintf(&b, "\norders\n  placed %d, completed %d, cancelled %d, failed %d, not terminal %d\n",
		o.Placed, o.Completed, o.Cancelled, o.Failed, o.Pending)
	if len(o.ByReason) > 0 {
		var parts []string
		for _, reason := range sortedKeys(o.ByReason) {
			parts = append(parts, fmt.Sprintf("%s %d", reason, o.ByReason[reason]))
		}
		fmt.Fprintf(&b, "  cancelled by reason: %s\n", strings.Join(parts, ", "))
	}
	fmt.Fprintf(&b, "  lost %d, duplicated effects %d, stuck %d", r.Lost, r.DuplicatedEffects, r.Stuck)
	if r.TornEffects > 0 {
		fmt.Fprintf(&b, " (torn effect lines skipped: %d)", r.TornEffects)
	}
	b.WriteString("\n")
	ret := r.Retention
	fmt.Fprintf(&b, "  retention: saga states tombstoned %d (terminal orders without state %d), processed keys tombstoned %d\n",
		ret.SnapshotTombstones, r.Retired, ret.ProcessedTombstones)
	fmt.Fprintf(&b, "  finished-saga index in %s: %d records, %d tombstones\n", events.TopicSagaState, ret.IndexRecords, ret.IndexTombstones)
	fmt.Fprintf(&b, "  timeline: records repeated by redos %d, orders whose start was redone before they finished %d\n", r.TimelineRepeats, r.RedoneStarts)
	if r.Duplicates > 0 {
		fmt.Fprintf(&b, "  duplicate OrderPlaced of finished orders after their retention: %d placed, %d ignored as finished\n", r.Duplicates, r.DuplicatesIgnored)
	}
	if r.ZombieWrites > 0 {
		fmt.Fprintf(&b, "  zombie writes (divergent snapshots of one version, superseded): %d, e.g.\n", r.ZombieWrites)
		for _, e := range r.ZombieExamples[:min(len(r.ZombieExamples), 3)] {
			fmt.Fprintf(&b, "    %s\n", e)
		}
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "  %-60s %9s  %s\n", "invariant", "checked", "result")
	for _, inv := range r.Invariants {
		result := "PASS"
		if n := inv.Failed(); n > 0 {
			result = fmt.Sprintf("FAIL (%d)", n)
		}
		fmt.Fprintf(&b, "  %-60s %9d  %s\n", inv.Name, inv.Checked, result)
	}
	for _, inv := range r.Invariants {
		if inv.Failed() == 0 {
			continue
		}
		fmt.Fprintf(&b, "\nviolations of %q:\n", inv.Name)
		for _, v := range inv.Violations {
			fmt.Fprintf(&b, "  - %s\n", v)
		}
		if inv.Omitted > 0 {
			fmt.Fprintf(&b, "  … and %d more\n", inv.Omitted)
		}
	}
	verdict := "PASS: every invariant held"
	if !r.OK() {
		verdict = "FAIL: invariants violated"
	}
	fmt.Fprintf(&b, "\n%s\n", verdict)
	return b.String()
}
