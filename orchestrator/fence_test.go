package orchestrator

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestFence(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFence(ctx, time.Hour) // the watchdog never flags anything by itself here
	t0 := time.Unix(1_000_000, 0)
	f.lastTick.Store(t0.UnixNano())

	if err := f.check(t0.Add(30 * time.Minute)); err != nil {
		t.Fatalf("check within the limit = %v, want nil", err)
	}
	f.observe(t0.Add(59 * time.Minute))
	if err := f.check(t0.Add(59 * time.Minute)); err != nil {
		t.Fatalf("check after a tick within the limit = %v, want nil", err)
	}
	// The process stalls for more than the limit; the watchdog ticks first.
	f.observe(t0.Add(3 * time.Hour))
	if err := f.check(t0.Add(3 * time.Hour)); !errors.Is(err, ErrFenced) {
		t.Fatalf("check after a stall = %v, want ErrFenced", err)
	}
	// Once fenced, always fenced.
	f.observe(t0.Add(3*time.Hour + time.Second))
	if err := f.check(t0.Add(3*time.Hour + time.Second)); !errors.Is(err, ErrFenced) {
		t.Fatalf("check after recovery = %v, want ErrFenced (a fenced processor stays fenced)", err)
	}
}

func TestFenceCheckBeforeWatchdog(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFence(ctx, time.Hour)
	t0 := time.Unix(1_000_000, 0)
	f.lastTick.Store(t0.UnixNano())
	// The processor resumes first: the watchdog's last tick is older than the limit.
	if err := f.check(t0.Add(2 * time.Hour)); !errors.Is(err, ErrFenced) {
		t.Fatalf("check with a stale watchdog = %v, want ErrFenced", err)
	}
}
