package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
)

// Reasons of the error replies the runtime makes itself.
const (
	// ReasonHandlerPanic: the handler panicked; the reply is a retryable error.
	ReasonHandlerPanic = "handler_panic"
	// ReasonInvalidOutcome: the handler returned an outcome other than success, failure, error.
	ReasonInvalidOutcome = "invalid_outcome"
	// ReasonInvalidResult: the handler's success result could not be marshalled to JSON,
	// or does not match its command's registered result schema (events.TypeSpec.ResultSchema).
	ReasonInvalidResult = "invalid_result"
	// reasonUnspecified replaces an empty reason of a failure or error.
	reasonUnspecified = "unspecified"
)

// topicNames are a worker's topics.
type topicNames struct {
	commands, replies, processed, dlq string
}

func topicsOf(worker string) topicNames {
	return topicNames{
		commands:  events.CommandsTopic(worker),
		replies:   events.RepliesTopic(worker),
		processed: events.ProcessedTopic(worker),
		dlq:       events.DLQTopic(worker),
	}
}

// processor turns the commands of one partition into the records to write: processed
// records, replies, dead letters, forwarded commands and the tombstones of expired keys. It
// owns the partition's processed store. One per partition goroutine; not safe for
// concurrent use.
type processor struct {
	worker         string
	topics         topicNames
	types          map[string]bool
	partitions     int // of the commands topic: where each key's home partition is
	handler        Handler
	handlerTimeout time.Duration
	latency        time.Duration
	faults         *faultSource
	metrics        *Metrics
	log            zerolog.Logger
	now            func() time.Time

	// store holds the replies stored for the idempotency keys within the retention window.
	store *processedStore

	tracer trace.Tracer // of the global provider when the processor was made
	spans  []trace.Span // of the batch's commands, ended once written (endSpans)
}

func newProcessor(cfg Config, h Handler, partition int, log zerolog.Logger) *processor {
	types := make(map[string]bool, len(cfg.Types))
	for _, t := range cfg.Types {
		types[t] = true
	}
	return &processor{
		worker:         cfg.Worker,
		topics:         topicsOf(cfg.Worker),
		types:          types,
		partitions:     cfg.Partitions,
		handler:        h,
		handlerTimeout: cfg.HandlerTimeout,
		latency:        cfg.Faults.Latency,
		faults:         newFaultSource(cfg.Faults, partition),
		metrics:        cfg.Metrics,
		log:            log,
		now:            time.Now,
		store:          newProcessedStore(cfg.ProcessedRetention),
		tracer:         otel.Tracer(tracerName),
	}
}

// process handles command records in offset order until gen (the partition's generation)
// ends, and returns every record to write for the ones handled and how many they are.
// Handlers run with work, which outlives gen by the revoke grace (see processBatch).
func (p *processor) process(gen, work context.Context, recs []kafkago.Message) ([]kafkago.Message, int) {
	var out []kafkago.Message
	for i, rec := range recs {
		if gen.Err() != nil {
			return out, i // revoked: the rest is the next owner's
		}
		out = append(out, p.processOne(work, rec)...)
	}
	return out, len(recs)
}

// commitPending makes the batch's stored replies part of the store and settles the
// tombstones it carried, once written.
func (p *processor) commitPending() {
	p.storedReplies(p.store.written())
	p.endSpans(nil)
}

// discardPending forgets the batch's stored replies: the batch was not written and will be
// handled again. The tombstones it carried stay owed.
func (p *processor) discardPending() {
	p.store.unwritten()
	p.endSpans(errNotWritten)
}

// errNotWritten ends the spans of a batch that was not written.
var errNotWritten = errors.New("the batch was not written: its commands are handled again")

// expire forgets the replies stored longer than the retention window ago and owes their
// tombstones; it returns how many it forgot.
func (p *processor) expire() int {
	n := p.store.expire(p.now())
	if n > 0 {
		p.metrics.ExpiredReplies.WithLabelValues(p.worker).Add(float64(n))
		p.storedReplies(-n)
	}
	return n
}

// storedReplies adds delta to the gauge of stored replies.
func (p *processor) storedReplies(delta int) {
	if delta != 0 {
		p.metrics.StoredReplies.WithLabelValues(p.worker).Add(float64(delta))
	}
}

// tombstones returns the tombstones of up to limit owed keys, for the write in hand: a
// record with the key and no value on the processed topic, which lands on the partition of
// the record it deletes.
func (p *processor) tombstones(limit int) []kafkago.Message {
	keys := p.store.tombstones(limit)
	if len(keys) == 0 {
		return nil
	}
	now := p.now()
	out := make([]kafkago.Message, len(keys))
	for i, k := range keys {
		out[i] = kafkago.Message{Topic: p.topics.processed, Key: []byte(k), Time: now}
	}
	return out
}

// lookup finds the reply stored for key, by this batch or before.
func (p *processor) lookup(key string) (storedReply, bool) { return p.store.lookup(key) }

func (p *processor) processOne(ctx context.Context, rec kafkago.Message) []kafkago.Message {
	if len(rec.Key) == 0 {
		return p.deadLetter(rec, "record has no key: commands are keyed by order ID")
	}
	env, err := events.Decode(eventsRecord(rec))
	if err != nil {
		var de *events.DecodeError
		if errors.As(err, &de) {
			return p.deadLetter(rec, de.Error())
		}
		return p.deadLetter(rec, "decoding: "+err.Error())
	}
	if !p.types[env.Type] {
		return p.deadLetter(rec, fmt.Sprintf("type %q is not a command of worker %s", env.Type, p.worker))
	}
	if env.IdempotencyKey == "" {
		return p.deadLetter(rec, "command has no "+events.ExtIdempotencyKey+" extension")
	}
	if home := pkafka.HomePartition(rec.Key, p.partitions); home != rec.Partition {
		p.metrics.Forwarded.WithLabelValues(p.worker).Inc()
		p.log.Info().Str("order_id", string(rec.Key)).Int64("offset", rec.Offset).Int("home_partition", home).
			Msg("forwarding a command to its home partition")
		return []kafkago.Message{{Topic: p.topics.commands, Key: rec.Key, Value: rec.Value, Headers: rec.Headers}}
	}

	log := p.log.With().Str("order_id", env.Subject).Str("traceparent", env.TraceParent).Str("step", env.Step).
		Str("command_id", env.ID).Int("attempt", env.Attempt).Logger()
	ctx, span, traceparent := p.startHandle(ctx, rec, env)
	fault := p.faults.next()
	p.delay(ctx)

	if stored, ok := p.lookup(env.IdempotencyKey); ok {
		p.metrics.Replayed.WithLabelValues(p.worker).Inc()
		log.Debug().Str("outcome", replyOutcomes[stored.outcome]).Msg("repeated idempotency key: re-sending the stored reply")
		reply := p.resend(stored, env, p.now())
		reply.TraceParent = traceparent
		handled(span, reply, true)
		return p.replies(rec, reply, fault, log)
	}

	var res Result
	if fault.Error {
		p.metrics.InjectedFaults.WithLabelValues(p.worker, "error").Inc()
		res = Retryable(ReasonInjectedError, "error injected by the worker's error rate")
	} else {
		res = p.call(ctx, env, log)
	}
	reply, err := newReply(p.worker, env, res, p.now())
	if err != nil { // a result that cannot be marshalled, or breaks its schema: a bug
		log.Error().Err(err).Msg("the handler's result is refused; replying a retryable error")
		reply, _ = newReply(p.worker, env, Retryable(ReasonInvalidResult, err.Error()), p.now())
	}
	reply.TraceParent = traceparent
	handled(span, reply, false)
	p.metrics.Commands.WithLabelValues(p.worker, reply.Outcome).Inc()
	log.Debug().Str("outcome", reply.Outcome).Msg("command handled")

	var out []kafkago.Message
	if reply.Outcome != events.OutcomeError {
		// Stored at the reply's time, to the millisecond: the precision of the processed
		// record's "at" and of its Kafka timestamp, so a restored key expires when this one does.
		at := reply.Time.Truncate(time.Millisecond)
		if stored, ok := p.store.compact(reply, at); ok {
			value, err := p.store.value(stored)
			if err != nil {
				return p.deadLetter(rec, err.Error())
			}
			p.store.stage(env.IdempotencyKey, stored)
			out = append(out, kafkago.Message{
				Topic: p.topics.processed, Key: []byte(env.IdempotencyKey), Value: value, Time: at,
			})
		}
	}
	return append(out, p.replies(rec, reply, fault, log)...)
}

// call runs the handler with the per-command deadline, turning a panic into a retryable error.
func (p *processor) call(ctx context.Context, env events.Envelope, log zerolog.Logger) (res Result) {
	hctx, cancel := context.WithTimeout(ctx, p.handlerTimeout) // ctx ends with the revoke grace
	defer cancel()
	start := time.Now()
	defer func() {
		p.metrics.HandlerSeconds.WithLabelValues(p.worker).Observe(time.Since(start).Seconds())
		if r := recover(); r != nil {
			log.Error().Interface("panic", r).Bytes("stack", debug.Stack()).Msg("handler panicked")
			res = Retryable(ReasonHandlerPanic, fmt.Sprint(r))
		}
	}()
	return p.handler.Handle(hctx, Command{Envelope: env})
}

// delay waits the injected latency, or until ctx ends.
func (p *processor) delay(ctx context.Context) {
	if p.latency <= 0 {
		return
	}
	t := time.NewTimer(p.latency)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// replies encodes reply as the records to send for command rec: none if the reply is
// dropped, two if it is duplicated.
func (p *processor) replies(rec kafkago.Message, reply events.Envelope, fault faultDecision, log zerolog.Logger) []kafkago.Message {
	if fault.Drop {
		p.metrics.InjectedFaults.WithLabelValues(p.worker, "drop").Inc()
		log.Debug().Msg("dropping the reply (injected)")
		return nil
	}
	value, headers, err := events.Encode(reply)
	if err != nil {
		return p.deadLetter(rec, "encoding the reply: "+err.Error())
	}
	msg := kafkago.Message{Topic: p.topics.replies, Key: rec.Key, Value: value, Headers: kafkaHeaders(headers)}
	if fault.Duplicate {
		p.metrics.InjectedFaults.WithLabelValues(p.worker, "duplicate").Inc()
		return []kafkago.Message{msg, msg}
	}
	return []kafkago.Message{msg}
}

func (p *processor) deadLetter(rec kafkago.Message, reason string) []kafkago.Message {
	p.metrics.DeadLetters.WithLabelValues(p.worker).Inc()
	p.log.Warn().Str("order_id", string(rec.Key)).Int64("offset", rec.Offset).Str("reason", reason).
		Msg("dead-lettering a record")
	return []kafkago.Message{pkafka.DeadLetter(p.topics.dlq, rec, reason)}
}

// ReplySource is the CloudEvents source of a worker's replies.
func ReplySource(worker string) string { return "podium/workers/" + worker }

// replyID is the CloudEvents id of the reply to the command with ID commandID: deterministic,
// so a command delivered twice is answered with the same reply id.
func replyID(commandID string) string {
	return uuid.NewSHA1(idNamespace, []byte("reply\x00"+commandID)).String()
}

// newReply builds the reply to cmd carrying res. It fails only if res.Result cannot be
// marshalled.
func newReply(worker string, cmd events.Envelope, res Result, now time.Time) (events.Envelope, error) {
	res = normalize(res)
	data := events.Reply{Reason: res.Reason, Message: res.Message}
	if res.Outcome == events.OutcomeSuccess && res.Result != nil {
		raw, err := json.Marshal(res.Result)
		if err != nil {
			return events.Envelope{}, fmt.Errorf("marshalling the result: %w", err)
		}
		if err := events.ValidateResult(cmd.Type, raw); err != nil {
			return events.Envelope{}, fmt.Errorf("the result does not match the result schema of %s: %w", cmd.Type, err)
		}
		data.Result = raw
	}
	// NewEvent fills the data content type and the reply schema's URL.
	reply, err := events.NewEvent(events.ReplyType(cmd.Type), cmd.Subject, data)
	if err != nil {
		return events.Envelope{}, err
	}
	reply.ID = replyID(cmd.ID)
	reply.Source = ReplySource(worker)
	reply.Time = now.UTC()
	reply.SagaID = cmd.SagaID
	reply.Step = cmd.Step
	reply.Attempt = cmd.Attempt
	reply.CorrelationID = cmd.ID
	reply.CausationID = cmd.ID
	reply.IdempotencyKey = cmd.IdempotencyKey
	reply.Outcome = res.Outcome
	reply.TraceParent = cmd.TraceParent
	return reply, nil
}

// normalize fixes what a handler may get wrong: an unknown outcome becomes a retryable
// error, a failure or error gets a reason.
func normalize(res Result) Result {
	switch res.Outcome {
	case events.OutcomeSuccess:
		res.Reason = ""
	case events.OutcomeFailure, events.OutcomeError:
		if res.Reason == "" {
			res.Reason = reasonUnspecified
		}
	default:
		res = Retryable(ReasonInvalidOutcome, fmt.Sprintf("the handler returned outcome %q", res.Outcome))
	}
	return res
}

// resend is the stored reply re-addressed to cmd, a repeat of its command: the answer (type,
// outcome, data) is the stored one; the addressing (subject, sagaid, step, idempotencykey,
// attempt, correlationid, causationid, traceparent) is the repeat's, and its id is derived
// from the repeat's ID.
func (p *processor) resend(stored storedReply, cmd events.Envelope, now time.Time) events.Envelope {
	t := p.store.types[stored.typ]
	return events.Envelope{
		ID:              replyID(cmd.ID),
		Source:          ReplySource(p.worker),
		Type:            t.name,
		Subject:         cmd.Subject,
		Time:            now.UTC(),
		DataContentType: events.ContentTypeJSON,
		DataSchema:      t.schema,
		SagaID:          cmd.SagaID,
		Step:            cmd.Step,
		Attempt:         cmd.Attempt,
		CorrelationID:   cmd.ID,
		CausationID:     cmd.ID,
		IdempotencyKey:  cmd.IdempotencyKey,
		Outcome:         replyOutcomes[stored.outcome],
		TraceParent:     cmd.TraceParent,
		Data:            json.RawMessage(stored.data),
	}
}

// eventsRecord is rec as the codec sees it.
func eventsRecord(rec kafkago.Message) events.Record {
	var headers []events.Header
	if len(rec.Headers) > 0 {
		headers = make([]events.Header, len(rec.Headers))
		for i, h := range rec.Headers {
			headers[i] = events.Header{Key: h.Key, Value: h.Value}
		}
	}
	return events.Record{
		Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset,
		Key: rec.Key, Value: rec.Value, Headers: headers,
	}
}

func kafkaHeaders(hs []events.Header) []kafkago.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]kafkago.Header, len(hs))
	for i, h := range hs {
		out[i] = kafkago.Header{Key: h.Key, Value: h.Value}
	}
	return out
}
