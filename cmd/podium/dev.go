package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
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
	Returns     int // -1: Orders/3
	Seed        uint64
	Exit        bool
	Timeout     time.Duration
	LogLevel    string
}

func newDevCmd() *cobra.Command {
	var o devOptions
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything locally: embedded broker, orchestrator, five workers, API and dashboard, and a sample of orders and returns",
		Long: "podium dev starts the embedded Kafka-protocol broker, the orchestrator, the five\n" +
			"reference workers and the API with its dashboard as separate processes, places a sample\n" +
			"mix of orders and requests a sample mix of returns (the two built-in sagas), each covering\n" +
			"every outcome, shows their progress and prints a summary of each. It runs until Ctrl-C, or\n" +
			"with --exit until every order and return is terminal (exit 1 if --timeout passes first or\n" +
			"an outcome differs from what the order or return must produce).\n\n" +
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
	intFlag(fs, &o.Returns, "returns", -1, "sample returns to request (-1: one per three orders; 0: none)")
	fs.Uint64Var(&o.Seed, "seed", uint64(time.Now().UnixNano()), "seed of the sample orders and returns")
	boolFlag(fs, &o.Exit, "exit", false, "exit once every order and return is terminal")
	durationFlag(fs, &o.Timeout, "timeout", 3*time.Minute, "with --exit: give up after this long")
	enumFlag(fs, &o.LogLevel, "log-level", "info", logLevels, "log level of the child processes: trace, debug, info, warn or error")
	return cmd
}

func runDev(ctx context.Context, o devOptions, stdout, stderr io.Writer) error {
	if o.DataDir != "" && o.InMemory {
		return errors.New("--data-dir and --in-memory exclude each other: choose one")
	}
	if err := o.resolveCounts(); err != nil {
		return err
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
	returns := make([]sample.Return, o.Returns)
	for i := range returns {
		returns[i] = g.NextReturn()
	}
	w := pkafka.NewProducer(kcfg)
	defer w.Close()
	fmt.Fprintf(stdout, "placing %d sample orders and requesting %d sample returns (seed %d)…\n", len(orders), len(returns), o.Seed)
	var kinds []sagaKind
	if len(orders) > 0 {
		if err := tracking.Place(ctx, w, orders, nil); err != nil {
			return err
		}
		kinds = append(kinds, ordersKind(tracking.Tracker))
	}
	if len(returns) > 0 {
		if err := tracking.RequestReturns(ctx, w, returns, nil); err != nil {
			return err
		}
		kinds = append(kinds, returnsKind(tracking.Returns))
	}
	summaries, err := waitTerminal(ctx, o.Timeout, stdout, broker.Done(), kinds...)
	if errors.Is(err, context.Canceled) {
		fmt.Fprint(stdout, "\n"+report(kinds, summaries))
		return nil
	}
	if err != nil && !errors.Is(err, errNotTerminal) {
		return err
	}
	fmt.Fprint(stdout, "\n== podium dev: summary ==\n"+report(kinds, summaries))
	if o.Exit {
		return exitForSummaries(kinds, summaries, o.Timeout)
	}
	if o.APIAddr != "" {
		fmt.Fprintf(stdout, "\ndashboard: http://%s/   (orders: curl http://%s/orders?status=cancelled)", o.APIAddr, o.APIAddr)
	}
	if o.MetricsAddr != "" {
		fmt.Fprintf(stdout, "\norchestrator metrics: http://%s/metrics", o.MetricsAddr)
	}
	fmt.Fprintf(stdout, "\nbroker at %s; place more orders and returns with:\n  podium order place --kafka-brokers %s --count 100 --mix --wait\n"+
		"  podium return request --kafka-brokers %s --count 30 --mix --wait\n"+
		"follow them with:\n  podium saga watch --kafka-brokers %s\nPress Ctrl-C to stop.\n", brokerAddr, brokerAddr, brokerAddr, brokerAddr)
	select {
	case <-ctx.Done():
	case <-broker.Done():
		return fmt.Errorf("the broker exited: %w", broker.Err())
	}
	return nil
}

// resolveCounts checks --orders and --returns and turns --returns -1 into one return per
// three orders.
func (o *devOptions) resolveCounts() error {
	var errs []error
	if o.Orders < 0 {
		errs = append(errs, fmt.Errorf("--orders: want 0 or more, got %d", o.Orders))
	}
	switch {
	case o.Returns == -1:
		o.Returns = max(o.Orders, 0) / 3
	case o.Returns < 0:
		errs = append(errs, fmt.Errorf("--returns: want 0 or more (-1: one per three orders), got %d", o.Returns))
	}
	if len(errs) == 0 && o.Orders+o.Returns == 0 {
		errs = append(errs, errors.New("--orders 0 and --returns 0: nothing to place; want at least one order or return"))
	}
	return errors.Join(errs...)
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

// sagaKind is one kind of saga a command places and waits for: its tracker, and how
// progress lines and summaries name it.
type sagaKind struct {
	plural      string          // "orders", "returns"
	placed      string          // the verb of the summary's first line: "placed", "requested"
	compensated string          // the status of a compensated saga: "cancelled", "rejected"
	ends        []string        // the terminal statuses progress lines count
	tracker     *sample.Tracker // the sagas of this kind
}

// ordersKind is the order saga, tracked by tr.
func ordersKind(tr *sample.Tracker) sagaKind {
	return sagaKind{plural: "orders", placed: "placed", compensated: "cancelled",
		ends: []string{"completed", "cancelled", "failed"}, tracker: tr}
}

// returnsKind is the returns saga, tracked by tr.
func returnsKind(tr *sample.Tracker) sagaKind {
	return sagaKind{plural: "returns", placed: "requested", compensated: sample.StatusRejected,
		ends: []string{sample.StatusRefunded, sample.StatusRejected, "failed"}, tracker: tr}
}

// waitTerminal prints progress every second until every tracked saga of every kind is
// terminal, the timeout passes (errNotTerminal), ctx ends or stop is closed. It returns the
// summary of each kind, in the order of kinds.
func waitTerminal(ctx context.Context, timeout time.Duration, out io.Writer, stop <-chan struct{}, kinds ...sagaKind) ([]sample.Summary, error) {
	summaries := func() []sample.Summary {
		s := make([]sample.Summary, len(kinds))
		for i, k := range kinds {
			s[i] = k.tracker.Summary()
		}
		return s
	}
	pending := func() int {
		n := 0
		for _, k := range kinds {
			n += k.tracker.Pending()
		}
		return n
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for pending() > 0 {
		select {
		case <-ctx.Done():
			return summaries(), ctx.Err()
		case <-stop:
			return summaries(), errors.New("a process the sagas depend on exited")
		case <-deadline.C:
			return summaries(), errNotTerminal
		case <-tick.C:
			fmt.Fprintln(out, progressLine(kinds, summaries()))
		}
	}
	return summaries(), nil
}

// progressLine is one line of progress: per kind, how many of its sagas are terminal, by
// terminal status.
func progressLine(kinds []sagaKind, sums []sample.Summary) string {
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		s := sums[i]
		counts := make([]string, len(k.ends))
		for j, st := range k.ends {
			counts[j] = fmt.Sprintf("%s %d", st, s.ByStatus[st])
		}
		parts[i] = fmt.Sprintf("%s %d/%d terminal (%s)", k.plural, s.Placed-len(s.Pending), s.Placed, strings.Join(counts, ", "))
	}
	return "progress: " + strings.Join(parts, "; ")
}

// report renders the summary of each kind. The orders' is sample.Summary's own rendering
// ("orders placed: N, terminal: N, pending: 0", "cancelled by reason:", which scripts and
// tests match); every other kind's is the same report in its own words ("returns
// requested: …", "rejected by reason:").
func report(kinds []sagaKind, sums []sample.Summary) string {
	var b strings.Builder
	for i, k := range kinds {
		if k.plural == "orders" {
			b.WriteString(sums[i].String())
			continue
		}
		writeSummary(&b, k, sums[i])
	}
	return b.String()
}

// writeSummary renders s like sample.Summary.String, in the words of kind k.
func writeSummary(b *strings.Builder, k sagaKind, s sample.Summary) {
	fmt.Fprintf(b, "%s %s: %d, terminal: %d, pending: %d\n", k.plural, k.placed, s.Placed, s.Placed-len(s.Pending), len(s.Pending))
	for _, st := range slices.Sorted(maps.Keys(s.ByStatus)) {
		fmt.Fprintf(b, "  %-10s %6d\n", st, s.ByStatus[st])
	}
	if len(s.ByReason) > 0 {
		fmt.Fprintf(b, "%s by reason:\n", k.compensated)
		for _, r := range slices.Sorted(maps.Keys(s.ByReason)) {
			fmt.Fprintf(b, "  %-22s %6d\n", r, s.ByReason[r])
		}
	}
	fmt.Fprintf(b, "latency %s→terminal: p50 %s, p99 %s\n", k.placed, s.P50.Round(time.Millisecond), s.P99.Round(time.Millisecond))
	if len(s.Mismatches) > 0 {
		fmt.Fprintf(b, "MISMATCHED OUTCOMES (%d):\n", len(s.Mismatches))
		for _, m := range s.Mismatches[:min(len(s.Mismatches), 20)] {
			fmt.Fprintf(b, "  %s\n", m)
		}
	}
}

// exitForSummaries turns the summaries of kinds into the exit status of --exit / --wait: 1
// with the sagas that are not terminal, or that ended differently from what they must.
func exitForSummaries(kinds []sagaKind, sums []sample.Summary, timeout time.Duration) error {
	var pending, ids, mismatched []string
	for i, k := range kinds {
		s := sums[i]
		if len(s.Pending) > 0 {
			pending = append(pending, fmt.Sprintf("%d %s", len(s.Pending), k.plural))
			ids = append(ids, s.Pending...)
		}
		if len(s.Mismatches) > 0 {
			mismatched = append(mismatched, fmt.Sprintf("%d %s", len(s.Mismatches), k.plural))
		}
	}
	if len(pending) > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%v after %s: %s not terminal: %s", errNotTerminal, timeout,
			strings.Join(pending, " and "), strings.Join(ids[:min(len(ids), 50)], " "))}
	}
	if len(mismatched) > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%s ended differently from what they must", strings.Join(mismatched, " and "))}
	}
	return nil
}
