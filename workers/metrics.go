package workers

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the worker runtime's Prometheus collectors. Every series has a worker label.
type Metrics struct {
	Commands        *prometheus.CounterVec   // commands handled, by worker and outcome
	Replayed        *prometheus.CounterVec   // stored replies re-sent for a repeated idempotency key
	DeadLetters     *prometheus.CounterVec   // records sent to the DLQ
	Forwarded       *prometheus.CounterVec   // commands forwarded to their home partition
	InjectedFaults  *prometheus.CounterVec   // injected faults, by worker and fault (error, drop, duplicate)
	OwnedPartitions *prometheus.GaugeVec     // partitions this instance processes
	StoredReplies   *prometheus.GaugeVec     // idempotency keys held in the processed stores of the owned partitions
	ExpiredReplies  *prometheus.CounterVec   // stored replies forgotten because they left the retention window
	HandlerSeconds  *prometheus.HistogramVec // duration of one Handle call
	BatchSeconds    *prometheus.HistogramVec // duration of one batch: handle, write, commit
}

// NewMetrics creates the collectors and registers them with reg (nil: not registered).
// Registering twice with one registry panics, like prometheus.MustRegister.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podium_worker_commands_total", Help: "Commands handled, by outcome (success, failure, error).",
		}, []string{"worker", "outcome"}),
		Replayed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podium_worker_replayed_total", Help: "Stored replies re-sent for a repeated idempotency key (handler not run).",
		}, []string{"worker"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podium_worker_dead_letters_total", Help: "Records sent to the worker's DLQ.",
		}, []string{"worker"}),
		Forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podium_worker_forwarded_total", Help: "Commands forwarded to their home partition.",
		}, []string{"worker"}),
		InjectedFaults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podium_worker_injected_faults_total", Help: "Injected faults, by fault (error, drop, duplicate).",
		}, []string{"worker", "fault"}),
		OwnedPartitions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "podium_worker_owned_partitions", Help: "Command partitions this instance processes.",
		}, []string{"worker"}),
		StoredReplies: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "podium_worker_stored_replies", Help: "Idempotency keys held in the processed stores of the owned partitions.",
		}, []string{"worker"}),
		ExpiredReplies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podium_worker_expired_replies_total", Help: "Stored replies forgotten (and tombstoned) because they left the retention window.",
		}, []string{"worker"}),
		HandlerSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "podium_worker_handler_seconds", Help: "Duration of one Handle call.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"worker"}),
		BatchSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "podium_worker_batch_seconds", Help: "Duration of one batch: handle, write, commit.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"worker"}),
	}
	if reg != nil {
		reg.MustRegister(m.Commands, m.Replayed, m.DeadLetters, m.Forwarded, m.InjectedFaults,
			m.OwnedPartitions, m.StoredReplies, m.ExpiredReplies, m.HandlerSeconds, m.BatchSeconds)
	}
	return m
}
