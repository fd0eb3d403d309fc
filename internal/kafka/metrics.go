package kafka

import "github.com/prometheus/client_golang/prometheus"

// What every Producer of the process wrote, by topic. They are process-wide (a process
// writes through one or two Producers); register them with Collectors.
var (
	producedBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "podium_kafka_produced_bytes_total",
		Help: "Bytes of the record batches written to Kafka and acknowledged, as sent (compressed), by topic.",
	}, []string{"topic"})
	producedRecordBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "podium_kafka_produced_record_bytes_total",
		Help: "Key, value and header bytes of the records written to Kafka and acknowledged (before compression), by topic.",
	}, []string{"topic"})
	producedRecords = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "podium_kafka_produced_records_total",
		Help: "Records written to Kafka and acknowledged, by topic.",
	}, []string{"topic"})
)

// Collectors returns the process-wide Kafka producer metrics, to register once per
// process (podium_kafka_produced_bytes_total, _record_bytes_total, _records_total).
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{producedBytes, producedRecordBytes, producedRecords}
}
