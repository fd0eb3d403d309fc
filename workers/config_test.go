package workers

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
)

func TestConfigDefaults(t *testing.T) {
	c := Config{Worker: "inventory"}.withDefaults()
	checks := []struct {
		name      string
		got, want any
	}{
		{"Partitions", c.Partitions, 12},
		{"GroupID", c.GroupID, "podium-worker-inventory"},
		{"Types", strings.Join(c.Types, ","), strings.Join(events.CommandTypes("inventory"), ",")},
		{"HandlerTimeout", c.HandlerTimeout, DefaultHandlerTimeout},
		{"BatchSize", c.BatchSize, DefaultBatchSize},
		{"FetchMaxWait", c.FetchMaxWait, DefaultFetchMaxWait},
		{"FetchMaxBytes", c.FetchMaxBytes, DefaultFetchMaxBytes},
		{"WriteTimeout", c.WriteTimeout, DefaultWriteTimeout},
		{"ProcessedRetention", c.ProcessedRetention, 24 * time.Hour},
		{"Metrics set", c.Metrics != nil, true},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("got %s %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none: valid
	}{
		{"valid", Config{Worker: "inventory"}, nil},
		{"custom worker with types", Config{Worker: "fraud-check", Types: []string{"acme.fraud.check.v1"}}, nil},
		{"no name", Config{}, []string{"a name is required"}},
		{"bad name", Config{Worker: "Inventory!"}, []string{"lower-case"}},
		{"custom worker without types", Config{Worker: "fraud-check"}, []string{"no command types"}},
		{"everything wrong at once", Config{
			Worker: "inventory", Partitions: -1, BatchSize: -1, HandlerTimeout: -time.Second,
			FetchMaxBytes: -1, FetchMaxWait: -time.Second, WriteTimeout: -time.Second, ProcessedRetention: -time.Hour,
			Faults: Faults{Latency: -time.Second, ErrorRate: 2, DropRate: -0.1, DuplicateRate: math.NaN()},
		}, []string{
			"partitions", "batch size", "handler timeout", "fetch max bytes", "fetch max wait", "write timeout",
			"processed retention",
			"latency", "error rate", "drop rate", "duplicate rate",
		}},
		{"bad broker", Config{Worker: "inventory", Kafka: kafkaConfig("no-port")}, []string{"host:port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("got %v, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error, want one mentioning %v", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

func kafkaConfig(brokers ...string) pkafka.Config { return pkafka.Config{Brokers: brokers} }
