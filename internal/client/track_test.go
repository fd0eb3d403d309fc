package client

import (
	"context"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	pclient "github.com/podiumhq/podium/client"
	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/internal/sample"
)

// TestLifecycle checks that both kinds of lifecycle event read as one status change, and
// that the other events on orders.events do not.
func TestLifecycle(t *testing.T) {
	event := func(typ, subject string, data any) events.Envelope {
		t.Helper()
		env, err := events.NewEvent(typ, subject, data)
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	tests := []struct {
		name   string
		env    events.Envelope
		want   events.SagaLifecycle
		wantOK bool
	}{
		{"order", event(events.TypeOrderCancelled, "ord-1", events.OrderLifecycle{OrderID: "ord-1", Status: "cancelled", Reason: "out_of_stock", Step: "reserve-inventory"}),
			events.SagaLifecycle{SagaID: "ord-1", Definition: "order", Status: "cancelled", Reason: "out_of_stock", Step: "reserve-inventory"}, true},
		{"return", event(events.TypeSagaLifecycle, "ret-1", events.SagaLifecycle{SagaID: "ret-1", Definition: "returns", Status: "refunded", Event: "completed"}),
			events.SagaLifecycle{SagaID: "ret-1", Definition: "returns", Status: "refunded", Event: "completed"}, true},
		{"timeline", event(events.TypeSagaTimeline, "ret-1", events.SagaTimeline{SagaID: "ret-1", Status: "running"}), events.SagaLifecycle{}, false},
		{"control outcome", event(events.TypeSagaControlRejected, "ret-1", events.ControlOutcome{SagaID: "ret-1", Action: "retry"}), events.SagaLifecycle{}, false},
		{"bad data", events.Envelope{Type: events.TypeSagaLifecycle, Data: []byte(`[]`)}, events.SagaLifecycle{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Lifecycle(tt.env)
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("got %+v, %v; want %+v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestTrackSeesLifecycleEventsWrittenAfterItReturns: Track returns with its follower
// reading from the end of orders.events; an order placed through it becomes terminal when
// its lifecycle event is written, and records written before Track are not seen.
func TestTrackSeesLifecycleEventsWrittenAfterItReturns(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, events.TopicOrdersEvents, events.TopicOrdersPlaced))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	defer c.Close()
	cfg := pkafka.Config{Brokers: c.ListenAddrs(), ClientID: "track-test"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := pkafka.NewProducer(cfg)
	defer w.Close()
	lifecycle := func(id, typ, status string) kafkago.Message {
		t.Helper()
		env, err := events.NewEvent(typ, id, events.OrderLifecycle{OrderID: id, Status: status})
		if err != nil {
			t.Fatal(err)
		}
		m, err := pclient.Message(events.TopicOrdersEvents, env)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	gen := sample.NewGenerator("track", 1)
	early, late := gen.Make(sample.Happy), gen.Make(sample.Happy)
	// Before Track: its end offsets are past this one.
	if err := w.WriteMessages(ctx, lifecycle(early.Placed.OrderID, events.TypeOrderCompleted, "completed")); err != nil {
		t.Fatalf("writing: %v", err)
	}

	tr, err := Track(ctx, cfg)
	if err != nil {
		t.Fatalf("Track: %v", err)
	}
	defer tr.Close()
	if err := tr.Place(ctx, w, []sample.Order{early, late}, nil); err != nil {
		t.Fatalf("Place: %v", err)
	}
	if err := w.WriteMessages(ctx, lifecycle(late.Placed.OrderID, events.TypeOrderCompleted, "completed")); err != nil {
		t.Fatalf("writing: %v", err)
	}
	for tr.Tracker.Pending() > 1 {
		select {
		case <-ctx.Done():
			t.Fatalf("the lifecycle event written after Track was not seen: %d pending", tr.Tracker.Pending())
		case <-time.After(5 * time.Millisecond):
		}
	}
	s := tr.Tracker.Summary()
	if len(s.Pending) != 1 || s.Pending[0] != early.Placed.OrderID {
		t.Errorf("pending %v, want only %s (its event was written before Track)", s.Pending, early.Placed.OrderID)
	}
}

// TestTrackFailsWithoutTheTopic: Track without orders.events fails at once, rather than
// returning a follower that fails later.
func TestTrackFailsWithoutTheTopic(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if tr, err := Track(ctx, pkafka.Config{Brokers: c.ListenAddrs(), ClientID: "track-test"}); err == nil {
		tr.Close()
		t.Fatal("Track without orders.events: no error")
	}
}
