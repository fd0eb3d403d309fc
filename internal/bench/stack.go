package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/devstack"
	pkafka "github.com/podiumhq/podium/internal/kafka"
)

// member is one child process of a stack.
type member struct {
	name    string
	role    string // broker, orchestrator, worker, echo
	proc    *devstack.Proc
	metrics string // host:port of its metrics server ("" for the broker)
}

// stack is the processes one measurement runs against: the broker (unless external), the
// orchestrators and the five workers, each a child process of the benchmark.
type stack struct {
	cfg     Config
	sup     *devstack.Supervisor
	kafka   pkafka.Config
	members []*member
}

// newStack starts the broker (when cfg.Brokers is empty) and waits for podium's topics.
func newStack(ctx context.Context, cfg Config, out io.Writer) (*stack, error) {
	s := &stack{cfg: cfg, sup: &devstack.Supervisor{Binary: cfg.Binary, Output: out, Env: []string{"PODIUM_PPROF=true"}}}
	if len(cfg.Brokers) > 0 {
		s.kafka = pkafka.Config{Brokers: cfg.Brokers, ClientID: "podium-bench"}
		if err := pkafka.EnsureTopics(ctx, s.kafka, pkafka.PodiumTopics(cfg.Partitions)); err != nil {
			return nil, err
		}
		return s, nil
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := append([]string{"broker", "--addr", addr, "--partitions", strconv.Itoa(cfg.Partitions),
		"--log-format", "json", "--log-level", "warn"}, cfg.BrokerArgs...)
	p, err := s.sup.Start("broker", args...)
	if err != nil {
		return nil, err
	}
	s.members = append(s.members, &member{name: "broker", role: "broker", proc: p})
	s.kafka = pkafka.Config{Brokers: []string{addr}, ClientID: "podium-bench"}
	if err := devstack.WaitForTopics(ctx, s.kafka, p, cfg.Partitions); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// common are the flags every podium child of the stack gets.
func (s *stack) common() []string {
	brokers := s.kafka.Brokers[0]
	for _, b := range s.kafka.Brokers[1:] {
		brokers += "," + b
	}
	return []string{"--kafka-brokers", brokers, "--partitions", strconv.Itoa(s.cfg.Partitions),
		"--log-format", "json", "--log-level", s.cfg.LogLevel}
}

// startEcho starts the responder of the raw hop (`podium bench echo`).
func (s *stack) startEcho() (*member, error) {
	return s.start("echo", "echo", append([]string{"bench", "echo"}, s.common()...), "")
}

// windowArgs are the flags that pass Config.Retention and Config.DedupeWindow to a child of
// role orchestrator, worker or api; only the windows that are set are passed.
func windowArgs(cfg Config, role string) []string {
	var args []string
	switch role {
	case "orchestrator":
		if cfg.Retention > 0 {
			args = append(args, "--retention", cfg.Retention.String())
		}
		if cfg.DedupeWindow > 0 {
			args = append(args, "--dedupe-window", cfg.DedupeWindow.String())
		}
	case "worker":
		if cfg.DedupeWindow > 0 {
			args = append(args, "--processed-retention", cfg.DedupeWindow.String())
		}
	case "api":
		if cfg.Retention > 0 {
			args = append(args, "--retention", cfg.Retention.String())
		}
	}
	return args
}

// startPodium starts n orchestrators, the five workers and, with api, the API process, and
// waits until every partition of every group is owned and the API is ready.
func (s *stack) startPodium(ctx context.Context, orchestrators int, api bool) error {
	for i := range orchestrators {
		args := append([]string{"orchestrator"}, s.common()...)
		args = append(args, windowArgs(s.cfg, "orchestrator")...)
		args = append(args, s.cfg.OrchestratorArgs...)
		if _, err := s.start(fmt.Sprintf("orchestrator-%d", i+1), "orchestrator", args, "--metrics-addr"); err != nil {
			return err
		}
	}
	for _, w := range events.Workers {
		args := append([]string{"worker", w}, s.common()...)
		args = append(args, windowArgs(s.cfg, "worker")...)
		args = append(args, s.cfg.WorkerArgs...)
		if _, err := s.start(w, "worker", args, "--metrics-addr"); err != nil {
			return err
		}
	}
	if api {
		args := append([]string{"api"}, s.common()...)
		args = append(args, windowArgs(s.cfg, "api")...)
		args = append(args, s.cfg.APIArgs...)
		// The API serves /metrics on its own address.
		if _, err := s.start("api", "api", args, "--addr"); err != nil {
			return err
		}
	}
	return s.waitOwned(ctx)
}

// start starts a child; with metricsFlag set, it gets a free address with that flag, where
// it serves /metrics.
func (s *stack) start(name, role string, args []string, metricsFlag string) (*member, error) {
	m := &member{name: name, role: role}
	if metricsFlag != "" {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		m.metrics = addr
		args = append(args, metricsFlag, addr)
	}
	p, err := s.sup.Start(name, args...)
	if err != nil {
		return nil, err
	}
	m.proc = p
	s.members = append(s.members, m)
	return m, nil
}

// waitOwned waits until the orchestrators together own every partition, each of them some,
// and so does each worker: the groups have settled and the partitions are restored. An API
// process, if there is one, must answer /readyz too.
func (s *stack) waitOwned(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	want := float64(s.cfg.Partitions)
	var last string
	for {
		owned := map[string]float64{}
		idle := 0 // orchestrators that own nothing yet: the group has not settled
		apiReady := true
		for _, m := range s.members {
			select {
			case <-m.proc.Done():
				return fmt.Errorf("%s exited: %v", m.name, m.proc.Err())
			default:
			}
			if m.metrics == "" {
				continue
			}
			if m.role == "api" {
				_, err := httpGet(ctx, "http://"+m.metrics+"/readyz")
				apiReady = apiReady && err == nil
				continue
			}
			text, err := scrape(ctx, m.metrics)
			if err != nil {
				continue
			}
			switch m.role {
			case "orchestrator":
				v, _ := metricSum(text, "podium_orchestrator_owned_partitions")
				owned["orchestrator"] += v
				if v == 0 {
					idle++
				}
			case "worker":
				v, _ := metricSum(text, "podium_worker_owned_partitions")
				owned[m.name] += v
			}
		}
		ok := owned["orchestrator"] == want && idle == 0 && apiReady
		for _, w := range events.Workers {
			ok = ok && owned[w] == want
		}
		if ok {
			return nil
		}
		last = fmt.Sprintf("%v, api ready %v", owned, apiReady)
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for every partition to be owned (want %d each, have %s): %w", s.cfg.Partitions, last, ctx.Err())
		case <-tick.C:
		}
	}
}

// byRole returns the members of a role, in start order.
func (s *stack) byRole(role string) []*member {
	var out []*member
	for _, m := range s.members {
		if m.role == role {
			out = append(out, m)
		}
	}
	return out
}

// stopMember stops one member (SIGTERM, then SIGKILL after 10s).
func (s *stack) stopMember(m *member) error {
	err := s.sup.Stop(m.name, 10*time.Second)
	for i, x := range s.members {
		if x == m {
			s.members = append(s.members[:i], s.members[i+1:]...)
			break
		}
	}
	return err
}

// stop stops every child, last started first.
func (s *stack) stop() { s.sup.StopAll(10 * time.Second) }

// selfName names the benchmark's own process (the load generator) in samples.
const selfName = "bench"

// sample reads the CPU time and resident size of every member, and of the benchmark's own
// process under selfName.
func (s *stack) sample() map[string]ProcSample {
	out := make(map[string]ProcSample, len(s.members)+1)
	if ps, err := ReadProc(os.Getpid()); err == nil {
		out[selfName] = ps
	}
	for _, m := range s.members {
		if ps, err := ReadProc(m.proc.Pid()); err == nil {
			out[m.name] = ps
		}
	}
	return out
}

// brokerDone is closed when the embedded broker exits (never for an external one).
func (s *stack) brokerDone() <-chan struct{} {
	for _, m := range s.members {
		if m.role == "broker" {
			return m.proc.Done()
		}
	}
	return nil
}

func freeAddr() (string, error) {
	port, err := devstack.FreePort()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}
