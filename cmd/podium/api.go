package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/podiumhq/podium/api"
)

func newAPICmd() *cobra.Command {
	var (
		kafka      kafkaOptions
		logs       logOptions
		addr       string
		partitions int
		token      string
		maxBody    int
		retention  time.Duration
		maxOrders  int
	)
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Serve the read model, the HTTP API, the dashboard and /metrics",
		Long: "podium api reads every partition of podium.saga-state (status, steps) and orders.events\n" +
			"(each order's timeline) into a bounded in-memory read model and serves the orders API\n" +
			"(GET/POST /orders, cancel, retry), the live dashboard at /, /healthz, /readyz (ready once\n" +
			"both topics are restored) and /metrics. It holds the orders in flight and the finished ones\n" +
			"for --retention after they finished, at most --max-orders orders (oldest finished dropped\n" +
			"first). Run as many as you like: each builds its own read model.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.logger("api")
			if err != nil {
				return err
			}
			kcfg, err := kafka.config("podium-api")
			if err != nil {
				return err
			}
			masked := ""
			if token != "" {
				masked = "********"
			}
			kafka.logFields(log.Info()).Str("addr", addr).Int("partitions", partitions).
				Str("token", masked).Int("max_body", maxBody).Dur("retention", retention).Int("max_orders", maxOrders).
				Msg("configuration")
			cfg := api.Config{
				Kafka:      kcfg,
				Addr:       addr,
				Partitions: partitions,
				Token:      token,
				MaxBody:    int64(maxBody),
				Retention:  retention,
				MaxOrders:  maxOrders,
				Logger:     log,
			}
			if err := api.Run(cmd.Context(), cfg); err != nil {
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
	stringFlag(fs, &token, "token", "", "bearer token required by POST endpoints (empty: no authentication; never logged)")
	intFlag(fs, &maxBody, "max-body", api.DefaultMaxBody, "largest request body accepted, in bytes (larger: 413)")
	durationFlag(fs, &retention, "retention", api.DefaultRetention,
		"how long a finished order (completed, cancelled) stays in the read model after it finished; match the orchestrator's --retention")
	intFlag(fs, &maxOrders, "max-orders", api.DefaultMaxOrders,
		"most orders held (~720 bytes each); beyond it the oldest finished are dropped, orders in flight never")
	return cmd
}
