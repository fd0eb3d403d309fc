package orchestrator

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
)

// earlyKeyPrefix starts the key of every held early cancel in podium.saga-state:
// "~early.<n>/<order ID>/<request ID>", where "~early.<n>" (the part before the first '/',
// which homes every podium key) is the smallest n that homes it on the processor's
// partition. Order IDs never contain '/'.
const earlyKeyPrefix = IndexKeyPrefix + "early."

// earlyFormat is the "v" of an early cancel record's JSON value.
const earlyFormat = 1

// earlyCancel is one cancel request held for an order that had not arrived.
type earlyCancel struct {
	V           int       `json:"v"`
	OrderID     string    `json:"order_id"`
	RequestID   string    `json:"request_id"`
	Reason      string    `json:"reason,omitempty"`
	RequestedBy string    `json:"requested_by,omitempty"`
	TraceParent string    `json:"traceparent,omitempty"`
	Until       time.Time `json:"until"`
	// Generic: a podium.saga.cancel.v1 request (answered with podium.saga.* outcomes).
	Generic bool `json:"generic,omitempty"`

	key  string
	done bool // applied or expired: skipped by the expiry queue
}

// earlyCancels holds the cancel requests of one partition that arrived before their
// order's OrderPlaced (Kafka orders records per topic only, so a cancel written right after
// an order can be read first). A held cancel is applied when the order arrives — its saga
// starts cancelled, without a command — or, when Config.EarlyCancelWindow passes first,
// rejected. Each held cancel is a record of podium.saga-state (written with the batch's
// snapshots, before the request's offset is committed; tombstoned once applied or
// expired), so it survives restarts and failovers: restore reads the records back.
//
// It is bounded: at most Config.EarlyCancelMax cancels per partition; beyond that a cancel
// for an unknown order is rejected at once. Not safe for concurrent use: one processor
// owns it.
type earlyCancels struct {
	partition, partitions int
	window                time.Duration // <= 0: nothing is held
	max                   int
	home                  string

	byOrder map[string][]*earlyCancel
	queue   []*earlyCancel // by Until (arrival order; sorted after a restore)
	n       int            // held, not done
	// pending are tombstones to write with the next batch (cancels found applied or
	// expired during restore).
	pending []kafkago.Message
}

func newEarlyCancels(partition, partitions int, window time.Duration, max int) *earlyCancels {
	return &earlyCancels{partition: partition, partitions: partitions, window: window, max: max,
		byOrder: make(map[string][]*earlyCancel)}
}

// Len is the number of cancels held.
func (x *earlyCancels) Len() int { return x.n }

// errEarlyFull and errEarlyDisabled say why hold refused a cancel.
var (
	errEarlyDisabled = errors.New("early cancels are not held (--early-cancel-window 0)")
	errEarlyFull     = errors.New("too many cancels for unknown orders are held on this partition")
)

// hold keeps a cancel for an order that is not known yet, and returns the record that
// persists it. A repeated request (same order and request ID: a redelivery) is held once.
func (x *earlyCancels) hold(c earlyCancel, now time.Time) (kafkago.Message, time.Time, error) {
	if x.window <= 0 {
		return kafkago.Message{}, time.Time{}, errEarlyDisabled
	}
	for _, h := range x.byOrder[c.OrderID] {
		if h.RequestID == c.RequestID {
			return x.record(h), h.Until, nil
		}
	}
	if x.n >= x.max {
		return kafkago.Message{}, time.Time{}, errEarlyFull
	}
	c.V = earlyFormat
	c.Until = now.Add(x.window).UTC()
	c.key = x.key(c.OrderID, c.RequestID)
	h := &c
	x.add(h)
	return x.record(h), h.Until, nil
}

func (x *earlyCancels) add(h *earlyCancel) {
	x.byOrder[h.OrderID] = append(x.byOrder[h.OrderID], h)
	x.queue = append(x.queue, h)
	x.n++
}

// take removes and returns the cancels held for an order that arrived, with the
// tombstones of their records.
func (x *earlyCancels) take(orderID string) ([]*earlyCancel, []kafkago.Message) {
	held := x.byOrder[orderID]
	if len(held) == 0 {
		return nil, nil
	}
	delete(x.byOrder, orderID)
	tombs := make([]kafkago.Message, len(held))
	for i, h := range held {
		h.done = true
		x.n--
		tombs[i] = tombstone(h.key)
	}
	if len(x.queue) > 2*x.n+64 { // the queue holds taken cancels until they reach its front
		x.queue = slices.DeleteFunc(x.queue, func(h *earlyCancel) bool { return h.done })
	}
	return held, tombs
}

// expire removes and returns the cancels whose window ended at now, with the tombstones
// of their records.
func (x *earlyCancels) expire(now time.Time) ([]*earlyCancel, []kafkago.Message) {
	var (
		out   []*earlyCancel
		tombs []kafkago.Message
	)
	i := 0
	for ; i < len(x.queue); i++ {
		h := x.queue[i]
		if h.done {
			continue
		}
		if h.Until.After(now) {
			break
		}
		h.done = true
		x.n--
		x.byOrder[h.OrderID] = slices.DeleteFunc(x.byOrder[h.OrderID], func(o *earlyCancel) bool { return o == h })
		if len(x.byOrder[h.OrderID]) == 0 {
			delete(x.byOrder, h.OrderID)
		}
		out = append(out, h)
		tombs = append(tombs, tombstone(h.key))
	}
	clear(x.queue[:i])
	x.queue = x.queue[i:]
	if len(x.queue) == 0 {
		x.queue = nil
	}
	return out, tombs
}

// restoreRecord reads one record of podium.saga-state whose key starts with
// earlyKeyPrefix (value nil: a tombstone).
func (x *earlyCancels) restoreRecord(key string, value []byte) error {
	orderID, requestID, err := parseEarlyKey(key)
	if err != nil {
		return err
	}
	held := x.byOrder[orderID]
	i := slices.IndexFunc(held, func(h *earlyCancel) bool { return h.RequestID == requestID })
	if i >= 0 { // a later record of the key replaces the earlier one
		held[i].done = true
		x.n--
		x.byOrder[orderID] = slices.Delete(held, i, i+1)
		if len(x.byOrder[orderID]) == 0 {
			delete(x.byOrder, orderID)
		}
	}
	if value == nil {
		return nil
	}
	var c earlyCancel
	if err := json.Unmarshal(value, &c); err != nil {
		return fmt.Errorf("early cancel record %s: %w", key, err)
	}
	if c.V != earlyFormat || c.OrderID != orderID || c.RequestID != requestID {
		return fmt.Errorf("early cancel record %s: unknown format %d or a value of another key", key, c.V)
	}
	c.key = key
	x.add(&c)
	return nil
}

// restored finishes a restore: the queue is put in expiry order, and the cancels of orders
// that already have a saga (applied, their tombstone lost) are dropped and tombstoned with
// the next batch.
func (x *earlyCancels) restored(known func(orderID string) bool) {
	x.queue = slices.DeleteFunc(x.queue, func(h *earlyCancel) bool { return h.done })
	slices.SortStableFunc(x.queue, func(a, b *earlyCancel) int { return a.Until.Compare(b.Until) })
	for id := range x.byOrder {
		if known(id) {
			_, tombs := x.take(id)
			x.pending = append(x.pending, tombs...)
		}
	}
}

// flush returns the tombstones restore left to write, once.
func (x *earlyCancels) flush() []kafkago.Message {
	p := x.pending
	x.pending = nil
	return p
}

func (x *earlyCancels) record(h *earlyCancel) kafkago.Message {
	value, _ := json.Marshal(h) // plain strings and a time: cannot fail
	return kafkago.Message{Topic: events.TopicSagaState, Key: []byte(h.key), Value: value}
}

func (x *earlyCancels) key(orderID, requestID string) string {
	if x.home == "" {
		for n := 0; ; n++ {
			k := earlyKeyPrefix + strconv.Itoa(n)
			if pkafka.HomePartition([]byte(k), x.partitions) == x.partition {
				x.home = k
				break
			}
		}
	}
	return x.home + "/" + orderID + "/" + requestID
}

// parseEarlyKey splits "~early.<n>/<order ID>/<request ID>".
func parseEarlyKey(key string) (orderID, requestID string, err error) {
	_, rest, ok := strings.Cut(key, "/")
	if ok {
		orderID, requestID, ok = strings.Cut(rest, "/")
	}
	if !strings.HasPrefix(key, earlyKeyPrefix) || !ok || orderID == "" || requestID == "" {
		return "", "", errors.New("not an early cancel key: " + key)
	}
	return orderID, requestID, nil
}

func tombstone(key string) kafkago.Message {
	return kafkago.Message{Topic: events.TopicSagaState, Key: []byte(key)}
}
