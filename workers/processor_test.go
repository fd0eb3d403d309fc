package workers

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
)

const testTraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// reserveCommand is an inventory reserve command for order, with the given ID and attempt.
func reserveCommand(t *testing.T, order, id string, attempt int, skus ...string) events.Envelope {
	t.Helper()
	items := make([]events.Item, len(skus))
	for i, s := range skus {
		items[i] = events.Item{SKU: s, Quantity: 1, UnitPrice: 100}
	}
	env, err := events.NewEvent(events.TypeInventoryReserve, order, events.ReserveInventory{OrderID: order, Items: items})
	if err != nil {
		t.Fatalf("NewEvent: %v", err)
	}
	env.ID = id
	env.SagaID = order
	env.Step = "reserve-inventory"
	env.Attempt = attempt
	env.IdempotencyKey = order + "/reserve-inventory"
	env.TraceParent = testTraceParent
	return env
}

// record encodes env as a record of inventory.commands on partition p at offset.
func record(t *testing.T, env events.Envelope, p int, offset int64) kafkago.Message {
	t.Helper()
	value, headers, err := events.Encode(env)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return kafkago.Message{
		Topic: events.CommandsTopic("inventory"), Partition: p, Offset: offset,
		Key: []byte(env.Subject), Value: value, Headers: kafkaHeaders(headers),
	}
}

func home(order string) int { return pkafka.HomePartition([]byte(order), events.DefaultPartitions) }

// countingHandler answers with res and counts its calls.
type countingHandler struct {
	calls atomic.Int64
	res   Result
}

func (h *countingHandler) Handle(context.Context, Command) Result {
	h.calls.Add(1)
	return h.res
}

func newTestProcessor(t *testing.T, h Handler, f Faults) *processor {
	t.Helper()
	cfg := Config{Worker: "inventory", Faults: f}.withDefaults()
	return newProcessor(cfg, h, home("ord-1"), zerolog.Nop())
}

// byTopic splits messages by topic.
func byTopic(msgs []kafkago.Message) map[string][]kafkago.Message {
	out := map[string][]kafkago.Message{}
	for _, m := range msgs {
		out[m.Topic] = append(out[m.Topic], m)
	}
	return out
}

// decodeReply decodes a reply record, failing the test if it is not a valid reply.
func decodeReply(t *testing.T, m kafkago.Message) (events.Envelope, events.Reply) {
	t.Helper()
	env, err := events.Decode(eventsRecord(m))
	if err != nil {
		t.Fatalf("decoding the reply: %v", err)
	}
	var r events.Reply
	if err := env.DecodeData(&r); err != nil {
		t.Fatalf("decoding the reply data: %v", err)
	}
	return env, r
}

func TestProcessReplies(t *testing.T) {
	h := &countingHandler{res: Success(map[string]string{"reservation_id": "res-1"})}
	p := newTestProcessor(t, h, Faults{})
	cmd := reserveCommand(t, "ord-1", "cmd-1", 1, "SKU-1")
	out := byTopic(processAll(p, []kafkago.Message{record(t, cmd, home("ord-1"), 7)}))

	if got := h.calls.Load(); got != 1 {
		t.Errorf("got %d handler calls, want 1", got)
	}
	if got := len(out["inventory.replies"]); got != 1 {
		t.Fatalf("got %d replies, want 1 (out: %v)", got, out)
	}
	m := out["inventory.replies"][0]
	if string(m.Key) != "ord-1" {
		t.Errorf("got reply key %q, want ord-1", m.Key)
	}
	env, data := decodeReply(t, m)
	checks := []struct{ name, got, want string }{
		{"type", env.Type, "podium.inventory.reserve.reply.v1"},
		{"subject", env.Subject, "ord-1"},
		{"correlationid", env.CorrelationID, "cmd-1"},
		{"causationid", env.CausationID, "cmd-1"},
		{"sagaid", env.SagaID, "ord-1"},
		{"step", env.Step, "reserve-inventory"},
		{"idempotencykey", env.IdempotencyKey, "ord-1/reserve-inventory"},
		{"outcome", env.Outcome, events.OutcomeSuccess},
		{"traceparent", env.TraceParent, testTraceParent},
		{"source", env.Source, "podium/workers/inventory"},
		{"result", string(data.Result), `{"reservation_id":"res-1"}`},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("got %s %q, want %q", c.name, c.got, c.want)
		}
	}
	if env.Attempt != 1 {
		t.Errorf("got attempt %d, want 1", env.Attempt)
	}

	stored := out["inventory.processed"]
	if len(stored) != 1 || string(stored[0].Key) != "ord-1/reserve-inventory" {
		t.Fatalf("got processed records %v, want one keyed ord-1/reserve-inventory", stored)
	}
	if got, want := pkafka.HomePartition(stored[0].Key, events.DefaultPartitions), home("ord-1"); got != want {
		t.Errorf("got processed record home partition %d, want the command's %d", got, want)
	}
}

func TestProcessRepeatedKeyResendsStoredReply(t *testing.T) {
	h := &countingHandler{res: Success(map[string]string{"reservation_id": "res-1"})}
	p := newTestProcessor(t, h, Faults{})
	part := home("ord-1")
	processAll(p, []kafkago.Message{record(t, reserveCommand(t, "ord-1", "cmd-1", 1, "SKU-1"), part, 1)})
	p.commitPending()

	repeat := reserveCommand(t, "ord-1", "cmd-2", 2, "SKU-1")
	repeat.TraceParent = "00-11111111111111111111111111111111-2222222222222222-01"
	out := byTopic(processAll(p, []kafkago.Message{record(t, repeat, part, 2)}))
	if got := h.calls.Load(); got != 1 {
		t.Errorf("got %d handler calls, want 1: a repeated key must not run the handler", got)
	}
	if got := len(out["inventory.processed"]); got != 0 {
		t.Errorf("got %d processed records for a repeat, want 0", got)
	}
	if len(out["inventory.replies"]) != 1 {
		t.Fatalf("got %d replies, want 1", len(out["inventory.replies"]))
	}
	env, data := decodeReply(t, out["inventory.replies"][0])
	if env.CorrelationID != "cmd-2" || env.CausationID != "cmd-2" || env.Attempt != 2 || env.TraceParent != repeat.TraceParent {
		t.Errorf("got correlationid %q causationid %q attempt %d traceparent %q, want the repeat's cmd-2, cmd-2, 2, %q",
			env.CorrelationID, env.CausationID, env.Attempt, env.TraceParent, repeat.TraceParent)
	}
	if env.ID != replyID("cmd-2") {
		t.Errorf("got reply id %q, want %q", env.ID, replyID("cmd-2"))
	}
	if string(data.Result) != `{"reservation_id":"res-1"}` || env.Outcome != events.OutcomeSuccess {
		t.Errorf("got outcome %q result %s, want the stored success", env.Outcome, data.Result)
	}
}

func TestProcessRepeatWithinOneBatch(t *testing.T) {
	h := &countingHandler{res: Success(nil)}
	p := newTestProcessor(t, h, Faults{})
	part := home("ord-1")
	out := byTopic(processAll(p, []kafkago.Message{
		record(t, reserveCommand(t, "ord-1", "cmd-1", 1, "SKU-1"), part, 1),
		record(t, reserveCommand(t, "ord-1", "cmd-2", 2, "SKU-1"), part, 2),
	}))
	if got := h.calls.Load(); got != 1 {
		t.Errorf("got %d handler calls, want 1", got)
	}
	if got, want := len(out["inventory.replies"]), 2; got != want {
		t.Errorf("got %d replies, want %d", got, want)
	}
}

func TestProcessDiscardedBatchRunsAgain(t *testing.T) {
	h := &countingHandler{res: Success(nil)}
	p := newTestProcessor(t, h, Faults{})
	rec := record(t, reserveCommand(t, "ord-1", "cmd-1", 1, "SKU-1"), home("ord-1"), 1)
	processAll(p, []kafkago.Message{rec})
	p.discardPending() // the write failed
	out := byTopic(processAll(p, []kafkago.Message{rec}))
	if got := h.calls.Load(); got != 2 {
		t.Errorf("got %d handler calls, want 2: a batch that was not written is handled again", got)
	}
	if got := len(out["inventory.processed"]); got != 1 {
		t.Errorf("got %d processed records, want 1", got)
	}
}

func TestProcessOutcomes(t *testing.T) {
	tests := []struct {
		name       string
		handler    Handler
		wantOut    string
		wantReason string
		wantStored bool
	}{
		{"success", &countingHandler{res: Success(nil)}, events.OutcomeSuccess, "", true},
		{"failure", &countingHandler{res: Failure("out_of_stock", "no")}, events.OutcomeFailure, "out_of_stock", true},
		{"failure without reason", &countingHandler{res: Failure("", "")}, events.OutcomeFailure, "unspecified", true},
		{"retryable error", &countingHandler{res: Retryable("db_down", "later")}, events.OutcomeError, "db_down", false},
		{"invalid outcome", &countingHandler{res: Result{Outcome: "maybe"}}, events.OutcomeError, ReasonInvalidOutcome, false},
		{"unmarshallable result", &countingHandler{res: Success(func() {})}, events.OutcomeError, ReasonInvalidResult, false},
		{"panic", HandlerFunc(func(context.Context, Command) Result { panic("boom") }), events.OutcomeError, ReasonHandlerPanic, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestProcessor(t, tt.handler, Faults{})
			out := byTopic(processAll(p, []kafkago.Message{
				record(t, reserveCommand(t, "ord-1", "cmd-1", 1, "SKU-1"), home("ord-1"), 1),
			}))
			if len(out["inventory.replies"]) != 1 {
				t.Fatalf("got %d replies, want 1", len(out["inventory.replies"]))
			}
			env, data := decodeReply(t, out["inventory.replies"][0])
			if env.Outcome != tt.wantOut || data.Reason != tt.wantReason {
				t.Errorf("got outcome %q reason %q, want %q %q", env.Outcome, data.Reason, tt.wantOut, tt.wantReason)
			}
			if got := len(out["inventory.processed"]) == 1; got != tt.wantStored {
				t.Errorf("got stored %v, want %v", got, tt.wantStored)
			}
			p.commitPending()
			if _, got := p.lookup("ord-1/reserve-inventory"); got != tt.wantStored {
				t.Errorf("got key in store %v, want %v", got, tt.wantStored)
			}
		})
	}
}

func TestProcessDeadLetters(t *testing.T) {
	part := home("ord-1")
	valid := record(t, reserveCommand(t, "ord-1", "cmd-1", 1, "SKU-1"), part, 3)
	noKey := valid
	noKey.Key = nil
	garbage := valid
	garbage.Value = []byte("{not json")
	payment, err := events.NewEvent(events.TypePaymentVoid, "ord-1", events.VoidPayment{OrderID: "ord-1"})
	if err != nil {
		t.Fatal(err)
	}
	payment.SagaID, payment.Step, payment.Attempt, payment.IdempotencyKey = "ord-1", "authorize-payment", 1, "ord-1/authorize-payment/undo"
	wrongType := record(t, payment, part, 3)

	tests := []struct {
		name       string
		rec        kafkago.Message
		wantReason string
	}{
		{"no key", noKey, "record has no key"},
		{"malformed JSON", garbage, events.RuleMalformedJSON},
		{"another worker's command", wrongType, `type "podium.payment.void.v1" is not a command of worker inventory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &countingHandler{res: Success(nil)}
			p := newTestProcessor(t, h, Faults{})
			out := processAll(p, []kafkago.Message{tt.rec})
			if len(out) != 1 || out[0].Topic != "inventory.dlq" {
				t.Fatalf("got %v, want one record on inventory.dlq", out)
			}
			if reason := header(out[0], events.HeaderDLQReason); !strings.Contains(reason, tt.wantReason) {
				t.Errorf("got reason %q, want it to contain %q", reason, tt.wantReason)
			}
			if h.calls.Load() != 0 {
				t.Errorf("got %d handler calls, want 0", h.calls.Load())
			}
		})
	}
}

func header(m kafkago.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func TestDeadLetterRecord(t *testing.T) {
	rec := kafkago.Message{
		Topic: "inventory.commands", Partition: 4, Offset: 17, Key: []byte("ord-9"), Value: []byte("junk"),
		Headers: []kafkago.Header{{Key: "content-type", Value: []byte("text/plain")}},
	}
	got := pkafka.DeadLetter("inventory.dlq", rec, "malformed JSON")
	if got.Topic != "inventory.dlq" || string(got.Key) != "ord-9" || string(got.Value) != "junk" {
		t.Errorf("got topic %q key %q value %q, want inventory.dlq ord-9 junk", got.Topic, got.Key, got.Value)
	}
	want := map[string]string{
		"content-type":            "text/plain",
		events.HeaderDLQReason:    "malformed JSON",
		events.HeaderDLQTopic:     "inventory.commands",
		events.HeaderDLQPartition: "4",
		events.HeaderDLQOffset:    "17",
	}
	if len(got.Headers) != len(want) {
		t.Errorf("got %d headers, want %d", len(got.Headers), len(want))
	}
	for k, v := range want {
		if h := header(got, k); h != v {
			t.Errorf("got header %s %q, want %q", k, h, v)
		}
	}
	if len(rec.Headers) != 1 {
		t.Errorf("got %d headers on the original, want it unchanged (1)", len(rec.Headers))
	}
}

func TestProcessForwardsForeignCommands(t *testing.T) {
	h := &countingHandler{res: Success(nil)}
	p := newTestProcessor(t, h, Faults{})
	foreign := (home("ord-1") + 1) % events.DefaultPartitions
	rec := record(t, reserveCommand(t, "ord-1", "cmd-1", 1, "SKU-1"), foreign, 5)
	out := processAll(p, []kafkago.Message{rec})
	if len(out) != 1 || out[0].Topic != "inventory.commands" || string(out[0].Value) != string(rec.Value) {
		t.Fatalf("got %v, want the command forwarded to inventory.commands", out)
	}
	if h.calls.Load() != 0 {
		t.Errorf("got %d handler calls, want 0", h.calls.Load())
	}
}

func TestProcessFaults(t *testing.T) {
	tests := []struct {
		name          string
		faults        Faults
		wantCalls     int64
		wantReplies   int
		wantProcessed int
		wantOutcome   string
	}{
		{"none", Faults{}, 1, 1, 1, events.OutcomeSuccess},
		{"error", Faults{ErrorRate: 1}, 0, 1, 0, events.OutcomeError},
		{"drop", Faults{DropRate: 1}, 1, 0, 1, ""},
		{"duplicate", Faults{DuplicateRate: 1}, 1, 2, 1, events.OutcomeSuccess},
		{"error and drop", Faults{ErrorRate: 1, DropRate: 1}, 0, 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &countingHandler{res: Success(nil)}
			p := newTestProcessor(t, h, tt.faults)
			out := byTopic(processAll(p, []kafkago.Message{
				record(t, reserveCommand(t, "ord-1", "cmd-1", 1, "SKU-1"), home("ord-1"), 1),
			}))
			if got := h.calls.Load(); got != tt.wantCalls {
				t.Errorf("got %d handler calls, want %d", got, tt.wantCalls)
			}
			if got := len(out["inventory.replies"]); got != tt.wantReplies {
				t.Errorf("got %d replies, want %d", got, tt.wantReplies)
			}
			if got := len(out["inventory.processed"]); got != tt.wantProcessed {
				t.Errorf("got %d processed records, want %d", got, tt.wantProcessed)
			}
			for _, m := range out["inventory.replies"] {
				env, data := decodeReply(t, m)
				if env.Outcome != tt.wantOutcome {
					t.Errorf("got outcome %q, want %q", env.Outcome, tt.wantOutcome)
				}
				if tt.faults.ErrorRate == 1 && data.Reason != ReasonInjectedError {
					t.Errorf("got reason %q, want %q", data.Reason, ReasonInjectedError)
				}
			}
		})
	}
}

func TestFaultSourceIsDeterministic(t *testing.T) {
	f := Faults{ErrorRate: 0.3, DropRate: 0.2, DuplicateRate: 0.1, Seed: 42}
	draw := func(partition int) []faultDecision {
		s := newFaultSource(f, partition)
		out := make([]faultDecision, 1000)
		for i := range out {
			out[i] = s.next()
		}
		return out
	}
	a, b, other := draw(3), draw(3), draw(4)
	same, differ := true, false
	for i := range a {
		same = same && a[i] == b[i]
		differ = differ || a[i] != other[i]
	}
	if !same {
		t.Error("got different decisions for the same seed and partition, want the same")
	}
	if !differ {
		t.Error("got the same decisions for two partitions, want different sequences")
	}
	var errs, drops, dups int
	for _, d := range a {
		if d.Error {
			errs++
		}
		if d.Drop {
			drops++
		}
		if d.Duplicate {
			dups++
		}
	}
	for _, c := range []struct {
		name      string
		got, want int
	}{{"errors", errs, 300}, {"drops", drops, 200}, {"duplicates", dups, 100}} {
		if c.got < c.want*7/10 || c.got > c.want*13/10 {
			t.Errorf("got %d %s in 1000 draws, want about %d", c.got, c.name, c.want)
		}
	}
}

func TestFaultSourceExtremes(t *testing.T) {
	never, always := newFaultSource(Faults{Seed: 1}, 0), newFaultSource(Faults{ErrorRate: 1, DropRate: 1, DuplicateRate: 1, Seed: 1}, 0)
	for range 1000 {
		if d := never.next(); d != (faultDecision{}) {
			t.Fatalf("got %+v with zero rates, want no fault", d)
		}
		if d := always.next(); d != (faultDecision{Error: true, Drop: true, Duplicate: true}) {
			t.Fatalf("got %+v with rates 1, want every fault", d)
		}
	}
}

func TestNewReplyCarriesResult(t *testing.T) {
	cmd := reserveCommand(t, "ord-1", "cmd-1", 1, "SKU-1")
	reply, err := newReply("inventory", cmd, Success(json.RawMessage(`{"a":1}`)), cmd.Time)
	if err != nil {
		t.Fatal(err)
	}
	if err := reply.Validate(); err != nil {
		t.Errorf("got invalid reply: %v", err)
	}
	var data events.Reply
	if err := reply.DecodeData(&data); err != nil || string(data.Result) != `{"a":1}` {
		t.Errorf("got result %s (%v), want {\"a\":1}", data.Result, err)
	}
}

// registerResultTest registers a command whose successful replies must carry a "ticket".
var registerResultTest = sync.OnceValue(func() error {
	return events.Register(events.TypeSpec{
		Type: "example.workers.issue.v1", Kind: events.KindCommand, Worker: "tickets",
		Schema:       []byte(`{"type":"object","required":["saga_id"],"properties":{"saga_id":{"type":"string"}}}`),
		SubjectField: "saga_id",
		ResultSchema: []byte(`{"type":"object","required":["ticket"],"properties":{"ticket":{"type":"string"}}}`),
	})
})

// A result that breaks its command's result schema is not replied as a success: the
// runtime answers a retryable invalid_result instead (newReply fails, and the processor
// replies Retryable(ReasonInvalidResult)).
func TestNewReplyChecksTheResultSchema(t *testing.T) {
	if err := registerResultTest(); err != nil {
		t.Fatal(err)
	}
	cmd, err := events.NewEvent("example.workers.issue.v1", "s-1", map[string]string{"saga_id": "s-1"})
	if err != nil {
		t.Fatal(err)
	}
	cmd.SagaID, cmd.Step, cmd.Attempt, cmd.IdempotencyKey = "s-1", "issue", 1, "s-1/issue"
	if _, err := newReply("tickets", cmd, Success(map[string]string{"ticket": "t-1"}), cmd.Time); err != nil {
		t.Errorf("a result that matches: %v", err)
	}
	if _, err := newReply("tickets", cmd, Success(map[string]int{"ticket": 1}), cmd.Time); err == nil || !strings.Contains(err.Error(), "result schema") {
		t.Errorf("a result that breaks the schema: %v, want an error naming the result schema", err)
	}
	if _, err := newReply("tickets", cmd, Failure("sold_out", ""), cmd.Time); err != nil {
		t.Errorf("a failure has no result to check: %v", err)
	}
}

// processAll handles recs with a generation that does not end and returns what to write.
func processAll(p *processor, recs []kafkago.Message) []kafkago.Message {
	out, _ := p.process(context.Background(), context.Background(), recs)
	return out
}
