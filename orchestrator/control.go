package orchestrator

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// controlRequest is an operator request read from orders.control.
type controlRequest struct {
	id          string // the request's CloudEvents id
	orderID     string // the saga's ID (an order's, for the podium.order.* requests)
	action      string // saga.ControlCancel or saga.ControlRetry
	reason      string
	requestedBy string
	traceParent string
	// generic: a podium.saga.* request (any saga type), answered with podium.saga.*
	// outcomes; otherwise a podium.order.* one, answered with podium.order.* outcomes.
	generic bool
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
	case events.TypeSagaCancel:
		c.action, c.generic = saga.ControlCancel, true
	case events.TypeSagaRetry:
		c.action, c.generic = saga.ControlRetry, true
	default:
		return c, false
	}
	return c, true
}

// rejectedType and deferredType are the outcome types that answer r.
func (r controlRequest) rejectedType() string {
	if r.generic {
		return events.TypeSagaControlRejected
	}
	return events.TypeOrderControlRejected
}

func (r controlRequest) deferredType() string {
	if r.generic {
		return events.TypeSagaControlDeferred
	}
	return events.TypeOrderControlDeferred
}

// finishedLabel names the status of a finished saga whose type is unknown (the dedupe
// window keeps the status only): as the order saga names it for a podium.order.* request,
// as the only saga type names it when there is one, else the engine's name.
func (p *processor) finishedLabel(r controlRequest, status saga.Status) string {
	s := &saga.State{Status: status}
	if !r.generic {
		if t := p.types.byStart[events.TypeOrderPlaced]; t != nil {
			return t.Definition.Label(s)
		}
	}
	if len(p.types.types) == 1 {
		return p.types.types[0].Definition.Label(s)
	}
	return string(status)
}

// noun is what a request's answers call its saga.
func (r controlRequest) noun() string {
	if r.generic {
		return "saga"
	}
	return "order"
}

// controlUnknown answers a request for an order without a saga in memory: the order
// finished (rejected: order_finished), or is unknown (a cancel is held for the early-cancel
// window, announced as deferred; a retry, or a cancel that cannot be held, is rejected:
// unknown_order).
func (p *processor) controlUnknown(req controlRequest, finished saga.Status, done bool, now time.Time, out *batchOutput) {
	if done {
		status := p.finishedLabel(req, finished)
		p.controlOutcome(req.rejectedType(), req, events.ControlOutcome{
			Reason: events.ControlOrderFinished, Status: status, Message: "the " + req.noun() + " is " + status,
		}, now, out)
		return
	}
	if req.action == saga.ControlCancel {
		rec, until, err := p.early.hold(earlyCancel{OrderID: req.orderID, RequestID: req.id, Reason: req.reason,
			RequestedBy: req.requestedBy, TraceParent: req.traceParent, Generic: req.generic}, now)
		if err == nil {
			out.state = append(out.state, rec)
			p.log.Info().Str("order_id", req.orderID).Str("request_id", req.id).Time("until", until).
				Msg("holding a cancel for a saga that has not started")
			p.controlOutcome(req.deferredType(), req, events.ControlOutcome{
				Reason: events.ControlHeldForOrder, Until: &until,
				Message: fmt.Sprintf("no %s %s yet: the cancel is held until %s and applies if it arrives", req.noun(), req.orderID, until.Format(time.RFC3339)),
			}, now, out)
			return
		}
		p.controlOutcome(req.rejectedType(), req, events.ControlOutcome{
			Reason: events.ControlUnknownOrder, Message: "no such " + req.noun() + "; " + err.Error(),
		}, now, out)
		return
	}
	p.controlOutcome(req.rejectedType(), req, events.ControlOutcome{
		Reason: events.ControlUnknownOrder, Message: "no such " + req.noun(),
	}, now, out)
}

// controlApplied publishes the outcome of a request the engine handled: a rejection
// (the saga's status refused it; its timeline records it too), or, when applied, the
// request's ID in the saga's next timeline record.
func (p *processor) controlApplied(id string, next *saga.State, req controlRequest, outputs saga.Outputs, now time.Time, out *batchOutput) {
	for _, e := range outputs.Events {
		if e.Kind != saga.EventRejected {
			continue
		}
		status := string(next.Status)
		if def := p.definition(next); def != nil {
			status = def.Label(next)
		}
		reason := events.ControlInvalidStatus
		if next.Finished() {
			reason = events.ControlOrderFinished
		}
		req.traceParent = next.TraceParent
		p.controlOutcome(req.rejectedType(), req,
			events.ControlOutcome{Reason: reason, Status: status, Message: "the " + req.noun() + " is " + status, Recorded: true}, now, out)
		return
	}
	out.applied[id] = append(out.applied[id], req.id)
}

// expireEarly rejects the held cancels whose window ended without their order.
func (p *processor) expireEarly(now time.Time, out *batchOutput) {
	expired, tombs := p.early.expire(now)
	out.state = append(out.state, tombs...)
	for _, h := range expired {
		p.log.Info().Str("order_id", h.OrderID).Str("request_id", h.RequestID).Msg("rejecting a held cancel: its saga did not start")
		req := controlRequest{id: h.RequestID, orderID: h.OrderID, action: saga.ControlCancel, requestedBy: h.RequestedBy, traceParent: h.TraceParent, generic: h.Generic}
		p.controlOutcome(req.rejectedType(), req,
			events.ControlOutcome{Reason: events.ControlUnknownOrder, Message: fmt.Sprintf("no %s %s arrived within %s", req.noun(), h.OrderID, p.cfg.EarlyCancelWindow)}, now, out)
	}
}

// controlOutcome queues an event of type typ (rejected, deferred) about req on
// orders.events. Its ID derives from the request's, so a redo publishes the same event.
func (p *processor) controlOutcome(typ string, req controlRequest, o events.ControlOutcome, now time.Time, out *batchOutput) {
	o.Action, o.RequestID, o.RequestedBy = req.action, req.id, req.requestedBy
	if req.generic {
		o.SagaID = req.orderID
	} else {
		o.OrderID = req.orderID
	}
	if typ == req.rejectedType() {
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
	id := o.OrderID
	if o.SagaID != "" {
		id = o.SagaID
	}
	env := events.Envelope{
		ID:              uuid.NewSHA1(eventNamespace, []byte(id+"/"+typ+"/"+o.RequestID)).String(),
		Source:          "podium/orchestrator",
		Type:            typ,
		Subject:         id,
		Time:            now.UTC(),
		DataContentType: "application/json",
		SagaID:          id,
		CausationID:     o.RequestID,
		TraceParent:     traceParent,
		Data:            data,
	}
	return encodeMessage(events.TopicOrdersEvents, id, env)
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
