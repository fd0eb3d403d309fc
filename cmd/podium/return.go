package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/client"
	"github.com/podiumhq/podium/internal/sample"
)

func newReturnCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "return",
		Short: "Request returns (the returns saga)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newReturnRequestCmd())
	return cmd
}

func newReturnRequestCmd() *cobra.Command {
	var (
		kafka  kafkaOptions
		file   string
		count  int
		mix    bool
		seed   uint64
		prefix string
		wait   bool
		within time.Duration
	)
	cmd := &cobra.Command{
		Use:   "request",
		Short: "Publish ReturnRequested events to returns.requested",
		Long: "Publish ReturnRequested events to returns.requested, each starting a returns saga: one\n" +
			"generated return that is refunded (the default), --count N of them, a mix covering every\n" +
			"outcome of the returns saga (--mix), or one JSON document from --file (- for stdin),\n" +
			"validated before anything is sent. --wait follows orders.events until every return is\n" +
			"terminal, prints a summary and exits 1 unless each is (and, with --mix, each ended as it\n" +
			"must).",
		Example: `  podium return request
  podium return request --file return.json
  podium return request --count 100 --mix --wait`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if count < 0 {
				return fmt.Errorf("--count: want 0 or more, got %d", count)
			}
			if file != "" && (count > 0 || mix) {
				return errors.New("--file and --count/--mix exclude each other: choose one")
			}
			kcfg, err := kafka.config("podium-cli")
			if err != nil {
				return err
			}
			var returns []sample.Return // Want is empty unless the return comes from the mix
			if file != "" {
				r, err := readReturnFile(file, cmd.InOrStdin())
				if err != nil {
					return err
				}
				returns = append(returns, sample.Return{Requested: r})
			} else {
				switch {
				case count > 0:
				case mix:
					count = len(sample.ReturnKinds)
				default:
					count = 1
				}
				if prefix == "" {
					prefix = "cli-" + time.Now().UTC().Format("150405")
				}
				g := sample.NewGenerator(prefix, seed)
				for range count {
					if mix {
						returns = append(returns, g.NextReturn())
					} else {
						returns = append(returns, g.MakeReturn(sample.ReturnHappy))
					}
				}
			}
			ids := make([]string, len(returns))
			for i, r := range returns {
				ids[i] = r.Requested.ReturnID
			}
			return startSagas(cmd, kcfg, sagaStarts{topic: events.TopicReturnsRequested, ids: ids, label: "requesting", wait: wait, within: within,
				write: func(ctx context.Context, t *client.Tracking, w client.Writer, progress func(int)) error {
					return t.RequestReturns(ctx, w, returns, progress)
				},
				kind: func(t *client.Tracking) sagaKind { return returnsKind(t.Returns) },
			})
		},
	}
	fs := cmd.Flags()
	kafka.register(fs)
	fs.StringVar(&file, "file", "", "read the ReturnRequested JSON from this file (- for stdin)")
	fs.IntVar(&count, "count", 0, "request this many generated returns (default 1; with --mix, one of each outcome)")
	fs.BoolVar(&mix, "mix", false, "generate a mix covering every outcome of the returns saga")
	fs.Uint64Var(&seed, "seed", 1, "seed of the generated returns")
	fs.StringVar(&prefix, "prefix", "", "ID prefix of generated returns, named PREFIX-ret-N (default cli-HHMMSS)")
	fs.BoolVar(&wait, "wait", false, "wait until every return is terminal, print a summary, exit 1 if one is not (or, with --mix, ended differently from what it must)")
	fs.DurationVar(&within, "timeout", 2*time.Minute, "with --wait: give up after this long")
	return cmd
}

// readReturnFile reads one ReturnRequested document (limited to 1 MiB) and validates it as
// the orchestrator will: its JSON Schema and the rules of the code (the refund is the sum
// of the items).
func readReturnFile(path string, stdin io.Reader) (events.ReturnRequested, error) {
	raw, err := readDocument(path, stdin)
	if err != nil {
		return events.ReturnRequested{}, err
	}
	ret, err := validateReturn(raw)
	if err != nil {
		return events.ReturnRequested{}, fmt.Errorf("invalid return in %s:\n%w", path, err)
	}
	return ret, nil
}

// validateReturn checks a ReturnRequested document as events.Decode checks the event that
// carries it (its JSON Schema, the refund is the sum of the items, the return ID is the
// event's subject), and returns it decoded.
func validateReturn(raw []byte) (events.ReturnRequested, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return events.ReturnRequested{}, fmt.Errorf("decoding the document: %w", err)
	}
	var id string
	if json.Unmarshal(doc["return_id"], &id) != nil || id == "" {
		// The event's subject: without it the envelope, not the data, would be refused.
		return events.ReturnRequested{}, errors.New("/return_id: required: a non-empty string, the return's ID")
	}
	env, err := events.NewEvent(events.TypeReturnRequested, id, json.RawMessage(raw))
	if err != nil {
		return events.ReturnRequested{}, err
	}
	if err := env.Validate(); err != nil {
		return events.ReturnRequested{}, err
	}
	var ret events.ReturnRequested
	if err := json.Unmarshal(raw, &ret); err != nil {
		return events.ReturnRequested{}, fmt.Errorf("decoding the document: %w", err)
	}
	return ret, nil
}
