package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"
)

// The command against an empty in-memory Kafka cluster: it creates the topics, runs a demo
// of every outcome and exits; run again, it finds the topics in place.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an in-memory Kafka cluster: skipped with -short")
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	want := map[string]string{
		"booked":               "booked",
		"no rooms":             "cancelled (no_rooms at book-hotel)",
		"no car, still booked": "booked",
		"no seats":             "cancelled (no_seats at book-flight)",
		"without a car":        "booked",
	}
	for _, n := range []int{len(want), 1} {
		var out bytes.Buffer
		args := []string{"--brokers", cluster.ListenAddrs()[0], "--partitions", "3", "--create-topics", "--demo", strconv.Itoa(n)}
		if err := run(ctx, args, &out, log); err != nil {
			t.Fatalf("trip %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		var ended int
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if strings.HasPrefix(line, "requested ") {
				continue
			}
			ended++
			_, rest, _ := strings.Cut(line, " (")
			kind, status, _ := strings.Cut(rest, "): ")
			if status != want[kind] {
				t.Errorf("%q: got status %q, want %q", line, status, want[kind])
			}
		}
		if ended != n {
			t.Errorf("demo of %d trips printed %d outcomes:\n%s", n, ended, out.String())
		}
	}
}
