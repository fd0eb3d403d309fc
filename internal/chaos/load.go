package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/client"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/internal/sample"
)

// Load places sample orders (every outcome, in the sample mix) and follows orders.events to
// see what becomes of them. Safe for concurrent use.
type Load struct {
	cfg     pkafka.Config
	w       *pkafka.Producer
	log     zerolog.Logger
	Tracker *sample.Tracker

	mu      sync.Mutex
	gen     *sample.Generator
	orders  []sample.Order
	byID    map[string]sample.Order
	done    map[string]time.Time // orders seen completed or cancelled, when
	retries int

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// NewLoad starts following orders.events (from its first record) and returns a load whose
// order IDs start with prefix.
func NewLoad(ctx context.Context, cfg pkafka.Config, prefix string, seed uint64, log zerolog.Logger) *Load {
	ctx, cancel := context.WithCancel(ctx)
	l := &Load{
		cfg:     cfg,
		w:       pkafka.NewProducer(cfg),
		log:     log,
		Tracker: sample.NewTracker(),
		gen:     sample.NewGenerator(prefix, seed),
		byID:    map[string]sample.Order{},
		done:    map[string]time.Time{},
		stop:    cancel,
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.follow(ctx)
	}()
	return l
}

// follow feeds the tracker until ctx ends, starting over (from where it was) after errors:
// the broker may restart under it.
func (l *Load) follow(ctx context.Context) {
	var from []int64
	for ctx.Err() == nil {
		var mu sync.Mutex
		next := map[int]int64{}
		err := client.Follow(ctx, l.cfg, events.TopicOrdersEvents, from, func(m kafkago.Message, env events.Envelope, err error) {
			mu.Lock()
			next[m.Partition] = m.Offset + 1
			mu.Unlock()
			if err != nil || !events.IsLifecycleType(env.Type) {
				return
			}
			var lc events.OrderLifecycle
			if env.DecodeData(&lc) == nil {
				now := time.Now()
				if l.Tracker.Observe(lc.OrderID, lc.Status, lc.Reason, now) && (lc.Status == "completed" || lc.Status == "cancelled") {
					l.mu.Lock()
					l.done[lc.OrderID] = now
					l.mu.Unlock()
				}
			}
		})
		if ctx.Err() != nil {
			return
		}
		l.log.Warn().Err(err).Msg("following orders.events; starting over")
		if from != nil || len(next) > 0 {
			if from == nil {
				n, perr := pkafka.PartitionCounts(ctx, l.cfg, []string{events.TopicOrdersEvents})
				if perr != nil {
					_ = sleep(ctx, time.Second)
					continue
				}
				from = make([]int64, n[events.TopicOrdersEvents])
				for p := range from {
					from[p] = kafkago.FirstOffset
				}
			}
			mu.Lock()
			for p, o := range next {
				from[p] = o
			}
			mu.Unlock()
		}
		_ = sleep(ctx, time.Second)
	}
}

// Place places n orders of the mix, retrying a failed write until it succeeds or ctx ends.
// A retried batch may be written twice: a second OrderPlaced is a duplicate the saga
// records and ignores. The orders count as placed before they are written: when ctx ends
// first they may never reach the broker, so stop a load through Run's more, not its ctx.
func (l *Load) Place(ctx context.Context, n int) error {
	if n <= 0 {
		return nil
	}
	l.mu.Lock()
	batch := make([]sample.Order, n)
	for i := range batch {
		batch[i] = l.gen.Next()
	}
	l.mu.Unlock()
	msgs := make([]kafkago.Message, n)
	now := time.Now()
	for i, o := range batch {
		m, err := client.OrderPlacedMessage(o.Placed)
		if err != nil {
			return err
		}
		msgs[i] = m
		l.Tracker.Placed(o, now)
	}
	l.mu.Lock()
	l.orders = append(l.orders, batch...)
	for _, o := range batch {
		l.byID[o.Placed.OrderID] = o
	}
	l.mu.Unlock()
	for {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := l.w.WriteMessages(wctx, msgs...)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		l.mu.Lock()
		l.retries++
		l.mu.Unlock()
		l.log.Warn().Err(err).Int("orders", n).Msg("placing orders; retrying")
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// Run places orders at rate per second, in batches every 100ms, until more returns false
// or ctx ends.
func (l *Load) Run(ctx context.Context, rate float64, more func(placed int) bool) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for more(l.Placed()) {
		due := int(rate*time.Since(start).Seconds()) - l.Placed()
		if due > 0 {
			if err := l.Place(ctx, min(due, 2000)); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// Placed is the number of orders placed so far.
func (l *Load) Placed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.orders)
}

// Orders returns the orders placed so far.
func (l *Load) Orders() []sample.Order {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]sample.Order(nil), l.orders...)
}

// Retries is how many order writes failed and were retried.
func (l *Load) Retries() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.retries
}

// WaitTerminal waits until every placed order has a terminal lifecycle event.
func (l *Load) WaitTerminal(ctx context.Context, timeout time.Duration) error {
	return poll(ctx, timeout, "every placed order to be terminal", func() (bool, string) {
		if n := l.Tracker.Pending(); n > 0 {
			s := l.Tracker.Summary()
			return false, fmt.Sprintf("%d pending, e.g. %v", n, s.Pending[:min(len(s.Pending), 5)])
		}
		return true, ""
	})
}

// Close stops following and closes the writer.
func (l *Load) Close() {
	l.stop()
	l.wg.Wait()
	_ = l.w.Close()
}

// WaitConsumed waits until every group committed every record of its topics: the run is
// quiet and its traces can be collected.
func WaitConsumed(ctx context.Context, cfg pkafka.Config, timeout time.Duration) error {
	groups := GroupTopics(DefaultOrchestratorGroup, events.Workers)
	return poll(ctx, timeout, "every record to be consumed", func() (bool, string) {
		lags, err := Lags(ctx, cfg, groups)
		if err != nil {
			return false, err.Error()
		}
		records, parts := Unconsumed(lags)
		return parts == 0, fmt.Sprintf("%d records on %d partitions not committed", records, parts)
	})
}

// InjectMalformed writes deliberately bad records that must become dead letters: on
// orders.placed a truncated document, an order whose total is wrong and an event of an
// unknown type; a malformed operator request on orders.control; a malformed reply on one
// worker's replies topic (the orchestrator dead-letters all of these on orders.dlq); and
// a malformed command on every worker's commands topic (the worker dead-letters it on its
// own DLQ). Each value carries a unique marker built from tag.
func InjectMalformed(ctx context.Context, w client.Writer, tag string, workerNames []string) ([]Injected, error) {
	mark := func(i int) string { return fmt.Sprintf("chaos-bad-%s-%d", tag, i) }
	var out []Injected
	add := func(topic, dlq, key string, value []byte, headers ...kafkago.Header) kafkago.Message {
		out = append(out, Injected{Topic: topic, DLQ: dlq, Value: value})
		return kafkago.Message{Topic: topic, Key: []byte(key), Value: value, Headers: headers}
	}
	var msgs []kafkago.Message

	msgs = append(msgs, add(events.TopicOrdersPlaced, events.TopicOrdersDLQ, mark(1),
		[]byte(`{"order_id":"`+mark(1)+`","customer":{"id":"c","email":"a@example.com"},"total":`)))

	wrong := events.OrderPlaced{
		OrderID: mark(2), Customer: events.Customer{ID: "cus-1", Email: "ada@example.com"}, SellerID: "sel-1", Currency: "EUR",
		Items: []events.Item{{SKU: "SKU-1", Quantity: 2, UnitPrice: 100}}, Total: 999, Payment: events.Payment{Token: "tok_visa"},
		ShippingAddress: events.Address{Name: "Ada", Line1: "1 Main St", City: "Berlin", PostalCode: "10115", Country: "DE"},
	}
	doc, err := json.Marshal(wrong)
	if err != nil {
		return nil, err
	}
	msgs = append(msgs, add(events.TopicOrdersPlaced, events.TopicOrdersDLQ, mark(2), doc))

	unknown, err := events.NewEvent("podium.order.teleported.v1", mark(3), map[string]string{"order_id": mark(3)})
	if err != nil {
		return nil, err
	}
	value, headers, err := events.Encode(unknown)
	if err != nil {
		return nil, fmt.Errorf("encoding the unknown event: %w", err)
	}
	hs := make([]kafkago.Header, len(headers))
	for i, h := range headers {
		hs[i] = kafkago.Header{Key: h.Key, Value: h.Value}
	}
	msgs = append(msgs, add(events.TopicOrdersPlaced, events.TopicOrdersDLQ, mark(3), value, hs...))

	msgs = append(msgs, add(events.TopicOrdersControl, events.TopicOrdersDLQ, mark(4), []byte(`{"specversion":"1.0","id":"`+mark(4)+`"`)))
	if len(workerNames) > 0 {
		msgs = append(msgs, add(events.RepliesTopic(workerNames[0]), events.TopicOrdersDLQ, mark(5), []byte("\x00\x01 not a reply "+mark(5))))
	}
	for i, wn := range workerNames {
		msgs = append(msgs, add(events.CommandsTopic(wn), events.DLQTopic(wn), mark(10+i), []byte("not a command "+mark(10+i))))
	}
	for {
		err := w.WriteMessages(ctx, msgs...)
		if err == nil {
			return out, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("injecting malformed records: %w", err)
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return nil, err
		}
	}
}
