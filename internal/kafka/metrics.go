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
	// The request counters show how well a process batches: records per request is the
	// batch size the broker sees.
	produceRequests = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "podium_kafka_produce_requests_total",
		Help: "Produce requests answered by a broker (one carries every topic and partition of a write).",
	})
	fetchRequests = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "podium_kafka_fetch_requests_total",
		Help: "Fetch requests answered by a broker, of the process's Feed and restores.",
	})
	fetchedRecords = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "podium_kafka_fetched_records_total",
		Help: "Records received in fetch responses, from the offsets asked for, by topic.",
	}, []string{"topic"})
)

// Collectors returns the process-wide Kafka producer metrics, to register once per
// process (podium_kafka_produced_bytes_total, _record_bytes_total, _records_total,
// podium_kafka_produce_requests_total, _fetch_requests_total, _fetched_records_total).
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{producedBytes, producedRecordBytes, producedRecords, produceRequests, fetchRequests, fetchedRecords}
}
