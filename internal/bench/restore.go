package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/client"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/internal/sample"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// stepResults are success results like the reference workers' (see workers/<name>).
var stepResults = map[string]json.RawMessage{
	order.StepReserveInventory: json.RawMessage(`{"reservation_id":"res-5f0c2a9e41b7"}`),
	order.StepAuthorizePayment: json.RawMessage(`{"authorization_id":"auth-93c1d2e07a44"}`),
	order.StepPrepareShipment:  json.RawMessage(`{"preparation_id":"prep-0b8d7e3f5a12"}`),
	order.StepAssignDelivery:   json.RawMessage(`{"delivery_id":"del-7e21c9a0d3f4","partner":"dhl"}`),
	order.StepSendConfirmation: json.RawMessage(`{"message_id":"msg-c4a8e1b29d07"}`),
}

// InFlightSaga returns the state of an order saga for o that is half way: inventory
// reserved and payment authorized (approved), prepare-shipment and assign-delivery
// dispatched at start and awaiting their replies — what an orchestrator restores and
// re-sends after a failover under load. Finished sagas cost a restore next to nothing (a
// hash in the finished index), so the restore is measured on sagas in flight.
func InFlightSaga(o events.OrderPlaced, start time.Time) (*saga.State, error) {
	def := order.Definition()
	payload, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	s, out, err := def.Apply(nil, saga.StartInput(o.OrderID, payload, 42,
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), start)
	if err != nil {
		return nil, err
	}
	for _, c := range out.Commands {
		s, _, err = def.Apply(s, saga.ReplyInput(c.ID, c.Step, saga.ReplySuccess, "", stepResults[c.Step]), start)
		if err != nil {
			return nil, err
		}
	}
	if got := len(def.InFlight(s)); s.Status != saga.StatusRunning || got != 2 {
		return nil, fmt.Errorf("the saga is %s with %d commands in flight, want running with 2", s.Status, got)
	}
	return s, nil
}

// RestoreResult is the restore measurement.
type RestoreResult struct {
	Sagas          int     `json:"sagas"`
	Partition      int     `json:"partition"`
	SnapshotBytes  int     `json:"snapshot_bytes"`
	WriteSeconds   float64 `json:"write_seconds"`
	RestoreSeconds float64 `json:"restore_seconds"` // as the orchestrator measured it
	SagasPerSec    float64 `json:"sagas_per_sec"`
	// StartSeconds is from starting the orchestrator process to the partition restored,
	// group join included.
	StartSeconds float64 `json:"start_seconds"`
	RSSEmpty     int64   `json:"rss_empty_bytes"`    // an orchestrator owning no saga
	RSSRestored  int64   `json:"rss_restored_bytes"` // after the restore
	BytesPerSaga float64 `json:"bytes_per_saga"`
	CPUSeconds   float64 `json:"cpu_seconds"` // of the orchestrator, start to restored
	Profile      string  `json:"profile,omitempty"`
	LoadStart    LoadAvg `json:"loadavg_start"`
	LoadEnd      LoadAvg `json:"loadavg_end"`
}

// restoredLine is the orchestrator's log line at the end of a partition's restore.
type restoredLine struct {
	Message   string  `json:"message"`
	Partition int     `json:"partition"`
	Sagas     int     `json:"sagas"`
	Restore   float64 `json:"restore"` // milliseconds (zerolog's default duration unit)
}

// logTap forwards the children's output and hands every line to watch.
type logTap struct {
	out   io.Writer
	mu    sync.Mutex
	watch func(line string)
}

func (t *logTap) Write(p []byte) (int, error) {
	t.mu.Lock()
	w := t.watch
	t.mu.Unlock()
	if w != nil {
		for line := range strings.SplitSeq(strings.TrimRight(string(p), "\n"), "\n") {
			w(line)
		}
	}
	return t.out.Write(p)
}

func (t *logTap) set(watch func(string)) {
	t.mu.Lock()
	t.watch = watch
	t.mu.Unlock()
}

// runRestore fills partition 0 of podium.saga-state with cfg.Restore sagas in flight and
// times an orchestrator's restore of it.
func runRestore(ctx context.Context, cfg Config) (RestoreResult, error) {
	const partition = 0
	res := RestoreResult{Sagas: cfg.Restore, Partition: partition}
	res.LoadStart, _ = ReadLoadAvg()
	tap := &logTap{out: cfg.Log}
	st, err := newStack(ctx, cfg, tap)
	if err != nil {
		return res, err
	}
	defer st.stop()

	// The resident size of an orchestrator without sagas, for the per-saga figure.
	empty, err := st.start("orchestrator-empty", "orchestrator", append([]string{"orchestrator"}, st.common()...), "--metrics-addr")
	if err != nil {
		return res, err
	}
	if err := waitOrchestratorOwned(ctx, st, empty); err != nil {
		return res, err
	}
	if ps, err := ReadProc(empty.proc.Pid()); err == nil {
		res.RSSEmpty = ps.RSS
	}
	if err := st.stopMember(empty); err != nil {
		return res, fmt.Errorf("stopping the empty orchestrator: %w", err)
	}

	fmt.Fprintf(cfg.Progress, "   writing %d snapshots to %s[%d]…\n", cfg.Restore, events.TopicSagaState, partition)
	start := time.Now()
	size, err := writeSnapshots(ctx, st.kafka, cfg.Partitions, partition, cfg.Restore)
	if err != nil {
		return res, err
	}
	res.WriteSeconds = time.Since(start).Seconds()
	res.SnapshotBytes = size

	restored := make(chan restoredLine, 1)
	tap.set(func(line string) {
		_, doc, ok := strings.Cut(line, "] ")
		if !ok || !strings.Contains(doc, `"partition restored"`) {
			return
		}
		var l restoredLine
		if json.Unmarshal([]byte(doc), &l) == nil && l.Partition == partition {
			select {
			case restored <- l:
			default:
			}
		}
	})
	fmt.Fprintln(cfg.Progress, "   starting an orchestrator to restore them…")
	start = time.Now()
	orch, err := st.start("orchestrator-1", "orchestrator", append([]string{"orchestrator"}, st.common()...), "--metrics-addr")
	if err != nil {
		return res, err
	}
	var profWG sync.WaitGroup
	if cfg.ProfileDir != "" {
		// Profile the restore itself: the metrics server starts before the restore does.
		profWG.Add(1)
		go func() {
			defer profWG.Done()
			profileRestore(ctx, cfg, orch, &res)
		}()
	}
	defer profWG.Wait()
	var l restoredLine
	timeout := time.NewTimer(5 * time.Minute)
	defer timeout.Stop()
	select {
	case l = <-restored:
	case <-orch.proc.Done():
		return res, fmt.Errorf("the orchestrator exited during the restore: %v", orch.proc.Err())
	case <-timeout.C:
		return res, errors.New("the restore did not finish within 5 minutes")
	case <-ctx.Done():
		return res, ctx.Err()
	}
	res.StartSeconds = time.Since(start).Seconds()
	if l.Sagas != cfg.Restore {
		return res, fmt.Errorf("the orchestrator restored %d sagas, want %d", l.Sagas, cfg.Restore)
	}
	res.RestoreSeconds = l.Restore / 1000
	res.SagasPerSec = float64(l.Sagas) / res.RestoreSeconds
	if ps, err := ReadProc(orch.proc.Pid()); err == nil {
		res.RSSRestored = ps.RSS
		res.CPUSeconds = ps.CPU.Seconds()
	}
	res.BytesPerSaga = BytesPerItem(res.RSSEmpty, res.RSSRestored, int64(l.Sagas))
	res.LoadEnd, _ = ReadLoadAvg()
	return res, nil
}

// restoreProfileSeconds is the length of the CPU profile taken of a restoring orchestrator.
const restoreProfileSeconds = 5

// profileRestore saves a CPU profile of the restoring orchestrator m in cfg.ProfileDir.
func profileRestore(ctx context.Context, cfg Config, m *member, res *RestoreResult) {
	if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := httpGet(ctx, "http://"+m.metrics+"/healthz"); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	b, err := httpGet(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", m.metrics, restoreProfileSeconds))
	if err != nil {
		return
	}
	name := filepath.Join(cfg.ProfileDir, "restore-orchestrator.cpu.pprof")
	if os.WriteFile(name, b, 0o644) == nil {
		res.Profile = name
	}
}

// waitOrchestratorOwned waits until m owns every partition.
func waitOrchestratorOwned(ctx context.Context, st *stack, m *member) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if text, err := scrape(ctx, m.metrics); err == nil {
			if v, _ := metricSum(text, "podium_orchestrator_owned_partitions"); int(v) == st.cfg.Partitions {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to own every partition: %w", m.name, ctx.Err())
		case <-m.proc.Done():
			return fmt.Errorf("%s exited: %v", m.name, m.proc.Err())
		case <-tick.C:
		}
	}
}

// templateID is the saga ID of the template snapshot, replaced by each saga's own ID (of
// the same length).
const templateID = "rst-XXXXXXXX"

// writeSnapshots writes n in-flight saga snapshots whose IDs home on partition, and returns
// the size of one.
func writeSnapshots(ctx context.Context, cfg pkafka.Config, partitions, partition, n int) (int, error) {
	o := sample.NewGenerator("rst", 7).Make(sample.Happy).Placed
	o.OrderID = templateID
	// Deadlines in the future: the restored sagas wait for their replies, not time out.
	s, err := InFlightSaga(o, time.Now().UTC().Truncate(time.Millisecond))
	if err != nil {
		return 0, err
	}
	s.Generation = 1
	tmpl, err := s.MarshalBinary() // as the orchestrator writes it
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ids := make(chan string, 4096)
	go func() {
		defer close(ids)
		for i, found := 0, 0; found < n; i++ {
			id := fmt.Sprintf("rst-%08d", i)
			if pkafka.HomePartition([]byte(id), partitions) != partition {
				continue
			}
			select {
			case ids <- id:
			case <-ctx.Done():
				return
			}
			found++
		}
	}()
	w := pkafka.NewProducer(cfg)
	defer w.Close()
	const batch = 2000
	var (
		wg   sync.WaitGroup
		errc = make(chan error, 4)
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msgs := make([]kafkago.Message, 0, batch)
			flush := func() error {
				if len(msgs) == 0 {
					return nil
				}
				err := w.WriteMessages(ctx, msgs...)
				msgs = msgs[:0]
				return err
			}
			for id := range ids {
				value := bytes.ReplaceAll(tmpl, []byte(templateID), []byte(id))
				msgs = append(msgs, kafkago.Message{Topic: events.TopicSagaState, Key: []byte(id), Value: value})
				if len(msgs) == batch {
					if err := flush(); err != nil {
						errc <- fmt.Errorf("writing snapshots: %w", err)
						cancel()
						return
					}
				}
			}
			if err := flush(); err != nil {
				errc <- fmt.Errorf("writing snapshots: %w", err)
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return 0, err
	default:
	}
	// Check the partition holds them all.
	ends, err := client.EndOffsets(ctx, cfg, events.TopicSagaState)
	if err != nil {
		return 0, err
	}
	if ends[partition] < int64(n) {
		return 0, fmt.Errorf("%s[%d] holds %d records, want %d", events.TopicSagaState, partition, ends[partition], n)
	}
	return len(tmpl), nil
}
