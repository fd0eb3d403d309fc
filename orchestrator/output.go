package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/google/uuid"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// HeaderForwardedFrom is set on a record forwarded to its home partition: the
// topic/partition@offset it first arrived on.
const HeaderForwardedFrom = "podium.forwarded-from"

// eventNamespace derives lifecycle event IDs, so that an event re-published after a crash
// carries the same ID and consumers can drop the duplicate.
var eventNamespace = uuid.MustParse("6f1c3d1e-8a4b-4f53-9a43-2f6f0b1d7c55")

// commandMessage encodes a saga command for its worker's topic, carrying the W3C
// traceparent of the span that sends it.
func (p *processor) commandMessage(s *saga.State, c saga.Command, causation, traceparent string, now time.Time) (kafkago.Message, error) {
	env := events.Envelope{
		ID:              c.ID,
		Source:          "podium/orchestrator",
		Type:            c.Type,
		Subject:         c.SagaID,
		Time:            now.UTC(),
		DataContentType: "application/json",
		SagaID:          c.SagaID,
		Step:            c.Step,
		Attempt:         c.Attempt,
		IdempotencyKey:  c.IdempotencyKey,
		CausationID:     causation,
		TraceParent:     traceparent,
		Data:            c.Payload,
	}
	m, err := encodeMessage(events.CommandsTopic(c.Worker), c.SagaID, env)
	if err != nil {
		return kafkago.Message{}, fmt.Errorf("encoding command %s: %w", c.ID, err)
	}
	return m, nil
}

// lifecycleMessage encodes a public lifecycle event (its type and data from the saga's
// type, see SagaType.Lifecycle) for orders.events, carrying the W3C traceparent of the span
// that publishes it.
func (p *processor) lifecycleMessage(s *saga.State, typ string, payload any, traceparent string, now time.Time) (kafkago.Message, error) {
	data, err := json.Marshal(payload)
	if err != nil {
		return kafkago.Message{}, err
	}
	env := events.Envelope{
		ID:              uuid.NewSHA1(eventNamespace, []byte(s.SagaID+"/"+typ+"/"+strconv.FormatUint(s.Version, 10))).String(),
		Source:          "podium/orchestrator",
		Type:            typ,
		Subject:         s.SagaID,
		Time:            now.UTC(),
		DataContentType: "application/json",
		SagaID:          s.SagaID,
		TraceParent:     traceparent,
		Data:            data,
	}
	return encodeMessage(events.TopicOrdersEvents, s.SagaID, env)
}

// deadLetter queues the original record for orders.dlq with the reason it was refused.
func (p *processor) deadLetter(m kafkago.Message, reason error, out *batchOutput) {
	label := "unexpected_type"
	var de *events.DecodeError
	if errors.As(reason, &de) {
		label = de.Rule
	}
	p.cfg.Metrics.DeadLetters.WithLabelValues(label).Inc()
	p.log.Warn().Str("topic", m.Topic).Int64("offset", m.Offset).Str("reason", reason.Error()).Msg("dead letter")
	out.messages = append(out.messages, pkafka.DeadLetter(events.TopicOrdersDLQ, m, reason.Error()))
}

// forward re-publishes a record on its order's home partition (same topic).
func (p *processor) forward(m kafkago.Message, orderID string, out *batchOutput) {
	p.cfg.Metrics.Forwarded.Inc()
	headers := append(append([]kafkago.Header(nil), m.Headers...), kafkago.Header{
		Key:   HeaderForwardedFrom,
		Value: []byte(fmt.Sprintf("%s/%d@%d", m.Topic, m.Partition, m.Offset)),
	})
	out.messages = append(out.messages, kafkago.Message{Topic: m.Topic, Key: []byte(orderID), Value: m.Value, Headers: headers})
}

func toRecord(m kafkago.Message) events.Record {
	r := events.Record{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value}
	if len(m.Headers) > 0 {
		r.Headers = make([]events.Header, len(m.Headers))
		for i, h := range m.Headers {
			r.Headers[i] = events.Header{Key: h.Key, Value: h.Value}
		}
	}
	return r
}

func toKafkaHeaders(hs []events.Header) []kafkago.Header {
	out := make([]kafkago.Header, len(hs))
	for i, h := range hs {
		out[i] = kafkago.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

// seedOf derives a saga's jitter seed from its ID, so a re-applied start is identical.
func seedOf(id string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	return h.Sum64()
}

// newTraceParent starts a W3C trace for an order placed without one.
func newTraceParent() string {
	t := uuid.New()
	s := uuid.New()
	return fmt.Sprintf("00-%x-%x-01", t[:], s[:8])
}

// timelineMessages encodes the history entries of the batch as one podium.saga.timeline.v1
// record per saga, in the order the sagas were touched.
func (p *processor) timelineMessages(out *batchOutput, now time.Time) []kafkago.Message {
	var msgs []kafkago.Message
	for _, id := range out.order {
		entries := out.timeline[id]
		s := p.sagas[id]
		if len(entries) == 0 || s == nil {
			continue
		}
		base := out.base[id]
		tl := events.SagaTimeline{SagaID: id, Definition: s.Definition, Version: s.Version, BaseVersion: &base, Generation: p.a.Generation.ID,
			AppliedRequests: out.applied[id], Status: string(s.Status),
			Entries: make([]events.TimelineEntry, len(entries))}
		for i, h := range entries {
			tl.Entries[i] = events.TimelineEntry(h)
		}
		data, err := json.Marshal(tl)
		if err != nil {
			p.log.Error().Err(err).Str("order_id", id).Msg("encoding timeline")
			continue
		}
		env := events.Envelope{
			ID:              uuid.NewSHA1(eventNamespace, []byte(id+"/timeline/"+strconv.FormatUint(s.Version, 10))).String(),
			Source:          "podium/orchestrator",
			Type:            events.TypeSagaTimeline,
			Subject:         id,
			Time:            now.UTC(),
			DataContentType: "application/json",
			SagaID:          id,
			TraceParent:     s.TraceParent,
			Data:            data,
		}
		m, err := encodeMessage(events.TopicOrdersEvents, id, env)
		if err != nil {
			p.log.Error().Err(err).Str("order_id", id).Msg("encoding timeline")
			continue
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// encodeMessage encodes env as a record of topic keyed by key (an order ID).
func encodeMessage(topic, key string, env events.Envelope) (kafkago.Message, error) {
	value, headers, err := events.Encode(env)
	if err != nil {
		return kafkago.Message{}, err
	}
	return kafkago.Message{Topic: topic, Key: []byte(key), Value: value, Headers: toKafkaHeaders(headers)}, nil
}

func countTombstones(msgs []kafkago.Message) int {
	n := 0
	for _, m := range msgs {
		if m.Value == nil {
			n++
		}
	}
	return n
}

// write writes msgs. When the broker refuses a record for its size (MessageSizeTooLarge:
// a forwarded record that the forwarding header pushed over the limit, an output larger
// than the broker accepts), that record alone is lost to its destination: the records are
// then written one at a time, in order, and each refused one is replaced by a dead letter
// (truncated to fit) on orders.dlq. The batch, the partition and the generation go on.
func (p *processor) write(ctx context.Context, msgs []kafkago.Message) error {
	err := p.w.WriteMessages(ctx, msgs...)
	if err == nil || !errors.Is(err, kafkago.MessageSizeTooLarge) {
		return err
	}
	p.log.Warn().Err(err).Int("records", len(msgs)).Msg("the broker refused a record for its size; writing the batch one record at a time")
	for _, m := range msgs {
		err := p.w.WriteMessages(ctx, m)
		if err == nil {
			continue
		}
		if !errors.Is(err, kafkago.MessageSizeTooLarge) {
			return err
		}
		reason := fmt.Sprintf("%s: the broker refused this record for %s (%d bytes): %v", RuleTooLarge, m.Topic, len(m.Key)+len(m.Value), err)
		p.cfg.Metrics.DeadLetters.WithLabelValues(RuleTooLarge).Inc()
		p.log.Error().Str("topic", m.Topic).Str("order_id", string(m.Key)).Int("bytes", len(m.Value)).Msg("dead-lettering a record the broker refused for its size")
		dl := pkafka.DeadLetter(events.TopicOrdersDLQ, m, reason)
		if err := p.w.WriteMessages(ctx, dl); err != nil {
			return fmt.Errorf("writing the dead letter of a record too large: %w", err)
		}
	}
	return nil
}
