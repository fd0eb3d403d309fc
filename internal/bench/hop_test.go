package bench

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"

	pkafka "github.com/podiumhq/podium/internal/kafka"
)

// TestHopPacesRequestsAndChargesCPU runs the raw hop against the echo on an in-process
// broker: paced, a requester sends at most one request per Pace, and the CPU the sampler
// reports over the window is divided among the round trips counted.
func TestHopPacesRequestsAndChargesCPU(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	defer c.Close()
	cfg := pkafka.Config{Brokers: c.ListenAddrs(), ClientID: "hop-test"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := EnsureHopTopics(ctx, cfg, 2); err != nil {
		t.Fatalf("creating the hop topics: %v", err)
	}
	ready := make(chan struct{})
	echoCtx, stopEcho := context.WithCancel(ctx)
	echoed := make(chan error, 1)
	go func() { echoed <- Echo(echoCtx, cfg, 2, func() { close(ready) }, zerolog.Nop()) }()
	defer func() {
		stopEcho()
		if err := <-echoed; err != nil {
			t.Errorf("echo: %v", err)
		}
	}()
	<-ready

	var samples atomic.Int64
	sample := func() map[string]ProcSample { // 30ms more CPU at every call
		n := samples.Add(1)
		return map[string]ProcSample{"broker": {CPU: time.Duration(n) * 30 * time.Millisecond}}
	}
	const pace, window = 100 * time.Millisecond, 600 * time.Millisecond
	res, err := Hop(ctx, HopConfig{Kafka: cfg, InFlight: 1, Warmup: 200 * time.Millisecond, Duration: window,
		Timeout: 20 * time.Second, Pace: pace, Sample: sample})
	if err != nil {
		t.Fatalf("Hop: %v", err)
	}
	if res.Lost != 0 || res.RoundTrips == 0 {
		t.Fatalf("round trips %d, lost %d: want some and none lost", res.RoundTrips, res.Lost)
	}
	// The window holds at most window/pace+1 request starts, whatever the broker's speed.
	if max := int64(window/pace) + 1; res.RoundTrips > max {
		t.Errorf("paced at %v: %d round trips in %v, want at most %d", pace, res.RoundTrips, window, max)
	}
	if got := samples.Load(); got != 2 {
		t.Errorf("sampled %d times, want 2 (the window's start and end)", got)
	}
	if want := 30 * time.Millisecond / time.Duration(res.RoundTrips); res.CPUPerRoundTrip != want {
		t.Errorf("CPU per round trip %v, want %v (30ms over %d round trips)", res.CPUPerRoundTrip, want, res.RoundTrips)
	}
	if res.Pace != pace {
		t.Errorf("Pace %v, want %v", res.Pace, pace)
	}
}
