package main

import (
	"cmp"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/tracing"
	"github.com/podiumhq/podium/orchestrator"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/sagas"
)

func newOrchestratorCmd() *cobra.Command {
	var (
		kafka       kafkaOptions
		logs        logOptions
		partitions  int
		groupID     string
		batchSize   int
		session     time.Duration
		metricsAddr string
		sagaOpts    order.Options
		retention   time.Duration
		dedupe      time.Duration
		maxState    int
		earlyWindow time.Duration
		earlyMax    int
		snapshotIvl time.Duration
	)
	cmd := &cobra.Command{
		Use:   "orchestrator",
		Short: "Run an orchestrator instance (one member of the orchestrator group)",
		Long: "Run an orchestrator instance. Instances share the work by partition: start as many\n" +
			"as you like (up to the partition count); each owns its partitions' orders.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.logger("orchestrator")
			if err != nil {
				return err
			}
			kcfg, err := kafka.config("podium-orchestrator")
			if err != nil {
				return err
			}
			metrics, markReady, stopMetrics, err := serveMetrics(cmd.Context(), metricsAddr, log)
			if err != nil {
				return err
			}
			defer stopMetrics()
			cfg := orchestrator.Config{
				Kafka:      kcfg,
				Sagas:      sagas.BuiltinWith(sagaOpts),
				GroupID:    groupID,
				Partitions: partitions,
				BatchSize:  batchSize,
				// 0 on the command line writes every batch's snapshots; 0 in Config means the default.
				SnapshotInterval: cmp.Or(snapshotIvl, time.Nanosecond),
				SessionTimeout:   session,
				Retention:        retention,
				DedupeWindow:     dedupe,
				MaxStateBytes:    maxState,
				// 0 on the command line turns holding off; 0 in Config means the default.
				EarlyCancelWindow: cmp.Or(earlyWindow, -1),
				EarlyCancelMax:    earlyMax,
				Logger:            log,
				Metrics:           orchestrator.NewMetrics(metrics),
				Ready:             markReady,
			}
			kafka.logFields(log.Info()).Int("partitions", partitions).Str("group_id", groupID).
				Int("batch_size", batchSize).Dur("snapshot_interval", snapshotIvl).Dur("session_timeout", session).Str("metrics_addr", metricsAddr).
				Dur("retention", retention).Dur("dedupe_window", dedupe).Int("max_state_bytes", maxState).
				Dur("early_cancel_window", earlyWindow).Int("early_cancel_max", earlyMax).
				Dur("step_timeout", sagaOpts.Timeout).Int("max_attempts", sagaOpts.Retry.MaxAttempts).
				Dur("compensation_timeout", sagaOpts.CompensationTimeout).Int("compensation_max_attempts", sagaOpts.CompensationRetry.MaxAttempts).
				Msg("configuration")
			if err := traced(cmd.Context(), tracing.ServiceOrchestrator, log, func() error { return orchestrator.Run(cmd.Context(), cfg) }); err != nil {
				return fmt.Errorf("orchestrator: %w", err)
			}
			log.Info().Msg("stopped")
			return nil
		},
	}
	fs := cmd.Flags()
	kafka.register(fs)
	logs.register(fs)
	intFlag(fs, &partitions, "partitions", events.DefaultPartitions, "partition count every input topic must have")
	stringFlag(fs, &groupID, "group-id", "podium-orchestrator", "consumer group shared by all orchestrator instances")
	intFlag(fs, &batchSize, "batch-size", 512, "maximum input records applied per batch")
	durationFlag(fs, &snapshotIvl, "snapshot-interval", orchestrator.DefaultSnapshotInterval,
		"longest a saga's changes wait before its snapshot is written (written once for all changes within it; offsets are committed after)")
	durationFlag(fs, &session, "session-timeout", 10*time.Second, "consumer-group session timeout (failover time of a dead instance)")
	stringFlag(fs, &metricsAddr, "metrics-addr", "", "serve /metrics, /healthz and /readyz on this address (empty: off)")
	durationFlag(fs, &retention, "retention", orchestrator.DefaultRetention,
		"how long a finished saga's last snapshot stays in podium.saga-state before its tombstone")
	durationFlag(fs, &dedupe, "dedupe-window", orchestrator.DefaultDedupeWindow,
		"how long a finished order is remembered, so a duplicate OrderPlaced starts nothing (≥ --retention)")
	intFlag(fs, &maxState, "max-state-bytes", orchestrator.DefaultMaxStateBytes,
		"largest saga state accepted: an OrderPlaced whose state would be larger is a dead letter (too_large)")
	durationFlag(fs, &earlyWindow, "early-cancel-window", orchestrator.DefaultEarlyCancelWindow,
		"how long a cancel for an order that has not arrived yet is held (applied if the order arrives, else rejected); 0: rejected at once")
	intFlag(fs, &earlyMax, "early-cancel-max", orchestrator.DefaultEarlyCancelMax,
		"most cancels held per partition for orders that have not arrived (beyond: rejected at once)")
	durationFlag(fs, &sagaOpts.Timeout, "step-timeout", order.DefaultTimeout, "per-attempt deadline of each step")
	intFlag(fs, &sagaOpts.Retry.MaxAttempts, "max-attempts", order.DefaultMaxAttempts, "attempts per step before it fails")
	durationFlag(fs, &sagaOpts.Retry.Initial, "backoff-initial", 200*time.Millisecond, "first retry backoff")
	durationFlag(fs, &sagaOpts.Retry.Max, "backoff-max", 5*time.Second, "retry backoff cap")
	durationFlag(fs, &sagaOpts.CompensationTimeout, "compensation-timeout", order.DefaultCompensationTimeout, "per-attempt deadline of each compensation")
	intFlag(fs, &sagaOpts.CompensationRetry.MaxAttempts, "compensation-max-attempts", order.DefaultCompensationMaxAttempt,
		"attempts per compensation before the saga fails and waits for an operator")
	return cmd
}
