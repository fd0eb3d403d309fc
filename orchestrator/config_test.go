package orchestrator

import (
	"strings"
	"testing"

	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
)

func TestConfigPreviousDefinitions(t *testing.T) {
	version := func(v int) *saga.Definition {
		d := order.Definition()
		d.Version = v
		return d
	}
	other := order.Definition()
	other.Name = "returns"
	for _, tc := range []struct {
		name     string
		newest   *saga.Definition
		previous []*saga.Definition
		problem  string // "" when valid
	}{
		{"newest only", version(2), nil, ""},
		{"older versions", version(3), []*saga.Definition{version(1), version(2)}, ""},
		{"version 0 is 1", version(2), []*saga.Definition{version(0)}, ""},
		{"not older", version(2), []*saga.Definition{version(2)}, "must be an older version"},
		{"newer", version(2), []*saga.Definition{version(5)}, "must be an older version"},
		{"another saga", version(2), []*saga.Definition{other}, "must be an older version"},
		{"twice", version(3), []*saga.Definition{version(1), version(1)}, "listed twice"},
		{"nil", version(2), []*saga.Definition{nil}, "is nil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Kafka: pkafka.Config{Brokers: []string{"127.0.0.1:9092"}}, Definition: tc.newest, Previous: tc.previous}
			err := cfg.Validate()
			switch {
			case tc.problem == "" && err != nil:
				t.Errorf("Validate: %v, want nil", err)
			case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)):
				t.Errorf("Validate: %v, want %q", err, tc.problem)
			}
			if err == nil {
				defs := cfg.definitions()
				if defs[tc.newest.ID()] != tc.newest || len(defs) != 1+len(tc.previous) {
					t.Errorf("definitions: %v", defs)
				}
			}
		})
	}
}
