package main

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/podiumhq/podium/api"
	"github.com/podiumhq/podium/internal/tracing"
	"github.com/podiumhq/podium/sagas"
)

func newAPICmd() *cobra.Command {
	var (
		kafka      kafkaOptions
		logs       logOptions
		addr       string
		partitions int
		token      string
		showPD     bool
		origins    string
		maxSSE     int
		maxBody    int
		retention  time.Duration
		maxOrders  int
		published  string
	)
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Serve the read model, the HTTP API, the dashboard and /metrics",
		Long: "podium api reads every partition of podium.saga-state (status, steps) and orders.events\n" +
			"(each saga's timeline) into a bounded in-memory read model of the sagas of every built-in\n" +
			"type (orders, returns) and serves the orders API (GET/POST /orders, cancel, retry), the\n" +
			"sagas API for every type (GET /sagas, cancel, retry), the live dashboard at /, /healthz,\n" +
			"/readyz (ready once both topics are restored) and /metrics. It holds the sagas in flight and\n" +
			"the finished ones for --retention after they finished, at most --max-orders sagas (oldest\n" +
			"finished dropped first). Run as many as you like: each builds its own read model.\n\n" +
			"With --token every endpoint but /healthz, /readyz and /metrics needs it (Authorization: Bearer, or the\n" +
			"dashboard's login page). Payment tokens are never shown; email and address are masked unless\n" +
			"--show-personal-data. POSTs must be application/json from this origin or --allowed-origins.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.logger("api")
			if err != nil {
				return err
			}
			if err := checkPublished(published, token); err != nil {
				return err
			}
			kcfg, err := kafka.config("podium-api")
			if err != nil {
				return err
			}
			cfg := api.Config{
				Kafka:            kcfg,
				Addr:             addr,
				Partitions:       partitions,
				Token:            token,
				ShowPersonalData: showPD,
				AllowedOrigins:   splitList(origins),
				MaxSSEClients:    maxSSE,
				MaxBody:          int64(maxBody),
				Retention:        retention,
				MaxOrders:        maxOrders,
				Definitions:      sagas.Definitions(),
				Logger:           log,
			}
			// The security settings, never the token itself.
			auth, masked := "off", ""
			if token != "" {
				auth, masked = "on", "********"
			}
			personal := "masked"
			if showPD {
				personal = "shown"
			}
			kafka.logFields(log.Info()).Str("addr", addr).Int("partitions", partitions).
				Str("auth", auth).Str("token", masked).Str("personal_data", personal).
				Strs("allowed_origins", cfg.AllowedOrigins).Int("max_sse_clients", maxSSE).
				Int("max_body", maxBody).Dur("retention", retention).Int("max_orders", maxOrders).
				Msg("configuration")
			if token == "" && !isLoopback(addr) {
				log.Warn().Str("addr", addr).Msg("the API has no token and listens beyond loopback: whoever reaches it can read " +
					"and cancel orders; set --token (PODIUM_TOKEN), or publish it on a trusted interface only")
			}
			if err := traced(cmd.Context(), tracing.ServiceAPI, log, func() error { return api.Run(cmd.Context(), cfg) }); err != nil {
				return fmt.Errorf("api: %w", err)
			}
			log.Info().Msg("stopped")
			return nil
		},
	}
	fs := cmd.Flags()
	kafka.register(fs)
	logs.register(fs)
	stringFlag(fs, &addr, "addr", api.DefaultAddr, "HTTP listen address of the API and dashboard")
	intFlag(fs, &partitions, "partitions", 0, "partition count podium.saga-state must have (0: any)")
	stringFlag(fs, &token, "token", "",
		"token required by every endpoint but /healthz, /readyz and /metrics (bearer header, or the dashboard's login); empty: no authentication; never logged")
	boolFlag(fs, &showPD, "show-personal-data", false,
		"show customers' email and address in full (default: masked; payment tokens are never shown)")
	stringFlag(fs, &origins, "allowed-origins", "",
		"comma-separated origins (scheme://host[:port]) besides the API's own allowed to send POST requests from a browser")
	intFlag(fs, &maxSSE, "max-sse-clients", api.DefaultMaxSSEClients, "most open /events streams; beyond it 503 with Retry-After")
	intFlag(fs, &maxBody, "max-body", api.DefaultMaxBody, "largest request body accepted, in bytes (larger: 413)")
	durationFlag(fs, &retention, "retention", api.DefaultRetention,
		"how long a finished saga (an order completed or cancelled, a return refunded or rejected) stays in the read model after it finished; match the orchestrator's --retention")
	stringFlag(fs, &published, "published-on", "",
		"host interface a container runtime publishes the API's port on (compose sets it from PODIUM_API_BIND): the API refuses to start when it is not a loopback address and --token is empty")
	intFlag(fs, &maxOrders, "max-orders", api.DefaultMaxOrders,
		"most sagas held, of every type (~720 bytes each); beyond it the oldest finished are dropped, sagas in flight never")
	return cmd
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// checkPublished refuses an API published beyond loopback without a token: compose cannot
// make the published interface depend on the token, so the API enforces it.
func checkPublished(published, token string) error {
	if published == "" || token != "" {
		return nil
	}
	host := strings.Trim(published, "[]")
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("the API is published on %s (PODIUM_PUBLISHED_ON, from PODIUM_API_BIND in compose) without a token: "+
		"set PODIUM_API_TOKEN too, or publish it on 127.0.0.1", published)
}

// isLoopback reports whether a listen address is reachable from this machine only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
