package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/bench"
)

func newBenchCmd() *cobra.Command {
	var (
		cfg           bench.Config
		brokers       string
		scaling       string
		orchArgs      string
		workerArgs    string
		brokerArgs    string
		apiArgs       string
		outDir        string
		childrenToErr bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure podium end to end against the broker's own command/reply limit",
		Long: "podium bench starts the embedded broker as its own process (or uses --brokers), measures\n" +
			"the raw command/reply hop through it, then starts the orchestrator(s) and the five workers\n" +
			"as processes and places orders open-loop at --rate or closed-loop with --in-flight orders\n" +
			"outstanding for --duration. It prints the end-to-end latency percentiles, sustained\n" +
			"orders/s, the efficiency ratio (orders/s × command round trips per order / raw round\n" +
			"trips/s), CPU seconds per 1,000 orders of every process, resident memory per saga and\n" +
			"records and bytes written per order (bytes: the podium_kafka_produced_bytes_total counters\n" +
			"of every process, compressed, and podium_kafka_produced_record_bytes_total, uncompressed),\n" +
			"as a Markdown table, and writes bench.json and bench.md to --out.\n" +
			"--scaling 1,2,3 adds closed-loop runs with that many orchestrators; --restore N times the\n" +
			"restore of a partition holding N saga snapshots. See BENCHMARKS.md.\n\n" +
			"--soak 30m runs a soak instead: open loop at --rate for that long over the broker, the\n" +
			"orchestrator(s), the workers and the API, sampling every --soak-interval the orders/s\n" +
			"finished, their p50 and p99 latency and every process's resident memory. It writes the\n" +
			"samples and a verdict to bench.json (soak.samples, soak.verdict), draws them in soak.svg,\n" +
			"prints PASS/FAIL per criterion and exits non-zero on FAIL: every order terminal with the\n" +
			"right outcome; each process's RSS in the last 10 minutes within ±15 % of its sample at\n" +
			"minute 10 (soaks under 20 minutes: the last half against the sample at one third); no\n" +
			"window after the first under 90 % of --rate. --retention and --dedupe-window shorten the\n" +
			"processes' windows so that expiry runs during the soak (see make soak).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, b := range strings.Split(brokers, ",") {
				if b = strings.TrimSpace(b); b != "" {
					cfg.Brokers = append(cfg.Brokers, b)
				}
			}
			for _, f := range strings.Split(scaling, ",") {
				if f = strings.TrimSpace(f); f == "" {
					continue
				}
				n, err := strconv.Atoi(f)
				if err != nil {
					return fmt.Errorf("--scaling: %q is not a number", f)
				}
				cfg.Scaling = append(cfg.Scaling, n)
			}
			cfg.OrchestratorArgs = strings.Fields(orchArgs)
			cfg.WorkerArgs = strings.Fields(workerArgs)
			cfg.BrokerArgs = strings.Fields(brokerArgs)
			cfg.APIArgs = strings.Fields(apiArgs)
			if err := cfg.Validate(); err != nil {
				return err
			}
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			cfg.Progress = stderr
			cfg.Log = io.Discard
			if outDir != "" {
				if err := os.MkdirAll(outDir, 0o755); err != nil {
					return err
				}
				logFile, err := os.Create(filepath.Join(outDir, "bench.log"))
				if err != nil {
					return err
				}
				defer logFile.Close()
				cfg.Log = logFile
				fmt.Fprintf(stderr, "podium bench: child process logs in %s\n", logFile.Name())
			}
			if childrenToErr {
				cfg.Log = stderr
			}
			rep, err := bench.Run(cmd.Context(), cfg)
			if rep == nil {
				return err
			}
			md := rep.Markdown()
			fmt.Fprint(stdout, "\n"+md)
			if outDir != "" {
				js, jerr := rep.JSON()
				if jerr != nil {
					return jerr
				}
				if werr := os.WriteFile(filepath.Join(outDir, "bench.json"), append(js, '\n'), 0o644); werr != nil {
					return werr
				}
				if werr := os.WriteFile(filepath.Join(outDir, "bench.md"), []byte(md), 0o644); werr != nil {
					return werr
				}
				fmt.Fprintf(stderr, "podium bench: wrote %s and %s\n", filepath.Join(outDir, "bench.json"), filepath.Join(outDir, "bench.md"))
				if rep.Soak != nil {
					svg := filepath.Join(outDir, "soak.svg")
					if werr := os.WriteFile(svg, rep.Soak.SVG(), 0o644); werr != nil {
						return werr
					}
					fmt.Fprintf(stderr, "podium bench: wrote %s\n", svg)
				}
			}
			return err
		},
	}
	fs := cmd.Flags()
	stringFlag(fs, &brokers, "brokers", "", "comma-separated bootstrap brokers of an existing cluster, whose CPU is then not measured (empty: start the embedded broker as its own process for every run)")
	intFlag(fs, &cfg.Partitions, "partitions", events.DefaultPartitions, "partitions per topic")
	floatFlag(fs, &cfg.Rate, "rate", 0, "open loop: place this many orders per second (default 1000 when no other run is asked for)")
	intFlag(fs, &cfg.InFlight, "in-flight", 0, "closed loop: keep this many orders outstanding")
	intFlag(fs, &cfg.Orchestrators, "orchestrators", 1, "orchestrator instances of the --rate and --in-flight runs")
	stringFlag(fs, &scaling, "scaling", "", "comma-separated orchestrator counts of extra closed-loop runs (the scaling curve), e.g. 1,2,3")
	durationFlag(fs, &cfg.Duration, "duration", 20*time.Second, "measured part of every run")
	durationFlag(fs, &cfg.Warmup, "warmup", 3*time.Second, "load before the measured part, not measured")
	durationFlag(fs, &cfg.Drain, "drain", 30*time.Second, "longest wait for outstanding orders after the measured part")
	stringFlag(fs, &cfg.Mix, "mix", bench.MixHappy, "orders to place: happy (all five steps) or mix (every outcome, with compensations)")
	boolFlag(fs, &cfg.NoHop, "no-hop", false, "skip the raw command/reply hop (and the efficiency ratio)")
	intFlag(fs, &cfg.HopInFlight, "hop-in-flight", 0, "concurrency of the raw hop (default: --in-flight of a closed-loop run, 1024 otherwise)")
	durationFlag(fs, &cfg.HopDuration, "hop-duration", 4*time.Second, "measured part of the raw hop at N in flight")
	intFlag(fs, &cfg.Restore, "restore", 0, "time the restore of a partition holding this many saga snapshots (0: skip)")
	durationFlag(fs, &cfg.Soak, "soak", 0, "run a soak of this length instead (open loop at --rate, with the API; 0: no soak)")
	durationFlag(fs, &cfg.SoakInterval, "soak-interval", 10*time.Second, "soak window: one sample of throughput, latency and RSS each")
	durationFlag(fs, &cfg.Retention, "retention", 0, "pass --retention to the orchestrators and the API (0: their default)")
	durationFlag(fs, &cfg.DedupeWindow, "dedupe-window", 0, "pass --dedupe-window to the orchestrators and --processed-retention to the workers (0: their default)")
	stringFlag(fs, &cfg.ProfileDir, "profile-dir", "", "save CPU, heap and allocation profiles of an orchestrator and the payment worker here")
	stringFlag(fs, &outDir, "out", "bench-results", "write bench.json, bench.md and the child processes' logs (bench.log) here (empty: only print)")
	stringFlag(fs, &cfg.LogLevel, "log-level", "info", "log level of the child processes")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the generated orders")
	stringFlag(fs, &orchArgs, "orchestrator-args", "", "extra flags for every orchestrator, space-separated")
	stringFlag(fs, &workerArgs, "worker-args", "", "extra flags for every worker, space-separated")
	stringFlag(fs, &brokerArgs, "broker-args", "", "extra flags for the embedded broker, space-separated")
	stringFlag(fs, &apiArgs, "api-args", "", "extra flags for the API process of a soak, space-separated")
	boolFlag(fs, &childrenToErr, "show-logs", false, "copy the child processes' logs to stderr")
	cmd.AddCommand(newBenchEchoCmd())
	return cmd
}

// newBenchEchoCmd is the responder of the raw command/reply hop, started by `podium bench`
// as its own process.
func newBenchEchoCmd() *cobra.Command {
	var (
		kafka      kafkaOptions
		logs       logOptions
		partitions int
	)
	cmd := &cobra.Command{
		Use:    "echo",
		Short:  "Answer the raw hop's requests (started by podium bench)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.logger("bench-echo")
			if err != nil {
				return err
			}
			kcfg, err := kafka.config("podium-bench-echo")
			if err != nil {
				return err
			}
			kafka.logFields(log.Info()).Int("partitions", partitions).Msg("configuration")
			err = bench.Echo(cmd.Context(), kcfg, partitions, func() { log.Info().Msg("echoing") }, log)
			if err != nil && cmd.Context().Err() == nil {
				return fmt.Errorf("bench echo: %w", err)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	kafka.register(fs)
	logs.register(fs)
	intFlag(fs, &partitions, "partitions", events.DefaultPartitions, "partitions of the hop topics")
	return cmd
}
