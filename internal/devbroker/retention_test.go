package devbroker

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
)

// topicConfigs reads the named configs of topic over the Kafka protocol, as any client sees them.
func topicConfigs(t *testing.T, cfg pkafka.Config, topic string, names ...string) map[string]string {
	t.Helper()
	cl := cfg.Client()
	defer cl.Transport.(*kafkago.Transport).CloseIdleConnections()
	res, err := cl.DescribeConfigs(testContext(t), &kafkago.DescribeConfigsRequest{Resources: []kafkago.DescribeConfigRequestResource{{
		ResourceType: kafkago.ResourceTypeTopic, ResourceName: topic, ConfigNames: names,
	}}})
	if err != nil || len(res.Resources) != 1 || res.Resources[0].Error != nil {
		t.Fatalf("DescribeConfigs(%s): %v %+v", topic, err, res)
	}
	got := map[string]string{}
	for _, e := range res.Resources[0].ConfigEntries {
		got[e.ConfigName] = e.ConfigValue
	}
	return got
}

// writeAt writes n records with the given timestamp in one request: one batch per partition.
func writeAt(t *testing.T, cfg pkafka.Config, topic, keyPrefix string, n int, at time.Time, value []byte) {
	t.Helper()
	w := pkafka.NewProducer(cfg)
	defer w.Close()
	msgs := make([]kafkago.Message, n)
	for i := range msgs {
		msgs[i] = kafkago.Message{Topic: topic, Key: []byte(keyPrefix + strings.Repeat("x", i%3) + string(rune('a'+i%26))), Value: value, Time: at}
	}
	if err := w.WriteMessages(testContext(t), msgs...); err != nil {
		t.Fatalf("writing %d records to %s: %v", n, topic, err)
	}
}

// waitFor polls cond until it holds or 20s pass, then fails with describe().
func waitFor(t *testing.T, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within 20s: %s", describe())
		}
		<-tick.C
	}
}

func TestStartKeepsDataInATemporaryDirectoryByDefault(t *testing.T) {
	b := start(t, Config{Partitions: 1})
	dir := b.DataDir()
	if dir == "" || !strings.HasPrefix(filepath.Base(dir), "podium-broker-") {
		t.Fatalf("DataDir: got %q, want a temporary podium-broker-* directory", dir)
	}
	cfg := pkafka.Config{Brokers: []string{b.Addr()}}
	write(t, cfg, events.TopicOrdersPlaced, 5)
	// Record bytes are in segment files there, not in memory.
	segments, _ := filepath.Glob(filepath.Join(dir, "partitions", "*", "*.dat"))
	if len(segments) == 0 {
		entries, _ := os.ReadDir(dir)
		t.Errorf("no segment file under %s after writing: %v", dir, entries)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("after Close: stat %s: %v, want it removed", dir, err)
	}

	mem := start(t, Config{Partitions: 1, InMemory: true})
	if mem.DataDir() != "" {
		t.Errorf("InMemory: DataDir %q, want none", mem.DataDir())
	}

	kept := t.TempDir()
	b = start(t, Config{Partitions: 1, DataDir: kept})
	_ = b.Close()
	if entries, err := os.ReadDir(kept); err != nil || len(entries) == 0 {
		t.Errorf("an explicit data directory after Close: %v %v, want it kept with the broker's state", entries, err)
	}
}

func TestTopicsCarryRetentionConfigs(t *testing.T) {
	b := start(t, Config{Partitions: 1, Retention: time.Hour, DeleteRetention: 2 * time.Minute})
	cfg := pkafka.Config{Brokers: []string{b.Addr()}}
	names := []string{pkafka.ConfigCleanupPolicy, pkafka.ConfigRetentionMS, pkafka.ConfigDeleteRetentionMS, pkafka.ConfigSegmentMS}
	for topic, want := range map[string]map[string]string{
		events.TopicOrdersEvents: {"cleanup.policy": "delete", "retention.ms": "3600000"},
		events.TopicOrdersDLQ:    {"cleanup.policy": "delete", "retention.ms": "3600000"},
		events.TopicSagaState:    {"cleanup.policy": "compact", "retention.ms": "-1", "delete.retention.ms": "120000", "segment.ms": "3600000"},
	} {
		got := topicConfigs(t, cfg, topic, names...)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: got %s=%q, want %q", topic, k, got[k], v)
			}
		}
	}
	// `podium topics create` with the same settings finds nothing to change.
	specs := pkafka.PodiumTopics(1)
	for i := range specs {
		specs[i].Retention, specs[i].DeleteRetention = time.Hour, 2*time.Minute
	}
	report, err := pkafka.ReconcileTopics(testContext(t), cfg, specs)
	if err != nil || len(report.Created)+len(report.Updated) != 0 {
		t.Errorf("ReconcileTopics against the broker: got %+v, %v; want nothing to do", report, err)
	}
}

func TestRetentionDeletesOldBatches(t *testing.T) {
	// A broker whose own compaction pass never comes during the test: ApplyRetention runs it.
	b := start(t, Config{Partitions: 1, Retention: time.Hour, CompactionInterval: time.Hour})
	cfg := pkafka.Config{Brokers: []string{b.Addr()}}
	topic := events.TopicOrdersEvents
	now := time.Now()
	writeAt(t, cfg, topic, "old-", 10, now.Add(-3*time.Hour), []byte("old"))
	writeAt(t, cfg, topic, "older-", 5, now.Add(-2*time.Hour), []byte("old"))
	writeAt(t, cfg, topic, "new-", 7, now, []byte("new"))

	b.Cluster().ApplyRetention()

	if got := b.Cluster().PartitionInfo(topic, 0).LogStartOffset; got != 15 {
		t.Errorf("log start offset after retention: got %d, want 15 (the two batches older than an hour deleted)", got)
	}
	var values []string
	if _, err := pkafka.ReadPartition(testContext(t), cfg, topic, 0, func(m kafkago.Message) error {
		values = append(values, string(m.Value))
		return nil
	}); err != nil {
		t.Fatalf("ReadPartition: %v", err)
	}
	if len(values) != 7 || values[0] != "new" {
		t.Errorf("read %d records %v after retention, want the 7 new ones", len(values), values)
	}
	// Clients see the new log start too.
	conn, err := cfg.Dialer().DialLeader(testContext(t), "tcp", b.Addr(), topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if first, err := conn.ReadFirstOffset(); err != nil || first != 15 {
		t.Errorf("ListOffsets earliest: got %d, %v; want 15", first, err)
	}
}

func TestCompactionPassAppliesRetentionAndDropsOldTombstones(t *testing.T) {
	b := start(t, Config{Partitions: 1, Retention: time.Hour, DeleteRetention: time.Minute, CompactionInterval: 20 * time.Millisecond})
	cfg := pkafka.Config{Brokers: []string{b.Addr()}}
	now := time.Now()
	writeAt(t, cfg, events.TopicOrdersEvents, "old-", 4, now.Add(-2*time.Hour), []byte("old"))
	writeAt(t, cfg, events.TopicOrdersEvents, "new-", 2, now, []byte("new"))

	// The changelog: a snapshot of a and b, then a's tombstone written two minutes ago (past
	// delete.retention.ms), b's tombstone now, and c.
	state := events.TopicSagaState
	w := pkafka.NewProducer(cfg)
	defer w.Close()
	for _, m := range []kafkago.Message{
		{Topic: state, Key: []byte("a"), Value: []byte("snapshot"), Time: now.Add(-3 * time.Minute)},
		{Topic: state, Key: []byte("b"), Value: []byte("snapshot"), Time: now.Add(-3 * time.Minute)},
		{Topic: state, Key: []byte("a"), Time: now.Add(-2 * time.Minute)},
		{Topic: state, Key: []byte("b"), Time: now},
		{Topic: state, Key: []byte("c"), Value: []byte("snapshot"), Time: now},
	} {
		if err := w.WriteMessages(testContext(t), m); err != nil { // one batch each
			t.Fatal(err)
		}
	}

	// The broker's own pass, every 20ms, deletes the old events...
	waitFor(t, func() bool { return b.Cluster().PartitionInfo(events.TopicOrdersEvents, 0).LogStartOffset == 4 },
		func() string {
			return fmt.Sprintf("orders.events log start offset %d, want 4", b.Cluster().PartitionInfo(events.TopicOrdersEvents, 0).LogStartOffset)
		})
	// ...and compacts the changelog: a's snapshot and expired tombstone go, b's fresh
	// tombstone stays for followers, c stays.
	read := func() string {
		var got []string
		if _, err := pkafka.ReadPartition(testContext(t), cfg, state, 0, func(m kafkago.Message) error {
			v := string(m.Value)
			if m.Value == nil {
				v = "tombstone"
			}
			got = append(got, string(m.Key)+"="+v)
			return nil
		}); err != nil {
			t.Fatalf("ReadPartition: %v", err)
		}
		return strings.Join(got, " ")
	}
	want := "b=tombstone c=snapshot"
	var got string
	waitFor(t, func() bool { got = read(); return got == want }, func() string { return "changelog " + got + ", want " + want })
}

func TestRestartUpdatesRetentionOverTLSAndSASL(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	users := []User{{Mechanism: "SCRAM-SHA-256", Name: "podium", Password: "s3cret"}}
	dir := t.TempDir()
	b := start(t, Config{DataDir: dir, Partitions: 1, Retention: time.Hour, TLS: serverTLS, Users: users})
	_ = b.Close()

	b = start(t, Config{DataDir: dir, Partitions: 1, Retention: 2 * time.Hour, DeleteRetention: time.Minute, TLS: serverTLS, Users: users})
	mech, err := scram.Mechanism(scram.SHA256, "podium", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	cfg := pkafka.Config{Brokers: []string{b.Addr()}, TLS: clientTLS, SASL: mech}
	if got := topicConfigs(t, cfg, events.TopicOrdersPlaced, "retention.ms")["retention.ms"]; got != "7200000" {
		t.Errorf("orders.placed after a restart with --retention 2h: retention.ms %q, want 7200000", got)
	}
	if got := topicConfigs(t, cfg, events.TopicSagaState, "delete.retention.ms")["delete.retention.ms"]; got != "60000" {
		t.Errorf("podium.saga-state after a restart with --delete-retention 1m: delete.retention.ms %q, want 60000", got)
	}
}

func TestStartRejectsDataDirWithInMemory(t *testing.T) {
	_, err := Start(testContext(t), Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), InMemory: true, Logger: zerolog.Nop()})
	if err == nil || !strings.Contains(err.Error(), "exclude each other") {
		t.Errorf("got %v, want an error saying DataDir and InMemory exclude each other", err)
	}
}
