package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/internal/client"
	pkafka "github.com/podiumhq/podium/internal/kafka"
)

// Topics of the raw measurements. They live next to podium's topics on the same broker and
// are created on demand; nothing of podium reads them.
const (
	HopRequestsTopic = "podium-bench.requests"
	HopRepliesTopic  = "podium-bench.replies"
	ProduceTopic     = "podium-bench.produce"
)

// hopValueSize is the size of a raw request's value: about a podium command record.
const hopValueSize = 600

// EnsureHopTopics creates the topics of the raw measurements with partitions partitions.
func EnsureHopTopics(ctx context.Context, cfg pkafka.Config, partitions int) error {
	return pkafka.EnsureTopics(ctx, cfg, []pkafka.TopicSpec{
		{Name: HopRequestsTopic, Partitions: partitions},
		{Name: HopRepliesTopic, Partitions: partitions},
		{Name: ProduceTopic, Partitions: partitions},
	})
}

// Echo is the responder of the raw command/reply hop, the bare minimum of a worker: for
// every partition of HopRequestsTopic it long-polls a batch of requests (from the end of the
// partition at start, kafkago.Client.Fetch as the workers fetch) and writes each request
// back, same key and value, to HopRepliesTopic in one synchronous WriteMessages of podium's
// writer (pkafka.Producer). It has no consumer group, no commits, no decoding and no
// idempotency store: the hop is the Kafka client and the broker alone.
// It runs until ctx ends; ready is called once every partition is being read.
func Echo(ctx context.Context, cfg pkafka.Config, partitions int, ready func(), log zerolog.Logger) error {
	starts, err := client.EndOffsets(ctx, cfg, HopRequestsTopic)
	if err != nil {
		return err
	}
	if len(starts) != partitions {
		return fmt.Errorf("topic %s has %d partitions, want %d", HopRequestsTopic, len(starts), partitions)
	}
	w := pkafka.NewProducer(cfg)
	defer w.Close()
	return fetchPartitions(ctx, cfg, HopRequestsTopic, starts, ready, func(ctx context.Context, _ int, recs []kafkago.Message) error {
		out := make([]kafkago.Message, len(recs))
		for i, r := range recs {
			out[i] = kafkago.Message{Topic: HopRepliesTopic, Key: r.Key, Value: r.Value}
		}
		if err := w.WriteMessages(ctx, out...); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			log.Warn().Err(err).Int("records", len(out)).Msg("writing echo replies")
		}
		return nil
	})
}

// fetchMaxWait is how long a fetch of the measurement readers waits for data: as the
// workers' fetches, long enough that an idle partition costs the broker little.
const fetchMaxWait = 500 * time.Millisecond

// fetchPartitions long-polls every partition of topic from starts[p] with one goroutine
// per partition (kafkago.Client.Fetch, as podium's workers do) and hands each non-empty
// batch to fn, until ctx ends (nil) or fn or a fetch fails for good. ready, if not nil,
// is called once every goroutine runs.
func fetchPartitions(ctx context.Context, cfg pkafka.Config, topic string, starts []int64, ready func(),
	fn func(ctx context.Context, partition int, recs []kafkago.Message) error) error {
	cl := cfg.Client()
	defer func() {
		if t, ok := cl.Transport.(*kafkago.Transport); ok {
			t.CloseIdleConnections()
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(starts))
	var wg sync.WaitGroup
	for p, start := range starts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			offset := start
			for ctx.Err() == nil {
				res, err := cl.Fetch(ctx, &kafkago.FetchRequest{
					Topic: topic, Partition: p, Offset: offset,
					MinBytes: 1, MaxBytes: 1 << 20, MaxWait: fetchMaxWait,
				})
				if err == nil && res.Error != nil {
					err = res.Error
				}
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					errs <- fmt.Errorf("fetching %s[%d]@%d: %w", topic, p, offset, err)
					return
				}
				var recs []kafkago.Message
				for {
					rec, err := res.Records.ReadRecord()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						errs <- fmt.Errorf("decoding %s[%d]@%d: %w", topic, p, offset, err)
						return
					}
					if rec.Offset < offset {
						continue
					}
					m := kafkago.Message{Topic: topic, Partition: p, Offset: rec.Offset}
					if rec.Key != nil {
						m.Key, _ = io.ReadAll(rec.Key)
					}
					if rec.Value != nil {
						m.Value, _ = io.ReadAll(rec.Value)
					}
					recs = append(recs, m)
					offset = rec.Offset + 1
				}
				if len(recs) == 0 {
					continue
				}
				if err := fn(ctx, p, recs); err != nil {
					if ctx.Err() == nil {
						errs <- err
					}
					return
				}
			}
		}()
	}
	if ready != nil {
		ready()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case err := <-errs:
		cancel()
		<-done
		return err
	}
}

// HopResult is one measurement of the raw command/reply hop.
type HopResult struct {
	InFlight      int         `json:"in_flight"`
	RoundTrips    int64       `json:"round_trips"`
	Seconds       float64     `json:"seconds"`
	RoundTripsSec float64     `json:"round_trips_per_sec"`
	Latency       Percentiles `json:"latency"`
	Lost          int64       `json:"lost"`
	// CPUPerRoundTrip is the CPU time every sampled process (the broker, the echo and the
	// requester) spent in the measured window, per round trip; zero when not sampled.
	CPUPerRoundTrip time.Duration `json:"cpu_per_round_trip_ns,omitempty"`
	// Cores is that CPU time per second of the window.
	Cores float64 `json:"cores,omitempty"`
	// Pace is HopConfig.Pace: one request every Pace per requester (0: back to back).
	Pace time.Duration `json:"pace_ns,omitempty"`
}

// HopConfig configures a raw hop measurement.
type HopConfig struct {
	Kafka      pkafka.Config
	Partitions int
	// InFlight is the number of requests outstanding at any time (closed loop).
	InFlight int
	// Warmup runs before the measured Duration; its round trips are not counted.
	Warmup, Duration time.Duration
	// Timeout gives up on one request's reply. Default: 10s.
	Timeout time.Duration
	// Pace, when set, spaces each requester's requests: a request is sent at most every
	// Pace, so that the stack idles between them as it does between orders placed one at
	// a time (an idle machine wakes up slower than a busy one answers).
	Pace time.Duration
	// Sample, when set, reads the CPU time of the processes whose cost the hop is charged
	// with, at the start and the end of the measured window.
	Sample func() map[string]ProcSample
}

// Hop measures the raw command/reply hop against a running Echo: InFlight requesters each
// write a request (keyed to spread over the partitions) and wait for its echo, read from
// HopRepliesTopic by one fetching goroutine per partition, then send the next. The requests
// go through one shared pkafka.Producer (acks all), which merges the concurrent requesters'
// records into one request while another is in flight.
func Hop(ctx context.Context, hc HopConfig) (HopResult, error) {
	if hc.Timeout == 0 {
		hc.Timeout = 10 * time.Second
	}
	starts, err := client.EndOffsets(ctx, hc.Kafka, HopRepliesTopic)
	if err != nil {
		return HopResult{}, err
	}
	w := pkafka.NewProducer(hc.Kafka)
	defer w.Close()

	var waiters sync.Map // key -> chan struct{}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	readErr := make(chan error, 1)
	readyc := make(chan struct{})
	go func() {
		readErr <- fetchPartitions(ctx, hc.Kafka, HopRepliesTopic, starts, func() { close(readyc) },
			func(_ context.Context, _ int, recs []kafkago.Message) error {
				for _, r := range recs {
					if c, ok := waiters.LoadAndDelete(string(r.Key)); ok {
						close(c.(chan struct{}))
					}
				}
				return nil
			})
	}()
	select {
	case <-readyc:
	case err := <-readErr:
		return HopResult{}, err
	}

	value := make([]byte, hopValueSize)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	start := time.Now()
	from, to := start.Add(hc.Warmup), start.Add(hc.Warmup+hc.Duration)
	cpu := make(chan time.Duration, 2)
	if hc.Sample != nil {
		sum := func() {
			var d time.Duration
			for _, ps := range hc.Sample() {
				d += ps.CPU
			}
			cpu <- d
		}
		defer time.AfterFunc(hc.Warmup, sum).Stop()
		defer time.AfterFunc(hc.Warmup+hc.Duration, sum).Stop()
	}
	var (
		mu       sync.Mutex
		samples  []time.Duration
		counted  atomic.Int64
		lost     atomic.Int64
		failures = make(chan error, hc.InFlight)
		wg       sync.WaitGroup
	)
	for g := range hc.InFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			defer func() {
				mu.Lock()
				samples = append(samples, local...)
				mu.Unlock()
			}()
			prefix := "hop-" + strconv.Itoa(g) + "-"
			var paced <-chan time.Time
			if hc.Pace > 0 {
				t := time.NewTicker(hc.Pace)
				defer t.Stop()
				paced = t.C
			}
			for seq := 0; ; seq++ {
				if paced != nil {
					select {
					case <-paced:
					case <-ctx.Done():
						return
					}
				}
				t0 := time.Now()
				if !t0.Before(to) || ctx.Err() != nil {
					return
				}
				key := prefix + strconv.Itoa(seq)
				c := make(chan struct{})
				waiters.Store(key, c)
				if err := w.WriteMessages(ctx, kafkago.Message{Topic: HopRequestsTopic, Key: []byte(key), Value: value}); err != nil {
					if ctx.Err() == nil {
						failures <- fmt.Errorf("writing a hop request: %w", err)
					}
					return
				}
				t := time.NewTimer(hc.Timeout)
				select {
				case <-c:
					t.Stop()
				case <-t.C:
					waiters.Delete(key)
					lost.Add(1)
					continue
				case <-ctx.Done():
					t.Stop()
					return
				}
				done := time.Now()
				if !t0.Before(from) && done.Before(to) {
					local = append(local, done.Sub(t0))
					counted.Add(1)
				}
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case err := <-failures:
		cancel()
		<-finished
		return HopResult{}, err
	case err := <-readErr:
		cancel()
		<-finished
		return HopResult{}, fmt.Errorf("reading hop replies: %w", err)
	}
	select {
	case err := <-failures:
		return HopResult{}, err
	default:
	}
	n := counted.Load()
	res := HopResult{
		InFlight:      hc.InFlight,
		RoundTrips:    n,
		Seconds:       hc.Duration.Seconds(),
		RoundTripsSec: Rate(n, hc.Duration),
		Latency:       Summarize(samples),
		Lost:          lost.Load(),
		Pace:          hc.Pace,
	}
	if hc.Sample != nil && n > 0 {
		// Both samples are due by now (the requesters stop at the window's end); the end
		// one may still be reading /proc.
		before, after := <-cpu, <-cpu
		res.CPUPerRoundTrip = (after - before) / time.Duration(n)
		res.Cores = (after - before).Seconds() / hc.Duration.Seconds()
	}
	return res, nil
}

// ProduceResult is one measurement of raw produce throughput.
type ProduceResult struct {
	Writers    int     `json:"writers"`
	Batch      int     `json:"batch"`
	ValueBytes int     `json:"value_bytes"`
	Records    int64   `json:"records"`
	Seconds    float64 `json:"seconds"`
	RecordsSec float64 `json:"records_per_sec"`
}

// RawProduce measures how many records per second podium's writer gets into ProduceTopic:
// writers goroutines each write synchronous batches of batch records (keys spread over the
// partitions, hopValueSize-byte values) for d.
func RawProduce(ctx context.Context, cfg pkafka.Config, writers, batch int, d time.Duration) (ProduceResult, error) {
	w := pkafka.NewProducer(cfg)
	defer w.Close()
	value := make([]byte, hopValueSize)
	var (
		n    atomic.Int64
		wg   sync.WaitGroup
		errc = make(chan error, writers)
	)
	start := time.Now()
	end := start.Add(d)
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msgs := make([]kafkago.Message, batch)
			for seq := 0; time.Now().Before(end) && ctx.Err() == nil; seq++ {
				for i := range msgs {
					msgs[i] = kafkago.Message{Topic: ProduceTopic, Key: []byte("p-" + strconv.Itoa(g) + "-" + strconv.Itoa(seq*batch+i)), Value: value}
				}
				if err := w.WriteMessages(ctx, msgs...); err != nil {
					errc <- fmt.Errorf("writing a produce batch: %w", err)
					return
				}
				n.Add(int64(batch))
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	select {
	case err := <-errc:
		return ProduceResult{}, err
	default:
	}
	return ProduceResult{Writers: writers, Batch: batch, ValueBytes: hopValueSize, Records: n.Load(),
		Seconds: took.Seconds(), RecordsSec: Rate(n.Load(), took)}, nil
}
