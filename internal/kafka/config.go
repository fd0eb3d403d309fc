package kafka

import (
	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/kafkaconf"
)

// Config is how podium reaches a Kafka cluster: kafkaconf.Config, the public type, under
// the name this package's callers have always used.
type Config = kafkaconf.Config

// closeClient releases the connections of a Client made by Config.Client.
func closeClient(cl *kafkago.Client) {
	if t, ok := cl.Transport.(*kafkago.Transport); ok {
		t.CloseIdleConnections()
	}
}
