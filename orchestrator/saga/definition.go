package saga

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultHistoryLimit is the number of history entries a state keeps when
// Definition.HistoryLimit is 0.
const DefaultHistoryLimit = 200

// BuildContext is what a payload builder sees.
type BuildContext struct {
	SagaID string
	// Input is the saga's start payload (for the order saga: the OrderPlaced JSON).
	Input json.RawMessage
	// Results maps step name to the Result of that step's success reply. A forward step
	// sees the results of its (transitive) dependencies; a compensation or an OnCompensated
	// step sees the results of every step that succeeded. A step whose outcome is unknown
	// has no entry.
	Results map[string]json.RawMessage
	// Reason is why the saga is compensating; empty for forward steps.
	Reason string
	// Decoded is what the definition's DecodeInput made of Input, shared by every command
	// built in one Apply (or one InFlight): read it, never modify it. Nil when the
	// definition has no DecodeInput.
	Decoded any
}

// Builder builds a command payload. It must be pure: the engine rebuilds in-flight
// commands from the state ([Definition.InFlight]) and relies on getting the same bytes.
// An error fails the step (or its compensation) without dispatching anything.
type Builder func(BuildContext) (json.RawMessage, error)

// InputDecoder decodes a saga's input (State.Input) for its builders: see
// Definition.DecodeInput. Like a Builder it must be pure.
type InputDecoder func(sagaID string, input json.RawMessage) (any, error)

// Action is one command a step sends: its forward action or its compensation.
type Action struct {
	Worker string // the worker whose commands topic receives the command
	Type   string // the command's event type
	Build  Builder
	// Timeout is the deadline of one attempt, counted from its dispatch. Must be > 0.
	Timeout time.Duration
	Retry   RetryPolicy
}

// Step is a node of the saga's DAG.
type Step struct {
	Name string
	Do   Action
	// Undo is the compensation; nil means there is nothing to undo.
	Undo *Action
	// After lists the steps that must have succeeded (or failed, if optional) before this
	// step starts.
	After []string
	// Optional steps do not cancel the saga when they fail; their dependents proceed.
	Optional bool
}

// Milestone is reached once every step in After has succeeded, while the saga is running.
type Milestone struct {
	Name  string
	After []string
}

// Definition is a saga: a DAG of steps, milestones, and steps to run after a completed
// compensation. Build it once, call Validate, then share it: it is never modified by the
// engine.
type Definition struct {
	Name string
	// Version numbers the definition's revisions (0 is 1). A saga records the definition it
	// started on (its ID) and finishes on it: a deploy that changes the steps publishes a
	// new version and keeps serving the old ones while sagas that need them are in flight.
	Version int
	Workers []string // known workers; every action's worker must be one of them
	Steps   []Step
	// Milestones are announced with an [EventMilestone] when reached.
	Milestones []Milestone
	// OnCompensated steps are dispatched, all at once, when the saga has been compensated.
	// They are always treated as optional (their outcome never changes the saga's status),
	// and must have neither After nor Undo.
	OnCompensated []Step
	// HistoryLimit caps the timeline that readers of the audit stream keep per saga (the
	// newest entries are kept; see HistoryLimitOrDefault). The engine itself keeps no
	// history. Default: 200.
	HistoryLimit int
	// Labels names the saga's statuses for people, the API and lifecycle events ("pending"
	// instead of "running" for an order). See Label.
	Labels StatusLabels
	// DecodeInput, when set, decodes the saga's input once per Apply (and per InFlight),
	// the first time a command is built, for every builder that runs in it: they find the
	// value in BuildContext.Decoded instead of each decoding Input again. An error fails
	// the build of every command of that Apply, as the builders' own error would. Default:
	// nil, builders get a nil Decoded.
	DecodeInput InputDecoder

	// ix caches the definition's index (a *cachedIndex): see index.
	ix atomic.Value
}

// StatusLabels names a definition's statuses. An empty field takes the engine's name of the
// status (running, compensating, completed, compensated, failed).
type StatusLabels struct {
	Running, Compensating, Completed, Compensated, Failed string
}

// Label is the status of s as d names it: a running saga that reached milestones shows the
// name of the latest one; otherwise the label of s.Status (Labels, or the engine's name).
// "" for a nil state.
func (d *Definition) Label(s *State) string {
	if s == nil {
		return ""
	}
	pick := func(label string, st Status) string {
		if label != "" {
			return label
		}
		return string(st)
	}
	switch s.Status {
	case StatusRunning:
		if n := len(s.Milestones); n > 0 {
			return s.Milestones[n-1]
		}
		return pick(d.Labels.Running, s.Status)
	case StatusCompensating:
		return pick(d.Labels.Compensating, s.Status)
	case StatusCompleted:
		return pick(d.Labels.Completed, s.Status)
	case StatusCompensated:
		return pick(d.Labels.Compensated, s.Status)
	case StatusFailed:
		return pick(d.Labels.Failed, s.Status)
	}
	return string(s.Status)
}

// ID is what a saga's state records of its definition (State.Definition): the name for
// version 1, so that states written before versions existed keep their meaning, and
// "name@vN" for later versions.
func (d *Definition) ID() string {
	if d.Version <= 1 {
		return d.Name
	}
	return fmt.Sprintf("%s@v%d", d.Name, d.Version)
}

// VersionOf is the definition version a state recorded in State.Definition (see ID): 1 for
// a bare name, N for "name@vN", 0 for something else.
func VersionOf(definitionID string) int {
	_, v, ok := strings.Cut(definitionID, "@v")
	if !ok {
		return 1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 2 {
		return 0
	}
	return n
}

// Validate reports every problem of the definition at once (errors.Join): a missing name,
// duplicate or malformed step names, unknown dependencies, dependency cycles, unknown
// workers, missing command types or builders, non-positive timeouts, insane retry
// policies, bad milestones and bad OnCompensated steps.
func (d *Definition) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if d.Name == "" {
		add("definition: name is empty")
	}
	if len(d.Steps) == 0 {
		add("definition %q: no steps", d.Name)
	}
	if d.HistoryLimit < 0 {
		add("definition %q: history limit %d is negative", d.Name, d.HistoryLimit)
	}
	workers := make(map[string]bool, len(d.Workers))
	for _, w := range d.Workers {
		workers[w] = true
	}
	names := make(map[string]bool)
	checkName := func(kind, name string) {
		switch {
		case name == "":
			add("%s: name is empty", kind)
		case strings.ContainsAny(name, "/ \t\n"):
			add("%s %q: name contains '/' or whitespace", kind, name)
		case names[name]:
			add("%s %q: duplicate name", kind, name)
		}
		names[name] = true
	}
	checkAction := func(where string, a Action) {
		if a.Worker == "" {
			add("%s: worker is empty", where)
		} else if !workers[a.Worker] {
			add("%s: unknown worker %q", where, a.Worker)
		}
		if a.Type == "" {
			add("%s: command type is empty", where)
		}
		if a.Build == nil {
			add("%s: builder is nil", where)
		}
		if a.Timeout <= 0 {
			add("%s: timeout %v is not positive", where, a.Timeout)
		}
		if err := a.Retry.Validate(); err != nil {
			add("%s: %w", where, err)
		}
	}

	for _, s := range d.Steps {
		checkName("step", s.Name)
	}
	for _, s := range d.OnCompensated {
		checkName("on-compensated step", s.Name)
	}
	main := make(map[string]*Step, len(d.Steps))
	for i := range d.Steps {
		main[d.Steps[i].Name] = &d.Steps[i]
	}
	for _, s := range d.Steps {
		checkAction(fmt.Sprintf("step %q", s.Name), s.Do)
		if s.Undo != nil {
			checkAction(fmt.Sprintf("step %q undo", s.Name), *s.Undo)
		}
		seen := make(map[string]bool)
		for _, dep := range s.After {
			switch {
			case dep == s.Name:
				add("step %q: depends on itself", s.Name)
			case main[dep] == nil:
				add("step %q: unknown dependency %q", s.Name, dep)
			case seen[dep]:
				add("step %q: dependency %q listed twice", s.Name, dep)
			}
			seen[dep] = true
		}
	}
	if cycle := findCycle(d.Steps, main); cycle != nil {
		add("definition %q: dependency cycle %s", d.Name, strings.Join(cycle, " -> "))
	}
	for _, s := range d.OnCompensated {
		checkAction(fmt.Sprintf("on-compensated step %q", s.Name), s.Do)
		if s.Undo != nil {
			add("on-compensated step %q: has an undo action", s.Name)
		}
		if len(s.After) > 0 {
			add("on-compensated step %q: has dependencies", s.Name)
		}
	}
	milestones := make(map[string]bool)
	for _, m := range d.Milestones {
		switch {
		case m.Name == "":
			add("milestone: name is empty")
		case milestones[m.Name]:
			add("milestone %q: duplicate name", m.Name)
		}
		milestones[m.Name] = true
		if len(m.After) == 0 {
			add("milestone %q: no steps", m.Name)
		}
		for _, dep := range m.After {
			if main[dep] == nil {
				add("milestone %q: unknown step %q", m.Name, dep)
			}
		}
	}
	return errors.Join(errs...)
}

// findCycle returns one dependency cycle (first node repeated at the end), or nil.
func findCycle(steps []Step, main map[string]*Step) []string {
	const (
		unvisited = iota
		visiting
		done
	)
	state := make(map[string]int, len(steps))
	var stack []string
	var visit func(name string) []string
	visit = func(name string) []string {
		switch state[name] {
		case visiting:
			i := slices.Index(stack, name)
			return append(slices.Clone(stack[i:]), name)
		case done:
			return nil
		}
		state[name] = visiting
		stack = append(stack, name)
		for _, dep := range main[name].After {
			if dep == name || main[dep] == nil {
				continue // reported elsewhere
			}
			if c := visit(dep); c != nil {
				return c
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
		return nil
	}
	for _, s := range steps {
		if c := visit(s.Name); c != nil {
			return c
		}
	}
	return nil
}

// index is the derived, read-only view of a definition the engine works with.
type index struct {
	id         string           // the definition's ID
	steps      map[string]*Step // main and on-compensated steps
	main       []string         // main steps, definition order
	onComp     []string         // on-compensated steps, definition order
	all        []string         // main, then on-compensated steps
	isOnComp   map[string]bool
	ancestors  map[string][]string // transitive dependencies of each main step
	dependents map[string][]string // transitive dependents of each main step
}

// cachedIndex is an index with what it was derived from.
type cachedIndex struct {
	owner         *Definition
	name          string
	version       int
	steps, onComp []Step     // d.Steps and d.OnCompensated when indexed
	shape         [][]string // the After of each step, main then on-compensated
	names         []string   // the name of each step, main then on-compensated
	ix            *index
}

// index returns the definition's index, built on first use and cached in d. Definitions
// are documented as not modified once shared, but stay plain values: a copy of d, or a d
// whose name, version, step slices, step names or dependency lists were replaced since, is
// indexed again. Safe for concurrent use (two goroutines may both build it).
func (d *Definition) index() *index {
	if c, _ := d.ix.Load().(*cachedIndex); c != nil && c.fits(d) {
		return c.ix
	}
	c := &cachedIndex{owner: d, name: d.Name, version: d.Version, steps: d.Steps, onComp: d.OnCompensated, ix: d.buildIndex()}
	for _, list := range [][]Step{d.Steps, d.OnCompensated} {
		for i := range list {
			c.shape = append(c.shape, list[i].After)
			c.names = append(c.names, list[i].Name)
		}
	}
	d.ix.Store(c)
	return c.ix
}

// fits reports whether c is still the index of d.
func (c *cachedIndex) fits(d *Definition) bool {
	if c.owner != d || c.name != d.Name || c.version != d.Version ||
		!sameSlice(c.steps, d.Steps) || !sameSlice(c.onComp, d.OnCompensated) {
		return false
	}
	i := 0
	for _, list := range [][]Step{d.Steps, d.OnCompensated} {
		for j := range list {
			if list[j].Name != c.names[i] || !sameSlice(list[j].After, c.shape[i]) {
				return false
			}
			i++
		}
	}
	return true
}

// sameSlice reports whether a and b are the same slice (same array, same length).
func sameSlice[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func (d *Definition) buildIndex() *index {
	ix := &index{
		id:         d.ID(),
		steps:      make(map[string]*Step, len(d.Steps)+len(d.OnCompensated)),
		isOnComp:   make(map[string]bool, len(d.OnCompensated)),
		ancestors:  make(map[string][]string, len(d.Steps)),
		dependents: make(map[string][]string, len(d.Steps)),
	}
	for i := range d.Steps {
		s := &d.Steps[i]
		ix.steps[s.Name] = s
		ix.main = append(ix.main, s.Name)
	}
	for i := range d.OnCompensated {
		s := &d.OnCompensated[i]
		if _, dup := ix.steps[s.Name]; dup {
			continue
		}
		ix.steps[s.Name] = s
		ix.onComp = append(ix.onComp, s.Name)
		ix.isOnComp[s.Name] = true
	}
	for _, name := range ix.main {
		seen := map[string]bool{name: true}
		var walk func(string)
		walk = func(n string) {
			for _, dep := range ix.steps[n].After {
				if seen[dep] || ix.steps[dep] == nil || ix.isOnComp[dep] {
					continue
				}
				seen[dep] = true
				ix.ancestors[name] = append(ix.ancestors[name], dep)
				ix.dependents[dep] = append(ix.dependents[dep], name)
				walk(dep)
			}
		}
		walk(name)
	}
	ix.all = append(slices.Clip(ix.main), ix.onComp...)
	return ix
}

// HistoryLimitOrDefault is HistoryLimit, or DefaultHistoryLimit when it is 0.
func (d *Definition) HistoryLimitOrDefault() int {
	if d.HistoryLimit > 0 {
		return d.HistoryLimit
	}
	return DefaultHistoryLimit
}
