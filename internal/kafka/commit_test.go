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
