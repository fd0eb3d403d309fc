package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/spf13/cobra"
)

// newHealthcheckCmd is the probe of the container image: the image is FROM scratch, without
// a shell, curl or nc, so Docker and compose healthchecks run `podium healthcheck`.
func newHealthcheckCmd() *cobra.Command {
	var (
		kafka      kafkaOptions
		kafkaProbe bool
		timeout    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "healthcheck [URL]",
		Short: "Probe an HTTP endpoint or the Kafka brokers (container healthchecks)",
		Long: "Exit 0 when the probe succeeds, 1 otherwise (with the reason on stderr).\n" +
			"With URL: GET it and expect a 2xx answer (e.g. http://127.0.0.1:9090/healthz).\n" +
			"With --kafka: expect the brokers of --kafka-brokers to answer a metadata request,\n" +
			"with the same TLS and SASL options (and environment variables) as every process.",
		Example: `  podium healthcheck http://127.0.0.1:8080/readyz
  podium healthcheck --kafka --kafka-brokers kafka:9092`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 1) == kafkaProbe {
				return errors.New("healthcheck: give either a URL or --kafka")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if kafkaProbe {
				return probeKafka(ctx, kafka)
			}
			return probeHTTP(ctx, args[0])
		},
	}
	fs := cmd.Flags()
	kafka.register(fs)
	fs.BoolVar(&kafkaProbe, "kafka", false, "probe the Kafka brokers instead of a URL")
	fs.DurationVar(&timeout, "timeout", 5*time.Second, "give up after this long")
	return cmd
}

func probeHTTP(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("healthcheck: GET %s: %s %s", url, resp.Status, body)
	}
	return nil
}

func probeKafka(ctx context.Context, o kafkaOptions) error {
	cfg, err := o.config("podium-healthcheck")
	if err != nil {
		return err
	}
	cl := cfg.Client()
	defer func() {
		if t, ok := cl.Transport.(*kafkago.Transport); ok {
			t.CloseIdleConnections()
		}
	}()
	md, err := cl.Metadata(ctx, &kafkago.MetadataRequest{})
	if err != nil {
		return fmt.Errorf("healthcheck: metadata from %s: %w", o.Brokers, cfg.Explain(err))
	}
	if len(md.Brokers) == 0 {
		return fmt.Errorf("healthcheck: %s answered without brokers", o.Brokers)
	}
	return nil
}
