package orchestrator

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the orchestrator's Prometheus collectors. They are safe for concurrent use by
// every partition processor.
type Metrics struct {
	Records         *prometheus.CounterVec   // input records by topic
	DeadLetters     *prometheus.CounterVec   // dead letters by reason
	Forwarded       prometheus.Counter       // records forwarded to their home partition
	Commands        *prometheus.CounterVec   // commands sent by worker and kind (do, undo)
	Lifecycle       *prometheus.CounterVec   // lifecycle events by type
	OwnedPartitions prometheus.Gauge         // partitions this instance processes
	Sagas           prometheus.Gauge         // sagas held in memory by this instance
	RestoreSeconds  prometheus.Histogram     // time to restore one partition
	BatchSeconds    prometheus.Histogram     // time to apply and write one batch
	Resent          prometheus.Counter       // in-flight commands re-sent after a restore
	Ignored         *prometheus.CounterVec   // inputs recorded and ignored, by reason (duplicate, late, unknown, unknown_saga)
	StepLatency     *prometheus.HistogramVec // dispatch→reply latency by step and outcome
	Timeouts        prometheus.Counter       // step attempts whose deadline passed
	Retries         prometheus.Counter       // retries scheduled (after an error reply or a timeout)
	Compensations   prometheus.Counter       // compensation commands sent
	Lag             *prometheus.GaugeVec     // records behind the end of each input partition
	Fenced          prometheus.Counter       // batches refused because the process stalled
	RestoreMoved    prometheus.Counter       // restores during which the changelog's end moved
	StaleSnapshots  prometheus.Counter       // snapshots of ended generations seen in the changelog
	FinishedSagas   prometheus.Gauge         // finished sagas held in the dedupe index
	Tombstones      prometheus.Counter       // tombstones written to podium.saga-state
}

// NewMetrics creates the collectors and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podium_orchestrator_records_total", Help: "Input records processed, by topic.",
		}, []string{"topic"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podium_orchestrator_dead_letters_total", Help: "Records sent to orders.dlq, by reason.",
		}, []string{"reason"}),
		Forwarded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "podium_orchestrator_forwarded_total", Help: "Records forwarded to the home partition of their order.",
		}),
		Commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podium_orchestrator_commands_total", Help: "Commands sent, by worker and kind (do, undo).",
		}, []string{"worker", "kind"}),
		Lifecycle: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podium_orchestrator_lifecycle_events_total", Help: "Order lifecycle events published, by type.",
		}, []string{"type"}),
		OwnedPartitions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "podium_orchestrator_owned_partitions", Help: "Partitions processed by this instance.",
		}),
		Sagas: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "podium_orchestrator_sagas", Help: "Sagas in flight held in memory by this instance.",
		}),
		FinishedSagas: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "podium_orchestrator_finished_sagas", Help: "Finished sagas held in the dedupe index (a hash and a status each) by this instance.",
		}),
		Tombstones: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "podium_orchestrator_tombstones_total", Help: "Tombstones written to podium.saga-state (finished snapshots after the retention, index records after the dedupe window).",
		}),
		RestoreSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "podium_orchestrator_restore_seconds", Help: "Time to restore one partition from podium.saga-state.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
		BatchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "podium_orchestrator_batch_seconds", Help: "Time to apply and write one batch.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		Resent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "podium_orchestrator_resent_commands_total", Help: "In-flight commands re-sent after a restore.",
		}),
		Ignored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podium_orchestrator_ignored_total", Help: "Inputs recorded and ignored (unknown saga, ...), by reason.",
		}, []string{"reason"}),
		StepLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "podium_orchestrator_step_seconds", Help: "Command dispatch to applied reply, by step and outcome.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"step", "outcome"}),
		Timeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "podium_orchestrator_timeouts_total", Help: "Step attempts whose deadline passed without a reply.",
		}),
		Retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "podium_orchestrator_retries_total", Help: "Retries scheduled after an error reply or a timeout.",
		}),
		Compensations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "podium_orchestrator_compensations_total", Help: "Compensation commands sent.",
		}),
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "podium_orchestrator_consumer_lag", Help: "Records behind the end of an owned input partition, as of the last fetch.",
		}, []string{"topic", "partition"}),
		Fenced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "podium_orchestrator_fenced_total", Help: "Batches refused because the process stalled longer than the fence allows.",
		}),
		RestoreMoved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "podium_orchestrator_restore_changelog_moved_total", Help: "Restores during which another writer appended to the partition's changelog.",
		}),
		StaleSnapshots: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "podium_orchestrator_stale_snapshots_total", Help: "Snapshots of an ended generation found in the changelog (at restore, or landing late); the owner's state is kept and written again.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Records, m.DeadLetters, m.Forwarded, m.Commands, m.Lifecycle, m.OwnedPartitions,
			m.Sagas, m.RestoreSeconds, m.BatchSeconds, m.Resent, m.Ignored, m.StepLatency, m.Fenced, m.RestoreMoved, m.StaleSnapshots,
			m.Timeouts, m.Retries, m.Compensations, m.Lag, m.FinishedSagas, m.Tombstones)
	}
	return m
}
