package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/podiumhq/podium/api"
)

// apiClient calls a running `podium api`.
type apiClient struct {
	base  string
	token string // PODIUM_API_TOKEN: the API's --token, sent as a bearer token
	http  *http.Client
}

func newAPIClient(base string) (*apiClient, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--api-url %q: want http(s)://host:port", base)
	}
	return &apiClient{base: u.String(), token: envString("api-token", ""), http: &http.Client{Timeout: 15 * time.Second}}, nil
}

// get fetches path into v; an error answer becomes an error with the API's message.
func (c *apiClient) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("calling the API (is `podium api` running?): %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var eb api.ErrorBody
		if json.Unmarshal(body, &eb) != nil || eb.Error == "" {
			return fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		msg := eb.Error
		if len(eb.ValidStatuses) > 0 {
			valid := make([]string, len(eb.ValidStatuses))
			for i, s := range eb.ValidStatuses {
				valid[i] = string(s)
			}
			msg += " (valid: " + strings.Join(valid, ", ") + ")"
		}
		return errors.New(msg)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decoding %s: %w", path, err)
	}
	return nil
}

func apiURLFlag(cmd *cobra.Command, p *string) {
	stringFlag(cmd.Flags(), p, "api-url", "http://127.0.0.1:8080", "base URL of `podium api` (its token, if it has one, from PODIUM_API_TOKEN)")
}

func newOrderGetCmd() *cobra.Command {
	var (
		apiURL string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "get ORDER_ID",
		Short: "Show an order: status, steps and timeline (from `podium api`)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(apiURL)
			if err != nil {
				return err
			}
			var d api.OrderDetail
			if err := c.get(cmd.Context(), "/orders/"+url.PathEscape(args[0]), &d); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(d)
			}
			printOrder(out, d)
			return nil
		},
	}
	apiURLFlag(cmd, &apiURL)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON instead of tables")
	return cmd
}

func printOrder(out io.Writer, d api.OrderDetail) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "order\t%s\n", d.OrderID)
	fmt.Fprintf(tw, "status\t%s\t(saga %s, version %d)\n", d.Status, d.SagaStatus, d.Version)
	fmt.Fprintf(tw, "total\t%s\n", api.Money(d.Total, d.Currency))
	fmt.Fprintf(tw, "created\t%s\n", d.CreatedAt.UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(tw, "updated\t%s\t(+%s)\n", d.UpdatedAt.UTC().Format(time.RFC3339Nano), d.UpdatedAt.Sub(d.CreatedAt).Round(time.Millisecond))
	if d.Reason != "" {
		reason := d.Reason
		if d.FailedStep != "" {
			reason = d.FailedStep + ": " + reason
		}
		fmt.Fprintf(tw, "reason\t%s\n", reason)
	}
	if len(d.Milestones) > 0 {
		fmt.Fprintf(tw, "milestones\t%s\n", strings.Join(d.Milestones, ", "))
	}
	if d.ExpiresAt != nil {
		fmt.Fprintf(tw, "kept until\t%s\t(the API's retention window)\n", d.ExpiresAt.UTC().Format(time.RFC3339))
	}
	switch d.Snapshot {
	case api.SnapshotRemoved:
		fmt.Fprintf(tw, "steps\tunknown\t(the orchestrator removed the order's state after its retention window)\n")
	case api.SnapshotNone:
		fmt.Fprintf(tw, "steps\tunknown\t(no snapshot read yet: known by its timeline)\n")
	}
	tw.Flush()

	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tWORKER\tSTATE\tATTEMPTS\tOUTCOME\tREASON\tCOMPENSATION")
	for _, s := range d.Steps {
		comp := "-"
		if c := s.Compensation; c != nil {
			comp = c.Type
			if c.State != "" {
				comp += ": " + c.State
			}
			if c.Attempts > 0 {
				comp += " (" + plural(c.Attempts, "attempt") + ")"
			}
			if c.Reason != "" {
				comp += " " + c.Reason
			}
		}
		name := s.Name
		if s.Optional {
			name += " (optional)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", name, dash(s.Worker), s.State, s.Attempts, dash(string(s.Outcome)), dash(s.Reason), comp)
	}
	tw.Flush()

	fmt.Fprintln(out)
	fmt.Fprintf(out, "HISTORY (%d entries", len(d.History))
	if d.HistoryDropped > 0 {
		fmt.Fprintf(out, ", %d older dropped", d.HistoryDropped)
	}
	fmt.Fprintln(out, ")")
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tOFFSET\tKIND\tSTEP\tATTEMPT\tDETAIL")
	for _, h := range d.History {
		attempt := "-"
		if h.Attempt > 0 {
			attempt = strconv.Itoa(h.Attempt)
		}
		fmt.Fprintf(tw, "%s\t+%s\t%s\t%s\t%s\t%s\n", h.Time.UTC().Format("15:04:05.000"),
			h.Time.Sub(d.CreatedAt).Round(time.Millisecond), h.Kind, dash(h.Step), attempt, dash(h.Detail))
	}
	tw.Flush()
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newOrderListCmd() *cobra.Command {
	var (
		apiURL string
		status string
		limit  int
		cursor string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List orders, most recently updated first (from `podium api`)",
		Example: `  podium order list
  podium order list --status failed
  podium order list --status cancelled --limit 100`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAPIClient(apiURL)
			if err != nil {
				return err
			}
			q := url.Values{}
			if status != "" {
				q.Set("status", status)
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			var p api.Page
			if err := c.get(cmd.Context(), "/orders?"+q.Encode(), &p); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(p)
			}
			printOrders(out, p)
			if p.NextCursor != "" {
				next := "podium order list --cursor " + p.NextCursor
				if status != "" {
					next += " --status " + status
				}
				if limit > 0 {
					next += " --limit " + strconv.Itoa(limit)
				}
				fmt.Fprintf(out, "\nmore: %s\n", next)
			}
			return nil
		},
	}
	apiURLFlag(cmd, &apiURL)
	fs := cmd.Flags()
	fs.StringVar(&status, "status", "", "only orders in this status: pending, approved, completed, cancelling, cancelled, failed")
	fs.IntVar(&limit, "limit", 20, "orders per page (1-500)")
	fs.StringVar(&cursor, "cursor", "", "continue after a previous page (printed at its end)")
	fs.BoolVar(&asJSON, "json", false, "print the API's JSON instead of a table")
	return cmd
}

func printOrders(out io.Writer, p api.Page) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ORDER\tSTATUS\tSTEPS\tTOTAL\tUPDATED\tREASON")
	for _, o := range p.Orders {
		reason := o.Reason
		if o.FailedStep != "" {
			reason = o.FailedStep + ": " + reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\t%s\n", o.OrderID, o.Status, o.StepsDone, o.StepsTotal,
			api.Money(o.Total, o.Currency), o.UpdatedAt.UTC().Format("2006-01-02 15:04:05"), dash(reason))
	}
	tw.Flush()
	if p.Total == 0 {
		fmt.Fprintln(out, "no orders")
		return
	}
	fmt.Fprintf(out, "%d of %s\n", len(p.Orders), plural(p.Total, "order"))
}
