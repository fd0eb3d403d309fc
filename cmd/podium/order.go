package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/spf13/cobra"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/client"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/internal/sample"
)

func newOrderCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "order",
		Short: "Place, watch and act on orders",
	}
	cmd.AddCommand(newOrderPlaceCmd(), newOrderWatchCmd(), newOrderGetCmd(), newOrderListCmd(),
		newOrderControlCmd("cancel"), newOrderControlCmd("retry"))
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
			w := pkafka.NewWriter(kcfg)
			defer w.Close()
			out := cmd.OutOrStdout()
			var tracking *client.Tracking
			if wait {
				if tracking, err = client.Track(cmd.Context(), kcfg); err != nil {
					return err
				}
				defer tracking.Close()
			} else {
				tracking = &client.Tracking{Tracker: sample.NewTracker()}
			}
			bar := newProgress(cmd.ErrOrStderr(), "placing", len(orders))
			if err := tracking.Place(cmd.Context(), w, orders, bar.set); err != nil {
				return kcfg.Explain(err)
			}
			bar.finish()
			if len(orders) == 1 {
				fmt.Fprintf(out, "placed %s\n", orders[0].Placed.OrderID)
			} else {
				fmt.Fprintf(out, "placed %d orders (%s … %s)\n", len(orders), orders[0].Placed.OrderID, orders[len(orders)-1].Placed.OrderID)
			}
			if !wait {
				return nil
			}
			summary, err := waitTerminal(cmd.Context(), tracking.Tracker, within, out, nil)
			if err != nil && !errors.Is(err, errNotTerminal) {
				return err
			}
			fmt.Fprint(out, summary.String())
			return exitForSummary(summary, within)
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
	var r io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return events.OrderPlaced{}, err
		}
		defer f.Close()
		r = f
	}
	raw, err := io.ReadAll(io.LimitReader(r, 1<<20+1))
	if err != nil {
		return events.OrderPlaced{}, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(raw) > 1<<20 {
		return events.OrderPlaced{}, fmt.Errorf("reading %s: larger than 1 MiB", path)
	}
	o, err := events.ValidateOrderPlaced(raw)
	if err != nil {
		return events.OrderPlaced{}, fmt.Errorf("invalid order in %s:\n%w", path, err)
	}
	return o, nil
}

func newOrderWatchCmd() *cobra.Command {
	var (
		kafka kafkaOptions
		begin bool
	)
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Follow orders.events: one line per lifecycle event",
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
				if !events.IsLifecycleType(env.Type) {
					return // the timeline: `podium order show` displays it
				}
				var l events.OrderLifecycle
				_ = env.DecodeData(&l)
				line := fmt.Sprintf("%s  %-10s %s", env.Time.Format("15:04:05.000"), l.Status, l.OrderID)
				if l.Reason != "" {
					line += "  reason=" + l.Reason
				}
				if l.Step != "" {
					line += "  step=" + l.Step
				}
				fmt.Fprintln(out, line)
			})
		},
	}
	kafka.register(cmd.Flags())
	cmd.Flags().BoolVar(&begin, "from-beginning", false, "start at the first retained event instead of the end")
	return cmd
}

func newOrderControlCmd(action string) *cobra.Command {
	var (
		kafka  kafkaOptions
		reason string
	)
	typ, short := events.TypeOrderCancel, "Ask the orchestrator to cancel an order (compensating what was done)"
	if action == "retry" {
		typ, short = events.TypeOrderRetry, "Ask the orchestrator to retry a failed order's compensations"
	}
	cmd := &cobra.Command{
		Use:   action + " ORDER_ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kcfg, err := kafka.config("podium-cli")
			if err != nil {
				return err
			}
			m, err := client.ControlMessage(typ, events.ControlRequest{OrderID: args[0], Reason: reason, RequestedBy: "cli"})
			if err != nil {
				return err
			}
			w := pkafka.NewWriter(kcfg)
			defer w.Close()
			if err := w.WriteMessages(cmd.Context(), m); err != nil {
				return fmt.Errorf("publishing %s: %w", action, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s requested for %s\n", action, args[0])
			return nil
		},
	}
	kafka.register(cmd.Flags())
	cmd.Flags().StringVar(&reason, "reason", "requested by operator", "reason recorded in the order's history")
	return cmd
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

var errNotTerminal = errors.New("orders did not reach a terminal status in time")
