package kafka

import (
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"
)

func TestTopicSpecConfigs(t *testing.T) {
	tests := []struct {
		name string
		spec TopicSpec
		want map[string]string
	}{
		{"delete, defaults", TopicSpec{Name: "a"},
			map[string]string{"cleanup.policy": "delete", "retention.ms": "604800000"}},
		{"delete, one hour", TopicSpec{Name: "a", Retention: time.Hour, DeleteRetention: time.Minute},
			map[string]string{"cleanup.policy": "delete", "retention.ms": "3600000"}},
		{"delete, forever", TopicSpec{Name: "a", Retention: -1},
			map[string]string{"cleanup.policy": "delete", "retention.ms": "-1"}},
		{"compacted, defaults", TopicSpec{Name: "a", Compacted: true, Retention: time.Hour},
			map[string]string{"cleanup.policy": "compact", "retention.ms": "-1", "delete.retention.ms": "120000", "segment.ms": "3600000"}},
		{"compacted, one minute", TopicSpec{Name: "a", Compacted: true, DeleteRetention: time.Minute},
			map[string]string{"cleanup.policy": "compact", "retention.ms": "-1", "delete.retention.ms": "60000", "segment.ms": "3600000"}},
	}
	for _, tt := range tests {
		if got := tt.spec.Configs(); !maps.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestConfigUpdates(t *testing.T) {
	specs := []TopicSpec{
		{Name: "events", Retention: time.Hour},
		{Name: "state", Compacted: true},
		{Name: "same"},
	}
	current := map[string]map[string]string{
		"events": {"cleanup.policy": "delete", "retention.ms": "604800000"},
		"state":  {"cleanup.policy": "compact", "retention.ms": "604800000", "delete.retention.ms": "86400000"},
		"same":   {"cleanup.policy": "delete", "retention.ms": " 604800000"},
	}
	got := ConfigUpdates(specs, func(topic string) map[string]string { return current[topic] })
	want := []ConfigUpdate{
		{Topic: "events", Name: "retention.ms", Old: "604800000", New: "3600000"},
		{Topic: "state", Name: "delete.retention.ms", Old: "86400000", New: "120000"},
		{Topic: "state", Name: "retention.ms", Old: "604800000", New: "-1"},
		{Topic: "state", Name: "segment.ms", Old: "", New: "3600000"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got\n%v\nwant\n%v", got, want)
	}
}

func TestReconcileTopicsCreatesWithRetentionAndUpdatesIt(t *testing.T) {
	_, cfg := newCluster(t)
	events, state := uniqueName(t, "events"), uniqueName(t, "state")
	specs := []TopicSpec{
		{Name: events, Partitions: 2, Retention: time.Hour},
		{Name: state, Partitions: 2, Compacted: true},
	}
	ctx := testContext(t, 30*time.Second)
	report, err := ReconcileTopics(ctx, cfg, specs)
	if err != nil {
		t.Fatalf("ReconcileTopics: %v", err)
	}
	if fmt.Sprint(report.Created) != fmt.Sprint([]string{events, state}) || len(report.Updated) != 0 {
		t.Errorf("first run: got %+v, want both topics created and nothing updated", report)
	}
	assertConfigs := func(when string) {
		t.Helper()
		cl := cfg.Client()
		defer closeClient(cl)
		got, err := topicConfigs(ctx, cl, []string{events, state}, []string{ConfigCleanupPolicy, ConfigRetentionMS, ConfigDeleteRetentionMS, ConfigSegmentMS})
		if err != nil {
			t.Fatalf("%s: reading configs: %v", when, err)
		}
		for _, s := range specs {
			for name, want := range s.Configs() {
				if got[s.Name][name] != want {
					t.Errorf("%s: topic %s: got %s=%q, want %q", when, s.Name, name, got[s.Name][name], want)
				}
			}
		}
	}
	assertConfigs("created")

	// Other retention settings on a second run: the topics are updated, and say so.
	specs[0].Retention, specs[1].DeleteRetention = 2*time.Hour, time.Minute
	report, err = ReconcileTopics(ctx, cfg, specs)
	if err != nil {
		t.Fatalf("ReconcileTopics with other retention: %v", err)
	}
	want := []ConfigUpdate{
		{Topic: events, Name: "retention.ms", Old: "3600000", New: "7200000"},
		{Topic: state, Name: "delete.retention.ms", Old: "120000", New: "60000"},
	}
	if len(report.Created) != 0 || fmt.Sprint(report.Updated) != fmt.Sprint(want) {
		t.Errorf("second run: got created %v, updated %v; want nothing created and updated %v", report.Created, report.Updated, want)
	}
	assertConfigs("updated")

	if report, err = ReconcileTopics(ctx, cfg, specs); err != nil || len(report.Created)+len(report.Updated) != 0 {
		t.Errorf("third run: got %+v, %v; want nothing to do", report, err)
	}
}

func TestReconcileTopicsChangesNothingOnAMismatch(t *testing.T) {
	c, cfg := newCluster(t)
	wrong, other := uniqueName(t, "wrong"), uniqueName(t, "other")
	if err := c.CreateTopic(wrong, 3, map[string]string{"cleanup.policy": "delete"}); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateTopic(other, 2, map[string]string{"cleanup.policy": "delete", "retention.ms": "1000"}); err != nil {
		t.Fatal(err)
	}
	_, err := ReconcileTopics(testContext(t, 30*time.Second), cfg, []TopicSpec{
		{Name: wrong, Partitions: 2},
		{Name: other, Partitions: 2},
	})
	var mm *MismatchError
	if !errors.As(err, &mm) || len(mm.Mismatches) != 1 || mm.Mismatches[0].Topic != wrong {
		t.Fatalf("got %v, want a *MismatchError about %s only", err, wrong)
	}
	if v := c.TopicInfo(other).Configs["retention.ms"]; v == nil || *v != "1000" {
		t.Errorf("%s: retention.ms is %v after a refused run, want it left at 1000", other, v)
	}
}
