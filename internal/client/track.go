package client

import (
	"context"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/internal/sample"
)

// Tracking follows orders.events from the moment it starts and feeds every lifecycle event
// into a sample.Tracker, so a caller can place orders and wait for what becomes of them.
type Tracking struct {
	Tracker *sample.Tracker
	stop    context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	err     error
}

// Track starts following orders.events from its current end. Close stops it.
func Track(ctx context.Context, cfg pkafka.Config) (*Tracking, error) {
	starts, err := EndOffsets(ctx, cfg, events.TopicOrdersEvents)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	t := &Tracking{Tracker: sample.NewTracker(), stop: cancel}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		err := Follow(ctx, cfg, events.TopicOrdersEvents, starts, func(_ kafkago.Message, env events.Envelope, err error) {
			if err != nil || !events.IsLifecycleType(env.Type) {
				return
			}
			var l events.OrderLifecycle
			if env.DecodeData(&l) == nil {
				t.Tracker.Observe(l.OrderID, l.Status, l.Reason, time.Now())
			}
		})
		t.mu.Lock()
		t.err = err
		t.mu.Unlock()
	}()
	return t, nil
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

// Err is the error that stopped following, if any.
func (t *Tracking) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Close stops following and waits for the follower to return.
func (t *Tracking) Close() {
	t.stop()
	t.wg.Wait()
}
