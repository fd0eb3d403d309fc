package e2e

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/chaos"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/internal/sample"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
	"github.com/podiumhq/podium/workers"
	"github.com/podiumhq/podium/workers/notification"
)

// The example worker of examples/python-worker, and what its replies carry.
const (
	pythonWorkerDir    = "../../examples/python-worker"
	pythonWorkerSource = "podium/examples/python-worker"
	// debianPython is the interpreter Debian's python3-kafka and python3-zstandard install for.
	debianPython = "/usr/bin/python3"
)

// requirePythonKafka skips the test unless Debian's python3 can import kafka-python and
// zstandard (podium's producers compress with zstd), and returns the interpreter's path.
func requirePythonKafka(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(debianPython); err != nil {
		t.Skipf("the Python worker example needs %s (apt-get install python3-kafka python3-zstandard): %v", debianPython, err)
	}
	out, err := exec.Command(debianPython, "-c", "import kafka, zstandard").CombinedOutput()
	if err != nil {
		t.Skipf("the Python worker example needs python3-kafka and python3-zstandard (apt-get install python3-kafka python3-zstandard): %s: %v",
			bytes.TrimSpace(out), err)
	}
	return debianPython
}

// pythonEnv is the environment of the Python processes: unbuffered output, and no
// __pycache__ written into the source tree.
func pythonEnv() []string {
	return append(os.Environ(), "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1")
}

// TestPythonWorkerHomePartition checks the example's partitioner against podium's: the same
// home partition for random keys, keys with a '/' and Kafka's murmur2 test vectors.
func TestPythonWorkerHomePartition(t *testing.T) {
	python := requirePythonKafka(t)
	rng := rand.New(rand.NewPCG(7, 8))
	keys := [][]byte{{}, []byte("21"), []byte("foobar"), []byte("a-little-bit-long-string"),
		[]byte("ord-1001"), []byte("ord-1001/send-confirmation"), []byte("ord-1001/reserve-inventory/undo")}
	for range 2000 {
		k := make([]byte, rng.IntN(48))
		for i := range k {
			k[i] = byte(rng.IntN(256))
		}
		keys = append(keys, k)
	}
	counts := []int{1, 3, 4, 12, 64}
	req := struct {
		Keys   []string `json:"keys"`
		Counts []int    `json:"counts"`
	}{Counts: counts}
	for _, k := range keys {
		req.Keys = append(req.Keys, hex.EncodeToString(k))
	}
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	const script = `import json, sys, worker
req = json.load(sys.stdin)
print(json.dumps([[worker.home_partition(bytes.fromhex(k), n) for k in req["keys"]] for n in req["counts"]]))`
	cmd := exec.Command(python, "-c", script)
	cmd.Dir, cmd.Env, cmd.Stdin = pythonWorkerDir, pythonEnv(), bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("running worker.home_partition: %v\n%s", err, stderr.String())
	}
	var got [][]int
	if err := json.Unmarshal(out, &got); err != nil || len(got) != len(counts) {
		t.Fatalf("worker.home_partition printed %q: %v", out, err)
	}
	wrong := 0
	for i, n := range counts {
		for j, k := range keys {
			if want := pkafka.HomePartition(k, n); got[i][j] != want {
				if wrong++; wrong <= 5 {
					t.Errorf("home_partition(%q, %d): got %d, want %d (internal/kafka.HomePartition)", k, n, got[i][j], want)
				}
			}
		}
	}
	if wrong > 0 {
		t.Errorf("%d of %d home partitions differ from internal/kafka.HomePartition", wrong, len(keys)*len(counts))
	}
}

// TestPythonNotificationWorker runs the order saga with the notification step answered by
// the Python example worker (a subprocess that knows only Kafka and the wire contract) and
// the other steps by the Go reference workers: every order ends as it must, every
// notification reply is the Python worker's and passes podium's codec on its order's home
// partition. Then a repeated command (binary mode, and structured on a foreign partition)
// gets the same answer without a second e-mail, malformed records become dead letters
// without stopping the worker, and SIGTERM stops it cleanly with every offset committed.
func TestPythonNotificationWorker(t *testing.T) {
	python := requirePythonKafka(t)
	opts := fastSaga()
	opts.Timeout = 10 * time.Second // the notification step is answered by another process
	s := newStack(t, opts)
	s.startOrchestrator("orchestrator")
	for _, w := range events.Workers {
		if w != notification.Name {
			s.startWorker(w, workers.Faults{})
		}
	}
	effects := filepath.Join(t.TempDir(), "effects.jsonl")
	py := startPythonWorker(t, python, "--brokers", s.broker.Addr(), "--effects-file", effects)
	assigned := fmt.Sprintf("assigned partitions %s of %s", pythonList(testPartitions), events.CommandsTopic(notification.Name))
	s.waitFor(60*time.Second, "the Python worker to join its group", func() (bool, string) {
		out := py.output()
		return strings.Contains(out, assigned), out
	})

	orders := s.mix(16)
	s.place(orders...)
	s.waitTerminal(90 * time.Second)
	s.checkEffects()
	// The lifecycle event comes before the snapshot, and a cancellation notice is sent once
	// the order is cancelled: wait until every notification step is settled.
	var states map[string]*saga.State
	s.waitFor(30*time.Second, "every order's notification step to be settled", func() (bool, string) {
		states = s.states()
		for _, o := range orders {
			step, _, _ := notificationStep(o)
			if st := states[o.Placed.OrderID]; st == nil || st.Steps[step] == nil || st.Steps[step].Outcome == saga.OutcomeNone {
				return false, fmt.Sprintf("%s %s: %+v", o.Placed.OrderID, step, stepOf(st, step))
			}
		}
		return true, ""
	})

	replies := s.pythonReplies()
	sent := readEffects(t, effects)
	var happy sample.Order
	for _, o := range orders {
		id := o.Placed.OrderID
		step, outcome, reason := notificationStep(o)
		if o.Kind == sample.Happy && happy.Kind == "" {
			happy = o
		}
		key := id + "/" + step
		rs := replies[key]
		if len(rs) == 0 {
			t.Errorf("%s (%s): no reply of the Python worker for %s", id, o.Kind, key)
			continue
		}
		for _, r := range rs {
			var data events.Reply
			if err := r.DecodeData(&data); err != nil {
				t.Fatalf("reply %s: %v", r.ID, err)
			}
			if r.Outcome != outcome || data.Reason != reason {
				t.Errorf("%s: reply outcome %s reason %q, want %s %q", key, r.Outcome, data.Reason, outcome, reason)
			}
			if !bytes.Equal(r.Data, rs[0].Data) {
				t.Errorf("%s: replies differ: %s and %s", key, rs[0].Data, r.Data)
			}
		}
		wantOutcome := saga.OutcomeSuccess
		if outcome == events.OutcomeFailure {
			wantOutcome = saga.OutcomeFailure
		}
		if st := states[id]; st == nil || st.Steps[step] == nil || st.Steps[step].Outcome != wantOutcome {
			t.Errorf("%s: saga step %s: got %+v, want outcome %s", id, step, stepOf(st, step), wantOutcome)
		}
		wantSent := 0
		if outcome == events.OutcomeSuccess {
			wantSent = 1
		}
		if n := len(sent[key]); n != wantSent {
			t.Errorf("%s: %d e-mails sent, want %d", key, n, wantSent)
		}
	}
	if happy.Kind == "" {
		t.Fatal("the sample has no happy order")
	}

	// A repeated command: the same idempotency key under new command IDs.
	key := happy.Placed.OrderID + "/" + order.StepSendConfirmation
	original := replies[key][0]
	cmd := s.notificationCommand(key)
	binary := cmd
	binary.ID, binary.Attempt = "e2e-repeat-binary", cmd.Attempt+10
	structured := cmd
	structured.ID, structured.Attempt = "e2e-repeat-foreign", cmd.Attempt+11
	commands := events.CommandsTopic(notification.Name)
	garbage := kafkago.Message{Topic: commands, Key: []byte(cmd.Subject), Value: []byte("{not json")}
	wrongType := cmd
	wrongType.ID, wrongType.Type = "e2e-wrong-type", events.TypeInventoryReserve
	// Written in this order on the order's home partition: the dead letters before the
	// repeat show that they do not block it.
	if err := s.writer.WriteMessages(s.ctx, garbage, structuredMessage(t, commands, wrongType), binaryMessage(t, commands, binary)); err != nil {
		t.Fatalf("writing the repeated command: %v", err)
	}
	if err := s.foreignWriter().WriteMessages(s.ctx, structuredMessage(t, commands, structured)); err != nil {
		t.Fatalf("writing the repeated command to a foreign partition: %v", err)
	}
	dlq := events.DLQTopic(notification.Name)
	dlqParts := dlqPartitions(t, s, dlq)
	var dead []kafkago.Message
	s.waitFor(30*time.Second, "the replies to the repeated command and two dead letters", func() (bool, string) {
		replies = s.pythonReplies()
		dead = s.records(dlq, dlqParts)
		var answered []string
		for _, r := range replies[key] {
			answered = append(answered, r.CorrelationID)
		}
		return hasReply(replies[key], binary.ID) && hasReply(replies[key], structured.ID) && len(dead) >= 2,
			fmt.Sprintf("replies answering %v, %d dead letters; worker output:\n%s", answered, len(dead), py.output())
	})
	for _, id := range []string{binary.ID, structured.ID} {
		r := replyTo(replies[key], id)
		if r.Outcome != original.Outcome || !bytes.Equal(r.Data, original.Data) || r.Type != original.Type {
			t.Errorf("reply to the repeat %s: %s %s %s, want the original %s %s %s", id, r.Type, r.Outcome, r.Data, original.Type, original.Outcome, original.Data)
		}
		if r.CausationID != id || r.IdempotencyKey != key || r.SagaID != cmd.SagaID || r.Step != cmd.Step {
			t.Errorf("reply to the repeat %s: causationid %q idempotencykey %q sagaid %q step %q", id, r.CausationID, r.IdempotencyKey, r.SagaID, r.Step)
		}
	}
	if r := replyTo(replies[key], binary.ID); r.Attempt != binary.Attempt {
		t.Errorf("reply to the binary repeat: attempt %d, want %d", r.Attempt, binary.Attempt)
	}
	if n := len(readEffects(t, effects)[key]); n != 1 {
		t.Errorf("%s: %d e-mails sent after the repeats, want 1", key, n)
	}
	home := pkafka.HomePartition([]byte(cmd.Subject), testPartitions)
	forwarded := false
	for _, m := range s.records(commands, testPartitions) {
		if env, err := events.Decode(toEventsRecord(m)); err == nil && env.ID == structured.ID && m.Partition == home {
			forwarded = true
		}
	}
	if !forwarded {
		t.Errorf("the command written to a foreign partition was not forwarded to its home partition %d", home)
	}
	if len(dead) != 2 {
		t.Errorf("%d dead letters, want 2", len(dead))
	}
	for i, want := range []string{"malformed JSON", "is not a command of worker notification"} {
		if i >= len(dead) {
			break
		}
		d := dead[i]
		if !strings.Contains(header(d, events.HeaderDLQReason), want) || header(d, events.HeaderDLQTopic) != commands ||
			header(d, events.HeaderDLQPartition) != strconv.Itoa(home) || header(d, events.HeaderDLQOffset) == "" || string(d.Key) != cmd.Subject {
			t.Errorf("dead letter %d: key %q, headers %v; want reason containing %q from %s[%d]", i, d.Key, d.Headers, want, commands, home)
		}
	}

	py.stop(t)
	lags, err := chaos.Lags(s.ctx, s.kafka, map[string][]string{workers.GroupIDFor(notification.Name): {commands}})
	if err != nil {
		t.Fatalf("reading the Python worker's offsets: %v", err)
	}
	for _, l := range lags {
		if l.Unconsumed() {
			t.Errorf("%s[%d]: committed %d, end %d: the Python worker left records uncommitted", l.Topic, l.Partition, l.Committed, l.End)
		}
	}
}

// pythonReplies reads notification.replies: every reply decoded and checked (podium's codec,
// the Python worker's source, keyed by its order and on its home partition), by
// idempotency key.
func (s *stack) pythonReplies() map[string][]events.Envelope {
	s.t.Helper()
	out := map[string][]events.Envelope{}
	for _, m := range s.records(events.RepliesTopic(notification.Name), testPartitions) {
		env, err := events.Decode(toEventsRecord(m))
		switch {
		case err != nil:
			s.t.Errorf("a reply podium cannot decode, %s[%d]@%d: %v\n%s", m.Topic, m.Partition, m.Offset, err, m.Value)
			continue
		case env.Source != pythonWorkerSource:
			s.t.Errorf("reply %s has source %q, want the Python worker's %q", env.ID, env.Source, pythonWorkerSource)
		case string(m.Key) != env.Subject:
			s.t.Errorf("reply %s is keyed %q, want its order %q", env.ID, m.Key, env.Subject)
		case m.Partition != pkafka.HomePartition(m.Key, testPartitions):
			s.t.Errorf("reply %s for %s is on partition %d, want its home %d", env.ID, env.Subject, m.Partition, pkafka.HomePartition(m.Key, testPartitions))
		}
		out[env.IdempotencyKey] = append(out[env.IdempotencyKey], env)
	}
	return out
}

// notificationCommand returns the first command with idempotency key key.
func (s *stack) notificationCommand(key string) events.Envelope {
	s.t.Helper()
	for _, m := range s.records(events.CommandsTopic(notification.Name), testPartitions) {
		if env, err := events.Decode(toEventsRecord(m)); err == nil && env.IdempotencyKey == key {
			return env
		}
	}
	s.t.Fatalf("no command with idempotency key %s on %s", key, events.CommandsTopic(notification.Name))
	return events.Envelope{}
}

// notificationStep is the notification step of an order and the reply it must get.
func notificationStep(o sample.Order) (step, outcome, reason string) {
	switch o.Kind {
	case sample.Happy:
		return order.StepSendConfirmation, events.OutcomeSuccess, ""
	case sample.Bounced:
		return order.StepSendConfirmation, events.OutcomeFailure, "bounced"
	}
	return order.StepSendCancellationNotice, events.OutcomeSuccess, ""
}

func hasReply(rs []events.Envelope, commandID string) bool { return replyTo(rs, commandID).ID != "" }

func replyTo(rs []events.Envelope, commandID string) events.Envelope {
	for _, r := range rs {
		if r.CorrelationID == commandID {
			return r
		}
	}
	return events.Envelope{}
}

func stepOf(st *saga.State, step string) any {
	if st == nil {
		return "no saga state"
	}
	return st.Steps[step]
}

// structuredMessage encodes env in structured mode, keyed by its subject.
func structuredMessage(t *testing.T, topic string, env events.Envelope) kafkago.Message {
	t.Helper()
	value, headers, err := events.Encode(env)
	if err != nil {
		t.Fatal(err)
	}
	m := kafkago.Message{Topic: topic, Key: []byte(env.Subject), Value: value}
	for _, h := range headers {
		m.Headers = append(m.Headers, kafkago.Header{Key: h.Key, Value: h.Value})
	}
	return m
}

// binaryMessage encodes command cmd in binary mode (ce_* headers, the data as the value),
// and checks that podium's codec accepts it.
func binaryMessage(t *testing.T, topic string, cmd events.Envelope) kafkago.Message {
	t.Helper()
	m := kafkago.Message{Topic: topic, Key: []byte(cmd.Subject), Value: cmd.Data}
	for _, h := range [][2]string{
		{"ce_specversion", events.SpecVersion}, {"ce_id", cmd.ID}, {"ce_source", "podium/e2e"}, {"ce_type", cmd.Type},
		{"ce_subject", cmd.Subject}, {"ce_sagaid", cmd.SagaID}, {"ce_step", cmd.Step},
		{"ce_attempt", strconv.Itoa(cmd.Attempt)}, {"ce_idempotencykey", cmd.IdempotencyKey},
		{events.HeaderContentType, events.ContentTypeJSON},
	} {
		m.Headers = append(m.Headers, kafkago.Header{Key: h[0], Value: []byte(h[1])})
	}
	if _, err := events.Decode(toEventsRecord(m)); err != nil {
		t.Fatalf("the binary-mode command is not valid: %v", err)
	}
	return m
}

func toEventsRecord(m kafkago.Message) events.Record {
	r := events.Record{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, events.Header{Key: h.Key, Value: h.Value})
	}
	return r
}

// readEffects reads the Python worker's effects file: the e-mails sent, by idempotency key.
func readEffects(t *testing.T, path string) map[string][]workers.Effect {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("reading the Python worker's effects: %v", err)
	}
	defer f.Close()
	out := map[string][]workers.Effect{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e workers.Effect
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("effects line %q: %v", sc.Text(), err)
		}
		if e.Worker != notification.Name || e.IdempotencyKey == "" || e.Ref == "" {
			t.Errorf("effects line %q: want worker %s, an idempotency key and a message ID", sc.Text(), notification.Name)
		}
		out[e.IdempotencyKey] = append(out[e.IdempotencyKey], e)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading the Python worker's effects: %v", err)
	}
	return out
}

// pythonList is how Python prints the list [0, 1, ..., n-1].
func pythonList(n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// pythonWorker is the example worker running as a subprocess.
type pythonWorker struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited; err is then its Wait result
	err  error

	mu  sync.Mutex
	out bytes.Buffer
}

// startPythonWorker starts worker.py with args. The process is killed at the end of the
// test if it still runs, and its output logged if the test failed.
func startPythonWorker(t *testing.T, python string, args ...string) *pythonWorker {
	t.Helper()
	w := &pythonWorker{done: make(chan struct{})}
	w.cmd = exec.Command(python, append([]string{"worker.py"}, args...)...)
	w.cmd.Dir, w.cmd.Env = pythonWorkerDir, pythonEnv()
	w.cmd.Stdout, w.cmd.Stderr = w, w
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("starting the Python worker: %v", err)
	}
	go func() {
		w.err = w.cmd.Wait()
		close(w.done)
	}()
	t.Cleanup(func() {
		select {
		case <-w.done:
		default:
			_ = w.cmd.Process.Kill()
			<-w.done
		}
		if t.Failed() {
			t.Logf("Python worker output:\n%s", w.output())
		}
	})
	return w
}

// Write collects the process's output.
func (w *pythonWorker) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.Write(p)
}

func (w *pythonWorker) output() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.String()
}

// stop sends SIGTERM and checks that the worker exits with status 0, saying so.
func (w *pythonWorker) stop(t *testing.T) {
	t.Helper()
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signalling the Python worker: %v", err)
	}
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the Python worker did not stop within 30s of SIGTERM")
	}
	if w.err != nil || !strings.Contains(w.output(), "notification-worker: stopped") {
		t.Errorf("the Python worker after SIGTERM: %v; want exit status 0 and its last line %q", w.err, "stopped")
	}
}
