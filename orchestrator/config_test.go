package orchestrator

import (
	"strings"
	"testing"
	"time"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
)

func TestConfigPreviousDefinitions(t *testing.T) {
	version := func(v int) *saga.Definition {
		d := order.Definition()
		d.Version = v
		return d
	}
	other := order.Definition()
	other.Name = "returns"
	for _, tc := range []struct {
		name     string
		newest   *saga.Definition
		previous []*saga.Definition
		problem  string // "" when valid
	}{
		{"newest only", version(2), nil, ""},
		{"older versions", version(3), []*saga.Definition{version(1), version(2)}, ""},
		{"version 0 is 1", version(2), []*saga.Definition{version(0)}, ""},
		{"not older", version(2), []*saga.Definition{version(2)}, "must be an older version"},
		{"newer", version(2), []*saga.Definition{version(5)}, "must be an older version"},
		{"another saga", version(2), []*saga.Definition{other}, "must be an older version"},
		{"twice", version(3), []*saga.Definition{version(1), version(1)}, "listed twice"},
		{"nil", version(2), []*saga.Definition{nil}, "is nil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Kafka: pkafka.Config{Brokers: []string{"127.0.0.1:9092"}},
				Sagas: []SagaType{{Definition: tc.newest, Previous: tc.previous, Start: events.TypeOrderPlaced, Topic: events.TopicOrdersPlaced}}}
			err := cfg.Validate()
			switch {
			case tc.problem == "" && err != nil:
				t.Errorf("Validate: %v, want nil", err)
			case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)):
				t.Errorf("Validate: %v, want %q", err, tc.problem)
			}
			if err == nil {
				defs := newCatalog(cfg.Sagas).defs
				if defs[tc.newest.ID()] != tc.newest || len(defs) != 1+len(tc.previous) {
					t.Errorf("definitions: %v", defs)
				}
			}
		})
	}
}

// orderSaga is the order saga type as package sagas builds it (which this package's tests
// cannot import).
func orderSaga(o order.Options) SagaType {
	return SagaType{Definition: order.NewDefinition(o), Start: events.TypeOrderPlaced, Topic: events.TopicOrdersPlaced, Lifecycle: order.Lifecycle}
}

func TestConfigSagaTypes(t *testing.T) {
	other := func(name, start, topic string) SagaType {
		d := order.Definition()
		d.Name = name
		d.Workers = append(d.Workers, "extra")
		return SagaType{Definition: d, Start: start, Topic: topic}
	}
	kcfg := pkafka.Config{Brokers: []string{"127.0.0.1:9092"}}
	for _, tc := range []struct {
		name    string
		types   []SagaType
		problem string // "" when valid
	}{
		{"none", nil, "at least one saga type"},
		{"order", []SagaType{orderSaga(order.Options{})}, ""},
		{"two types", []SagaType{orderSaga(order.Options{}), other("second", events.TypeInventoryReserve, "second.started")}, ""},
		{"same start type", []SagaType{orderSaga(order.Options{}), other("second", events.TypeOrderPlaced, "second.started")}, "used by two saga types"},
		{"same definition", []SagaType{orderSaga(order.Options{}), other("order", events.TypeInventoryReserve, "second.started")}, "listed twice"},
		{"unknown start type", []SagaType{other("second", "nobody.knows.v1", "second.started")}, "not registered"},
		{"no topic", []SagaType{other("second", events.TypeInventoryReserve, "")}, "start topic is required"},
		{"no definition", []SagaType{{Start: events.TypeOrderPlaced, Topic: events.TopicOrdersPlaced}}, "a definition is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Config{Kafka: kcfg, Sagas: tc.types}.Validate()
			switch {
			case tc.problem == "" && err != nil:
				t.Errorf("Validate: %v, want nil", err)
			case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)):
				t.Errorf("Validate: %v, want %q", err, tc.problem)
			}
		})
	}

	// The inputs: every start topic once, the control topic, the replies of every worker.
	cfg := Config{Kafka: kcfg, Sagas: []SagaType{orderSaga(order.Options{}), other("second", events.TypeInventoryReserve, "second.started"),
		other("third", events.TypeInventoryRelease, "second.started")}}.withDefaults()
	topics := cfg.inputTopics()
	for _, want := range []string{events.TopicOrdersPlaced, "second.started", events.TopicOrdersControl, "inventory.replies", "extra.replies"} {
		if n := countOf(topics, want); n != 1 {
			t.Errorf("input topics %v hold %s %d times, want once", topics, want, n)
		}
	}
}

func countOf(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// TestConfigSnapshotInterval: 0 is the default, a negative interval or one past
// MaxSnapshotInterval (offsets would wait that long) is refused.
func TestConfigSnapshotInterval(t *testing.T) {
	base := Config{Kafka: pkafka.Config{Brokers: []string{"127.0.0.1:9092"}}, Sagas: []SagaType{orderSaga(order.Options{})}}
	if got := base.withDefaults().SnapshotInterval; got != DefaultSnapshotInterval {
		t.Errorf("default snapshot interval %s, want %s", got, DefaultSnapshotInterval)
	}
	for _, tc := range []struct {
		interval time.Duration
		ok       bool
	}{{0, true}, {time.Nanosecond, true}, {MaxSnapshotInterval, true}, {-time.Millisecond, false}, {MaxSnapshotInterval + 1, false}} {
		cfg := base
		cfg.SnapshotInterval = tc.interval
		err := cfg.Validate()
		if (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), "snapshot interval")) {
			t.Errorf("snapshot interval %s: Validate = %v, want ok=%v", tc.interval, err, tc.ok)
		}
	}
}
