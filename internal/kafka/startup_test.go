package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go/sasl/plain"
)

func TestRetryStartup(t *testing.T) {
	refused := fmt.Errorf("dial: %w", syscall.ECONNREFUSED)
	eof := fmt.Errorf("kafka.(*Client).Metadata: %w", io.ErrUnexpectedEOF)
	mismatch := errors.New("topic orders.placed has 3 partitions, want 12")
	withSASL := Config{SASL: plain.Mechanism{Username: "u", Password: "p"}}
	cases := []struct {
		name      string
		cfg       Config
		errs      []error // returned by successive calls; nil after the last
		wantCalls int
		wantErr   error
	}{
		{"unreachable brokers are waited for", Config{}, []error{refused, refused}, 3, nil},
		{"a closed connection is retried once", Config{}, []error{eof}, 2, nil},
		{"a second closed connection is final", Config{}, []error{eof, eof, eof}, 2, io.ErrUnexpectedEOF},
		{"with SASL a closed connection is a refusal", withSASL, []error{eof}, 1, io.ErrUnexpectedEOF},
		{"a mismatch is final", Config{}, []error{mismatch}, 1, mismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			err := RetryStartup(context.Background(), c.cfg, time.Minute, zerolog.Nop(), "test", func(context.Context) error {
				calls++
				if calls <= len(c.errs) {
					return c.errs[calls-1]
				}
				return nil
			})
			if calls != c.wantCalls {
				t.Errorf("fn called %d times, want %d", calls, c.wantCalls)
			}
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil) != (err == nil) {
				t.Errorf("err = %v, want %v", err, c.wantErr)
			}
		})
	}
}

func TestRetryStartupStopsWhenTheBudgetIsSpent(t *testing.T) {
	refused := fmt.Errorf("dial: %w", syscall.ECONNREFUSED)
	calls := 0
	err := RetryStartup(context.Background(), Config{}, 0, zerolog.Nop(), "test", func(context.Context) error {
		calls++
		return refused
	})
	if calls != 1 || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("calls = %d, err = %v; want 1 call and the refusal", calls, err)
	}
}
