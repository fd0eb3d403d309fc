package orchestrator

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// controlRequest is an operator request read from orders.control.
type controlRequest struct {
	id          string // the request's CloudEvents id
	orderID     string
	action      string // saga.ControlCancel or saga.ControlRetry
	reason      string
	requestedBy string
	traceParent string
}

func controlOf(env events.Envelope) (controlRequest, bool) {
	var req events.ControlRequest
	_ = env.DecodeData(&req) // validated by Decode
	c := controlRequest{id: env.ID, orderID: env.Subject, reason: req.Reason, requestedBy: req.RequestedBy, traceParent: env.TraceParent}
	switch env.Type {
	case events.TypeOrderCancel:
		c.action = saga.ControlCancel
	case events.TypeOrderRetry:
		c.action = saga.ControlRetry
	default:
		return c, false
	}
	return c, true
}

// controlUnknown answers a request for an order without a saga in memory: the order
// finished (rejected: order_finished), or is unknown (a cancel is held for the early-cancel
// window, announced as deferred; a retry, or a cancel that cannot be held, is rejected:
// unknown_order).
func (p *processor) controlUnknown(req controlRequest, finished saga.Status, done bool, now time.Time, out *batchOutput) {
	if done {
		status := order.StatusOf(&saga.State{Status: finished})
		p.controlOutcome(events.TypeOrderControlRejected, req, events.ControlOutcome{
			Reason: events.ControlOrderFinished, Status: string(status), Message: "the order is " + string(status),
		}, now, out)
		return
	}
	if req.action == saga.ControlCancel {
		rec, until, err := p.early.hold(earlyCancel{OrderID: req.orderID, RequestID: req.id, Reason: req.reason,
			RequestedBy: req.requestedBy, TraceParent: req.traceParent}, now)
		if err == nil {
			out.state = append(out.state, rec)
			p.log.Info().Str("order_id", req.orderID).Str("request_id", req.id).Time("until", until).
				Msg("holding a cancel for an order that has not arrived")
			p.controlOutcome(events.TypeOrderControlDeferred, req, events.ControlOutcome{
				Reason: events.ControlHeldForOrder, Until: &until,
				Message: fmt.Sprintf("no order %s yet: the cancel is held until %s and applies if the order arrives", req.orderID, until.Format(time.RFC3339)),
			}, now, out)
			return
		}
		p.controlOutcome(events.TypeOrderControlRejected, req, events.ControlOutcome{
			Reason: events.ControlUnknownOrder, Message: "no such order; " + err.Error(),
		}, now, out)
		return
	}
	p.controlOutcome(events.TypeOrderControlRejected, req, events.ControlOutcome{
		Reason: events.ControlUnknownOrder, Message: "no such order",
	}, now, out)
}

// controlApplied publishes the outcome of a request the engine handled: a rejection
// (the saga's status refused it; its timeline records it too), or, when applied, the
// request's ID in the saga's next timeline record.
func (p *processor) controlApplied(id string, next *saga.State, in saga.Input, requestID string, outputs saga.Outputs, now time.Time, out *batchOutput) {
	for _, e := range outputs.Events {
		if e.Kind != saga.EventRejected {
			continue
		}
		status := order.StatusOf(next)
		reason := events.ControlInvalidStatus
		if next.Finished() {
			reason = events.ControlOrderFinished
		}
		p.controlOutcome(events.TypeOrderControlRejected, controlRequest{id: requestID, orderID: id, action: in.Action, traceParent: next.TraceParent},
			events.ControlOutcome{Reason: reason, Status: string(status), Message: "the order is " + string(status), Recorded: true}, now, out)
		return
	}
	out.applied[id] = append(out.applied[id], requestID)
}

// expireEarly rejects the held cancels whose window ended without their order.
func (p *processor) expireEarly(now time.Time, out *batchOutput) {
	expired, tombs := p.early.expire(now)
	out.state = append(out.state, tombs...)
	for _, h := range expired {
		p.log.Info().Str("order_id", h.OrderID).Str("request_id", h.RequestID).Msg("rejecting a held cancel: its order did not arrive")
		p.controlOutcome(events.TypeOrderControlRejected,
			controlRequest{id: h.RequestID, orderID: h.OrderID, action: saga.ControlCancel, requestedBy: h.RequestedBy, traceParent: h.TraceParent},
			events.ControlOutcome{Reason: events.ControlUnknownOrder, Message: fmt.Sprintf("no order %s arrived within %s", h.OrderID, p.cfg.EarlyCancelWindow)}, now, out)
	}
}

// controlOutcome queues an event of type typ (rejected, deferred) about req on
// orders.events. Its ID derives from the request's, so a redo publishes the same event.
func (p *processor) controlOutcome(typ string, req controlRequest, o events.ControlOutcome, now time.Time, out *batchOutput) {
	o.OrderID, o.Action, o.RequestID, o.RequestedBy = req.orderID, req.action, req.id, req.requestedBy
	if typ == events.TypeOrderControlRejected {
		p.cfg.Metrics.Lifecycle.WithLabelValues(typ).Inc()
		p.log.Info().Str("order_id", req.orderID).Str("request_id", req.id).Str("action", req.action).
			Str("reason", o.Reason).Msg("operator request rejected")
	}
	m, err := controlOutcomeMessage(typ, o, req.traceParent, now)
	if err != nil {
		p.log.Error().Err(err).Str("order_id", req.orderID).Msg("encoding the outcome of an operator request")
		return
	}
	out.messages = append(out.messages, m)
}

func controlOutcomeMessage(typ string, o events.ControlOutcome, traceParent string, now time.Time) (kafkago.Message, error) {
	data, err := json.Marshal(o)
	if err != nil {
		return kafkago.Message{}, err
	}
	env := events.Envelope{
		ID:              uuid.NewSHA1(eventNamespace, []byte(o.OrderID+"/"+typ+"/"+o.RequestID)).String(),
		Source:          "podium/orchestrator",
		Type:            typ,
		Subject:         o.OrderID,
		Time:            now.UTC(),
		DataContentType: "application/json",
		SagaID:          o.OrderID,
		CausationID:     o.RequestID,
		TraceParent:     traceParent,
		Data:            data,
	}
	return encodeMessage(events.TopicOrdersEvents, o.OrderID, env)
}

// timelineBase notes the saga's version before the batch's first entry for it (the
// base_version of its timeline record).
func (out *batchOutput) timelineBase(id string, s *saga.State) {
	if _, ok := out.base[id]; ok {
		return
	}
	var v uint64
	if s != nil {
		v = s.Version
	}
	out.base[id] = v
}
