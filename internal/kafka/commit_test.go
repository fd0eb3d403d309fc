package kafka

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrentCommitsAreMerged commits from every partition of a generation at once, with
// Commit and CommitAsync, many times, and checks that the last offset of each partition is
// what the next generation starts from.
func TestConcurrentCommitsAreMerged(t *testing.T) {
	_, cfg := newCluster(t)
	const partitions = 6
	topic := uniqueName(t, "in")
	createTopics(t, cfg, TopicSpec{Name: topic, Partitions: partitions})
	gc := fastGroup(cfg, uniqueName(t, "group"), []string{topic}, testLogger(t, &syncBuffer{}))

	// run joins as the only member and calls use for every partition, concurrently.
	run := func(use func(Assignment)) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var wg sync.WaitGroup
		wg.Add(partitions)
		done := make(chan error, 1)
		go func() {
			done <- RunGroup(ctx, gc, func(ctx context.Context, as Assignment) {
				use(as)
				wg.Done()
				<-ctx.Done()
			})
		}()
		finished := make(chan struct{})
		go func() { wg.Wait(); close(finished) }()
		select {
		case <-finished:
		case <-time.After(30 * time.Second):
			t.Fatal("not every partition was handled within 30s")
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("RunGroup: %v", err)
		}
	}

	var (
		mu   sync.Mutex
		errs []error
	)
	run(func(as Assignment) {
		var async sync.WaitGroup
		for i := int64(1); i <= 50; i++ {
			o := int64(as.Partition)*1000 + i
			if i%2 == 0 {
				if err := as.Commit(map[string]int64{topic: o}); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
				continue
			}
			async.Add(1)
			as.CommitAsync(map[string]int64{topic: o}, func(err error) {
				defer async.Done()
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		async.Wait()
	})
	for _, err := range errs {
		t.Errorf("commit: %v", err)
	}
	// The offsets are beyond the (empty) partitions' watermarks: the next generation reports
	// that and starts at the watermark, so read the committed offsets from the log instead.
	logs := &syncBuffer{}
	gc.Logger = testLogger(t, logs)
	run(func(Assignment) {})
	out := logs.String()
	for p := range partitions {
		want := fmt.Sprintf(`"committed":%d`, p*1000+50)
		if !containsLine(out, fmt.Sprintf(`"partition":%d`, p), want) {
			t.Errorf("partition %d: the next generation did not see committed offset %d:\n%s", p, p*1000+50, out)
		}
	}
}

// containsLine reports whether some line of out contains every one of parts.
func containsLine(out string, parts ...string) bool {
	for line := range strings.SplitSeq(out, "\n") {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// TestCommitsAreSpacedUnlessUrgent: within the interval, CommitAsync calls wait and go out
// together with the newest offset of each partition; an urgent commit (Commit) or hurry
// (Flush) sends what is pending at once.
func TestCommitsAreSpacedUnlessUrgent(t *testing.T) {
	var (
		mu   sync.Mutex
		sent []map[string]map[int]int64
	)
	c := newGroupCommitter(func(req map[string]map[int]int64) error {
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, req)
		return nil
	}, time.Hour) // nothing waits that long in this test: every wait is ended by hurrying
	commitAsync := func(p int, o int64) <-chan error {
		done := make(chan error, 1)
		c.commit(map[string]map[int]int64{"in": {p: o}}, false, func(err error) { done <- err })
		return done
	}
	// The first commit goes out at once: none was sent within the interval.
	if err := <-commitAsync(0, 1); err != nil {
		t.Fatal(err)
	}
	// These wait for the interval...
	a, b, d := commitAsync(0, 5), commitAsync(0, 3), commitAsync(1, 7)
	// ...until an urgent commit takes them along.
	urgent := make(chan error, 1)
	c.commit(map[string]map[int]int64{"in": {2: 9}}, true, func(err error) { urgent <- err })
	for _, ch := range []<-chan error{a, b, d, urgent} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	// And hurry (Flush) sends a lone pending commit without waiting either.
	e := commitAsync(1, 8)
	c.hurry()
	if err := <-e; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []map[string]map[int]int64{
		{"in": {0: 1}},
		{"in": {0: 5, 1: 7, 2: 9}}, // partition 0: the highest offset queued, not the last
		{"in": {1: 8}},
	}
	if fmt.Sprint(sent) != fmt.Sprint(want) {
		t.Errorf("commit requests:\n got %v\nwant %v", sent, want)
	}
}
