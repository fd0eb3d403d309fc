package client

import (
	"context"
	"fmt"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	pclient "github.com/podiumhq/podium/client"
	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/internal/sample"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/schemas"
)

// Tracking follows orders.events from the moment it starts and feeds every lifecycle event
// into its sample.Trackers, so a caller can place orders and request returns and wait for
// what becomes of them. Orders and returns are tracked apart, so that each kind has a
// summary of its own; both trackers see every lifecycle event (a tracker ignores the sagas
// it did not place).
type Tracking struct {
	// Tracker tracks the orders placed with Place.
	Tracker *sample.Tracker
	// Returns tracks the returns requested with RequestReturns. Nil: RequestReturns creates
	// it (a Tracking made by Track has it from the start).
	Returns *sample.Tracker
	stop    context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	err     error
}

// Track starts following orders.events from its current end, and returns once it reads
// (connected, fetching): the follower's start-up does not run while the caller's first
// orders are being timed. Close stops it.
func Track(ctx context.Context, cfg pkafka.Config) (*Tracking, error) {
	// Lifecycle and timeline events are checked against their schemas, which compile on
	// first use: done now, the first event's decoding does not add ~5 ms to what is timed.
	if err := schemas.Compile(); err != nil {
		return nil, err
	}
	starts, err := EndOffsets(ctx, cfg, events.TopicOrdersEvents)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	t := &Tracking{Tracker: sample.NewTracker(), Returns: sample.NewTracker(), stop: cancel}
	subscribed, ended := make(chan struct{}), make(chan struct{})
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		defer close(ended)
		err := follow(ctx, cfg, events.TopicOrdersEvents, starts, func() { close(subscribed) }, func(_ kafkago.Message, env events.Envelope, err error) {
			if err != nil {
				return
			}
			if l, ok := Lifecycle(env); ok {
				now := time.Now()
				t.Tracker.Observe(l.SagaID, l.Status, l.Reason, now)
				t.Returns.Observe(l.SagaID, l.Status, l.Reason, now)
			}
		})
		t.mu.Lock()
		t.err = err
		t.mu.Unlock()
	}()
	select {
	case <-subscribed:
		return t, nil
	case <-ended: // before it could read: ctx ended, or the topic could not be read
		t.Close()
		if t.err == nil {
			return nil, fmt.Errorf("following %s: %w", events.TopicOrdersEvents, ctx.Err())
		}
		return nil, t.err
	}
}

// Lifecycle returns the status change env announces as an events.SagaLifecycle, whichever
// of the lifecycle types it is: a podium.saga.lifecycle.v1 event as it is, an order's
// podium.order.*.v1 event (events.OrderLifecycle) with its order ID as SagaID and
// order.DefinitionName as Definition. ok is false for every other event (timelines, control outcomes) and for
// data that does not decode.
func Lifecycle(env events.Envelope) (l events.SagaLifecycle, ok bool) {
	switch {
	case env.Type == events.TypeSagaLifecycle:
		if env.DecodeData(&l) != nil {
			return events.SagaLifecycle{}, false
		}
		return l, true
	case events.IsLifecycleType(env.Type):
		var o events.OrderLifecycle
		if env.DecodeData(&o) != nil {
			return events.SagaLifecycle{}, false
		}
		return events.SagaLifecycle{SagaID: o.OrderID, Definition: order.DefinitionName, Status: o.Status, Reason: o.Reason, Step: o.Step}, true
	}
	return events.SagaLifecycle{}, false
}

// Place records the orders in the tracker and writes them.
func (t *Tracking) Place(ctx context.Context, w Writer, orders []sample.Order, placed func(n int)) error {
	ps := make([]events.OrderPlaced, len(orders))
	now := time.Now()
	for i, o := range orders {
		t.Tracker.Placed(o, now)
		ps[i] = o.Placed
	}
	return PlaceOrders(ctx, w, ps, 500, placed)
}

// RequestReturns records the returns in the return tracker and writes them to
// returns.requested in batches of up to 500, synchronously, calling requested after each
// batch with the number written so far. Not safe for concurrent use with itself.
func (t *Tracking) RequestReturns(ctx context.Context, w Writer, returns []sample.Return, requested func(n int)) error {
	if t.Returns == nil {
		t.Returns = sample.NewTracker()
	}
	now := time.Now()
	rs := make([]events.ReturnRequested, len(returns))
	for i, r := range returns {
		t.Returns.PlacedReturn(r, now)
		rs[i] = r.Requested
	}
	return WriteReturns(ctx, w, rs, 500, requested)
}

// ReturnRequestedMessage encodes r as a structured CloudEvent for returns.requested, keyed
// by its return ID.
func ReturnRequestedMessage(r events.ReturnRequested) (kafkago.Message, error) {
	env, err := events.NewEvent(events.TypeReturnRequested, r.ReturnID, r)
	if err != nil {
		return kafkago.Message{}, fmt.Errorf("encoding return %s: %w", r.ReturnID, err)
	}
	return pclient.Message(events.TopicReturnsRequested, env)
}

// WriteReturns writes the returns to returns.requested in batches of up to batch records
// (default 500), synchronously, calling requested after each batch with the number written
// so far.
func WriteReturns(ctx context.Context, w Writer, returns []events.ReturnRequested, batch int, requested func(n int)) error {
	if batch <= 0 {
		batch = 500
	}
	msgs := make([]kafkago.Message, 0, min(batch, len(returns)))
	for i, r := range returns {
		m, err := ReturnRequestedMessage(r)
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
		if len(msgs) == batch || i == len(returns)-1 {
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				return fmt.Errorf("writing returns: %w", err)
			}
			msgs = msgs[:0]
			if requested != nil {
				requested(i + 1)
			}
		}
	}
	return nil
}

// Err is the error that stopped following, if any.
func (t *Tracking) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Close stops following and waits for the follower to return.
func (t *Tracking) Close() {
	if t.stop == nil { // not made by Track: nothing follows
		return
	}
	t.stop()
	t.wg.Wait()
}
