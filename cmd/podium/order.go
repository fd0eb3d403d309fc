package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/spf13/cobra"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/client"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/internal/sample"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
	"github.com/podiumhq/podium/sagas"
)

func newOrderCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "order",
		Short: "Place, watch and act on orders",
	}
	cmd.AddCommand(newOrderPlaceCmd(), newWatchCmd("Follow orders.events: one line per lifecycle event (of orders, returns and every other saga type)"),
		newOrderGetCmd(), newOrderListCmd(), newOrderControlCmd("cancel"), newOrderControlCmd("retry"))
	return cmd
}

func newOrderPlaceCmd() *cobra.Command {
	var (
		kafka  kafkaOptions
		file   string
		count  int
		mix    bool
		seed   uint64
		prefix string
		one    events.OrderPlaced
		item   events.Item
		wait   bool
		within time.Duration
	)
	cmd := &cobra.Command{
		Use:   "place",
		Short: "Publish OrderPlaced events to orders.placed",
		Example: `  podium order place --order-id ord-1001 --sku SKU-RED-1 --quantity 2 --unit-price 1999
  podium order place --file order.json
  podium order place --count 1000 --mix`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kcfg, err := kafka.config("podium-cli")
			if err != nil {
				return err
			}
			var orders []sample.Order // Want is empty unless the order comes from the mix
			switch {
			case file != "":
				o, err := readOrderFile(file, cmd.InOrStdin())
				if err != nil {
					return err
				}
				orders = append(orders, sample.Order{Placed: o})
			case count > 0 || mix:
				if count <= 0 {
					count = len(sample.Kinds)
				}
				if prefix == "" {
					prefix = "ord-" + time.Now().UTC().Format("150405")
				}
				g := sample.NewGenerator(prefix, seed)
				for range count {
					o := g.Next()
					if !mix {
						o = g.Make(sample.Happy)
					}
					orders = append(orders, o)
				}
			default:
				if one.OrderID == "" {
					one.OrderID = fmt.Sprintf("ord-%d", time.Now().UnixNano())
				}
				one.Items = []events.Item{item}
				one.Total = int64(item.Quantity) * item.UnitPrice
				raw, err := json.Marshal(one)
				if err != nil {
					return err
				}
				if _, err := events.ValidateOrderPlaced(raw); err != nil {
					return fmt.Errorf("invalid order:\n%w", err)
				}
				orders = append(orders, sample.Order{Placed: one})
			}
			ids := make([]string, len(orders))
			for i, o := range orders {
				ids[i] = o.Placed.OrderID
			}
			return startSagas(cmd, kcfg, sagaStarts{topic: events.TopicOrdersPlaced, ids: ids, label: "placing", wait: wait, within: within,
				write: func(ctx context.Context, t *client.Tracking, w client.Writer, progress func(int)) error {
					return t.Place(ctx, w, orders, progress)
				},
				kind: func(t *client.Tracking) sagaKind { return ordersKind(t.Tracker) },
			})
		},
	}
	fs := cmd.Flags()
	kafka.register(fs)
	fs.StringVar(&file, "file", "", "read the OrderPlaced JSON from this file (- for stdin)")
	fs.IntVar(&count, "count", 0, "place this many generated orders")
	fs.BoolVar(&mix, "mix", false, "generate a mix covering every outcome of the order saga (with --count)")
	fs.Uint64Var(&seed, "seed", 1, "seed of the generated orders")
	fs.StringVar(&prefix, "prefix", "", "order ID prefix of generated orders (default ord-HHMMSS)")
	fs.BoolVar(&wait, "wait", false, "wait until every placed order is terminal, print a summary, exit 1 if one is not (or, with --mix, ended differently from what it must)")
	fs.DurationVar(&within, "timeout", 2*time.Minute, "with --wait: give up after this long")
	fs.StringVar(&one.OrderID, "order-id", "", "order ID (default: generated)")
	fs.StringVar(&one.Customer.ID, "customer-id", "cus-1", "customer ID")
	fs.StringVar(&one.Customer.Email, "email", "ada@example.com", "customer email")
	fs.StringVar(&one.SellerID, "seller-id", "sel-1", "seller ID (closed-… fails)")
	fs.StringVar(&one.Currency, "currency", "EUR", "ISO 4217 currency")
	fs.StringVar(&one.Payment.Token, "token", "tok_visa", "payment token (tok_chargeDeclined fails)")
	fs.StringVar(&item.SKU, "sku", "SKU-RED-1", "item SKU (OOS-… is out of stock)")
	fs.IntVar(&item.Quantity, "quantity", 1, "item quantity")
	fs.Int64Var(&item.UnitPrice, "unit-price", 1999, "item unit price in minor units")
	fs.StringVar(&one.ShippingAddress.Name, "ship-name", "Ada L.", "recipient name")
	fs.StringVar(&one.ShippingAddress.Line1, "ship-line1", "1 Main St", "address line")
	fs.StringVar(&one.ShippingAddress.City, "ship-city", "Berlin", "city")
	fs.StringVar(&one.ShippingAddress.PostalCode, "ship-postal-code", "10115", "postal code")
	fs.StringVar(&one.ShippingAddress.Country, "ship-country", "DE", "ISO 3166-1 alpha-2 country (AQ has no delivery partner)")
	return cmd
}

// readOrderFile reads and validates one OrderPlaced document (limited to 1 MiB).
func readOrderFile(path string, stdin io.Reader) (events.OrderPlaced, error) {
	raw, err := readDocument(path, stdin)
	if err != nil {
		return events.OrderPlaced{}, err
	}
	o, err := events.ValidateOrderPlaced(raw)
	if err != nil {
		return events.OrderPlaced{}, fmt.Errorf("invalid order in %s:\n%w", path, err)
	}
	return o, nil
}

// readDocument reads the document of --file: the file at path, or stdin for "-". It
// refuses a document larger than 1 MiB.
func readDocument(path string, stdin io.Reader) ([]byte, error) {
	var r io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	raw, err := io.ReadAll(io.LimitReader(r, 1<<20+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(raw) > 1<<20 {
		return nil, fmt.Errorf("reading %s: larger than 1 MiB", path)
	}
	return raw, nil
}

// sagaStarts are the sagas `order place` or `return request` starts: see startSagas.
type sagaStarts struct {
	topic  string        // where the start events go
	ids    []string      // the sagas' IDs, in the order they are written
	label  string        // the progress bar's: "placing", "requesting"
	wait   bool          // --wait
	within time.Duration // --timeout
	// write records the sagas in t and writes their start events with w, calling progress
	// with the number written so far.
	write func(ctx context.Context, t *client.Tracking, w client.Writer, progress func(n int)) error
	// kind is the sagas' kind, tracked by t.
	kind func(t *client.Tracking) sagaKind
}

// startSagas writes the start events of s (with a progress bar on stderr when there are
// several) and says what it wrote. With s.wait it follows orders.events from before the
// first write until every saga is terminal or s.within passes, prints the summary and
// returns exitForSummaries' verdict.
func startSagas(cmd *cobra.Command, kcfg pkafka.Config, s sagaStarts) error {
	w := pkafka.NewProducer(kcfg)
	defer w.Close()
	out := cmd.OutOrStdout()
	tracking := &client.Tracking{Tracker: sample.NewTracker(), Returns: sample.NewTracker()}
	if s.wait {
		var err error
		if tracking, err = client.Track(cmd.Context(), kcfg); err != nil {
			return kcfg.Explain(err)
		}
		defer tracking.Close()
	}
	// Connected before the sagas are timed: their latency is theirs, not the CLI's start-up.
	if err := w.Prepare(cmd.Context(), s.topic); err != nil {
		return kcfg.Explain(err)
	}
	bar := newProgress(cmd.ErrOrStderr(), s.label, len(s.ids))
	if err := s.write(cmd.Context(), tracking, w, bar.set); err != nil {
		return kcfg.Explain(err)
	}
	bar.finish()
	kind := s.kind(tracking)
	if len(s.ids) == 1 {
		fmt.Fprintf(out, "%s %s\n", kind.placed, s.ids[0])
	} else {
		fmt.Fprintf(out, "%s %d %s (%s … %s)\n", kind.placed, len(s.ids), kind.plural, s.ids[0], s.ids[len(s.ids)-1])
	}
	if !s.wait {
		return nil
	}
	kinds := []sagaKind{kind}
	summaries, err := waitTerminal(cmd.Context(), s.within, out, nil, kinds...)
	if err != nil && !errors.Is(err, errNotTerminal) {
		return err
	}
	fmt.Fprint(out, report(kinds, summaries))
	return exitForSummaries(kinds, summaries, s.within)
}

// newWatchCmd is `podium order watch` and `podium saga watch`: one line per lifecycle
// event and per answer to an operator request on orders.events, for sagas of every type.
func newWatchCmd(short string) *cobra.Command {
	var (
		kafka kafkaOptions
		begin bool
	)
	cmd := &cobra.Command{
		Use:   "watch",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kcfg, err := kafka.config("podium-cli")
			if err != nil {
				return err
			}
			var from []int64 // nil: from the beginning
			if !begin {
				if from, err = client.EndOffsets(cmd.Context(), kcfg, events.TopicOrdersEvents); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			return client.Follow(cmd.Context(), kcfg, events.TopicOrdersEvents, from, func(m kafkago.Message, env events.Envelope, err error) {
				if err != nil {
					fmt.Fprintf(out, "%s  undecodable record at %s[%d]@%d: %v\n", m.Time.Format(time.RFC3339Nano), m.Topic, m.Partition, m.Offset, err)
					return
				}
				if line, ok := watchLine(env); ok {
					fmt.Fprintln(out, line)
				}
			})
		},
	}
	kafka.register(cmd.Flags())
	cmd.Flags().BoolVar(&begin, "from-beginning", false, "start at the first retained event instead of the end")
	return cmd
}

// watchLine is the line `watch` prints for env: a lifecycle event (of any saga type; a saga
// that is not an order is followed by its definition's name) or the answer to an operator
// request. ok is false for the events it does not print (timelines: `podium order get`
// shows them).
func watchLine(env events.Envelope) (line string, ok bool) {
	at := env.Time.Format("15:04:05.000")
	if events.IsControlOutcomeType(env.Type) {
		var o events.ControlOutcome
		_ = env.DecodeData(&o)
		verb := "rejected"
		if isDeferredType(env.Type) {
			verb = "deferred"
		}
		id := o.OrderID
		if o.SagaID != "" {
			id = o.SagaID
		}
		return fmt.Sprintf("%s  %-10s %s  %s %s: %s", at, verb, id, o.Action, o.Reason, o.Message), true
	}
	l, ok := client.Lifecycle(env)
	if !ok {
		return "", false
	}
	line = fmt.Sprintf("%s  %-10s %s", at, l.Status, l.SagaID)
	if l.Definition != "" && l.Definition != order.DefinitionName {
		line += "  saga=" + l.Definition
	}
	if l.Reason != "" {
		line += "  reason=" + l.Reason
	}
	if l.Step != "" {
		line += "  step=" + l.Step
	}
	return line, true
}

// isDeferredType reports whether t announces a deferred operator request (rather than a
// rejected one).
func isDeferredType(t string) bool {
	return t == events.TypeOrderControlDeferred || t == events.TypeSagaControlDeferred
}

// controlTarget is what an operator request command acts on: an order (podium.order.*
// requests and answers) or a saga of any type (podium.saga.*).
type controlTarget struct {
	noun          string // "order" or "saga"
	cancel, retry string // the request types
}

var (
	orderTarget = controlTarget{noun: "order", cancel: events.TypeOrderCancel, retry: events.TypeOrderRetry}
	sagaTarget  = controlTarget{noun: "saga", cancel: events.TypeSagaCancel, retry: events.TypeSagaRetry}
)

// request is the request of action (cancel or retry) about id.
func (c controlTarget) request(action, id, reason string) (string, events.ControlRequest) {
	req := events.ControlRequest{Reason: reason, RequestedBy: "cli"}
	if c.noun == "order" {
		req.OrderID = id
	} else {
		req.SagaID = id
	}
	if action == "retry" {
		return c.retry, req
	}
	return c.cancel, req
}

// newOrderControlCmd is `podium order cancel|retry ORDER_ID`.
func newOrderControlCmd(action string) *cobra.Command {
	short := "Cancel an order (compensating what was done) and report the outcome"
	if action == "retry" {
		short = "Retry a failed order's compensations and report the outcome"
	}
	return newControlCmd(orderTarget, action, short)
}

// newSagaControlCmd is `podium saga cancel|retry SAGA_ID`, for sagas of every type.
func newSagaControlCmd(action string) *cobra.Command {
	short := "Cancel a saga of any type (compensating what was done) and report the outcome"
	if action == "retry" {
		short = "Retry a failed saga's compensations (any saga type) and report the outcome"
	}
	return newControlCmd(sagaTarget, action, short)
}

func newControlCmd(target controlTarget, action, short string) *cobra.Command {
	var (
		kafka   kafkaOptions
		reason  string
		timeout time.Duration
	)
	noun, arg := target.noun, strings.ToUpper(target.noun)+"_ID"
	cmd := &cobra.Command{
		Use:   action + " " + arg,
		Short: short,
		Long: short + ".\n\n" +
			"Publishes the request on orders.control, then follows orders.events for the orchestrator's\n" +
			"answer to it and prints it. Exit status: 0 applied; 3 rejected (the " + noun + "'s status refuses it);\n" +
			"4 unknown " + noun + " (a cancel is held for the orchestrator's --early-cancel-window and applies if\n" +
			"the " + noun + " arrives); 5 no answer within --timeout (is the orchestrator running?); 1 other errors.\n" +
			"--timeout 0 publishes the request without waiting.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout < 0 {
				return fmt.Errorf("--timeout %s: must not be negative", timeout)
			}
			kcfg, err := kafka.config("podium-cli")
			if err != nil {
				return err
			}
			m, err := client.ControlMessage(target.request(action, args[0], reason))
			if err != nil {
				return err
			}
			var from []int64
			if timeout > 0 { // the answer comes after the request: follow from the end now
				if from, err = client.EndOffsets(cmd.Context(), kcfg, events.TopicOrdersEvents); err != nil {
					return kcfg.Explain(err)
				}
			}
			w := pkafka.NewProducer(kcfg)
			defer w.Close()
			if err := w.WriteMessages(cmd.Context(), m); err != nil {
				return fmt.Errorf("publishing %s: %w", action, kcfg.Explain(err))
			}
			out := cmd.OutOrStdout()
			if timeout == 0 {
				fmt.Fprintf(out, "%s requested for %s\n", action, args[0])
				return nil
			}
			requestID, err := requestIDOf(m)
			if err != nil {
				return err
			}
			res, err := awaitControl(cmd.Context(), kcfg, args[0], requestID, from, timeout)
			if err != nil {
				return err
			}
			return res.report(out, target, action, args[0], timeout)
		},
	}
	kafka.register(cmd.Flags())
	cmd.Flags().StringVar(&reason, "reason", "requested by operator", "reason recorded in the "+noun+"'s history")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for the orchestrator's answer (0: do not wait)")
	return cmd
}

// Exit codes of `podium order cancel|retry` and `podium saga cancel|retry`.
const (
	exitRejected     = 3
	exitUnknownOrder = 4 // an unknown order, or an unknown saga
	exitNoAnswer     = 5
)

// controlResult is the orchestrator's answer to an operator request, as read on
// orders.events.
type controlResult struct {
	// answered is false when no answer came in time.
	answered bool
	// applied: a timeline record lists the request among the ones it applied; status is
	// the saga's status after it, definition the name of the saga's definition.
	applied    bool
	status     saga.Status
	definition string
	// outcome is the rejection or deferral otherwise; deferred is set for the latter.
	outcome  events.ControlOutcome
	deferred bool
}

// report prints the answer to action about id (an order or a saga, as target says) and
// returns the exit status it calls for.
func (r controlResult) report(out io.Writer, target controlTarget, action, id string, timeout time.Duration) error {
	noun := target.noun
	switch {
	case !r.answered:
		return &exitError{code: exitNoAnswer, msg: fmt.Sprintf("%s of %s: no answer from the orchestrator within %s (is it running? the request stays on orders.control)", action, id, timeout)}
	case r.applied:
		def := r.definition
		if def == "" && noun == "order" {
			def = order.DefinitionName
		}
		what := "the " + noun
		if noun == "saga" && def != "" {
			what = "the " + def + " saga"
		}
		fmt.Fprintf(out, "%s applied to %s: %s is %s\n", action, id, what, statusLabel(def, r.status))
		return nil
	case r.deferred:
		until := ""
		if r.outcome.Until != nil {
			until = " until " + r.outcome.Until.Format(time.RFC3339)
		}
		return &exitError{code: exitUnknownOrder, msg: fmt.Sprintf("%s of %s: unknown %s; the cancel is held%s and applies if the %s arrives", action, id, noun, until, noun)}
	case r.outcome.Reason == events.ControlUnknownOrder:
		return &exitError{code: exitUnknownOrder, msg: fmt.Sprintf("%s of %s rejected: unknown %s (%s)", action, id, noun, r.outcome.Message)}
	default:
		return &exitError{code: exitRejected, msg: fmt.Sprintf("%s of %s rejected: %s (%s)", action, id, r.outcome.Message, r.outcome.Reason)}
	}
}

// statusLabel is the status of a saga of the built-in definition named def as the
// definition names it (the order saga's "cancelling", the returns saga's "rejecting"); the
// engine's name for a definition that is not built in.
func statusLabel(def string, status saga.Status) string {
	if d := sagas.Definition(def); d != nil {
		return d.Label(&saga.State{Status: status})
	}
	return string(status)
}

// requestIDOf is the CloudEvents id of an encoded request.
func requestIDOf(m kafkago.Message) (string, error) {
	hs := make([]events.Header, len(m.Headers))
	for i, h := range m.Headers {
		hs[i] = events.Header{Key: h.Key, Value: h.Value}
	}
	env, err := events.Decode(events.Record{Topic: m.Topic, Key: m.Key, Value: m.Value, Headers: hs})
	if err != nil {
		return "", fmt.Errorf("reading back the request: %w", err)
	}
	return env.ID, nil
}

// awaitControl follows orders.events from the offsets from (taken before the request was
// written) for the orchestrator's answer to request requestID about the saga sagaID (an
// order or a saga of any type): a timeline record that applied it, or a rejection or
// deferral that names it. It returns an unanswered result when timeout passes first.
func awaitControl(ctx context.Context, kcfg pkafka.Config, sagaID, requestID string, from []int64, timeout time.Duration) (controlResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var res controlResult
	err := client.Follow(ctx, kcfg, events.TopicOrdersEvents, from, func(m kafkago.Message, env events.Envelope, err error) {
		if err != nil || res.answered || string(m.Key) != sagaID {
			return
		}
		switch {
		case env.Type == events.TypeSagaTimeline:
			var tl events.SagaTimeline
			if env.DecodeData(&tl) == nil && slices.Contains(tl.AppliedRequests, requestID) {
				res = controlResult{answered: true, applied: true, status: saga.Status(tl.Status), definition: tl.Definition}
			}
		case events.IsControlOutcomeType(env.Type):
			var o events.ControlOutcome
			if env.DecodeData(&o) == nil && o.RequestID == requestID {
				res = controlResult{answered: true, outcome: o, deferred: isDeferredType(env.Type)}
			}
		}
		if res.answered {
			cancel()
		}
	})
	if err != nil && !res.answered {
		return res, fmt.Errorf("following %s: %w", events.TopicOrdersEvents, kcfg.Explain(err))
	}
	if !res.answered && ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
		return res, ctx.Err() // interrupted, not timed out
	}
	return res, nil
}

// progress is a one-line progress bar on a terminal-ish writer.
type progress struct {
	w     io.Writer
	label string
	total int
	last  time.Time
}

func newProgress(w io.Writer, label string, total int) *progress {
	return &progress{w: w, label: label, total: total}
}

func (p *progress) set(n int) {
	if p.total <= 1 || (time.Since(p.last) < 100*time.Millisecond && n < p.total) {
		return
	}
	p.last = time.Now()
	const width = 30
	filled := width * n / p.total
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d", p.label, strings.Repeat("#", filled), strings.Repeat(".", width-filled), n, p.total)
}

func (p *progress) finish() {
	if p.total > 1 {
		p.set(p.total)
		fmt.Fprintln(p.w)
	}
}

var errNotTerminal = errors.New("not every saga reached a terminal status in time")
