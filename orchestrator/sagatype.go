package orchestrator

import (
	"errors"
	"fmt"
	"slices"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// SagaType is one kind of saga an orchestrator runs: its definition (and the older versions
// still served), and the event that starts one. Every saga type's start topic is an input of
// the orchestrator group, co-partitioned with orders.control, podium.saga-state and the
// workers' reply topics; control requests, lifecycle and timeline events and dead letters of
// every saga type share orders.control, orders.events and orders.dlq. Saga IDs (the start
// event's subject) must be unique across the saga types of one orchestrator: the changelog
// and the dedupe window are keyed by them.
type SagaType struct {
	// Definition is the newest version: new sagas start on it. Required.
	Definition *saga.Definition
	// Previous are older versions of Definition (same name, lower Version) still served:
	// a saga started on one of them finishes on it. Drop a version once no saga needs it:
	// a partition that restores a saga in flight on a version not served stops Run with
	// ErrMissingDefinition, naming the version and how many sagas need it.
	Previous []*saga.Definition
	// Start is the CloudEvents type that starts a saga (registered with package events, or
	// built in, like events.TypeOrderPlaced). Its subject is the saga ID. Required.
	Start string
	// Topic is the topic Start arrives on. Required.
	Topic string
	// Lifecycle maps an engine event (a milestone reached, completed, compensated, failed)
	// to the public event published for it on orders.events: its type and data. ok false
	// publishes nothing. nil: an events.TypeSagaLifecycle event (data events.SagaLifecycle)
	// for each of them.
	Lifecycle func(s *saga.State, e saga.Event) (eventType string, data any, ok bool)
}

// validate reports every problem of t.
func (t SagaType) validate() []error {
	var errs []error
	name := t.Start
	if t.Definition != nil {
		name = t.Definition.Name
	}
	if t.Definition == nil {
		errs = append(errs, fmt.Errorf("orchestrator: saga type %q: a definition is required", name))
	} else if err := t.Definition.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("orchestrator: saga type %q: %w", name, err))
	}
	if t.Start == "" {
		errs = append(errs, fmt.Errorf("orchestrator: saga type %q: the start event type is required", name))
	} else if !events.KnownType(t.Start) {
		errs = append(errs, fmt.Errorf("orchestrator: saga type %q: start event type %s is not registered (events.Register)", name, t.Start))
	}
	if t.Topic == "" {
		errs = append(errs, fmt.Errorf("orchestrator: saga type %q: the start topic is required", name))
	}
	for _, d := range t.Previous {
		switch {
		case d == nil:
			errs = append(errs, fmt.Errorf("orchestrator: saga type %q: a previous definition is nil", name))
		case t.Definition != nil && (d.Name != t.Definition.Name || max(d.Version, 1) >= max(t.Definition.Version, 1)):
			errs = append(errs, fmt.Errorf("orchestrator: previous definition %s must be an older version of %s", d.ID(), t.Definition.ID()))
		default:
			if err := d.Validate(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// catalog is what a processor knows of the saga types it runs. Read-only once built.
type catalog struct {
	types   []*SagaType
	byStart map[string]*SagaType        // by start event type
	defs    map[string]*saga.Definition // every version served, by saga.Definition.ID
	typeOf  map[string]*SagaType        // by saga.Definition.ID
	topics  map[string]bool             // the start topics
}

func newCatalog(types []SagaType) *catalog {
	c := &catalog{
		byStart: map[string]*SagaType{}, defs: map[string]*saga.Definition{},
		typeOf: map[string]*SagaType{}, topics: map[string]bool{},
	}
	for i := range types {
		t := &types[i]
		c.types = append(c.types, t)
		c.byStart[t.Start] = t
		c.topics[t.Topic] = true
		for _, d := range append([]*saga.Definition{t.Definition}, t.Previous...) {
			c.defs[d.ID()] = d
			c.typeOf[d.ID()] = t
		}
	}
	return c
}

// startTopics lists the start topics in the order of the saga types, without repeats.
func startTopics(types []SagaType) []string {
	var topics []string
	for _, t := range types {
		if !slices.Contains(topics, t.Topic) {
			topics = append(topics, t.Topic)
		}
	}
	return topics
}

// workersOf lists the workers of every definition version of types, in first-seen order.
func workersOf(types []SagaType) []string {
	var ws []string
	for _, t := range types {
		for _, d := range append([]*saga.Definition{t.Definition}, t.Previous...) {
			if d == nil {
				continue
			}
			for _, w := range d.Workers {
				if !slices.Contains(ws, w) {
					ws = append(ws, w)
				}
			}
		}
	}
	return ws
}

// validateSagaTypes reports the problems of a list of saga types: each type's, and
// definitions or start types that two types share.
func validateSagaTypes(types []SagaType) error {
	if len(types) == 0 {
		return errors.New("orchestrator: at least one saga type is required (Config.Sagas)")
	}
	var errs []error
	seenDef, seenStart := map[string]bool{}, map[string]bool{}
	for _, t := range types {
		errs = append(errs, t.validate()...)
		if t.Start != "" {
			if seenStart[t.Start] {
				errs = append(errs, fmt.Errorf("orchestrator: start event type %s is used by two saga types", t.Start))
			}
			seenStart[t.Start] = true
		}
		for _, d := range append([]*saga.Definition{t.Definition}, t.Previous...) {
			if d == nil {
				continue
			}
			if seenDef[d.ID()] {
				errs = append(errs, fmt.Errorf("orchestrator: definition %s listed twice", d.ID()))
			}
			seenDef[d.ID()] = true
		}
	}
	return errors.Join(errs...)
}

// lifecycle is the public event published for e of the saga s, by the saga type's
// Lifecycle or, without one, an events.TypeSagaLifecycle event.
func (t *SagaType) lifecycle(def *saga.Definition, s *saga.State, e saga.Event) (string, any, bool) {
	if t.Lifecycle != nil {
		return t.Lifecycle(s, e)
	}
	l := events.SagaLifecycle{SagaID: s.SagaID, Definition: s.Definition, Status: def.Label(s), Reason: e.Reason, Step: e.Step}
	switch e.Kind {
	case saga.EventMilestone:
		l.Event, l.Milestone = events.LifecycleMilestone, e.Name
	case saga.EventCompleted:
		l.Event = events.LifecycleCompleted
	case saga.EventCompensated:
		l.Event = events.LifecycleCompensated
	case saga.EventFailed:
		l.Event = events.LifecycleFailed
	default:
		return "", nil, false
	}
	return events.TypeSagaLifecycle, l, true
}
