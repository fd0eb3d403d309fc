package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/client"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// publishTimeout bounds one publish to Kafka from a request.
const publishTimeout = 15 * time.Second

func (s *Service) routes(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, s.instrument(pattern, h))
	}
	handle("GET /orders/{id}", s.getOrder)
	handle("GET /orders", s.listOrders)
	handle("POST /orders", s.placeOrder)
	handle("POST /orders/{id}/cancel", s.control(events.TypeOrderCancel, saga.ControlCancel, true))
	handle("POST /orders/{id}/retry", s.control(events.TypeOrderRetry, saga.ControlRetry, true))
	handle("GET /orders/{id}/dag.svg", s.dag(true))
	handle("GET /sagas/{id}", s.getSaga)
	handle("GET /sagas", s.listSagas)
	handle("POST /sagas/{id}/cancel", s.control(events.TypeSagaCancel, saga.ControlCancel, false))
	handle("POST /sagas/{id}/retry", s.control(events.TypeSagaRetry, saga.ControlRetry, false))
	handle("GET /sagas/{id}/dag.svg", s.dag(false))
	handle("GET /saga/diagram.svg", s.sagaDiagram)
	handle("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	handle("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.instrument("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}).ServeHTTP))
	mux.HandleFunc("GET /events", s.events) // counted by podium_api_sse_clients, not timed
	s.ui.routes(mux, handle)
	// Authentication, the origin check and the JSON-only rule apply to every route.
	return s.protect(mux)
}

// statusRecorder remembers the status code written.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// instrument counts and times requests of one route.
func (s *Service) instrument(route string, h http.HandlerFunc) http.Handler {
	hist := s.metrics.latency.WithLabelValues(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		h(rec, r)
		if rec.code == 0 {
			rec.code = http.StatusOK
		}
		hist.Observe(time.Since(t0).Seconds())
		s.metrics.requests.WithLabelValues(route, r.Method, strconv.Itoa(rec.code)).Inc()
		s.log.Debug().Str("method", r.Method).Str("path", r.URL.Path).Int("code", rec.code).Dur("took", time.Since(t0)).Msg("request")
	})
}

// ErrorBody is the JSON of every error answer.
type ErrorBody struct {
	Error string `json:"error"`
	// Problems lists every validation problem of a rejected OrderPlaced.
	Problems []Problem `json:"problems,omitempty"`
	// ValidStatuses is set when the status filter was unknown.
	ValidStatuses []string `json:"valid_statuses,omitempty"`
	// ValidTypes is set when the type filter was unknown.
	ValidTypes []string `json:"valid_types,omitempty"`
}

// Problem is one reason an OrderPlaced was rejected (an events.DecodeError).
type Problem struct {
	Field   string `json:"field"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string, body *ErrorBody) {
	if body == nil {
		body = &ErrorBody{}
	}
	body.Error = msg
	writeJSON(w, code, body)
}

// SagaDetail is the answer of GET /sagas/{id}: one saga of any type.
type SagaDetail struct {
	Summary
	Milestones []string   `json:"milestones"`
	Steps      []StepView `json:"steps"`
	// History is the saga's timeline, oldest first: the entries of its timeline records
	// on orders.events (or, for a saga written before those existed, its format-1
	// snapshot's history). The newest 200 (TimelineLimit) are kept; HistoryDropped counts
	// the older ones.
	History        []events.TimelineEntry `json:"history"`
	HistoryDropped int                    `json:"history_dropped,omitempty"`
	// Snapshot is where the steps come from: "held" (the latest snapshot); "removed" (the
	// orchestrator tombstoned it at the end of its retention window: the summary and the
	// timeline are the last known, Steps is empty); "none" (no snapshot read yet, the
	// saga is known by its timeline records only).
	Snapshot string `json:"snapshot"`
	// ExpiresAt is when a finished saga leaves the read model (absent while in flight).
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Input is the document the saga started with (an OrderPlaced, a ReturnRequested, ...),
	// redacted (see the package doc); absent once the saga finished, when the
	// orchestrator's snapshot no longer carries it. An OrderDetail has it as Order.
	Input json.RawMessage `json:"input,omitempty"`
	// Actions are the operator requests the engine would apply to the saga now, by
	// what the read model shows ("cancel", "retry"; see saga.Refusal).
	Actions []string          `json:"actions"`
	Links   map[string]string `json:"links"`
}

// OrderDetail is the answer of GET /orders/{id}: the SagaDetail of an order saga, its
// input (the OrderPlaced document) as Order.
type OrderDetail struct {
	SagaDetail
	// Order is the OrderPlaced document the saga started with (absent once the saga
	// finished, when the orchestrator's snapshot no longer carries it).
	Order json.RawMessage `json:"order,omitempty"`
}

// Values of OrderDetail.Snapshot.
const (
	SnapshotHeld    = "held"
	SnapshotRemoved = "removed"
	SnapshotNone    = "none"
)

// StepView is one step of a saga: its state, attempts and outcome, and its
// compensation.
type StepView struct {
	Name     string `json:"name"`
	Worker   string `json:"worker,omitempty"`
	Type     string `json:"type,omitempty"`
	Optional bool   `json:"optional,omitempty"`
	// OnCompensated marks a step that runs after a completed compensation.
	OnCompensated bool            `json:"on_compensated,omitempty"`
	State         saga.StepStatus `json:"state"`
	Outcome       saga.Outcome    `json:"outcome,omitempty"`
	Attempts      int             `json:"attempts"`
	Reason        string          `json:"reason,omitempty"`
	CommandID     string          `json:"command_id,omitempty"`
	Deadline      *time.Time      `json:"deadline,omitempty"`
	RetryAt       *time.Time      `json:"retry_at,omitempty"`
	Result        json.RawMessage `json:"result,omitempty"`
	Compensation  *CompView       `json:"compensation,omitempty"`
}

// CompView is a step's compensation.
type CompView struct {
	Worker string `json:"worker,omitempty"`
	Type   string `json:"type,omitempty"`
	// State is compensating, compensated or compensation_failed once it started,
	// "not_needed" when the saga compensates without this step, "" otherwise
	// (saga.UndoState).
	State    string     `json:"state,omitempty"`
	Attempts int        `json:"attempts"`
	Reason   string     `json:"reason,omitempty"`
	Deadline *time.Time `json:"deadline,omitempty"`
	RetryAt  *time.Time `json:"retry_at,omitempty"`
}

// detail builds the detail view of a saga, and the saga state its DAG is drawn from.
func (s *Service) detail(v orderView) (SagaDetail, *saga.State) {
	st := v.snap.sagaState(v.SagaID, v.SagaStatus, nanos(v.UpdatedAt), v.Version)
	history := v.timeline(s.model.syms)
	// The one place a saga's data is redacted for every view of it (see privacy).
	s.privacy.saga(&v.Summary, st, history)
	d := SagaDetail{
		Summary:        v.Summary,
		Milestones:     st.Milestones,
		History:        history,
		HistoryDropped: int(v.tl.dropped),
		Snapshot:       SnapshotHeld,
		ExpiresAt:      timePtr(v.expires),
		Input:          st.Input,
		Actions:        []string{},
		Links: map[string]string{
			"self":      "/sagas/" + v.SagaID,
			"dag":       "/sagas/" + v.SagaID + "/dag.svg",
			"dashboard": "/ui/sagas/" + v.SagaID,
		},
	}
	if d.Milestones == nil {
		d.Milestones = []string{}
	}
	for _, action := range []string{saga.ControlCancel, saga.ControlRetry} {
		if saga.Refusal(&saga.State{Status: v.SagaStatus}, action) == "" {
			d.Actions = append(d.Actions, action)
		}
	}
	switch {
	case v.hasSnap:
		d.Steps = stepViews(s.defs[st.Definition], st)
	case v.tombstoned:
		d.Snapshot, d.Steps = SnapshotRemoved, []StepView{}
	default:
		d.Snapshot, d.Steps = SnapshotNone, []StepView{}
	}
	return d, st
}

// orderDetail is the detail of an order saga as GET /orders/{id} shows it.
func orderDetail(d SagaDetail) OrderDetail {
	od := OrderDetail{SagaDetail: d, Order: d.Input}
	od.Input = nil
	od.Links = map[string]string{
		"self":      "/orders/" + d.SagaID,
		"dag":       "/orders/" + d.SagaID + "/dag.svg",
		"dashboard": "/ui/orders/" + d.SagaID,
	}
	return od
}

// notFound is the message of a 404 for a saga the read model does not hold; noun names it
// ("order", "saga").
func (s *Service) notFound(noun, id string) string {
	lim := s.model.Limits()
	capped := noun + "s"
	if noun != "saga" {
		capped += " and other sagas" // the cap counts every type
	}
	return fmt.Sprintf("%s %q not found: it is not in this API's window, which holds the %ss in flight and the "+
		"finished ones for %s after they finished (--retention), at most %d %s (--max-orders, oldest finished dropped "+
		"first); a %s started a moment ago appears once the orchestrator has started it", noun, id, noun, window(lim.Retention),
		lim.MaxOrders, capped, noun)
}

// notAnOrder is the message of a 404 of an /orders endpoint for a saga of another type.
func notAnOrder(sum Summary, path string) string {
	return fmt.Sprintf("%q is a %s saga, not an order: see /sagas/%s%s", sum.SagaID, sum.Type, sum.SagaID, path)
}

// stepViews lists the steps in definition order (OnCompensated steps last); steps the
// definition does not know follow in name order.
func stepViews(def *saga.Definition, st *saga.State) []StepView {
	views := []StepView{}
	seen := map[string]bool{}
	add := func(step *saga.Step, name string, onComp bool) {
		if seen[name] {
			return
		}
		seen[name] = true
		ss := st.Steps[name]
		v := StepView{Name: name, OnCompensated: onComp, State: saga.StepPending}
		if step != nil {
			v.Worker, v.Type, v.Optional = step.Do.Worker, step.Do.Type, step.Optional || onComp
		}
		if ss != nil {
			v.State, v.Outcome, v.Attempts, v.Reason, v.CommandID = ss.Status, ss.Outcome, ss.Do.Attempt, ss.Do.Reason, ss.Do.CommandID
			v.Deadline, v.RetryAt, v.Result = timePtr(ss.Do.Deadline), timePtr(ss.Do.RetryAt), ss.Result
		}
		if step != nil && step.Undo != nil {
			c := &CompView{Worker: step.Undo.Worker, Type: step.Undo.Type}
			if ss != nil {
				c.State = saga.UndoState(st, name)
				c.Attempts, c.Reason = ss.Undo.Attempt, ss.Undo.Reason
				c.Deadline, c.RetryAt = timePtr(ss.Undo.Deadline), timePtr(ss.Undo.RetryAt)
			}
			v.Compensation = c
		}
		views = append(views, v)
	}
	if def != nil {
		for i := range def.Steps {
			add(&def.Steps[i], def.Steps[i].Name, false)
		}
		for i := range def.OnCompensated {
			add(&def.OnCompensated[i], def.OnCompensated[i].Name, true)
		}
	}
	var rest []string
	for name := range st.Steps {
		if !seen[name] {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	for _, name := range rest {
		add(nil, name, false)
	}
	return views
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *Service) getOrder(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	v, ok := s.model.view(id)
	if !ok {
		writeError(w, http.StatusNotFound, s.notFound("order", id), nil)
		return
	}
	if !v.IsOrder() {
		writeError(w, http.StatusNotFound, notAnOrder(v.Summary, ""), nil)
		return
	}
	d, _ := s.detail(v)
	writeJSON(w, http.StatusOK, orderDetail(d))
}

func (s *Service) getSaga(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	v, ok := s.model.view(id)
	if !ok {
		writeError(w, http.StatusNotFound, s.notFound("saga", id), nil)
		return
	}
	d, _ := s.detail(v)
	writeJSON(w, http.StatusOK, d)
}

// listQuery reads the filter and paging of GET /orders and GET /sagas; on a bad one it
// has answered 400. typ is the type of /orders ("" for /sagas: from the query).
func (s *Service) listQuery(w http.ResponseWriter, r *http.Request, typ string) (ListQuery, bool) {
	q := r.URL.Query()
	lq := ListQuery{Type: typ, Status: strings.ToLower(strings.TrimSpace(q.Get("status"))), Cursor: q.Get("cursor")}
	if typ == "" {
		lq.Type = strings.TrimSpace(q.Get("type"))
		if lq.Type != "" && !s.model.KnownType(lq.Type) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown saga type %q", lq.Type), &ErrorBody{ValidTypes: s.model.Types()})
			return lq, false
		}
	}
	if lq.Status != "" && !s.model.ValidStatus(lq.Type, lq.Status) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown status %q", q.Get("status")), &ErrorBody{ValidStatuses: s.model.Statuses(lq.Type)})
		return lq, false
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q: want an integer from 1 to %d", v, MaxLimit), nil)
			return lq, false
		}
		lq.Limit = n
	}
	return lq, true
}

func (s *Service) listOrders(w http.ResponseWriter, r *http.Request) {
	lq, ok := s.listQuery(w, r, OrderType)
	if !ok {
		return
	}
	page, err := s.model.List(lq)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), nil)
		return
	}
	writeJSON(w, http.StatusOK, Page{Orders: page.Sagas, NextCursor: page.NextCursor, Total: page.Total})
}

func (s *Service) listSagas(w http.ResponseWriter, r *http.Request) {
	lq, ok := s.listQuery(w, r, "")
	if !ok {
		return
	}
	page, err := s.model.List(lq)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), nil)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// readBody reads a request body up to the limit; on failure it has answered (413 or 400).
func (s *Service) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.metrics.rejected.WithLabelValues("too_large").Inc()
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over the limit of %d bytes", s.cfg.MaxBody), nil)
			return nil, false
		}
		writeError(w, http.StatusBadRequest, "reading request body: "+err.Error(), nil)
		return nil, false
	}
	return body, true
}

// PlaceResponse is the answer of POST /orders.
type PlaceResponse struct {
	OrderID string            `json:"order_id"`
	Status  string            `json:"status"` // "accepted"
	Links   map[string]string `json:"links"`
}

func (s *Service) placeOrder(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	o, err := events.ValidateOrderPlaced(body)
	if err != nil {
		problems := problemsOf(err)
		if len(problems) == 1 && problems[0].Rule == events.RuleTooLarge {
			s.metrics.rejected.WithLabelValues("too_large").Inc()
			writeError(w, http.StatusRequestEntityTooLarge, problems[0].Message, &ErrorBody{Problems: problems})
			return
		}
		s.metrics.rejected.WithLabelValues("invalid").Inc()
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid order: %d problem(s)", len(problems)), &ErrorBody{Problems: problems})
		return
	}
	if _, exists := s.model.Get(o.OrderID); exists {
		s.metrics.rejected.WithLabelValues("conflict").Inc()
		writeError(w, http.StatusConflict, fmt.Sprintf("order %q already exists", o.OrderID), nil)
		return
	}
	m, err := client.OrderPlacedMessage(o)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error(), nil)
		return
	}
	if err := s.publish(r.Context(), events.TypeOrderPlaced, m); err != nil {
		writeError(w, http.StatusServiceUnavailable, "publishing the order: "+err.Error(), nil)
		return
	}
	w.Header().Set("Location", "/orders/"+o.OrderID)
	writeJSON(w, http.StatusAccepted, PlaceResponse{OrderID: o.OrderID, Status: "accepted", Links: map[string]string{
		"self": "/orders/" + o.OrderID, "dashboard": "/ui/orders/" + o.OrderID,
	}})
}

// problemsOf flattens a validation error (a *events.DecodeError or a join of them).
func problemsOf(err error) []Problem {
	var out []Problem
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var de *events.DecodeError
		if errors.As(err, &de) {
			msg := de.Rule
			if de.Err != nil {
				msg = de.Err.Error()
			}
			out = append(out, Problem{Field: de.Field, Rule: de.Rule, Message: msg})
			return
		}
		out = append(out, Problem{Message: err.Error()})
	}
	walk(err)
	return out
}

// ControlBody is the optional body of POST /orders/{id}/cancel and /retry, and of POST
// /sagas/{id}/cancel and /retry.
type ControlBody struct {
	Reason string `json:"reason"`
}

// ControlResponse is the answer of POST /orders/{id}/cancel and /retry (OrderID set), and
// of POST /sagas/{id}/cancel and /retry (SagaID set).
type ControlResponse struct {
	OrderID string `json:"order_id,omitempty"`
	SagaID  string `json:"saga_id,omitempty"`
	Action  string `json:"action"`
	Status  string `json:"status"` // "accepted"
}

// maxReason bounds a control request's reason (the schema's text limit).
const maxReason = 1024

// control publishes an operator request of type typ (action saga.ControlCancel or
// saga.ControlRetry) about the saga named in the path: an order for the /orders endpoints
// (orders set), a saga of any type for the /sagas ones.
func (s *Service) control(typ, action string, orders bool) http.HandlerFunc {
	noun := "saga"
	if orders {
		noun = "order"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		body, ok := s.readBody(w, r)
		if !ok {
			return
		}
		var cb ControlBody
		if len(strings.TrimSpace(string(body))) > 0 {
			if err := json.Unmarshal(body, &cb); err != nil {
				s.metrics.rejected.WithLabelValues("invalid").Inc()
				writeError(w, http.StatusBadRequest, "malformed JSON: "+err.Error(), nil)
				return
			}
		}
		if len(cb.Reason) > maxReason {
			s.metrics.rejected.WithLabelValues("invalid").Inc()
			writeError(w, http.StatusBadRequest, fmt.Sprintf("reason: longer than %d bytes", maxReason), nil)
			return
		}
		if cb.Reason == "" {
			cb.Reason = action + " requested via the API"
		}
		sum, known := s.model.Get(id)
		if !known {
			s.metrics.rejected.WithLabelValues("unknown_order").Inc()
			writeError(w, http.StatusNotFound, fmt.Sprintf("%s %q not found (a saga started a moment ago appears once the orchestrator has started it)", noun, id), nil)
			return
		}
		if orders && !sum.IsOrder() {
			s.metrics.rejected.WithLabelValues("unknown_order").Inc()
			writeError(w, http.StatusNotFound, notAnOrder(sum, "/"+action), nil)
			return
		}
		if why := s.refusal(sum, action); why != "" {
			s.metrics.rejected.WithLabelValues("conflict").Inc()
			writeError(w, http.StatusConflict, why, nil)
			return
		}
		req := events.ControlRequest{SagaID: id, Reason: cb.Reason, RequestedBy: "api"}
		resp := ControlResponse{SagaID: id, Action: action, Status: "accepted"}
		if orders {
			req.SagaID, req.OrderID = "", id
			resp.SagaID, resp.OrderID = "", id
		}
		m, err := client.ControlMessage(typ, req)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error(), nil)
			return
		}
		if err := s.publish(r.Context(), typ, m); err != nil {
			writeError(w, http.StatusServiceUnavailable, "publishing the request: "+err.Error(), nil)
			return
		}
		writeJSON(w, http.StatusAccepted, resp)
	}
}

// refusal says why the orchestrator would reject action on the saga as the read model
// shows it (saga.Refusal), in the words of its definition, or "": "cannot cancel: the
// order is completed (only pending and approved orders can be cancelled)".
func (s *Service) refusal(sum Summary, action string) string {
	if saga.Refusal(&saga.State{Status: sum.SagaStatus}, action) == "" {
		return ""
	}
	noun := sum.Type + " saga"
	if sum.IsOrder() {
		noun = "order"
	}
	msg := fmt.Sprintf("cannot %s: the %s is %s", action, noun, sum.Status)
	if ok := Accepting(s.model.definition(sum.Definition), action); len(ok) > 0 {
		done := map[string]string{saga.ControlCancel: "cancelled", saga.ControlRetry: "retried"}[action]
		msg += fmt.Sprintf(" (only %s %ss can be %s)", joinAnd(ok), noun, done)
	}
	return msg
}

// joinAnd joins words as a sentence does: "a", "a and b", "a, b and c".
func joinAnd(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

func (s *Service) publish(ctx context.Context, typ string, m kafkago.Message) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	if err := s.pub.WriteMessages(ctx, m); err != nil {
		s.metrics.published.WithLabelValues(typ, "error").Inc()
		s.log.Error().Err(err).Str("type", typ).Str("order_id", string(m.Key)).Msg("publishing")
		return err
	}
	s.metrics.published.WithLabelValues(typ, "ok").Inc()
	return nil
}

// dag serves a saga's DAG coloured by its state: an order's for /orders (orders set), a
// saga's of any type for /sagas.
func (s *Service) dag(orders bool) http.HandlerFunc {
	noun := "saga"
	if orders {
		noun = "order"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		v, ok := s.model.view(id)
		if !ok {
			writeError(w, http.StatusNotFound, s.notFound(noun, id), nil)
			return
		}
		if orders && !v.IsOrder() {
			writeError(w, http.StatusNotFound, notAnOrder(v.Summary, "/dag.svg"), nil)
			return
		}
		_, st := s.detail(v)
		lay := s.ui.layout(st.Definition)
		if lay == nil {
			writeError(w, http.StatusNotFound, fmt.Sprintf("%s %q: unknown saga definition %q", noun, id, st.Definition), nil)
			return
		}
		writeSVG(w, lay.SVG(st))
	}
}

// sagaDiagram serves a definition's DAG: ?definition= names it by ID ("returns@v2") or
// name (its newest version); default the first definition served.
func (s *Service) sagaDiagram(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("definition")
	if name == "" {
		name = s.cfg.Definitions[0].ID()
	}
	lay := s.ui.layout(name)
	if d := s.model.definition(name); lay == nil && d != nil {
		lay = s.ui.layout(d.ID())
	}
	if lay == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown saga definition %q", name), nil)
		return
	}
	writeSVG(w, lay.SVG(nil))
}

func writeSVG(w http.ResponseWriter, svg []byte) {
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(svg)
}

// Readiness is the answer of /readyz.
type Readiness struct {
	Ready bool `json:"ready"`
	// Orders is the number of sagas held, of every type.
	Orders int `json:"orders"`
}

func (s *Service) readyz(w http.ResponseWriter, _ *http.Request) {
	rd := Readiness{Ready: s.model.Ready(), Orders: s.model.Len()}
	code := http.StatusOK
	if !rd.Ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, rd)
}
