package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// fastGroup returns a GroupConfig with timeouts short enough for tests.
func fastGroup(cfg Config, group string, topics []string, log zerolog.Logger) GroupConfig {
	return GroupConfig{
		GroupID:           group,
		Topics:            topics,
		Config:            cfg,
		SessionTimeout:    6 * time.Second,
		HeartbeatInterval: 100 * time.Millisecond,
		RebalanceTimeout:  5 * time.Second,
		JoinGroupBackoff:  100 * time.Millisecond,
		Logger:            log,
	}
}

// ownership records which member currently runs a handler for which partition index.
type ownership struct {
	mu     sync.Mutex
	active map[int]map[int]Assignment // member -> partition -> assignment
}

func (o *ownership) handler(member int) func(context.Context, Assignment) {
	return func(ctx context.Context, a Assignment) {
		o.mu.Lock()
		if o.active[member] == nil {
			o.active[member] = map[int]Assignment{}
		}
		o.active[member][a.Partition] = a
		o.mu.Unlock()
		<-ctx.Done()
		o.mu.Lock()
		delete(o.active[member], a.Partition)
		o.mu.Unlock()
	}
}

// check reports "" when exactly members own every partition index 0..partitions-1 once,
// each with offsets for every topic, spread evenly.
func (o *ownership) check(members []int, partitions int, topics []string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	owner := map[int]int{}
	for m, ps := range o.active {
		if len(ps) > 0 && !slices.Contains(members, m) {
			return fmt.Sprintf("member %d still owns %v", m, keys(ps))
		}
		for p, a := range ps {
			if prev, ok := owner[p]; ok {
				return fmt.Sprintf("partition %d owned by members %d and %d", p, prev, m)
			}
			owner[p] = m
			if len(a.Offsets) != len(topics) {
				return fmt.Sprintf("partition %d: offsets for %v, want all of %v", p, a.Offsets, topics)
			}
		}
	}
	if len(owner) != partitions {
		return fmt.Sprintf("%d of %d partition indices owned: %v", len(owner), partitions, o.describe())
	}
	even := partitions / len(members)
	for _, m := range members {
		if n := len(o.active[m]); n < even || n > even+1 {
			return fmt.Sprintf("member %d owns %d partitions, want %d or %d: %v", m, n, even, even+1, o.describe())
		}
	}
	return ""
}

func (o *ownership) describe() string {
	var parts []string
	for m, ps := range o.active {
		parts = append(parts, fmt.Sprintf("member %d: %v", m, keys(ps)))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

func keys(m map[int]Assignment) []int {
	var ks []int
	for k := range m {
		ks = append(ks, k)
	}
	sort.Ints(ks)
	return ks
}

func TestRunGroupCoPartitionsAcrossMembers(t *testing.T) {
	_, cfg := newCluster(t)
	const partitions = 6
	topics := []string{uniqueName(t, "placed"), uniqueName(t, "control"), uniqueName(t, "replies")}
	for _, tp := range topics {
		createTopics(t, cfg, TopicSpec{Name: tp, Partitions: partitions})
	}
	// One topic with records, so that offsets resolve to a non-trivial first offset later.
	gc := fastGroup(cfg, uniqueName(t, "group"), topics, testLogger(t, nil))

	own := &ownership{active: map[int]map[int]Assignment{}}
	type member struct {
		cancel context.CancelFunc
		done   chan error
	}
	members := make([]member, 3)
	start := time.Now()
	for i := range members {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		members[i] = member{cancel, done}
		go func() { done <- RunGroup(ctx, gc, own.handler(i)) }()
	}
	t.Cleanup(func() {
		for _, m := range members {
			m.cancel()
		}
		for _, m := range members {
			<-m.done
		}
	})

	waitFor(t, 30*time.Second, func() bool { return own.check([]int{0, 1, 2}, partitions, topics) == "" },
		func() string { return own.check([]int{0, 1, 2}, partitions, topics) })
	t.Logf("3 members settled in %s: %s", time.Since(start), own.describe())

	// Partition p of every topic is in the same member's assignment.
	own.mu.Lock()
	for m, ps := range own.active {
		for p, a := range ps {
			for _, tp := range topics {
				if !slices.ContainsFunc(a.Generation.Assignments[tp], func(pa kafkago.PartitionAssignment) bool { return pa.ID == p }) {
					t.Errorf("member %d owns index %d but its generation lacks %s[%d]", m, p, tp, p)
				}
				if off, ok := a.Offsets[tp]; !ok || off != 0 {
					t.Errorf("member %d partition %d: offset of %s is %d (present %v), want 0 (first offset of an empty partition)", m, p, tp, off, ok)
				}
			}
		}
	}
	own.mu.Unlock()

	// A member that stops leaves the group: the others take over well before the session
	// timeout would have expired.
	left := time.Now()
	members[0].cancel()
	select {
	case err := <-members[0].done:
		members[0].done <- err // for the cleanup
		if err != nil {
			t.Errorf("RunGroup after cancel: got %v, want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("RunGroup did not return within 15s of its context ending")
	}
	waitFor(t, gc.SessionTimeout-time.Second, func() bool { return own.check([]int{1, 2}, partitions, topics) == "" },
		func() string { return own.check([]int{1, 2}, partitions, topics) })
	t.Logf("2 members took over %s after the third left", time.Since(left))
}

func TestRunGroupOffsets(t *testing.T) {
	c, cfg := newCluster(t)
	a, b := uniqueName(t, "a"), uniqueName(t, "b")
	createTopics(t, cfg, TopicSpec{Name: a, Partitions: 2}, TopicSpec{Name: b, Partitions: 2})
	var msgs []kafkago.Message
	for i := 0; len(msgs) < 8; i++ {
		k := []byte(fmt.Sprintf("ord-%d", i))
		if HomePartition(k, 2) == 0 {
			msgs = append(msgs, kafkago.Message{Topic: a, Key: k, Value: []byte("v")})
		}
	}
	writeMessages(t, cfg, msgs...)
	logs := &syncBuffer{}
	gc := fastGroup(cfg, uniqueName(t, "group"), []string{a, b}, testLogger(t, logs))

	// run joins as the only member, hands partition 0's assignment to use, then leaves.
	run := func(use func(Assignment)) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		got := make(chan Assignment, 2)
		done := make(chan error, 1)
		go func() {
			done <- RunGroup(ctx, gc, func(ctx context.Context, as Assignment) {
				if as.Partition == 0 {
					got <- as
				}
				<-ctx.Done()
			})
		}()
		select {
		case as := <-got:
			use(as)
		case <-time.After(30 * time.Second):
			t.Fatal("no assignment of partition 0 within 30s")
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("RunGroup: %v", err)
		}
	}

	var stale Assignment
	run(func(as Assignment) {
		if as.Offsets[a] != 0 || as.Offsets[b] != 0 {
			t.Errorf("nothing committed: got offsets %v, want %s=0 %s=0", as.Offsets, a, b)
		}
		if err := as.Commit(map[string]int64{a: 3}); err != nil {
			t.Errorf("Commit: %v", err)
		}
		if err := as.Commit(map[string]int64{"not-subscribed": 1}); err == nil || !strings.Contains(err.Error(), "not part of the assignment") {
			t.Errorf("Commit of a foreign topic: got %v, want an error", err)
		}
		stale = as
	})
	if err := stale.Commit(map[string]int64{a: 4}); err == nil {
		t.Error("Commit after the generation ended: got nil, want an error")
	}

	run(func(as Assignment) {
		if as.Offsets[a] != 3 || as.Offsets[b] != 0 {
			t.Errorf("after commit: got offsets %v, want %s=3 %s=0", as.Offsets, a, b)
		}
	})

	// Records below the committed offset disappear: the gap is reported, reading resumes at
	// the log start.
	if err := c.DeleteRecords(a, 0, 5); err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	run(func(as Assignment) {
		if as.Offsets[a] != 5 {
			t.Errorf("committed offset below the log start: got offset %d, want 5", as.Offsets[a])
		}
	})
	if out := logs.String(); !strings.Contains(out, `"gap":2`) || !strings.Contains(out, "below the log start") {
		t.Errorf("log does not report the gap of 2 records below the log start:\n%s", out)
	}
}

func TestNextOffset(t *testing.T) {
	tests := []struct {
		name      string
		committed int64
		b         bounds
		want      int64
		wantLog   string
	}{
		{"nothing committed", kafkago.FirstOffset, bounds{5, 9}, 5, ""},
		{"committed inside", 7, bounds{5, 9}, 7, ""},
		{"committed at the end", 9, bounds{5, 9}, 9, ""},
		{"below the log start", 2, bounds{5, 9}, 5, `"gap":3`},
		{"beyond the watermark", 12, bounds{5, 9}, 9, `"gap":3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf syncBuffer
			got := nextOffset("t", 0, tt.committed, tt.b, zerolog.New(&buf))
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
			if out := buf.String(); (tt.wantLog == "") != (out == "") || !strings.Contains(out, tt.wantLog) {
				t.Errorf("got log %q, want one containing %q", out, tt.wantLog)
			}
		})
	}
}

func TestGroupConfigValidate(t *testing.T) {
	err := GroupConfig{Topics: []string{"a", "a", ""}, SessionTimeout: time.Second, HeartbeatInterval: 2 * time.Second}.Validate()
	for _, want := range []string{"group ID is required", "topic a listed twice", "empty topic name", "heartbeat interval 2s must be below the session timeout 1s"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want an error containing %q", err, want)
		}
	}
	if err := (GroupConfig{GroupID: "g", Topics: []string{"a"}}).Validate(); err != nil {
		t.Errorf("valid config with defaults: got %v, want nil", err)
	}
	if err := RunGroup(context.Background(), GroupConfig{}, nil); err == nil {
		t.Error("RunGroup with an invalid config: got nil, want an error")
	}
}

func TestRunGroupRejectsSessionTimeoutBelowBrokerMinimum(t *testing.T) {
	_, cfg := newCluster(t, kfake.GroupMinSessionTimeout(time.Second))
	topic := uniqueName(t, "t")
	createTopics(t, cfg, TopicSpec{Name: topic, Partitions: 1})
	gc := fastGroup(cfg, uniqueName(t, "group"), []string{topic}, testLogger(t, nil))
	gc.SessionTimeout = 500 * time.Millisecond
	err := RunGroup(testContext(t, 20*time.Second), gc, func(ctx context.Context, _ Assignment) { <-ctx.Done() })
	if !errors.Is(err, kafkago.InvalidSessionTimeout) {
		t.Errorf("got %v, want InvalidSessionTimeout", err)
	}
}

func TestRunGroupHandlerReturningEarlyRejoins(t *testing.T) {
	_, cfg := newCluster(t)
	topic := uniqueName(t, "t")
	createTopics(t, cfg, TopicSpec{Name: topic, Partitions: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gens := make(chan int32, 4)
	done := make(chan error, 1)
	var calls atomic.Int32
	go func() {
		done <- RunGroup(ctx, fastGroup(cfg, uniqueName(t, "group"), []string{topic}, testLogger(t, nil)), func(ctx context.Context, a Assignment) {
			gens <- a.Generation.ID
			if calls.Add(1) == 1 {
				return // the first handler gives up at once
			}
			<-ctx.Done()
		})
	}()
	var got []int32
	for len(got) < 2 {
		select {
		case g := <-gens:
			got = append(got, g)
		case <-time.After(30 * time.Second):
			t.Fatalf("got generations %v within 30s, want a second one after the handler returned", got)
		}
	}
	if got[1] <= got[0] {
		t.Errorf("got generations %v, want a later generation after the early return", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("RunGroup: %v", err)
	}
}
