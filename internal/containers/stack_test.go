package containers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/podiumhq/podium/events"
	pclient "github.com/podiumhq/podium/internal/client"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/internal/sample"
	"github.com/podiumhq/podium/workers"
)

const (
	// testImage is the tag the suite builds and runs.
	testImage = "podium:test"
	// partitions keeps the stacks light; every mechanism works the same with 4.
	partitions = 4
	// brokerAlias:brokerPort is the broker's address on the test network.
	brokerAlias = "broker"
	brokerPort  = "9092"
	// orchestratorGroup is the consumer group of the orchestrator instances.
	orchestratorGroup = "podium-orchestrator"
	// Log lines (zerolog JSON) the wait strategies look for.
	logReady  = `"message":"ready"`
	logJoined = `"message":"consumer group generation started"`
)

func TestMain(m *testing.M) {
	// The reaper's image would have to be pulled; the tests remove what they create.
	if _, ok := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !ok {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	os.Exit(m.Run())
}

var (
	dockerOnce sync.Once
	dockerErr  error

	imageOnce sync.Once
	imageErr  error
)

// requireDocker skips the test when no Docker engine answers, and builds the image once.
func requireDocker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("container tier: skipped with -short")
	}
	dockerOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		p, err := testcontainers.NewDockerProvider()
		if err != nil {
			dockerErr = err
			return
		}
		defer p.Close()
		dockerErr = p.Health(ctx)
	})
	if dockerErr != nil {
		t.Skipf("container tier: no Docker engine answers (%v): skipping; start Docker (or set DOCKER_HOST) to run it", dockerErr)
	}
	imageOnce.Do(func() { imageErr = buildImage() })
	if imageErr != nil {
		t.Fatalf("building %s: %v", testImage, imageErr)
	}
}

// buildImage builds podium:test from the repository, offline, with the same script as
// `make images`.
func buildImage() error {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	out, err := os.MkdirTemp("", "podium-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(out)
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "build-image.sh"), testImage)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "OUT="+filepath.Join(out, "image"), "VERSION=test")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("scripts/build-image.sh: %w\n%s", err, b)
	}
	return nil
}

// stack is podium on one Docker network: the broker, orchestrator instances, workers.
type stack struct {
	t      *testing.T
	ctx    context.Context
	net    *testcontainers.DockerNetwork
	docker *testcontainers.DockerClient
	kafka  pkafka.Config // the test's view: broker:9092 dialled at the published port
	track  *pclient.Tracking
	writer *pkafka.Producer
	gen    *sample.Generator

	mu         sync.Mutex
	containers map[string]*testcontainers.DockerContainer
	order      []string // start order, for the logs of a failed test
}

// stackOptions tune the processes of a stack.
type stackOptions struct {
	orchestrators    int      // Default: 1.
	orchestratorArgs []string // extra flags of every orchestrator
}

// newStack starts the broker, the orchestrators and the five workers, and waits until every
// consumer group is stable. Everything is removed when the test ends; the logs of every
// container are printed when it failed.
func newStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	requireDocker(t)
	if o.orchestrators == 0 {
		o.orchestrators = 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)

	nw, err := tcnetwork.New(ctx)
	testcontainers.CleanupNetwork(t, nw)
	if err != nil {
		t.Fatalf("creating the network: %v", err)
	}
	docker, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	t.Cleanup(func() { docker.Close() })
	s := &stack{t: t, ctx: ctx, net: nw, docker: docker, containers: map[string]*testcontainers.DockerContainer{},
		gen: sample.NewGenerator(strings.ToLower(t.Name()), 7)}
	// Registered after the containers' own cleanups, so it runs before they are removed.
	defer t.Cleanup(s.dumpLogsIfFailed)

	broker := s.run(brokerAlias, logReady, []string{"9092/tcp"},
		"broker", "--addr", "0.0.0.0:"+brokerPort, "--advertise", brokerAlias+":"+brokerPort,
		"--partitions", fmt.Sprint(partitions), "--min-session-timeout", "1s")
	published, err := publishedIPv4(ctx, broker, brokerPort)
	if err != nil {
		t.Fatalf("broker port: %v", err)
	}
	s.kafka = pkafka.Config{
		Brokers:  []string{published},
		ClientID: "podium-containers-test",
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr == brokerAlias+":"+brokerPort {
				addr = published
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}

	for i := 1; i <= o.orchestrators; i++ {
		s.startOrchestrator(fmt.Sprintf("orchestrator-%d", i), o.orchestratorArgs...)
	}
	for _, w := range events.Workers {
		s.run(w, logJoined, nil, append([]string{"worker", w}, s.common()...)...)
	}
	groups := []string{orchestratorGroup}
	for _, w := range events.Workers {
		groups = append(groups, workers.GroupIDFor(w))
	}
	gctx, gcancel := context.WithTimeout(ctx, time.Minute)
	defer gcancel()
	if err := pclient.WaitForGroups(gctx, s.kafka, groups); err != nil {
		t.Fatal(err)
	}

	if s.track, err = pclient.Track(ctx, s.kafka); err != nil {
		t.Fatalf("following orders.events: %v", err)
	}
	t.Cleanup(s.track.Close)
	s.writer = pkafka.NewProducer(s.kafka)
	t.Cleanup(func() { s.writer.Close() })
	return s
}

// common are the flags of every podium process on the network.
func (s *stack) common() []string {
	return []string{"--kafka-brokers", brokerAlias + ":" + brokerPort, "--partitions", fmt.Sprint(partitions)}
}

func (s *stack) startOrchestrator(name string, extra ...string) {
	args := append([]string{"orchestrator", "--session-timeout", "3s"}, s.common()...)
	s.run(name, logJoined, nil, append(args, extra...)...)
}

// run starts a container of the image named name (also its alias on the network) and waits
// for a log line.
func (s *stack) run(name, waitFor string, ports []string, args ...string) *testcontainers.DockerContainer {
	s.t.Helper()
	c, err := testcontainers.Run(s.ctx, testImage,
		tcnetwork.WithNetwork([]string{name}, s.net),
		testcontainers.WithCmd(args...),
		testcontainers.WithExposedPorts(ports...),
		testcontainers.WithLabels(map[string]string{"io.podium.test": s.t.Name()}),
		testcontainers.WithWaitStrategy(wait.ForLog(waitFor).WithStartupTimeout(time.Minute)),
	)
	testcontainers.CleanupContainer(s.t, c)
	if c != nil {
		s.mu.Lock()
		s.containers[name] = c
		s.order = append(s.order, name)
		s.mu.Unlock()
	}
	if err != nil {
		s.t.Fatalf("starting %s (%s): %v", name, strings.Join(args, " "), err)
	}
	return c
}

// publishedIPv4 is the 127.0.0.1 address of a container's published TCP port. Docker may
// publish a port on different host ports for IPv4 and IPv6 (MappedPort returns either), so
// the IPv4 binding is picked explicitly.
func publishedIPv4(ctx context.Context, c *testcontainers.DockerContainer, port string) (string, error) {
	inspect, err := c.Inspect(ctx)
	if err != nil {
		return "", err
	}
	for p, bindings := range inspect.NetworkSettings.Ports {
		if fmt.Sprint(p.Num()) != port || p.Proto() != "tcp" {
			continue
		}
		for _, b := range bindings {
			if !b.HostIP.IsValid() || b.HostIP.Is4() {
				return net.JoinHostPort("127.0.0.1", b.HostPort), nil
			}
		}
	}
	return "", fmt.Errorf("port %s/tcp is not published on IPv4: %v", port, inspect.NetworkSettings.Ports)
}

// container returns the container named name.
func (s *stack) container(name string) *testcontainers.DockerContainer {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.containers[name]
	if !ok {
		s.t.Fatalf("no container %s", name)
	}
	return c
}

// place places n more orders of the mix.
func (s *stack) place(n int) {
	s.t.Helper()
	orders := make([]sample.Order, n)
	for i := range orders {
		orders[i] = s.gen.Next()
	}
	if err := s.track.Place(s.ctx, s.writer, orders, nil); err != nil {
		s.t.Fatalf("placing %d orders: %v", n, err)
	}
}

// waitFor polls cond every 200ms until it holds, and fails the test with what cond last
// reported when timeout passes first.
func (s *stack) waitFor(timeout time.Duration, what string, cond func() (bool, string)) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: not within %s; last seen: %s", what, timeout, seen)
		}
		select {
		case <-s.ctx.Done():
			s.t.Fatalf("%s: %v; last seen: %s", what, s.ctx.Err(), seen)
		case <-tick.C:
		}
	}
}

// checkAllTerminal waits until every placed order is terminal, and checks that each ended
// as it must and that the mix completed some orders and cancelled others.
func (s *stack) checkAllTerminal(timeout time.Duration) sample.Summary {
	s.t.Helper()
	s.waitFor(timeout, "every order terminal", func() (bool, string) {
		if err := s.track.Err(); err != nil {
			s.t.Fatalf("following orders.events: %v", err)
		}
		sum := s.track.Tracker.Summary()
		return len(sum.Pending) == 0, fmt.Sprintf("%d of %d pending, e.g. %v", len(sum.Pending), sum.Placed, sum.Pending[:min(5, len(sum.Pending))])
	})
	sum := s.track.Tracker.Summary()
	if len(sum.Mismatches) > 0 {
		s.t.Errorf("%d orders ended differently from what they must:\n%s", len(sum.Mismatches), strings.Join(sum.Mismatches, "\n"))
	}
	if got := sum.ByStatus["completed"] + sum.ByStatus["cancelled"]; got != sum.Placed {
		s.t.Errorf("completed + cancelled: got %d, want %d (every order placed): %v", got, sum.Placed, sum.ByStatus)
	}
	if sum.ByStatus["completed"] == 0 || sum.ByStatus["cancelled"] == 0 {
		s.t.Errorf("the mix must complete some orders and cancel others, got %v", sum.ByStatus)
	}
	return sum
}

// terminalCount is the number of placed orders that are terminal.
func (s *stack) terminalCount() int {
	sum := s.track.Tracker.Summary()
	return sum.Placed - len(sum.Pending)
}

// groupMembers is the number of members of a consumer group, as the broker sees it.
func (s *stack) groupMembers(group string) (int, string) {
	cl := s.kafka.Client()
	defer cl.Transport.(*kafkago.Transport).CloseIdleConnections()
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	resp, err := cl.DescribeGroups(ctx, &kafkago.DescribeGroupsRequest{GroupIDs: []string{group}})
	if err != nil {
		return -1, err.Error()
	}
	for _, g := range resp.Groups {
		if g.GroupID == group {
			return len(g.Members), fmt.Sprintf("%s with %d members", g.GroupState, len(g.Members))
		}
	}
	return -1, "group not found"
}

// pause freezes a container (docker pause); unpause thaws it.
func (s *stack) pause(name string) {
	s.t.Helper()
	if _, err := s.docker.ContainerPause(s.ctx, s.container(name).GetContainerID(), client.ContainerPauseOptions{}); err != nil {
		s.t.Fatalf("pausing %s: %v", name, err)
	}
}

func (s *stack) unpause(name string) {
	s.t.Helper()
	if _, err := s.docker.ContainerUnpause(s.ctx, s.container(name).GetContainerID(), client.ContainerUnpauseOptions{}); err != nil {
		s.t.Fatalf("unpausing %s: %v", name, err)
	}
}

// disconnect cuts a container off the network; connect plugs it back in under its name.
func (s *stack) disconnect(name string) {
	s.t.Helper()
	if _, err := s.docker.NetworkDisconnect(s.ctx, s.net.ID, client.NetworkDisconnectOptions{
		Container: s.container(name).GetContainerID(), Force: true}); err != nil {
		s.t.Fatalf("disconnecting %s: %v", name, err)
	}
}

func (s *stack) connect(name string) {
	s.t.Helper()
	if _, err := s.docker.NetworkConnect(s.ctx, s.net.ID, client.NetworkConnectOptions{
		Container: s.container(name).GetContainerID(), EndpointConfig: &network.EndpointSettings{Aliases: []string{name}}}); err != nil {
		s.t.Fatalf("connecting %s: %v", name, err)
	}
}

// requireRunning fails the test when a container exited (a crash is a finding).
func (s *stack) requireRunning(names ...string) {
	s.t.Helper()
	for _, n := range names {
		st, err := s.container(n).State(s.ctx)
		if err != nil {
			s.t.Fatalf("state of %s: %v", n, err)
		}
		if !st.Running {
			s.t.Fatalf("%s is not running: status %s, exit code %d", n, st.Status, st.ExitCode)
		}
	}
}

// runCLI runs `podium args...` in a container on the network until it exits, and returns
// its exit code and output.
func (s *stack) runCLI(name string, timeout time.Duration, args ...string) (int, string) {
	s.t.Helper()
	c, err := testcontainers.Run(s.ctx, testImage,
		tcnetwork.WithNetwork([]string{name}, s.net),
		testcontainers.WithCmd(args...),
		testcontainers.WithLabels(map[string]string{"io.podium.test": s.t.Name()}),
		testcontainers.WithWaitStrategy(wait.ForExit().WithExitTimeout(timeout)),
	)
	testcontainers.CleanupContainer(s.t, c)
	if err != nil {
		s.t.Fatalf("running %s: %v", strings.Join(args, " "), err)
	}
	st, err := c.State(s.ctx)
	if err != nil {
		s.t.Fatalf("state of %s: %v", name, err)
	}
	return st.ExitCode, logs(s.ctx, c)
}

// logs returns the output of a container (stdout and stderr, as Docker stored it).
func logs(ctx context.Context, c testcontainers.Container) string {
	rc, err := c.Logs(ctx)
	if err != nil {
		return fmt.Sprintf("(logs: %v)", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Sprintf("%s\n(logs: %v)", b, err)
	}
	return string(b)
}

func (s *stack) dumpLogsIfFailed() {
	if !s.t.Failed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range s.order {
		s.t.Logf("--- logs of %s (tail) ---\n%s", name, tail(logs(ctx, s.containers[name]), 40))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
