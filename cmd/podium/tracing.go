package main

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/podiumhq/podium/internal/tracing"
)

// tracingFlushTimeout bounds the flush of the spans not yet exported, on exit.
const tracingFlushTimeout = 5 * time.Second

// traced runs run with OpenTelemetry export set up for the process named service — only
// when the OTEL_* environment asks for it (see internal/tracing) — and flushes the spans
// left once run returns.
func traced(ctx context.Context, service string, log zerolog.Logger, run func() error) error {
	shutdown, err := tracing.Setup(ctx, service, log)
	if err != nil {
		return err
	}
	defer func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tracingFlushTimeout)
		defer cancel()
		if err := shutdown(fctx); err != nil {
			log.Warn().Err(err).Msg("tracing: flushing spans")
		}
	}()
	return run()
}
