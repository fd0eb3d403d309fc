package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/tracing"
	"github.com/podiumhq/podium/workers"
	"github.com/podiumhq/podium/workers/inventory"
	"github.com/podiumhq/podium/workers/notification"
	"github.com/podiumhq/podium/workers/payment"
	"github.com/podiumhq/podium/workers/seller"
	"github.com/podiumhq/podium/workers/shipping"
)

// referenceWorkers builds the handler of each reference worker around its effect log.
var referenceWorkers = map[string]func(workers.EffectLog) workers.Handler{
	inventory.Name:    func(l workers.EffectLog) workers.Handler { return inventory.New(l) },
	payment.Name:      func(l workers.EffectLog) workers.Handler { return payment.New(l) },
	seller.Name:       func(l workers.EffectLog) workers.Handler { return seller.New(l) },
	shipping.Name:     func(l workers.EffectLog) workers.Handler { return shipping.New(l) },
	notification.Name: func(l workers.EffectLog) workers.Handler { return notification.New(l) },
}

func newWorkerCmd() *cobra.Command {
	var (
		kafka              kafkaOptions
		logs               logOptions
		partitions         int
		groupID            string
		handlerTimeout     time.Duration
		batchSize          int
		processedRetention time.Duration
		latency            time.Duration
		errorRate          float64
		dropRate           float64
		duplicateRate      float64
		seed               int
		effectsFile        string
		metricsAddr        string
	)
	cmd := &cobra.Command{
		Use:       "worker NAME",
		Short:     "Run a reference worker: " + strings.Join(events.Workers, ", "),
		ValidArgs: events.Workers,
		Long: "Run one instance of a reference worker. Instances of a worker share its commands by\n" +
			"partition (consumer group podium-worker-NAME): start as many as there are partitions.\n" +
			"The fault flags inject latency, retryable errors, dropped and duplicated replies\n" +
			"(seeded) for tests and benchmarks.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			newHandler, ok := referenceWorkers[name]
			if !ok {
				return fmt.Errorf("unknown worker %q: want one of %s", name,
					strings.Join(slices.Sorted(maps.Keys(referenceWorkers)), ", "))
			}
			log, err := logs.logger("worker")
			if err != nil {
				return err
			}
			kcfg, err := kafka.config("podium-worker-" + name)
			if err != nil {
				return err
			}

			var effects workers.EffectLog = workers.NewMemoryEffectsFor(processedRetention)
			if effectsFile != "" {
				fe, err := workers.OpenFileEffects(effectsFile)
				if err != nil {
					return err
				}
				defer func() {
					if err := fe.Close(); err != nil {
						log.Error().Err(err).Msg("closing the effects file")
					}
				}()
				effects = fe
			}

			metrics, markReady, stopMetrics, err := serveMetrics(cmd.Context(), metricsAddr, log)
			if err != nil {
				return err
			}
			defer stopMetrics()

			cfg := workers.Config{
				Worker:             name,
				Kafka:              kcfg,
				Partitions:         partitions,
				GroupID:            groupID,
				HandlerTimeout:     handlerTimeout,
				BatchSize:          batchSize,
				ProcessedRetention: processedRetention,
				Faults: workers.Faults{
					Latency: latency, ErrorRate: errorRate, DropRate: dropRate, DuplicateRate: duplicateRate, Seed: int64(seed),
				},
				Logger:  log,
				Metrics: workers.NewMetrics(metrics),
				Ready:   markReady,
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			effectsLog := effectsFile
			if effectsLog == "" {
				effectsLog = "(memory)"
			}
			kafka.logFields(log.Info()).Str("worker", name).Int("partitions", partitions).
				Str("group_id", groupIDOrDefault(groupID, name)).Dur("handler_timeout", handlerTimeout).Int("batch_size", batchSize).
				Dur("processed_retention", processedRetention).Dur("latency", latency).Float64("error_rate", errorRate).Float64("drop_rate", dropRate).
				Float64("duplicate_rate", duplicateRate).Int("seed", seed).Str("effects_file", effectsLog).
				Str("metrics_addr", metricsAddr).Msg("configuration")

			if err := traced(cmd.Context(), tracing.ServiceWorker(name), log, func() error { return workers.Run(cmd.Context(), cfg, newHandler(effects)) }); err != nil {
				return err // workers.Run names the worker
			}
			log.Info().Str("worker", name).Msg("stopped")
			return nil
		},
	}
	fs := cmd.Flags()
	kafka.register(fs)
	logs.register(fs)
	intFlag(fs, &partitions, "partitions", events.DefaultPartitions, "partition count the worker's commands, replies and processed topics must have")
	stringFlag(fs, &groupID, "group-id", "", "consumer group of the worker's instances (default podium-worker-NAME)")
	durationFlag(fs, &handlerTimeout, "handler-timeout", workers.DefaultHandlerTimeout, "deadline of one command's handling")
	intFlag(fs, &batchSize, "batch-size", workers.DefaultBatchSize, "maximum commands handled, written and committed together")
	durationFlag(fs, &processedRetention, "processed-retention", workers.DefaultProcessedRetention,
		"how long the reply sent for an idempotency key is kept: a repeat within it gets the stored reply, after it the key is forgotten and its processed record tombstoned")
	durationFlag(fs, &latency, "latency", 0, "fault: latency added before each command is handled")
	floatFlag(fs, &errorRate, "error-rate", 0, "fault: probability (0..1) of answering a command with a retryable error instead of handling it")
	floatFlag(fs, &dropRate, "drop-rate", 0, "fault: probability (0..1) of not sending a reply (the result is still stored)")
	floatFlag(fs, &duplicateRate, "duplicate-rate", 0, "fault: probability (0..1) of sending a reply twice")
	intFlag(fs, &seed, "seed", 0, "seed of the fault generator (with the partition: a run is reproducible)")
	stringFlag(fs, &effectsFile, "effects-file", "", "JSON-lines file recording the worker's effects, one per idempotency key, kept across restarts (empty: in memory)")
	stringFlag(fs, &metricsAddr, "metrics-addr", "", "serve /metrics, /healthz and /readyz on this address (empty: off)")
	return cmd
}

func groupIDOrDefault(groupID, worker string) string {
	if groupID != "" {
		return groupID
	}
	return workers.GroupIDFor(worker)
}
