package main

import (
	"fmt"

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
	)
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Serve the read model, the HTTP API, the dashboard and /metrics",
		Long: "podium api reads every partition of podium.saga-state into an in-memory read model and\n" +
			"serves the orders API (GET/POST /orders, cancel, retry), the live dashboard at /,\n" +
			"/healthz, /readyz (ready once the changelog is restored) and /metrics.\n" +
			"Run as many as you like: each builds its own read model.",
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
				Str("token", masked).Int("max_body", maxBody).Msg("configuration")
			cfg := api.Config{
				Kafka:      kcfg,
				Addr:       addr,
				Partitions: partitions,
				Token:      token,
				MaxBody:    int64(maxBody),
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
	return cmd
}
