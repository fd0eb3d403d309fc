package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/client"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/internal/sample"
)

// FinishedBetween returns the orders seen completed or cancelled on orders.events between
// from and to (wall clock, both included), the earliest first.
func (l *Load) FinishedBetween(from, to time.Time) []sample.Order {
	l.mu.Lock()
	defer l.mu.Unlock()
	type done struct {
		o  sample.Order
		at time.Time
	}
	var ds []done
	for id, at := range l.done {
		if !at.Before(from) && !at.After(to) {
			ds = append(ds, done{l.byID[id], at})
		}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].at.Before(ds[j].at) })
	out := make([]sample.Order, len(ds))
	for i, d := range ds {
		out[i] = d.o
	}
	return out
}

// Retired returns up to n of the orders seen finished between from and to whose saga
// state is tombstoned (their retention ended), the earliest first.
func (l *Load) Retired(ctx context.Context, from, to time.Time, n int) ([]sample.Order, error) {
	candidates := l.FinishedBetween(from, to)
	ids := make([]string, len(candidates))
	for i, o := range candidates {
		ids[i] = o.Placed.OrderID
	}
	tombstoned, err := Tombstoned(ctx, l.cfg, ids)
	if err != nil {
		return nil, err
	}
	var out []sample.Order
	for _, o := range candidates {
		if tombstoned[o.Placed.OrderID] && len(out) < n {
			out = append(out, o)
		}
	}
	return out, nil
}

// PlaceAgain writes the OrderPlaced of each order once more, as a client re-submitting an
// order would (a new event ID, the same order), retrying until the write succeeds or ctx
// ends. Each Duplicate carries the time and the end offsets of orders.events and
// podium.saga-state taken just before the write: the orders must leave no trace after them.
func (l *Load) PlaceAgain(ctx context.Context, orders []sample.Order) ([]Duplicate, error) {
	if len(orders) == 0 {
		return nil, nil
	}
	msgs := make([]kafkago.Message, len(orders))
	for i, o := range orders {
		m, err := client.OrderPlacedMessage(o.Placed)
		if err != nil {
			return nil, err
		}
		msgs[i] = m
	}
	ends, err := endOffsets(ctx, l.cfg, events.TopicOrdersEvents, events.TopicSagaState)
	if err != nil {
		return nil, err
	}
	at := time.Now()
	dups := make([]Duplicate, len(orders))
	for i, o := range orders {
		dups[i] = Duplicate{OrderID: o.Placed.OrderID, At: at, EventsEnd: ends[events.TopicOrdersEvents], StateEnd: ends[events.TopicSagaState]}
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := l.w.WriteMessages(wctx, msgs...)
		cancel()
		if err == nil {
			return dups, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		l.log.Warn().Err(err).Int("orders", len(orders)).Msg("placing orders again; retrying")
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// Tombstoned reads the partitions of podium.saga-state that home ids and returns the ids
// whose last record is a tombstone.
func Tombstoned(ctx context.Context, cfg pkafka.Config, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	counts, err := pkafka.PartitionCounts(ctx, cfg, []string{events.TopicSagaState})
	if err != nil {
		return nil, fmt.Errorf("reading partition counts: %w", err)
	}
	n := counts[events.TopicSagaState]
	byPartition := map[int]map[string]bool{}
	for _, id := range ids {
		p := pkafka.HomePartition([]byte(id), n)
		if byPartition[p] == nil {
			byPartition[p] = map[string]bool{}
		}
		byPartition[p][id] = true
	}
	for p, want := range byPartition {
		_, err := pkafka.ReadPartition(ctx, cfg, events.TopicSagaState, p, func(m kafkago.Message) error {
			if id := string(m.Key); want[id] {
				out[id] = m.Value == nil
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading %s[%d]: %w", events.TopicSagaState, p, err)
		}
	}
	for id, t := range out {
		if !t {
			delete(out, id)
		}
	}
	return out, nil
}

// endOffsets returns the end offset of every partition of each topic.
func endOffsets(ctx context.Context, cfg pkafka.Config, topics ...string) (map[string][]int64, error) {
	counts, err := pkafka.PartitionCounts(ctx, cfg, topics)
	if err != nil {
		return nil, fmt.Errorf("reading partition counts: %w", err)
	}
	cl := cfg.Client()
	defer closeIdle(cl)
	req := &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{}}
	out := map[string][]int64{}
	for _, t := range topics {
		out[t] = make([]int64, counts[t])
		for p := range counts[t] {
			req.Topics[t] = append(req.Topics[t], kafkago.LastOffsetOf(p))
		}
	}
	resp, err := cl.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("listing offsets: %w", err)
	}
	for t, ps := range resp.Topics {
		for _, po := range ps {
			if po.Error != nil {
				return nil, fmt.Errorf("listing offsets of %s[%d]: %w", t, po.Partition, po.Error)
			}
			out[t][po.Partition] = po.LastOffset
		}
	}
	return out, nil
}

// msgIgnoredFinished is the orchestrator's log message for a record of a finished order.
var msgIgnoredFinished = []byte(`"message":"ignoring record for a finished saga"`)

// DuplicateWatch counts, by order, the OrderPlaced records the orchestrators logged as
// ignored because the order had finished. Feed it their log lines: Line (Cluster.OnLine),
// or use it as a zerolog output (one event per Write). Safe for concurrent use.
type DuplicateWatch struct {
	mu     sync.Mutex
	counts map[string]int
}

// NewDuplicateWatch returns an empty watch.
func NewDuplicateWatch() *DuplicateWatch { return &DuplicateWatch{counts: map[string]int{}} }

// Line looks at one log line.
func (w *DuplicateWatch) Line(line []byte) {
	if !bytes.Contains(line, msgIgnoredFinished) {
		return
	}
	var l struct {
		OrderID string `json:"order_id"`
		Topic   string `json:"topic"`
	}
	if json.Unmarshal(line, &l) != nil || l.Topic != events.TopicOrdersPlaced {
		return
	}
	w.mu.Lock()
	w.counts[l.OrderID]++
	w.mu.Unlock()
}

// Write takes one log event per call, as zerolog writes them.
func (w *DuplicateWatch) Write(p []byte) (int, error) {
	w.Line(p)
	return len(p), nil
}

// Counts returns the counts so far.
func (w *DuplicateWatch) Counts() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]int, len(w.counts))
	for id, n := range w.counts {
		out[id] = n
	}
	return out
}

// Wait waits until every one of dups was logged as ignored.
func (w *DuplicateWatch) Wait(ctx context.Context, dups []Duplicate, timeout time.Duration) error {
	return poll(ctx, timeout, fmt.Sprintf("the orchestrators to ignore %d duplicate OrderPlaced", len(dups)), func() (bool, string) {
		counts := w.Counts()
		var missing []string
		for _, d := range dups {
			if counts[d.OrderID] == 0 {
				missing = append(missing, d.OrderID)
			}
		}
		return len(missing) == 0, fmt.Sprintf("%d not ignored yet, e.g. %s", len(missing), strings.Join(missing[:min(len(missing), 5)], ", "))
	})
}
