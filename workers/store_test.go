package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
)

// epoch is the fake clock's start.
var epoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is a clock that tests move by hand.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time          { return c.now }
func (c *fakeClock) advance(d time.Duration) { c.now = c.now.Add(d) }

// fakeWriter records a runner's writes; it fails the next fail calls.
type fakeWriter struct {
	writes [][]kafkago.Message
	fail   int
}

func (w *fakeWriter) WriteMessages(_ context.Context, msgs ...kafkago.Message) error {
	if w.fail > 0 {
		w.fail--
		return errors.New("broker down")
	}
	w.writes = append(w.writes, slices.Clone(msgs))
	return nil
}

func (w *fakeWriter) Close() error { return nil }

// last is the last write, failing the test if there was none.
func (w *fakeWriter) last(t *testing.T) []kafkago.Message {
	t.Helper()
	if len(w.writes) == 0 {
		t.Fatal("got no write, want one")
	}
	return w.writes[len(w.writes)-1]
}

// callNumbering answers every command with a success whose result is the number of the call,
// so a test can tell a stored reply from a new one.
type callNumbering struct{ calls atomic.Int64 }

func (h *callNumbering) Handle(context.Context, Command) Result {
	return Success(map[string]int64{"call": h.calls.Add(1)})
}

// testRun is the runtime of the inventory worker's partition home("ord-1") with a fake clock
// and writer.
type testRun struct {
	t      *testing.T
	r      *runner
	proc   *processor
	w      *fakeWriter
	clock  *fakeClock
	part   int
	offset int64
}

func newTestRun(t *testing.T, h Handler, retention time.Duration) *testRun {
	t.Helper()
	cfg := Config{Worker: "inventory", ProcessedRetention: retention}.withDefaults()
	w := &fakeWriter{}
	r := &runner{cfg: cfg, handler: h, topics: topicsOf(cfg.Worker), log: zerolog.Nop(), writer: w}
	clock := &fakeClock{now: epoch}
	proc := newProcessor(cfg, h, home("ord-1"), zerolog.Nop())
	proc.now = clock.Now
	return &testRun{t: t, r: r, proc: proc, w: w, clock: clock, part: home("ord-1")}
}

// batch runs one batch of commands through processBatch with ctx as the generation. The
// assignment is a zero one, so the commit after the write fails and is only logged.
func (tr *testRun) batch(ctx context.Context, cmds ...events.Envelope) error {
	tr.t.Helper()
	recs := make([]kafkago.Message, len(cmds))
	for i, c := range cmds {
		tr.offset++
		recs[i] = record(tr.t, c, tr.part, tr.offset)
	}
	return tr.r.processBatch(ctx, pkafka.Assignment{Partition: tr.part}, tr.proc, recs, zerolog.Nop())
}

// sameHome is an order ID other than "ord-1" with ord-1's home partition.
func sameHome(t *testing.T) string {
	t.Helper()
	for i := 2; ; i++ {
		if id := fmt.Sprintf("ord-%d", i); home(id) == home("ord-1") {
			return id
		}
	}
}

// tombstoneKeys are the keys of the processed-topic tombstones in msgs, failing the test if
// one is not on its key's home partition or comes after a record that is not a tombstone.
func tombstoneKeys(t *testing.T, msgs []kafkago.Message) []string {
	t.Helper()
	var keys []string
	others := false
	for _, m := range msgs {
		if m.Topic != "inventory.processed" || m.Value != nil {
			others = true
			continue
		}
		if others {
			t.Errorf("got tombstone %s after other records, want tombstones first", m.Key)
		}
		if got, want := pkafka.HomePartition(m.Key, events.DefaultPartitions), home("ord-1"); got != want {
			t.Errorf("got tombstone %s for partition %d, want the partition of its record %d", m.Key, got, want)
		}
		keys = append(keys, string(m.Key))
	}
	return keys
}

// replyData is the data of the only reply in msgs.
func replyData(t *testing.T, msgs []kafkago.Message) events.Reply {
	t.Helper()
	replies := byTopic(msgs)["inventory.replies"]
	if len(replies) != 1 {
		t.Fatalf("got %d replies, want 1", len(replies))
	}
	_, data := decodeReply(t, replies[0])
	return data
}

const key1 = "ord-1/reserve-inventory"

func TestRepeatWithinAndAfterTheWindow(t *testing.T) {
	const retention = time.Hour
	tests := []struct {
		name       string
		after      time.Duration
		wantCalls  int64
		wantResult string
	}{
		{"right after", time.Second, 1, `{"call":1}`},
		{"just within the window", retention - time.Nanosecond, 1, `{"call":1}`},
		{"at the end of the window", retention, 2, `{"call":2}`},
		{"a month later", 30 * 24 * time.Hour, 2, `{"call":2}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &callNumbering{}
			tr := newTestRun(t, h, retention)
			if err := tr.batch(context.Background(), reserveCommand(t, "ord-1", "cmd-1", 1, "SKU-1")); err != nil {
				t.Fatal(err)
			}
			tr.clock.advance(tt.after)
			if err := tr.batch(context.Background(), reserveCommand(t, "ord-1", "cmd-2", 2, "SKU-1")); err != nil {
				t.Fatal(err)
			}
			out := tr.w.last(t)
			if got := h.calls.Load(); got != tt.wantCalls {
				t.Errorf("got %d handler calls, want %d", got, tt.wantCalls)
			}
			if got := string(replyData(t, out).Result); got != tt.wantResult {
				t.Errorf("got result %s, want %s", got, tt.wantResult)
			}
			// A key stored again needs no tombstone: its new record replaces the old one.
			if got := tombstoneKeys(t, out); len(got) != 0 {
				t.Errorf("got tombstones %v, want none", got)
			}
			if got := tr.proc.store.len(); got != 1 {
				t.Errorf("got %d keys held, want 1", got)
			}
		})
	}
}

func TestResentReplyIsTheStoredAnswer(t *testing.T) {
	h := &countingHandler{res: Failure("out_of_stock", "SKU-1 is gone")}
	tr := newTestRun(t, h, time.Hour)
	first := reserveCommand(t, "ord-1", "cmd-1", 1, "SKU-1")
	if err := tr.batch(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	original, _ := decodeReply(t, byTopic(tr.w.last(t))["inventory.replies"][0])
	tr.clock.advance(time.Minute)
	repeat := reserveCommand(t, "ord-1", "cmd-2", 2, "SKU-1")
	repeat.TraceParent = "00-11111111111111111111111111111111-2222222222222222-01"
	if err := tr.batch(context.Background(), repeat); err != nil {
		t.Fatal(err)
	}
	got, _ := decodeReply(t, byTopic(tr.w.last(t))["inventory.replies"][0])
	want := original
	want.ID, want.Time = replyID("cmd-2"), tr.clock.now
	want.Attempt, want.CorrelationID, want.CausationID, want.TraceParent = 2, "cmd-2", "cmd-2", repeat.TraceParent
	if got.Time.Equal(want.Time) {
		got.Time = want.Time
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("got re-sent reply\n%s\nwant\n%s", gotJSON, wantJSON)
	}
	if got := h.calls.Load(); got != 1 {
		t.Errorf("got %d handler calls, want 1", got)
	}
}

func TestExpiredKeyIsTombstonedWithTheNextBatch(t *testing.T) {
	h := &callNumbering{}
	tr := newTestRun(t, h, time.Hour)
	if err := tr.batch(context.Background(), reserveCommand(t, "ord-1", "cmd-1", 1, "SKU-1")); err != nil {
		t.Fatal(err)
	}
	stored := byTopic(tr.w.last(t))["inventory.processed"]
	if len(stored) != 1 || !stored[0].Time.Equal(epoch) {
		t.Fatalf("got processed records %v, want one with timestamp %s (the stored-at time)", stored, epoch)
	}
	tr.clock.advance(time.Hour)
	other := sameHome(t)
	if err := tr.batch(context.Background(), reserveCommand(t, other, "cmd-9", 1, "SKU-1")); err != nil {
		t.Fatal(err)
	}
	out := tr.w.last(t)
	if got, want := tombstoneKeys(t, out), []string{key1}; !slices.Equal(got, want) {
		t.Errorf("got tombstones %v, want %v", got, want)
	}
	if got := len(byTopic(out)["inventory.replies"]); got != 1 {
		t.Errorf("got %d replies in the write, want 1: the tombstone rides with the batch", got)
	}
	if _, ok := tr.proc.lookup(key1); ok {
		t.Error("got the expired key in the store, want it forgotten")
	}
	if got := tr.proc.store.len(); got != 1 {
		t.Errorf("got %d keys held, want 1 (%s)", got, other)
	}
	if tr.proc.store.owes() {
		t.Error("got tombstones still owed after a successful write, want none")
	}
}

func TestIdleExpiry(t *testing.T) {
	tr := newTestRun(t, &callNumbering{}, time.Hour)
	if err := tr.batch(context.Background(), reserveCommand(t, "ord-1", "cmd-1", 1, "SKU-1")); err != nil {
		t.Fatal(err)
	}
	var st idleState
	steps := []struct {
		name           string
		advance        time.Duration
		failWrite      bool
		wantTombstones []string // of the write made by this step; nil: no write
		wantHeld       int
		wantOwed       bool
	}{
		{"within the window", 59 * time.Minute, false, nil, 1, false},
		{"within the idle interval", idleExpiryInterval / 2, false, nil, 1, false},
		{"out of the window, the write fails", time.Minute, true, nil, 0, true},
		{"retried within the idle interval", idleExpiryInterval / 2, false, nil, 0, true},
		{"retried after the idle interval", idleExpiryInterval, false, []string{key1}, 0, false},
		{"nothing left", time.Hour, false, nil, 0, false},
	}
	for _, s := range steps {
		tr.clock.advance(s.advance)
		writes := len(tr.w.writes)
		if s.failWrite {
			tr.w.fail = 1
		}
		tr.r.idle(context.Background(), tr.proc, &st, zerolog.Nop())
		var got []string
		if len(tr.w.writes) > writes {
			got = tombstoneKeys(t, tr.w.last(t))
			if len(tr.w.last(t)) != len(got) {
				t.Errorf("%s: got %d records, want only the tombstones", s.name, len(tr.w.last(t)))
			}
		}
		if !slices.Equal(got, s.wantTombstones) {
			t.Errorf("%s: got tombstones %v, want %v", s.name, got, s.wantTombstones)
		}
		if h := tr.proc.store.len(); h != s.wantHeld {
			t.Errorf("%s: got %d keys held, want %d", s.name, h, s.wantHeld)
		}
		if o := tr.proc.store.owes(); o != s.wantOwed {
			t.Errorf("%s: got tombstones owed %v, want %v", s.name, o, s.wantOwed)
		}
	}
}

func TestTombstonesWaitForALiveGeneration(t *testing.T) {
	tr := newTestRun(t, &callNumbering{}, time.Hour)
	if err := tr.batch(context.Background(), reserveCommand(t, "ord-1", "cmd-1", 1, "SKU-1")); err != nil {
		t.Fatal(err)
	}
	tr.clock.advance(2 * time.Hour)

	// The generation ended: nothing is written, neither the batch nor the tombstones.
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	writes := len(tr.w.writes)
	if err := tr.batch(ended, reserveCommand(t, sameHome(t), "cmd-9", 1, "SKU-1")); !errors.Is(err, context.Canceled) {
		t.Fatalf("batch after the generation ended: %v, want context.Canceled", err)
	}
	if n := len(tr.w.writes) - writes; n != 0 {
		t.Errorf("%d writes after the generation ended, want none", n)
	}
	if !tr.proc.store.owes() {
		t.Error("got no tombstone owed, want the expired key's")
	}

	// A failed batch write keeps them owed too.
	tr.w.fail = 1
	if err := tr.batch(context.Background(), reserveCommand(t, sameHome(t), "cmd-10", 2, "SKU-1")); err == nil {
		t.Fatal("got no error from a failed write, want one")
	}
	if !tr.proc.store.owes() {
		t.Error("got no tombstone owed after a failed write, want the expired key's")
	}
	if err := tr.batch(context.Background(), reserveCommand(t, sameHome(t), "cmd-10", 2, "SKU-1")); err != nil {
		t.Fatal(err)
	}
	if got, want := tombstoneKeys(t, tr.w.last(t)), []string{key1}; !slices.Equal(got, want) {
		t.Errorf("got tombstones %v, want %v", got, want)
	}
}

func TestExpiredKeyStoredAgainAfterAFailedWriteIsTombstoned(t *testing.T) {
	tr := newTestRun(t, &callNumbering{}, time.Hour)
	if err := tr.batch(context.Background(), reserveCommand(t, "ord-1", "cmd-1", 1, "SKU-1")); err != nil {
		t.Fatal(err)
	}
	tr.clock.advance(time.Hour)
	// The repeat's new record would replace the old one, but its write fails; a retryable
	// error on the retry stores nothing, so the old record needs its tombstone after all.
	tr.w.fail = 1
	if err := tr.batch(context.Background(), reserveCommand(t, "ord-1", "cmd-2", 2, "SKU-1")); err == nil {
		t.Fatal("got no error from a failed write, want one")
	}
	tr.r.handler = HandlerFunc(func(context.Context, Command) Result { return Retryable("db_down", "later") })
	tr.proc.handler = tr.r.handler
	if err := tr.batch(context.Background(), reserveCommand(t, "ord-1", "cmd-2", 2, "SKU-1")); err != nil {
		t.Fatal(err)
	}
	if got, want := tombstoneKeys(t, tr.w.last(t)), []string{key1}; !slices.Equal(got, want) {
		t.Errorf("got tombstones %v, want %v", got, want)
	}
}

// processedRecord is a processed record of format 1, as earlier versions wrote it: the
// structured CloudEvent of a reply to a reserve command of order, stored at storedAt, with
// Kafka timestamp ts (the first versions left it at 0).
func processedRecord(t *testing.T, order string, storedAt, ts time.Time) kafkago.Message {
	t.Helper()
	cmd := reserveCommand(t, order, "cmd-"+order, 1, "SKU-1")
	reply, err := newReply("inventory", cmd, Success(map[string]string{"reservation_id": "res-" + order}), storedAt)
	if err != nil {
		t.Fatal(err)
	}
	reply.Time = storedAt // zero: no time attribute
	value, headers, err := events.Encode(reply)
	if err != nil {
		t.Fatal(err)
	}
	return kafkago.Message{
		Topic: "inventory.processed", Partition: home(order), Key: []byte(cmd.IdempotencyKey),
		Value: value, Headers: kafkaHeaders(headers), Time: ts,
	}
}

// processedRecord2 is the processed record that this runtime writes (format 2) for a reply
// to a reserve command of order, stored at storedAt.
func processedRecord2(t *testing.T, order string, storedAt time.Time) kafkago.Message {
	t.Helper()
	cmd := reserveCommand(t, order, "cmd-"+order, 1, "SKU-1")
	reply, err := newReply("inventory", cmd, Success(map[string]string{"reservation_id": "res-" + order}), storedAt)
	if err != nil {
		t.Fatal(err)
	}
	s := newProcessedStore(time.Hour)
	r, ok := s.compact(reply, storedAt)
	if !ok {
		t.Fatal("compact failed")
	}
	value, err := s.value(r)
	if err != nil {
		t.Fatal(err)
	}
	return kafkago.Message{
		Topic: "inventory.processed", Partition: home(order), Key: []byte(cmd.IdempotencyKey), Value: value, Time: storedAt,
	}
}

// rawProcessed is a processed record of order's reserve key with value.
func rawProcessed(order, value string) kafkago.Message {
	return kafkago.Message{Topic: "inventory.processed", Key: []byte(order + "/reserve-inventory"), Value: []byte(value)}
}

func tombstone(order string) kafkago.Message {
	return kafkago.Message{Topic: "inventory.processed", Key: []byte(order + "/reserve-inventory")}
}

func TestRestore(t *testing.T) {
	const retention = 7 * 24 * time.Hour
	now := epoch
	var (
		fresh   = now.Add(-time.Hour)
		old     = now.Add(-retention)
		noTime  time.Time
		kafka0  = time.Unix(0, 0) // the timestamp earlier versions wrote
		garbage = kafkago.Message{Topic: "inventory.processed", Key: []byte("ord-9/reserve-inventory"), Value: []byte("{")}
	)
	tests := []struct {
		name     string
		recs     []kafkago.Message
		wantHeld []string // orders whose key is held
		wantOwed []string // orders whose key is owed a tombstone
	}{
		{"earlier version's record within the window", []kafkago.Message{processedRecord(t, "ord-1", fresh, kafka0)}, []string{"ord-1"}, nil},
		{"earlier version's record out of the window", []kafkago.Message{processedRecord(t, "ord-1", old, kafka0)}, nil, []string{"ord-1"}},
		{"this version's record within the window", []kafkago.Message{processedRecord(t, "ord-1", fresh, fresh)}, []string{"ord-1"}, nil},
		{"no time attribute: the Kafka timestamp", []kafkago.Message{processedRecord(t, "ord-1", noTime, old)}, nil, []string{"ord-1"}},
		{"no time at all: kept a window from now", []kafkago.Message{processedRecord(t, "ord-1", noTime, kafka0)}, []string{"ord-1"}, nil},
		{"tombstoned", []kafkago.Message{processedRecord(t, "ord-1", fresh, fresh), tombstone("ord-1")}, nil, nil},
		{"expired, then tombstoned", []kafkago.Message{processedRecord(t, "ord-1", old, kafka0), tombstone("ord-1")}, nil, nil},
		{"expired, then stored again", []kafkago.Message{processedRecord(t, "ord-1", old, old), processedRecord(t, "ord-1", fresh, fresh)}, []string{"ord-1"}, nil},
		{"stored, then an expired record last", []kafkago.Message{processedRecord(t, "ord-1", fresh, fresh), processedRecord(t, "ord-1", old, old)}, nil, []string{"ord-1"}},
		{"undecodable: skipped, not tombstoned", []kafkago.Message{garbage}, nil, nil},
		{"format 1 without its header", []kafkago.Message{func() kafkago.Message {
			m := processedRecord(t, "ord-1", fresh, fresh)
			m.Headers = nil
			return m
		}()}, []string{"ord-1"}, nil},
		{"format 2 within the window", []kafkago.Message{processedRecord2(t, "ord-1", fresh)}, []string{"ord-1"}, nil},
		{"format 2 out of the window", []kafkago.Message{processedRecord2(t, "ord-1", old)}, nil, []string{"ord-1"}},
		{"format 2 just within the window", []kafkago.Message{processedRecord2(t, "ord-1", old.Add(time.Millisecond))}, []string{"ord-1"}, nil},
		{"format 2: at, not the Kafka timestamp", []kafkago.Message{func() kafkago.Message {
			m := processedRecord2(t, "ord-1", old)
			m.Time = fresh
			return m
		}()}, nil, []string{"ord-1"}},
		{"format 2, then tombstoned", []kafkago.Message{processedRecord2(t, "ord-1", fresh), tombstone("ord-1")}, nil, nil},
		{"format 1 expired, then format 2 stored again", []kafkago.Message{processedRecord(t, "ord-1", old, old), processedRecord2(t, "ord-1", fresh)}, []string{"ord-1"}, nil},
		{"format 2 stored, then format 1 expired last", []kafkago.Message{processedRecord2(t, "ord-1", fresh), processedRecord(t, "ord-1", old, old)}, nil, []string{"ord-1"}},
		{"format 2 stored, then an undecodable record: forgotten", []kafkago.Message{processedRecord2(t, "ord-1", fresh), rawProcessed("ord-1", "{")}, nil, nil},
		{"a format newer than 2: skipped, not tombstoned", []kafkago.Message{rawProcessed("ord-1",
			`{"v":3,"type":"podium.inventory.reserve.reply.v1","outcome":"success","at":"2025-03-01T11:00:00.000Z"}`)}, nil, nil},
		{"format 2 without at: skipped", []kafkago.Message{rawProcessed("ord-1",
			`{"v":2,"type":"podium.inventory.reserve.reply.v1","outcome":"success"}`)}, nil, nil},
		{"format 2 with a bad at: skipped", []kafkago.Message{rawProcessed("ord-1",
			`{"v":2,"type":"podium.inventory.reserve.reply.v1","outcome":"success","at":"yesterday"}`)}, nil, nil},
		{"format 2 with an unknown type: skipped", []kafkago.Message{rawProcessed("ord-1",
			`{"v":2,"type":"podium.nope.reply.v1","outcome":"success","at":"2025-03-01T11:00:00.000Z"}`)}, nil, nil},
		{"format 2 with an unknown outcome: skipped", []kafkago.Message{rawProcessed("ord-1",
			`{"v":2,"type":"podium.inventory.reserve.reply.v1","outcome":"maybe","at":"2025-03-01T11:00:00.000Z"}`)}, nil, nil},
		{"format 2 with data not an object: skipped", []kafkago.Message{rawProcessed("ord-1",
			`{"v":2,"type":"podium.inventory.reserve.reply.v1","outcome":"success","at":"2025-03-01T11:00:00.000Z","data":[1]}`)}, nil, nil},
		{"format 2 with data not a reply's: skipped", []kafkago.Message{rawProcessed("ord-1",
			`{"v":2,"type":"podium.inventory.reserve.reply.v1","outcome":"failure","at":"2025-03-01T11:00:00.000Z","data":{"reason":7}}`)}, nil, nil},
		{"format 2 with null data: skipped", []kafkago.Message{rawProcessed("ord-1",
			`{"v":2,"type":"podium.inventory.reserve.reply.v1","outcome":"success","at":"2025-03-01T11:00:00.000Z","data":null}`)}, nil, nil},
		{"a mix", []kafkago.Message{
			processedRecord(t, "ord-1", old, kafka0), processedRecord(t, "ord-2", fresh, kafka0),
			processedRecord(t, "ord-3", old, old), processedRecord(t, "ord-4", now.Add(-retention+time.Nanosecond), kafka0), garbage,
			processedRecord2(t, "ord-5", fresh), processedRecord2(t, "ord-6", old),
		}, []string{"ord-2", "ord-4", "ord-5"}, []string{"ord-1", "ord-3", "ord-6"}},
	}
	keys := func(orders []string) []string {
		out := make([]string, len(orders))
		for i, o := range orders {
			out[i] = o + "/reserve-inventory"
		}
		return out
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newProcessedStore(retention)
			for _, rec := range tt.recs {
				s.restore(rec, now, zerolog.Nop())
			}
			s.finishRestore()
			var held []string
			for _, q := range s.queue.items[s.queue.head:] {
				held = append(held, q.key)
			}
			slices.Sort(held)
			if want := keys(tt.wantHeld); !slices.Equal(held, want) {
				t.Errorf("got held keys %v, want %v", held, want)
			}
			if got := s.len(); got != len(tt.wantHeld) {
				t.Errorf("got %d keys in the store, want %d", got, len(tt.wantHeld))
			}
			owed := s.tombstones(100)
			slices.Sort(owed)
			if want := keys(tt.wantOwed); !slices.Equal(owed, want) {
				t.Errorf("got tombstones owed %v, want %v", owed, want)
			}
		})
	}
}

func TestRestoredReplyIsResent(t *testing.T) {
	const retention = time.Hour
	h := &callNumbering{}
	tr := newTestRun(t, h, retention)
	for _, rec := range []kafkago.Message{
		processedRecord(t, "ord-1", epoch.Add(-time.Minute), time.Unix(0, 0)),
		processedRecord(t, sameHome(t), epoch.Add(-retention), time.Unix(0, 0)),
	} {
		tr.proc.store.restore(rec, epoch, zerolog.Nop())
	}
	tr.proc.store.finishRestore()

	if err := tr.batch(context.Background(), reserveCommand(t, "ord-1", "cmd-2", 2, "SKU-1")); err != nil {
		t.Fatal(err)
	}
	out := tr.w.last(t)
	if got := h.calls.Load(); got != 0 {
		t.Errorf("got %d handler calls, want 0: the restored reply answers", got)
	}
	if got, want := string(replyData(t, out).Result), `{"reservation_id":"res-ord-1"}`; got != want {
		t.Errorf("got result %s, want the restored %s", got, want)
	}
	if got, want := tombstoneKeys(t, out), []string{sameHome(t) + "/reserve-inventory"}; !slices.Equal(got, want) {
		t.Errorf("got tombstones %v in the first write, want %v", got, want)
	}
	// The restored key expires a window after it was stored, not after the restore.
	tr.clock.advance(retention - time.Minute)
	tr.proc.expire()
	if _, ok := tr.proc.lookup(key1); ok {
		t.Error("got the restored key a window after it was stored, want it expired")
	}
}

func TestMemoryStaysBoundedWhileKeysExpire(t *testing.T) {
	const (
		retention = time.Hour
		perMinute = 50
		minutes   = 24 * 60 // a day: 72,000 keys stored, all but the last hour's expired
	)
	s := newProcessedStore(retention)
	clock := &fakeClock{now: epoch}
	maxHeld, maxQueue := 0, 0
	reply := storedReply{data: `{"result":{}}`}
	expired := 0
	for m := range minutes {
		clock.advance(time.Minute)
		expired += s.expire(clock.now)
		for i := range perMinute {
			reply.at = clock.now.UnixNano()
			s.stage(fmt.Sprintf("ord-%d-%d/reserve-inventory", m, i), reply)
		}
		s.tombstones(tombstonesPerBatch * DefaultBatchSize)
		s.written()
		maxHeld = max(maxHeld, s.len())
		maxQueue = max(maxQueue, cap(s.queue.items))
	}
	window := int(retention/time.Minute) * perMinute
	checks := []struct {
		name      string
		got, want int
	}{
		{"keys expired", expired, minutes*perMinute - window},
		{"keys held at the end", s.len(), window},
		{"queue length at the end", s.queue.len(), window},
		{"tombstones owed", len(s.owed), 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("got %s %d, want %d", c.name, c.got, c.want)
		}
	}
	if maxHeld > window {
		t.Errorf("got at most %d keys held, want at most %d (the window)", maxHeld, window)
	}
	if limit := 3*window + queueCompactAt; maxQueue > limit {
		t.Errorf("got a queue array of up to %d entries, want at most %d", maxQueue, limit)
	}
}

// TestStoreMemoryPerKey measures the heap a stored key costs: 100,000 replies of the
// inventory worker's reserve command (a success with a reservation ID), as the partition
// loop stores them. Run with -v to see the figure.
func TestStoreMemoryPerKey(t *testing.T) {
	if testing.Short() {
		t.Skip("measures 100,000 keys")
	}
	const n = 100_000
	cmd := reserveCommand(t, "ord-1", "cmd-1", 1, "SKU-1")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	s := newProcessedStore(time.Hour)
	for i := range n {
		cmd.Subject = fmt.Sprintf("ord-%07d", i)
		cmd.IdempotencyKey = cmd.Subject + "/reserve-inventory"
		cmd.ID = fmt.Sprintf("cmd-%07d", i)
		reply, err := newReply("inventory", cmd, Success(map[string]string{
			"reservation_id": StableID("inventory", cmd.IdempotencyKey),
		}), epoch)
		if err != nil {
			t.Fatal(err)
		}
		r, ok := s.compact(reply, reply.Time)
		if !ok {
			t.Fatal("compact failed")
		}
		s.stage(cmd.IdempotencyKey, r)
		if i%DefaultBatchSize == DefaultBatchSize-1 {
			s.written()
		}
	}
	s.written()

	runtime.GC()
	runtime.ReadMemStats(&after)
	perKey := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
	runtime.KeepAlive(s)
	t.Logf("%d keys: %.0f bytes per key (key %d bytes, data %d bytes)", s.len(), perKey,
		len(cmd.IdempotencyKey), len(s.replies[cmd.IdempotencyKey].data))
	if perKey > 300 {
		t.Errorf("got %.0f bytes per stored key, want at most 300", perKey)
	}
}

func TestProcessedValueRoundTrips(t *testing.T) {
	at := epoch.Add(1234567891 * time.Nanosecond) // stored at ...:01.234 (the processor truncates)
	tests := []struct {
		name, typ, outcome, data string
		want                     string // the value
	}{
		{"success with a result", "podium.inventory.reserve.reply.v1", events.OutcomeSuccess,
			`{"result":{"reservation_id":"5b0f4c3e-0d6a-5b8e-9a51-6f2c4d7e1b93"}}`,
			`{"v":2,"type":"podium.inventory.reserve.reply.v1","outcome":"success","at":"2025-03-01T12:00:01.234Z","data":{"result":{"reservation_id":"5b0f4c3e-0d6a-5b8e-9a51-6f2c4d7e1b93"}}}`},
		{"business failure", "podium.inventory.reserve.reply.v1", events.OutcomeFailure,
			`{"reason":"out_of_stock","message":"out of stock: OOS-1"}`,
			`{"v":2,"type":"podium.inventory.reserve.reply.v1","outcome":"failure","at":"2025-03-01T12:00:01.234Z","data":{"reason":"out_of_stock","message":"out of stock: OOS-1"}}`},
		{"compensation: data {} left out", "podium.inventory.release.reply.v1", events.OutcomeSuccess, `{}`,
			`{"v":2,"type":"podium.inventory.release.reply.v1","outcome":"success","at":"2025-03-01T12:00:01.234Z"}`},
		{"escaped text", "podium.notification.send-confirmation.reply.v1", events.OutcomeFailure,
			`{"reason":"bounced","message":"\"ada\" \u003cada@bounce.example\u003e: 550 ✗"}`,
			`{"v":2,"type":"podium.notification.send-confirmation.reply.v1","outcome":"failure","at":"2025-03-01T12:00:01.234Z","data":{"reason":"bounced","message":"\"ada\" \u003cada@bounce.example\u003e: 550 ✗"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newProcessedStore(time.Hour)
			reply := events.Envelope{Type: tt.typ, Outcome: tt.outcome, Data: json.RawMessage(tt.data)}
			stored, ok := s.compact(reply, at.Truncate(time.Millisecond))
			if !ok {
				t.Fatal("compact failed")
			}
			value, err := s.value(stored)
			if err != nil {
				t.Fatal(err)
			}
			if string(value) != tt.want {
				t.Errorf("got value\n%s\nwant\n%s", value, tt.want)
			}

			// Restored by another store (a new owner of the partition), it is the same reply.
			restored := newProcessedStore(time.Hour)
			restored.restore(kafkago.Message{Key: []byte(key1), Value: value}, at.Add(time.Minute), zerolog.Nop())
			restored.finishRestore()
			got, ok := restored.lookup(key1)
			if !ok {
				t.Fatalf("got no reply restored for %s, want one", key1)
			}
			checks := []struct{ name, got, want string }{
				{"type", restored.types[got.typ].name, tt.typ},
				{"dataschema", restored.types[got.typ].schema, schemaURL(tt.typ)},
				{"outcome", replyOutcomes[got.outcome], tt.outcome},
				{"data", got.data, tt.data},
				{"stored at", time.Unix(0, got.at).UTC().String(), at.Truncate(time.Millisecond).String()},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("got restored %s %s, want %s", c.name, c.got, c.want)
				}
			}
		})
	}
}

// TestProcessedRecordSize checks the processed record the processor writes for a typical
// reply, the inventory worker's reservation, against the bound measured for it: its value's
// size depends only on its result, a UUID. Earlier versions stored the whole reply
// CloudEvent, as sent on the replies topic (run with -v to see both).
func TestProcessedRecordSize(t *testing.T) {
	const maxValue = 178 // bytes, measured
	key := "ord-0001001/reserve-inventory"
	h := &countingHandler{res: Success(map[string]string{"reservation_id": StableID("inventory", key)})}
	p := newTestProcessor(t, h, Faults{})
	p.now = func() time.Time { return epoch.Add(123456789) }
	cmd := reserveCommand(t, "ord-0001001", StableID("command", key), 1, "SKU-RED-1")
	out := byTopic(processAll(p, []kafkago.Message{record(t, cmd, home("ord-0001001"), 1)}))
	stored, replies := out["inventory.processed"], out["inventory.replies"]
	if len(stored) != 1 || len(replies) != 1 {
		t.Fatalf("got %d processed records and %d replies, want 1 and 1", len(stored), len(replies))
	}
	rec := stored[0]
	t.Logf("processed record value: %d bytes (format 1, the reply as sent: %d bytes + a %d-byte header)\n%s",
		len(rec.Value), len(replies[0].Value), len("content-type")+len(events.ContentTypeCloudEvents), rec.Value)
	if got := len(rec.Value); got > maxValue {
		t.Errorf("got a %d-byte value, want at most %d", got, maxValue)
	}
	if len(rec.Headers) != 0 {
		t.Errorf("got headers %v, want none", rec.Headers)
	}
	if want := epoch.Add(123 * time.Millisecond); !rec.Time.Equal(want) {
		t.Errorf("got timestamp %s, want the stored-at time %s (to the millisecond)", rec.Time, want)
	}
}

// TestProcessedRecordsOfAnOrder measures the values of the processed records of an order's
// five steps (run with -v to see them) against the bounds measured for them.
func TestProcessedRecordsOfAnOrder(t *testing.T) {
	const order = "ord-0001001"
	id := func(step string) string { return StableID("test", order+"/"+step) } // the reference workers' IDs: UUIDs
	tests := []struct {
		step, cmdType string
		result        map[string]string
		maxValue      int // bytes, measured
	}{
		{"reserve-inventory", events.TypeInventoryReserve, map[string]string{"reservation_id": id("reserve-inventory")}, 178},
		{"authorize-payment", events.TypePaymentAuthorize, map[string]string{"authorization_id": id("authorize-payment")}, 180},
		{"prepare-shipment", events.TypeSellerPrepareShipment, map[string]string{"preparation_id": id("prepare-shipment")}, 184},
		{"assign-delivery", events.TypeShippingAssignDelivery, map[string]string{"delivery_id": id("assign-delivery"), "partner": "dhl"}, 198},
		{"send-confirmation", events.TypeNotificationConfirmation, map[string]string{"message_id": id("send-confirmation")}, 187},
	}
	header := len("content-type") + len(events.ContentTypeCloudEvents)
	totalBefore, totalAfter := 0, 0
	for _, tt := range tests {
		key := order + "/" + tt.step
		cmd := events.Envelope{
			ID: StableID("command", key), Type: tt.cmdType, Subject: order, SagaID: order, Step: tt.step,
			Attempt: 1, IdempotencyKey: key, TraceParent: testTraceParent,
		}
		reply, err := newReply("test", cmd, Success(tt.result), epoch.Add(123456789))
		if err != nil {
			t.Fatal(err)
		}
		before, _, err := events.Encode(reply)
		if err != nil {
			t.Fatal(err)
		}
		s := newProcessedStore(time.Hour)
		stored, ok := s.compact(reply, reply.Time.Truncate(time.Millisecond))
		if !ok {
			t.Fatalf("%s: compact failed", tt.step)
		}
		after, err := s.value(stored)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes (format 1: %d + %d)", tt.step, len(after), len(before), header)
		if len(after) > tt.maxValue {
			t.Errorf("%s: got a %d-byte value, want at most %d", tt.step, len(after), tt.maxValue)
		}
		totalBefore += len(before) + header
		totalAfter += len(after)
	}
	t.Logf("an order: %d bytes of values (format 1: %d bytes of values and headers)", totalAfter, totalBefore)
}

// restart replaces the run's processor with a new one, restored from every processed record
// and tombstone written so far, in write order, as a new owner of the partition would.
func (tr *testRun) restart() {
	tr.t.Helper()
	proc := newProcessor(tr.r.cfg, tr.r.handler, tr.part, zerolog.Nop())
	proc.now = tr.clock.Now
	for _, w := range tr.w.writes {
		for _, m := range w {
			if m.Topic == tr.r.topics.processed {
				proc.store.restore(m, tr.clock.now, zerolog.Nop())
			}
		}
	}
	proc.store.finishRestore()
	tr.proc = proc
}

func TestRepeatAfterARestartGetsTheSameReply(t *testing.T) {
	tests := []struct {
		name string
		res  Result
	}{
		{"success with a result", Success(map[string]string{"reservation_id": StableID("inventory", key1)})},
		{"success without a result", Success(nil)},
		{"business failure", Failure("out_of_stock", "out of stock: OOS-1")},
		{"failure with text to escape", Failure("bounced", `"ada" <ada@bounce.example>: 550 ✗`)},
	}
	for _, tt := range tests {
		for _, format := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s, format %d", tt.name, format), func(t *testing.T) {
				testRepeatAfterARestart(t, tt.res, format)
			})
		}
	}
}

// testRepeatAfterARestart stores the reply res for key1, restarts from its processed record
// (rewritten to format 1, the reply as sent, as earlier versions stored it, if format is 1)
// and checks that a repeat gets the same reply, and that the key expires when it would have
// without the restart.
func testRepeatAfterARestart(t *testing.T, res Result, format int) {
	t.Helper()
	h := &countingHandler{res: res}
	tr := newTestRun(t, h, time.Hour)
	tr.clock.advance(123456789) // not on a millisecond
	if err := tr.batch(context.Background(), reserveCommand(t, "ord-1", "cmd-1", 1, "SKU-1")); err != nil {
		t.Fatal(err)
	}
	first := byTopic(tr.w.last(t))["inventory.replies"][0]
	before, _ := decodeReply(t, first)
	end := epoch.Add(123*time.Millisecond + time.Hour) // format 2: stored at, to the millisecond
	if format == 1 {
		for _, m := range tr.w.last(t) {
			if m.Topic == "inventory.processed" {
				m.Value, m.Headers, m.Time = first.Value, first.Headers, time.Unix(0, 0)
				tr.w.writes = append(tr.w.writes, []kafkago.Message{m})
			}
		}
		end = epoch.Add(123456789 + time.Hour) // format 1: the reply's time
	}

	tr.clock.advance(time.Minute)
	tr.restart()
	if err := tr.batch(context.Background(), reserveCommand(t, "ord-1", "cmd-2", 2, "SKU-1")); err != nil {
		t.Fatal(err)
	}
	after, _ := decodeReply(t, byTopic(tr.w.last(t))["inventory.replies"][0])
	checks := []struct{ name, got, want string }{
		{"type", after.Type, before.Type},
		{"dataschema", after.DataSchema, before.DataSchema},
		{"outcome", after.Outcome, before.Outcome},
		{"data", string(after.Data), string(before.Data)},
		{"correlationid", after.CorrelationID, "cmd-2"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("got %s %s after a restart, want %s", c.name, c.got, c.want)
		}
	}
	if got := h.calls.Load(); got != 1 {
		t.Errorf("got %d handler calls, want 1: the restored reply answers the repeat", got)
	}

	tr.clock.now = end.Add(-time.Nanosecond)
	tr.proc.expire()
	if _, ok := tr.proc.lookup(key1); !ok {
		t.Errorf("got the restored key expired at %s, before the end of its window %s", tr.clock.now, end)
	}
	tr.clock.now = end
	tr.proc.expire()
	if _, ok := tr.proc.lookup(key1); ok {
		t.Errorf("got the restored key held at the end of its window %s, want it expired", end)
	}
}
