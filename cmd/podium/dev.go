package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/client"
	"github.com/podiumhq/podium/internal/devstack"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/internal/sample"
	"github.com/podiumhq/podium/workers"
)

// devOptions configure `podium dev`.
type devOptions struct {
	BrokerAddr  string
	APIAddr     string
	MetricsAddr string
	PortBase    int
	DataDir     string
	InMemory    bool
	Partitions  int
	Orders      int
	Seed        uint64
	Exit        bool
	Timeout     time.Duration
	LogLevel    string
}

func newDevCmd() *cobra.Command {
	var o devOptions
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything locally: embedded broker, orchestrator, five workers, API and dashboard, and a sample of orders",
		Long: "podium dev starts the embedded Kafka-protocol broker, the orchestrator, the five\n" +
			"reference workers and the API with its dashboard as separate processes, places a sample mix of orders covering every\n" +
			"outcome, shows their progress and prints a summary. It runs until Ctrl-C, or with\n" +
			"--exit until every order is terminal (exit 1 if --timeout passes first or an outcome\n" +
			"differs from what the order must produce).\n\n" +
			"It listens on --broker-addr (9092), --api-addr (8080) and --orchestrator-metrics-addr\n" +
			"(9464); --port-base N moves all three to N, N+1 and N+2 (keeping their hosts), e.g. to\n" +
			"run a second podium dev next to the first. It checks every port before it starts\n" +
			"anything and exits naming the port, its use and, on Linux, the process holding it.\n" +
			"Its processes are configured by flags only: PODIUM_* variables of the shell are not\n" +
			"passed on, and every client connects to the broker this podium dev started.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDev(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	stringFlag(fs, &o.BrokerAddr, "broker-addr", "127.0.0.1:9092", "address of the embedded broker (its port: --port-base)")
	stringFlag(fs, &o.APIAddr, "api-addr", "127.0.0.1:8080", "address of the API and dashboard (its port: --port-base + 1; empty: no API)")
	stringFlag(fs, &o.MetricsAddr, "orchestrator-metrics-addr", "127.0.0.1:9464", "address of the orchestrator's /metrics (its port: --port-base + 2; empty: off)")
	intFlag(fs, &o.PortBase, "port-base", 0, "move every port: the broker listens on this port, the API on the next, the orchestrator's metrics on the one after, each on its address's host (0: the addresses as given)")
	stringFlag(fs, &o.DataDir, "data-dir", "", "keep the broker's data here, across runs (empty: a temporary directory removed on exit)")
	boolFlag(fs, &o.InMemory, "in-memory", false, "keep the broker's data in its memory, nothing on disk (memory grows with every record: short runs only)")
	intFlag(fs, &o.Partitions, "partitions", events.DefaultPartitions, "partitions per topic")
	intFlag(fs, &o.Orders, "orders", 50, "sample orders to place")
	fs.Uint64Var(&o.Seed, "seed", uint64(time.Now().UnixNano()), "seed of the sample orders")
	boolFlag(fs, &o.Exit, "exit", false, "exit once every order is terminal")
	durationFlag(fs, &o.Timeout, "timeout", 3*time.Minute, "with --exit: give up after this long")
	enumFlag(fs, &o.LogLevel, "log-level", "info", logLevels, "log level of the child processes: trace, debug, info, warn or error")
	return cmd
}

func runDev(ctx context.Context, o devOptions, stdout, stderr io.Writer) error {
	if o.DataDir != "" && o.InMemory {
		return errors.New("--data-dir and --in-memory exclude each other: choose one")
	}
	if err := o.resolvePorts(); err != nil {
		return err
	}
	if err := o.checkPorts(); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "podium-dev-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	// Children get flags, not the shell's PODIUM_* settings (a deployment's brokers, TLS,
	// SASL, group IDs, metrics addresses), which would take them elsewhere.
	sup := &devstack.Supervisor{Output: stderr, DropEnv: []string{"PODIUM_"}}
	defer func() {
		fmt.Fprintln(stdout, "stopping processes…")
		sup.StopAll(10 * time.Second)
	}()

	// The broker keeps record bytes on disk: in --data-dir, or else in the work directory,
	// which goes with this process even if the broker is killed.
	readyFile := filepath.Join(work, "broker.ready")
	brokerArgs := []string{"broker", "--addr", o.BrokerAddr, "--partitions", strconv.Itoa(o.Partitions),
		"--log-format", "console", "--log-level", o.LogLevel, "--ready-file", readyFile}
	switch {
	case o.DataDir != "":
		brokerArgs = append(brokerArgs, "--data-dir", o.DataDir)
	case o.InMemory:
		brokerArgs = append(brokerArgs, "--in-memory")
	default:
		brokerArgs = append(brokerArgs, "--data-dir", filepath.Join(work, "broker"))
	}
	broker, err := sup.Start("broker", brokerArgs...)
	if err != nil {
		return err
	}
	// Connect to nothing before our broker holds its port: until then a broker of another
	// podium dev could answer at the address. The ready file holds the address it bound.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	brokerAddr, err := devstack.WaitFile(wctx, readyFile, broker)
	cancel()
	if err != nil {
		return fmt.Errorf("the broker did not start: %w", err)
	}
	kcfg := pkafka.Config{Brokers: []string{brokerAddr}, ClientID: "podium-dev"}
	if err := devstack.WaitForTopics(ctx, kcfg, broker, o.Partitions); err != nil {
		return err
	}
	common := []string{"--kafka-brokers", brokerAddr, "--partitions", strconv.Itoa(o.Partitions),
		"--log-format", "console", "--log-level", o.LogLevel}
	orchArgs := append([]string{"orchestrator"}, common...)
	if o.MetricsAddr != "" {
		orchArgs = append(orchArgs, "--metrics-addr", o.MetricsAddr)
	}
	if _, err := sup.Start("orchestrator", orchArgs...); err != nil {
		return err
	}
	for _, w := range events.Workers {
		args := append([]string{"worker", w, "--effects-file", filepath.Join(work, w+".effects.jsonl")}, common...)
		if _, err := sup.Start(w, args...); err != nil {
			return err
		}
	}

	if o.APIAddr != "" {
		if _, err := sup.Start("api", append([]string{"api", "--addr", o.APIAddr}, common...)...); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := devstack.WaitTCP(wctx, o.APIAddr)
		cancel()
		if err != nil {
			return fmt.Errorf("the API did not start: %w", err)
		}
		fmt.Fprintf(stdout, "dashboard: http://%s/\n", o.APIAddr)
	}

	// Place the sample once every process has joined its group, so that the latencies in
	// the summary are the system's and not the time it took to start.
	groups := []string{"podium-orchestrator"}
	for _, w := range events.Workers {
		groups = append(groups, workers.GroupIDFor(w))
	}
	wctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	err = client.WaitForGroups(wctx, kcfg, groups)
	cancel()
	if err != nil {
		return err
	}

	// Follow lifecycle events from the current end, then place the sample.
	tracking, err := client.Track(ctx, kcfg)
	if err != nil {
		return err
	}
	defer tracking.Close()
	g := sample.NewGenerator("dev-"+time.Now().UTC().Format("150405"), o.Seed)
	orders := make([]sample.Order, o.Orders)
	for i := range orders {
		orders[i] = g.Next()
	}
	w := pkafka.NewProducer(kcfg)
	defer w.Close()
	fmt.Fprintf(stdout, "placing %d sample orders (seed %d)…\n", len(orders), o.Seed)
	if err := tracking.Place(ctx, w, orders, nil); err != nil {
		return err
	}
	summary, err := waitTerminal(ctx, tracking.Tracker, o.Timeout, stdout, broker.Done())
	if errors.Is(err, context.Canceled) {
		fmt.Fprint(stdout, "\n"+summary.String())
		return nil
	}
	if err != nil && !errors.Is(err, errNotTerminal) {
		return err
	}
	fmt.Fprint(stdout, "\n== podium dev: summary ==\n"+summary.String())
	if o.Exit {
		return exitForSummary(summary, o.Timeout)
	}
	if o.APIAddr != "" {
		fmt.Fprintf(stdout, "\ndashboard: http://%s/   (orders: curl http://%s/orders?status=cancelled)", o.APIAddr, o.APIAddr)
	}
	if o.MetricsAddr != "" {
		fmt.Fprintf(stdout, "\norchestrator metrics: http://%s/metrics", o.MetricsAddr)
	}
	fmt.Fprintf(stdout, "\nbroker at %s; place more orders with:\n  podium order place --kafka-brokers %s --count 100 --mix --wait\n"+
		"follow them with:\n  podium order watch --kafka-brokers %s\nPress Ctrl-C to stop.\n", brokerAddr, brokerAddr, brokerAddr)
	select {
	case <-ctx.Done():
	case <-broker.Done():
		return fmt.Errorf("the broker exited: %w", broker.Err())
	}
	return nil
}

// devListenAddr is an address `podium dev` has a process listen on.
type devListenAddr struct {
	addr    *string
	flag    string
	purpose string
}

// listenAddrs are the addresses `podium dev` listens on, in --port-base order: the broker
// at BASE, the API at BASE+1, the orchestrator's metrics at BASE+2.
func (o *devOptions) listenAddrs() []devListenAddr {
	return []devListenAddr{
		{&o.BrokerAddr, "--broker-addr", "the embedded broker"},
		{&o.APIAddr, "--api-addr", "the API and dashboard"},
		{&o.MetricsAddr, "--orchestrator-metrics-addr", "the orchestrator's /metrics"},
	}
}

// resolvePorts applies --port-base to the listen addresses and checks each is a host:port
// with a port of its own, reporting every problem at once.
func (o *devOptions) resolvePorts() error {
	addrs := o.listenAddrs()
	maxBase := 65535 - (len(addrs) - 1)
	if o.PortBase < 0 || o.PortBase > maxBase {
		return fmt.Errorf("--port-base: want 1 to %d (0: the addresses as given), got %d", maxBase, o.PortBase)
	}
	var errs []error
	byPort := map[int]string{}
	for i, a := range addrs {
		if *a.addr == "" {
			if i == 0 {
				errs = append(errs, errors.New("--broker-addr: required"))
			}
			continue
		}
		host, port, err := net.SplitHostPort(*a.addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.flag, err))
			continue
		}
		if o.PortBase != 0 {
			port = strconv.Itoa(o.PortBase + i)
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			errs = append(errs, fmt.Errorf("%s: port %q is not a number from 1 to 65535", a.flag, port))
			continue
		}
		if other, ok := byPort[n]; ok {
			errs = append(errs, fmt.Errorf("%s and %s both use port %d", other, a.flag, n))
		}
		byPort[n] = a.flag
		*a.addr = net.JoinHostPort(host, port)
	}
	return errors.Join(errs...)
}

// checkPorts fails, before anything starts, when a port `podium dev` needs is taken.
func (o devOptions) checkPorts() error {
	var ports []devstack.Port
	for _, a := range o.listenAddrs() {
		if *a.addr != "" {
			ports = append(ports, devstack.Port{Addr: *a.addr, Purpose: a.purpose})
		}
	}
	if err := devstack.CheckPorts(ports); err != nil {
		return fmt.Errorf("%w\npodium dev starts nothing while a port it needs is taken: stop what holds it, or move "+
			"every port with --port-base (--port-base 19000: broker 19000, API 19001, metrics 19002)", err)
	}
	return nil
}

// waitTerminal prints progress every second until every tracked order is terminal, the
// timeout passes (errNotTerminal), ctx ends or stop is closed.
func waitTerminal(ctx context.Context, tr *sample.Tracker, timeout time.Duration, out io.Writer, stop <-chan struct{}) (sample.Summary, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for tr.Pending() > 0 {
		select {
		case <-ctx.Done():
			return tr.Summary(), ctx.Err()
		case <-stop:
			return tr.Summary(), errors.New("a process the orders depend on exited")
		case <-deadline.C:
			return tr.Summary(), errNotTerminal
		case <-tick.C:
			s := tr.Summary()
			fmt.Fprintf(out, "progress: %d/%d terminal (completed %d, cancelled %d, failed %d)\n",
				s.Placed-len(s.Pending), s.Placed, s.ByStatus["completed"], s.ByStatus["cancelled"], s.ByStatus["failed"])
		}
	}
	return tr.Summary(), nil
}

// exitForSummary turns a summary into the exit status of --exit / --wait: 1 with the
// orders that are not terminal, or that ended differently from what they must.
func exitForSummary(s sample.Summary, timeout time.Duration) error {
	if len(s.Pending) > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%v after %s: %d not terminal: %s", errNotTerminal, timeout,
			len(s.Pending), strings.Join(s.Pending[:min(len(s.Pending), 50)], " "))}
	}
	if len(s.Mismatches) > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d orders ended differently from what they must", len(s.Mismatches))}
	}
	return nil
}
