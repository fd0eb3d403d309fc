package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/client"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/internal/sample"
)

// placedOrder is an order the load generator wrote and has not seen end yet.
type placedOrder struct {
	at   time.Time // when it was handed to the writer (open loop: when it was due)
	want sample.Outcome
}

// recorder matches terminal lifecycle events to placed orders. Safe for concurrent use.
//
// In soak mode it holds only the orders in flight and the latencies of the current soak
// window (taken with takeWindow), never a record of every order: its memory does not grow
// with the length of the run.
type recorder struct {
	from, to time.Time // the measured window
	soak     bool

	mu            sync.Mutex
	pending       map[string]placedOrder
	samples       []time.Duration // placed→terminal of the orders placed in the window (not in soak mode)
	window        []time.Duration // soak mode: placed→terminal of the orders ended since the last takeWindow
	lastP50       time.Duration   // soak mode: p50 of the last window taken
	inWindow      int64           // orders that became terminal in the window
	terminal      int64
	placed        int64
	mismatches    []string // the first 20
	mismatchCount int64
	slots         chan struct{} // closed loop: one token per order that may be placed
}

func newRecorder(from, to time.Time, inFlight int, soak bool) *recorder {
	r := &recorder{from: from, to: to, soak: soak, pending: make(map[string]placedOrder)}
	if inFlight > 0 {
		r.slots = make(chan struct{}, inFlight)
		for range inFlight {
			r.slots <- struct{}{}
		}
	}
	return r
}

func (r *recorder) place(id string, at time.Time, want sample.Outcome) {
	r.mu.Lock()
	r.pending[id] = placedOrder{at: at, want: want}
	r.placed++
	r.mu.Unlock()
}

// observe records a terminal status of an order seen at time at.
func (r *recorder) observe(id, status, reason string, at time.Time) {
	r.mu.Lock()
	o, ok := r.pending[id]
	if !ok {
		r.mu.Unlock()
		return // not ours, or a repeated event
	}
	delete(r.pending, id)
	r.terminal++
	switch {
	case r.soak:
		r.window = append(r.window, at.Sub(o.at))
	case !o.at.Before(r.from) && o.at.Before(r.to):
		r.samples = append(r.samples, at.Sub(o.at))
	}
	if !at.Before(r.from) && at.Before(r.to) {
		r.inWindow++
	}
	if status != o.want.Status || (o.want.Reason != "" && reason != o.want.Reason) {
		r.mismatchCount++
		if len(r.mismatches) < 20 {
			r.mismatches = append(r.mismatches, fmt.Sprintf("%s: want %s %s, got %s %s", id, o.want.Status, o.want.Reason, status, reason))
		}
	}
	r.mu.Unlock()
	if r.slots != nil {
		select {
		case r.slots <- struct{}{}:
		default:
		}
	}
}

type progress struct {
	placed, terminal, pending int64
	p50                       time.Duration
}

func (r *recorder) progress() progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := progress{placed: r.placed, terminal: r.terminal, pending: int64(len(r.pending)), p50: r.lastP50}
	if n := len(r.samples); n > 0 {
		tail := append([]time.Duration(nil), r.samples[max(0, n-2000):]...)
		p.p50 = Summarize(tail).P50
	}
	return p
}

// takeWindow returns the latencies of the orders that ended since the previous call (soak
// mode), and the number of orders in flight; the next window starts empty.
func (r *recorder) takeWindow() (latencies []time.Duration, inFlight int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	latencies = r.window
	r.window = make([]time.Duration, 0, cap(latencies))
	return latencies, len(r.pending)
}

// setLastP50 records the p50 of the last soak window for the progress line.
func (r *recorder) setLastP50(d time.Duration) {
	r.mu.Lock()
	r.lastP50 = d
	r.mu.Unlock()
}

// lifecycleDoc is the part of a lifecycle event the load generator reads. It decodes the
// structured CloudEvent without validation: the benchmark must cost the machine little.
type lifecycleDoc struct {
	Type string `json:"type"`
	Data struct {
		OrderID string `json:"order_id"`
		Status  string `json:"status"`
		Reason  string `json:"reason"`
	} `json:"data"`
}

// follow reads orders.events from starts and feeds every terminal event to r until ctx
// ends. One long-poll Fetch request covers every partition (pkafka.Feed), so following
// costs the broker as few requests as it can.
func follow(ctx context.Context, cfg pkafka.Config, starts []int64, r *recorder, ready func()) error {
	f := pkafka.NewFeed(cfg, pkafka.FeedConfig{MaxWait: fetchMaxWait, MaxBytes: 8 << 20, Buffered: 100_000})
	defer f.Close()
	offsets := make(map[pkafka.TopicPartition]int64, len(starts))
	for p, o := range starts {
		offsets[pkafka.TopicPartition{Topic: events.TopicOrdersEvents, Partition: p}] = o
	}
	sub, err := f.Subscribe(ctx, offsets)
	if err != nil {
		return fmt.Errorf("following %s: %w", events.TopicOrdersEvents, err)
	}
	defer sub.Close()
	ready()
	for {
		recs, err := sub.Next(ctx, 0)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("following %s: %w", events.TopicOrdersEvents, err)
		}
		now := time.Now()
		for _, m := range recs {
			if !mayBeTerminal(m.Value) {
				continue // most records are timelines: not parsed at all
			}
			var d lifecycleDoc
			if json.Unmarshal(m.Value, &d) != nil {
				continue
			}
			switch d.Type {
			case events.TypeOrderCompleted, events.TypeOrderCancelled, events.TypeOrderFailed:
				r.observe(d.Data.OrderID, d.Data.Status, d.Data.Reason, now)
			}
		}
	}
}

// terminalTypes are the lifecycle types that end an order, as they appear in a record.
var terminalTypes = [][]byte{[]byte(events.TypeOrderCompleted), []byte(events.TypeOrderCancelled), []byte(events.TypeOrderFailed)}

// mayBeTerminal reports whether value mentions a terminal order lifecycle type: a byte search
// costs far less than parsing the timeline records that make up most of orders.events.
func mayBeTerminal(value []byte) bool {
	for _, t := range terminalTypes {
		if bytes.Contains(value, t) {
			return true
		}
	}
	return false
}

// messageWriter is what the load generator needs of a writer.
type messageWriter interface {
	WriteMessages(ctx context.Context, msgs ...kafkago.Message) error
}

// loadConfig is what the load generator needs to know.
type loadConfig struct {
	kafka    pkafka.Config
	rate     float64 // open loop: orders/s
	inFlight int     // closed loop: orders outstanding
	mix      string  // "happy" or "mix"
	prefix   string
	seed     uint64
	end      time.Time
}

// orderSource makes the orders of a run. Used by one goroutine.
type orderSource struct {
	g   *sample.Generator
	mix bool
}

func (s *orderSource) next() (sample.Order, kafkago.Message, error) {
	var o sample.Order
	if s.mix {
		o = s.g.Next()
	} else {
		o = s.g.Make(sample.Happy)
	}
	m, err := client.OrderPlacedMessage(o.Placed)
	return o, m, err
}

// maxPlaceBatch caps one WriteMessages of orders.
const maxPlaceBatch = 500

// placeClosed keeps lc.inFlight orders outstanding until lc.end: whenever orders end, as
// many new ones are written, together, in one synchronous WriteMessages.
func placeClosed(ctx context.Context, lc loadConfig, w messageWriter, r *recorder) error {
	src := &orderSource{g: sample.NewGenerator(lc.prefix, lc.seed), mix: lc.mix == "mix"}
	stop := time.NewTimer(time.Until(lc.end))
	defer stop.Stop()
	msgs := make([]kafkago.Message, 0, maxPlaceBatch)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-stop.C:
			return nil
		case <-r.slots:
		}
		n := 1
	drain:
		for n < maxPlaceBatch {
			select {
			case <-r.slots:
				n++
			default:
				break drain
			}
		}
		msgs = msgs[:0]
		now := time.Now()
		for range n {
			o, m, err := src.next()
			if err != nil {
				return err
			}
			r.place(o.Placed.OrderID, now, o.Want)
			msgs = append(msgs, m)
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("writing orders: %w", err)
		}
	}
}

// maxConcurrentWrites bounds the writes of the open-loop generator in flight at once.
const maxConcurrentWrites = 64

// dueOrders is how many orders an open loop at rate per second owes elapsed after its start,
// having sent sent: order k is due at k/rate, so orders 0 … ⌊rate·elapsed⌋ are due. (Counting
// ⌊rate·elapsed⌋ orders instead would place order k a whole interval after its due time, and
// add 1/rate to every latency: 100 ms at 10 orders/s.)
func dueOrders(rate float64, elapsed time.Duration, sent int64) int64 {
	return int64(rate*elapsed.Seconds()) + 1 - sent
}

// placeOpen writes orders at lc.rate per second until lc.end. Every order's latency counts
// from when it was due, not from when it was written, so a backlog of the generator or of
// the writer shows in the latencies (no coordinated omission).
func placeOpen(ctx context.Context, lc loadConfig, w messageWriter, r *recorder) error {
	src := &orderSource{g: sample.NewGenerator(lc.prefix, lc.seed), mix: lc.mix == "mix"}
	sem := make(chan struct{}, maxConcurrentWrites)
	var (
		wg       sync.WaitGroup
		failed   atomic.Pointer[error]
		interval = time.Millisecond
	)
	defer wg.Wait()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	start := time.Now()
	var sent int64
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			if errp := failed.Load(); errp != nil {
				return *errp
			}
			if !now.Before(lc.end) {
				return nil
			}
			due := dueOrders(lc.rate, now.Sub(start), sent)
			for due > 0 {
				n := min(due, maxPlaceBatch)
				msgs := make([]kafkago.Message, n)
				for i := range msgs {
					o, m, err := src.next()
					if err != nil {
						return err
					}
					at := start.Add(time.Duration(float64(sent+int64(i)) / lc.rate * float64(time.Second)))
					r.place(o.Placed.OrderID, at, o.Want)
					msgs[i] = m
				}
				sent += n
				due -= n
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return nil
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					if err := w.WriteMessages(ctx, msgs...); err != nil && ctx.Err() == nil {
						err = fmt.Errorf("writing orders: %w", err)
						failed.CompareAndSwap(nil, &err)
					}
				}()
			}
		}
	}
}
