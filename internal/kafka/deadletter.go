package kafka

import (
	"strconv"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
)

// HeaderDLQTruncated is set on a dead letter whose value had to be cut to fit a record: its
// value is the original's length in bytes, and the record holds the first bytes of it.
const HeaderDLQTruncated = "dlq.truncated"

// maxDeadLetter leaves room under the writer's batch limit for the key, the headers and the
// record overhead, so that a dead letter can always be written: a dead letter that cannot be
// written would block its partition, the one thing a dead letter exists to prevent.
const maxDeadLetter = DefaultBatchBytes - 16<<10

// maxReason caps the dlq.reason header.
const maxReason = 2 << 10

// DeadLetter copies m to dlqTopic with its original key, value and headers, plus the headers
// dlq.reason, dlq.topic, dlq.partition and dlq.offset. A record too large to be written
// again keeps the first bytes of its value and gains dlq.truncated with the original length;
// an overlong reason is cut.
func DeadLetter(dlqTopic string, m kafkago.Message, reason string) kafkago.Message {
	if len(reason) > maxReason {
		reason = reason[:maxReason] + "…"
	}
	headers := make([]kafkago.Header, 0, len(m.Headers)+5)
	size := len(m.Key)
	for _, h := range m.Headers {
		if size += len(h.Key) + len(h.Value); size > maxDeadLetter/2 {
			break // headers that alone fill a record are dropped; the value matters more
		}
		headers = append(headers, h)
	}
	headers = append(headers,
		kafkago.Header{Key: events.HeaderDLQReason, Value: []byte(reason)},
		kafkago.Header{Key: events.HeaderDLQTopic, Value: []byte(m.Topic)},
		kafkago.Header{Key: events.HeaderDLQPartition, Value: []byte(strconv.Itoa(m.Partition))},
		kafkago.Header{Key: events.HeaderDLQOffset, Value: []byte(strconv.FormatInt(m.Offset, 10))},
	)
	value := m.Value
	if room := maxDeadLetter - size - len(reason); len(value) > room {
		headers = append(headers, kafkago.Header{Key: HeaderDLQTruncated, Value: []byte(strconv.Itoa(len(value)))})
		value = value[:max(room, 0)]
	}
	return kafkago.Message{Topic: dlqTopic, Key: m.Key, Value: value, Headers: headers}
}
