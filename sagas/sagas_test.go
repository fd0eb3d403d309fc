package sagas_test

import (
	"testing"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/returns"
	"github.com/podiumhq/podium/sagas"
)

func TestBuiltin(t *testing.T) {
	types := sagas.Builtin()
	if len(types) != 2 {
		t.Fatalf("got %d built-in saga types, want 2", len(types))
	}
	for i, want := range []struct{ name, start, topic string }{
		{order.DefinitionName, events.TypeOrderPlaced, events.TopicOrdersPlaced},
		{returns.DefinitionName, events.TypeReturnRequested, events.TopicReturnsRequested},
	} {
		st := types[i]
		if st.Definition.Name != want.name || st.Start != want.start || st.Topic != want.topic {
			t.Errorf("type %d: %s started by %s on %s, want %s by %s on %s", i, st.Definition.Name, st.Start, st.Topic, want.name, want.start, want.topic)
		}
		if err := st.Definition.Validate(); err != nil {
			t.Errorf("%s: %v", st.Definition.Name, err)
		}
		if !events.KnownType(st.Start) {
			t.Errorf("%s: start type %s is not known to the codec", st.Definition.Name, st.Start)
		}
		if got := sagas.Definition(want.name); got == nil || got.Name != want.name {
			t.Errorf("Definition(%q) = %v", want.name, got)
		}
	}
	if sagas.Definition("nope") != nil {
		t.Error(`Definition("nope") is not nil`)
	}
	// BuiltinWith applies one set of options to both sagas.
	opts := order.Options{HistoryLimit: 7}
	for _, st := range sagas.BuiltinWith(opts) {
		if st.Definition.HistoryLimit != 7 {
			t.Errorf("%s: history limit %d, want 7", st.Definition.Name, st.Definition.HistoryLimit)
		}
	}
	if types[0].Lifecycle == nil || types[1].Lifecycle != nil {
		t.Error("the order saga keeps its podium.order.* lifecycle events; returns uses the generic ones")
	}
}
