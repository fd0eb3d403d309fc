package kafka

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// DefaultStartupBudget is how long a long-running process (orchestrator, worker) keeps
// trying to reach the cluster at start before it gives up.
const DefaultStartupBudget = 2 * time.Minute

// RetryStartup calls fn until it succeeds, ctx ends, budget is spent, or fn fails in a way
// that waiting cannot fix. A process started while the brokers restart or the network is
// down should wait for them, as it would once running, instead of exiting:
//
//   - brokers that cannot be reached (connection refused or reset, timeouts) are retried
//     with backoff until budget is spent;
//   - a connection the broker closed (EOF) is retried once: it is what a broker dying
//     mid-request looks like, but also how a broker refuses a client without the SASL it
//     requires, and how it refuses SASL credentials (then it is not retried at all);
//   - every other error (a missing topic, a partition count mismatch, an untrusted
//     certificate, authorization) is returned at once.
func RetryStartup(ctx context.Context, c Config, budget time.Duration, log zerolog.Logger, what string, fn func(context.Context) error) error {
	deadline := time.Now().Add(budget)
	backoff := 250 * time.Millisecond
	closedOnce := false
	for {
		err := fn(ctx)
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		switch {
		case unreachable(err):
		case closedByBroker(err) && c.SASL == nil && !closedOnce:
			closedOnce = true
		default:
			return err
		}
		log.Warn().Err(err).Dur("retry_in", backoff).Msg(what + ": the cluster is not reachable yet; retrying")
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// unreachable reports errors of a broker that cannot be reached now: refused or reset
// connections and timeouts.
func unreachable(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, context.DeadlineExceeded)
}

// closedByBroker reports a connection the broker closed in the middle of a request.
func closedByBroker(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
