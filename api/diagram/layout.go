// Package diagram lays out a saga definition as a left-to-right DAG and renders it as a
// self-contained SVG, optionally coloured by the state of one saga instance. The
// dashboard's order pages, GET /saga/diagram.svg and `podium saga diagram` share this one
// rendering.
//
// The layout is computed from the definition's structure only — Steps and their After
// dependencies, Undo actions, Milestones and OnCompensated steps — so any valid definition
// is drawn, not just the order saga:
//
//   - a start node, then every step in the column of its longest dependency path;
//   - a milestone sits in its own column after the steps it waits for; a step whose
//     dependencies include all of a milestone's steps is drawn after the milestone instead
//     of with one edge per dependency (the order saga's "approved" junction);
//   - steps without dependents lead to the completed node;
//   - a step with a compensation carries it in a strip at the bottom of its node;
//   - a band below the graph shows the compensated node and the OnCompensated steps that
//     run after it.
//
// Everything here is pure and safe for concurrent use; a Layout is immutable once built.
package diagram

import (
	"slices"
	"strings"

	"github.com/podiumhq/podium/orchestrator/saga"
)

// NodeKind says what a node stands for.
type NodeKind string

// Node kinds.
const (
	KindStart         NodeKind = "start"
	KindStep          NodeKind = "step"
	KindMilestone     NodeKind = "milestone"
	KindCompleted     NodeKind = "completed"
	KindCompensated   NodeKind = "compensated"
	KindOnCompensated NodeKind = "on-compensated" // a step of Definition.OnCompensated
)

// Node is a placed node. X and Y are its top-left corner.
type Node struct {
	ID   string // "start", "completed", "compensated", "step:<name>", "milestone:<name>"
	Kind NodeKind
	Name string
	// Step is the definition's step for KindStep and KindOnCompensated nodes.
	Step *saga.Step
	// Column is the node's column (its longest path from start); the band's nodes count
	// their columns from 0 again.
	Column     int
	X, Y, W, H float64
}

// Edge is a directed connection between two nodes, by ID.
type Edge struct {
	From, To string
}

// Layout is a placed definition.
type Layout struct {
	Definition    *saga.Definition
	Nodes         []Node
	Edges         []Edge
	Width, Height float64
	// BandY is the top of the compensation band; 0 when the definition has neither
	// compensations nor OnCompensated steps.
	BandY float64
	index map[string]int
}

// Node returns the node with the given ID.
func (l *Layout) Node(id string) (Node, bool) {
	i, ok := l.index[id]
	if !ok {
		return Node{}, false
	}
	return l.Nodes[i], true
}

// Geometry, in SVG user units (px).
const (
	margin     = 16.0
	gapX       = 44.0
	gapY       = 18.0
	pillH      = 30.0
	lineH      = 16.0
	stepBodyH  = 62.0 // name, worker · command, state
	undoStripH = 24.0
	bandLabelH = 30.0
	charName   = 7.8 // average advance of a 13px bold character
	charSmall  = 6.0 // average advance of an 11px character
	minStepW   = 150.0
	maxStepW   = 300.0
)

// StepID and MilestoneID are the node IDs of a step and a milestone.
func StepID(name string) string      { return "step:" + name }
func MilestoneID(name string) string { return "milestone:" + name }

// New lays out d. It never fails: unknown dependencies are ignored and a dependency cycle
// (which Validate rejects) is broken where it is found.
func New(d *saga.Definition) *Layout {
	l := &Layout{Definition: d, index: map[string]int{}}
	stepW := stepWidth(d)

	main := make(map[string]int, len(d.Steps)) // name -> index in d.Steps
	for i, s := range d.Steps {
		if _, dup := main[s.Name]; !dup {
			main[s.Name] = i
		}
	}

	// Predecessors of every node of the forward graph, and definition order for ties.
	preds := map[string][]string{}
	order := map[string]int{"start": -1}
	hasDependents := map[string]bool{}
	for i, s := range d.Steps {
		order[StepID(s.Name)] = i
		for _, dep := range s.After {
			hasDependents[dep] = true
		}
	}
	for i, m := range d.Milestones {
		id := MilestoneID(m.Name)
		order[id] = len(d.Steps) + i
		for _, dep := range uniqueKnown(m.After, main) {
			preds[id] = append(preds[id], StepID(dep))
		}
	}
	for _, s := range d.Steps {
		id := StepID(s.Name)
		deps := uniqueKnown(s.After, main)
		if len(deps) == 0 {
			preds[id] = []string{"start"}
			continue
		}
		if m, ok := junction(d.Milestones, deps, main); ok {
			preds[id] = append(preds[id], MilestoneID(m.Name))
			for _, dep := range deps {
				if !slices.Contains(m.After, dep) {
					preds[id] = append(preds[id], StepID(dep))
				}
			}
			continue
		}
		for _, dep := range deps {
			preds[id] = append(preds[id], StepID(dep))
		}
	}
	order["completed"] = len(d.Steps) + len(d.Milestones)
	for _, s := range d.Steps {
		if !hasDependents[s.Name] && !slices.Contains(preds["completed"], StepID(s.Name)) {
			preds["completed"] = append(preds["completed"], StepID(s.Name))
		}
	}
	if len(preds["completed"]) == 0 {
		preds["completed"] = []string{"start"}
	}

	// Columns: the longest path from start.
	rank := map[string]int{"start": 0}
	visiting := map[string]bool{}
	var rankOf func(id string) int
	rankOf = func(id string) int {
		if r, ok := rank[id]; ok {
			return r
		}
		if visiting[id] {
			return 0 // a cycle: break it here
		}
		visiting[id] = true
		r := 0
		for _, p := range preds[id] {
			r = max(r, rankOf(p)+1)
		}
		visiting[id] = false
		rank[id] = r
		return r
	}
	ids := []string{"start"}
	for _, s := range d.Steps {
		ids = append(ids, StepID(s.Name))
	}
	for _, m := range d.Milestones {
		ids = append(ids, MilestoneID(m.Name))
	}
	ids = append(ids, "completed")
	ids = uniqueStrings(ids)
	columns := 0
	for _, id := range ids {
		columns = max(columns, rankOf(id)+1)
	}
	cols := make([][]string, columns)
	for _, id := range ids {
		cols[rank[id]] = append(cols[rank[id]], id)
	}

	// Order each column by the mean position of its predecessors (one barycentre pass),
	// then by definition order.
	pos := map[string]float64{}
	for c, col := range cols {
		bary := func(id string) float64 {
			ps := preds[id]
			if len(ps) == 0 {
				return 0
			}
			var sum float64
			for _, p := range ps {
				sum += pos[p]
			}
			return sum / float64(len(ps))
		}
		if c > 0 {
			slices.SortStableFunc(col, func(a, b string) int {
				ba, bb := bary(a), bary(b)
				switch {
				case ba < bb-1e-9:
					return -1
				case ba > bb+1e-9:
					return 1
				}
				return order[a] - order[b]
			})
		}
		for i, id := range col {
			pos[id] = (float64(i) + 0.5) / float64(len(col))
		}
	}

	// Sizes.
	slotH := stepBodyH
	for _, s := range d.Steps {
		if s.Undo != nil {
			slotH = stepBodyH + undoStripH
			break
		}
	}
	size := func(id string) (w, h float64, kind NodeKind, name string, step *saga.Step) {
		switch {
		case id == "start":
			return pillWidth("start"), pillH, KindStart, "start", nil
		case id == "completed":
			return pillWidth("completed"), pillH, KindCompleted, "completed", nil
		case strings.HasPrefix(id, "milestone:"):
			name := strings.TrimPrefix(id, "milestone:")
			return pillWidth(name) + 12, pillH, KindMilestone, name, nil
		default:
			name := strings.TrimPrefix(id, "step:")
			s := &d.Steps[main[name]]
			h := stepBodyH
			if s.Undo != nil {
				h += undoStripH
			}
			return stepW, h, KindStep, name, s
		}
	}

	maxRows := 1
	for _, col := range cols {
		maxRows = max(maxRows, len(col))
	}
	forwardH := float64(maxRows)*slotH + float64(maxRows-1)*gapY
	x := margin
	for c, col := range cols {
		colW := 0.0
		for _, id := range col {
			w, _, _, _, _ := size(id)
			colW = max(colW, w)
		}
		colH := float64(len(col))*slotH + float64(len(col)-1)*gapY
		top := margin + (forwardH-colH)/2
		for i, id := range col {
			w, h, kind, name, step := size(id)
			slotTop := top + float64(i)*(slotH+gapY)
			l.add(Node{ID: id, Kind: kind, Name: name, Step: step, Column: c,
				X: x + (colW-w)/2, Y: slotTop + (slotH-h)/2, W: w, H: h})
		}
		x += colW + gapX
	}
	l.Width = x - gapX + margin
	l.Height = margin + forwardH + margin

	for _, id := range ids {
		for _, p := range preds[id] {
			l.Edges = append(l.Edges, Edge{From: p, To: id})
		}
	}

	// The compensation band.
	hasUndo := slices.ContainsFunc(d.Steps, func(s saga.Step) bool { return s.Undo != nil })
	if hasUndo || len(d.OnCompensated) > 0 {
		l.BandY = l.Height
		top := l.BandY + bandLabelH
		var onComp []int
		seen := map[string]bool{}
		for i, s := range d.OnCompensated {
			if _, isMain := main[s.Name]; !isMain && !seen[s.Name] {
				seen[s.Name] = true
				onComp = append(onComp, i)
			}
		}
		rows := max(1, len(onComp))
		bandH := float64(rows)*stepBodyH + float64(rows-1)*gapY
		cw := pillWidth("compensated")
		l.add(Node{ID: "compensated", Kind: KindCompensated, Name: "compensated", Column: 0,
			X: margin, Y: top + (bandH-pillH)/2, W: cw, H: pillH})
		bx := margin + cw + gapX
		for r, i := range onComp {
			s := &d.OnCompensated[i]
			id := StepID(s.Name)
			l.add(Node{ID: id, Kind: KindOnCompensated, Name: s.Name, Step: s, Column: 1,
				X: bx, Y: top + float64(r)*(stepBodyH+gapY), W: stepW, H: stepBodyH})
			l.Edges = append(l.Edges, Edge{From: "compensated", To: id})
		}
		right := margin + cw
		if len(onComp) > 0 {
			right = bx + stepW
		}
		l.Width = max(l.Width, right+margin)
		l.Height = top + bandH + margin
	}
	return l
}

func (l *Layout) add(n Node) {
	l.index[n.ID] = len(l.Nodes)
	l.Nodes = append(l.Nodes, n)
}

// junction picks the milestone to route a step's dependencies through: one whose steps
// are all among deps, the largest such, the first on ties.
func junction(ms []saga.Milestone, deps []string, main map[string]int) (saga.Milestone, bool) {
	best, found := saga.Milestone{}, false
	for _, m := range ms {
		after := uniqueKnown(m.After, main)
		if len(after) == 0 || m.Name == "" {
			continue
		}
		covered := true
		for _, a := range after {
			if !slices.Contains(deps, a) {
				covered = false
				break
			}
		}
		if covered && (!found || len(after) > len(uniqueKnown(best.After, main))) {
			best, found = m, true
		}
	}
	return best, found
}

// uniqueKnown returns the names that are main steps, without repeats.
func uniqueKnown(names []string, main map[string]int) []string {
	var out []string
	for _, n := range names {
		if _, ok := main[n]; ok && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func uniqueStrings(xs []string) []string {
	seen := make(map[string]bool, len(xs))
	out := xs[:0]
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// pillWidth is the width of a rounded label node.
func pillWidth(label string) float64 { return float64(len([]rune(label)))*charSmall*1.1 + 28 }

// stepWidth is the common width of step nodes: enough for the longest name and action
// line of the definition, within bounds (longer texts are cut with an ellipsis).
func stepWidth(d *saga.Definition) float64 {
	w := minStepW
	consider := func(s saga.Step) {
		w = max(w, float64(len([]rune(s.Name)))*charName+24)
		w = max(w, float64(len([]rune(stepActionLine(s))))*charSmall+24)
		if s.Undo != nil {
			// room for the longest state label at the right ("compensating")
			w = max(w, float64(len([]rune(undoLine(s)))+14)*charSmall+24)
		}
	}
	for _, s := range d.Steps {
		consider(s)
	}
	for _, s := range d.OnCompensated {
		consider(s)
	}
	return min(w, maxStepW)
}

// actionLine is "worker · command", the command being the type without the "podium." /
// worker prefix and the version suffix: "inventory · reserve".
func actionLine(a saga.Action) string {
	return a.Worker + " · " + ShortType(a.Worker, a.Type)
}

// undoLine is the compensation strip's text: "↺ release", with the worker when it is not
// the step's own ("↺ payment · refund").
func undoLine(s saga.Step) string {
	if s.Undo.Worker != s.Do.Worker {
		return "↺ " + actionLine(*s.Undo)
	}
	return "↺ " + ShortType(s.Undo.Worker, s.Undo.Type)
}

// stepActionLine is the action line of a step node; just the worker when the command is
// named like the step.
func stepActionLine(s saga.Step) string {
	if ShortType(s.Do.Worker, s.Do.Type) == s.Name {
		return s.Do.Worker
	}
	return actionLine(s.Do)
}

// ShortType shortens a command type for display: "podium.inventory.reserve.v1" with
// worker "inventory" becomes "reserve".
func ShortType(worker, typ string) string {
	t := strings.TrimPrefix(typ, "podium.")
	if worker != "" {
		t = strings.TrimPrefix(t, worker+".")
	}
	if i := strings.LastIndex(t, ".v"); i > 0 && isDigits(t[i+2:]) {
		t = t[:i]
	}
	return t
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
