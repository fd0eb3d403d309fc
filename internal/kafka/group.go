package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"
)

// GroupConfig configures RunGroup.
type GroupConfig struct {
	// GroupID is the consumer group. Required.
	GroupID string
	// Topics are the co-partitioned topics the group consumes. Required. They must all exist
	// (see EnsureTopics): a missing topic leaves its partitions unassigned.
	Topics []string
	// Config is how to reach the cluster.
	Config Config
	// SessionTimeout is how long the coordinator waits for a heartbeat before it evicts a
	// member. The broker bounds it (group.min.session.timeout.ms, 6s on Kafka and kfake by
	// default). Default: 10s (kafka-go: 30s).
	SessionTimeout time.Duration
	// HeartbeatInterval is the time between heartbeats; a member learns of a rebalance at its
	// next heartbeat, so this is also the delay before partitions are revoked. Default: 1s
	// (kafka-go: 3s).
	HeartbeatInterval time.Duration
	// RebalanceTimeout is how long the coordinator waits for every member to rejoin during
	// a rebalance; a member's handlers must have returned by then. Default: 10s
	// (kafka-go: 30s).
	RebalanceTimeout time.Duration
	// JoinGroupBackoff is the pause after a failed join before trying again.
	// Default: 1s (kafka-go: 5s).
	JoinGroupBackoff time.Duration
	// CommitInterval is the shortest time between two offset commits of a member's
	// CommitAsync calls: the offsets queued meanwhile go out together (the newest of each
	// partition). Commit and Flush send at once. A longer interval saves broker and client
	// work per batch; a crash then redelivers up to an interval more of records, which
	// podium's consumers drop as duplicates. Default: DefaultCommitInterval (Kafka's Java
	// consumer auto-commits every 5s, Kafka Streams every 30s).
	CommitInterval time.Duration
	// Logger receives group events; kafka-go's own messages are logged at debug level and
	// its errors at warn level.
	Logger zerolog.Logger
}

func (gc GroupConfig) withDefaults() GroupConfig {
	if gc.SessionTimeout == 0 {
		gc.SessionTimeout = 10 * time.Second
	}
	if gc.HeartbeatInterval == 0 {
		gc.HeartbeatInterval = time.Second
	}
	if gc.RebalanceTimeout == 0 {
		gc.RebalanceTimeout = 10 * time.Second
	}
	if gc.JoinGroupBackoff == 0 {
		gc.JoinGroupBackoff = time.Second
	}
	if gc.CommitInterval == 0 {
		gc.CommitInterval = DefaultCommitInterval
	}
	return gc
}

// DefaultCommitInterval is GroupConfig.CommitInterval's default.
const DefaultCommitInterval = 100 * time.Millisecond

// Validate reports every problem of gc (after defaults) at once.
func (gc GroupConfig) Validate() error {
	gc = gc.withDefaults()
	var errs []error
	if gc.GroupID == "" {
		errs = append(errs, errors.New("group ID is required"))
	}
	if len(gc.Topics) == 0 {
		errs = append(errs, errors.New("at least one topic is required"))
	}
	seen := map[string]bool{}
	for _, t := range gc.Topics {
		if t == "" {
			errs = append(errs, errors.New("empty topic name"))
		} else if seen[t] {
			errs = append(errs, fmt.Errorf("topic %s listed twice", t))
		}
		seen[t] = true
	}
	if gc.SessionTimeout < 0 || gc.HeartbeatInterval < 0 || gc.RebalanceTimeout < 0 || gc.JoinGroupBackoff < 0 || gc.CommitInterval < 0 {
		errs = append(errs, errors.New("timeouts must not be negative"))
	}
	if gc.HeartbeatInterval >= gc.SessionTimeout {
		errs = append(errs, fmt.Errorf("heartbeat interval %s must be below the session timeout %s", gc.HeartbeatInterval, gc.SessionTimeout))
	}
	if err := gc.Config.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Assignment is one partition index owned by this member for one generation.
type Assignment struct {
	// Generation is the kafka-go generation the assignment belongs to.
	Generation *kafkago.Generation
	// Partition is the owned partition index: partition Partition of every topic in Offsets.
	Partition int
	// Offsets holds, for every subscribed topic that has partition Partition, the offset to
	// read next: the committed offset, or the partition's first offset when nothing was
	// committed or the committed offset fell below the log start (logged as an error with the
	// gap), or the high watermark when the committed offset is beyond it (logged too).
	Offsets map[string]int64

	// committer merges the commits of the generation's partitions (nil: each commit is sent
	// on its own).
	committer *groupCommitter
	// pending counts this partition's CommitAsync calls not answered yet (nil: not counted).
	pending *sync.WaitGroup
}

// Commit commits next offsets (the offset after the last processed record) of this
// assignment's partition, within its generation. It fails for a topic not in a.Offsets and
// once the generation has ended (the partition may belong to another member by then: stop
// writing). Safe for concurrent use with other assignments of the same generation.
func (a Assignment) Commit(offsets map[string]int64) error {
	if len(offsets) == 0 {
		return nil
	}
	req, err := a.commitRequest(offsets)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	a.send(req, true, func(err error) { done <- err })
	return <-done
}

// CommitAsync is Commit without the wait: it queues the commit and returns at once; done,
// if not nil, is called with Commit's result from another goroutine once the commit was
// sent. Commits of one partition are sent in the order queued, merged with the
// generation's other commits, so a later commit never goes out before an earlier one.
//
// Use it when nothing depends on the commit having happened: the records a lost commit
// leaves uncommitted are delivered again (to this member, or after a rebalance to another),
// which podium's consumers handle as duplicates. Waiting for every commit adds a round trip
// to every batch. A commit queued within GroupConfig.CommitInterval of the previous one
// waits for the rest of the interval (Flush ends the wait), and goes out with the commits
// queued meanwhile.
func (a Assignment) CommitAsync(offsets map[string]int64, done func(error)) {
	if done == nil {
		done = func(error) {}
	}
	if a.pending != nil {
		a.pending.Add(1)
		inner := done
		done = func(err error) {
			defer a.pending.Done()
			inner(err)
		}
	}
	if len(offsets) == 0 {
		done(nil)
		return
	}
	req, err := a.commitRequest(offsets)
	if err != nil {
		done(err)
		return
	}
	a.send(req, false, done)
}

// Flush waits until every commit this partition queued with CommitAsync was answered, or d
// passed. A partition handler calls it before it returns: the generation lives until then,
// so its last commits still count, and the next owner does not get those batches again.
func (a Assignment) Flush(d time.Duration) {
	if a.pending == nil {
		return
	}
	if a.committer != nil {
		a.committer.hurry()
	}
	done := make(chan struct{})
	go func() { a.pending.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// commitRequest validates offsets and turns them into a commit request.
func (a Assignment) commitRequest(offsets map[string]int64) (map[string]map[int]int64, error) {
	req := make(map[string]map[int]int64, len(offsets))
	var errs []error
	for t, o := range offsets {
		if _, ok := a.Offsets[t]; !ok {
			errs = append(errs, fmt.Errorf("topic %s is not part of the assignment", t))
			continue
		}
		if o < 0 {
			errs = append(errs, fmt.Errorf("topic %s: negative offset %d", t, o))
			continue
		}
		req[t] = map[int]int64{a.Partition: o}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("committing partition %d: %w", a.Partition, err)
	}
	return req, nil
}

// send sends req (merged with the generation's other commits; urgent: without waiting for
// the commit interval) and calls done with the outcome.
func (a Assignment) send(req map[string]map[int]int64, urgent bool, done func(error)) {
	wrap := func(err error) {
		if err != nil {
			err = fmt.Errorf("committing partition %d in generation %d: %w", a.Partition, a.Generation.ID, err)
		}
		done(err)
	}
	if a.committer == nil {
		wrap(a.Generation.CommitOffsets(req))
		return
	}
	a.committer.commit(req, urgent, wrap)
}

// groupCommitter sends the commits of one generation's partitions, merged: while one
// OffsetCommit request is in flight, the commits asked for meanwhile wait and then go
// together in the next request. Every caller returns once a request holding its offsets
// succeeded (or with that request's error), so Commit stays synchronous; CommitAsync's
// callers are told the same way.
//
// It exists because the generation's coordinator connection serves one request at a time,
// and kafka-go's Conn makes concurrent callers spin on it (setting a read deadline on every
// turn) until their response comes: with a commit per batch from each of its partitions,
// that spinning cost the orchestrator more CPU than everything else together. Merging also
// sends the broker one commit per round trip instead of one per partition and batch.
//
// Commits are also spaced: one goes out at most every interval, carrying the newest offset
// of every partition queued meanwhile, unless one of them is urgent (Commit, Flush). At a
// steady rate every partition's processor commits after each of its many small batches;
// each commit costs the client a request and the broker a write to its offsets log.
//
// Safe for concurrent use.
type groupCommitter struct {
	send1    func(map[string]map[int]int64) error // one commit request (Generation.CommitOffsets)
	interval time.Duration
	wake     chan struct{} // signalled (never blocking) by an urgent commit or hurry

	mu      sync.Mutex
	pending map[string]map[int]int64
	waiters []func(error)
	busy    bool      // a goroutine is sending
	urgent  bool      // send the pending commits without waiting for the interval
	last    time.Time // when the last commit was sent
}

func newGroupCommitter(commit func(map[string]map[int]int64) error, interval time.Duration) *groupCommitter {
	return &groupCommitter{send1: commit, interval: interval, wake: make(chan struct{}, 1)}
}

// commit queues offsets and calls done with the result of the request that carries them.
func (c *groupCommitter) commit(offsets map[string]map[int]int64, urgent bool, done func(error)) {
	c.mu.Lock()
	if c.pending == nil {
		c.pending = make(map[string]map[int]int64)
	}
	for t, parts := range offsets {
		if c.pending[t] == nil {
			c.pending[t] = make(map[int]int64, len(parts))
		}
		for p, o := range parts {
			// Offsets of a partition only grow: keep the highest queued.
			if cur, ok := c.pending[t][p]; !ok || o > cur {
				c.pending[t][p] = o
			}
		}
	}
	c.waiters = append(c.waiters, done)
	if !c.busy {
		c.busy = true
		go c.send()
	}
	c.mu.Unlock()
	if urgent {
		c.hurry()
	}
}

// hurry makes the pending commits go out without waiting for the rest of the interval.
func (c *groupCommitter) hurry() {
	c.mu.Lock()
	c.urgent = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// send commits what is pending, an interval apart unless hurried, until nothing is; its
// goroutine ends then. (A partition's handler flushes before it returns, which hurries: a
// generation's last commits do not wait for the interval.)
func (c *groupCommitter) send() {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		c.mu.Lock()
		if len(c.waiters) == 0 {
			c.busy = false
			c.mu.Unlock()
			return
		}
		if wait := c.interval - time.Since(c.last); wait > 0 && !c.urgent {
			c.mu.Unlock()
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			select {
			case <-timer.C:
			case <-c.wake:
				timer.Stop()
			}
			continue
		}
		req, waiters := c.pending, c.waiters
		c.pending, c.waiters, c.urgent, c.last = nil, nil, false, time.Now()
		c.mu.Unlock()
		err := c.send1(req)
		for _, done := range waiters {
			done(err)
		}
	}
}

// RunGroup joins consumer group gc.GroupID with the CoPartitionBalancer and, for every
// generation, calls fn once per owned partition index, each in its own goroutine started
// with Generation.Start.
//
// The ctx given to fn carries the values of ctx and ends when the generation ends: on a
// rebalance (every rebalance revokes all partitions of all members), when the member loses
// the coordinator, or when ctx ends. fn must then return promptly: the member cannot rejoin,
// and the group cannot settle, before every fn of the generation has returned. fn should
// return only when its ctx ends. If it returns earlier, kafka-go ends the generation for
// this member: all its partitions are revoked and it rejoins (a full group rebalance), which
// callers may use as "restart my partitions" — sparingly.
//
// Before fn is called, the committed offsets of its partition are resolved into
// Assignment.Offsets (see there); resolution is retried until the generation ends.
//
// RunGroup returns nil once ctx ends, after every fn has returned and the member has left the
// group (so its partitions move at once instead of after the session timeout). It returns an
// error for an invalid configuration and for errors that retrying cannot fix (authorization,
// SASL, invalid session timeout, inconsistent group protocol); other errors are logged and
// the member keeps trying to join.
func RunGroup(ctx context.Context, gc GroupConfig, fn func(ctx context.Context, a Assignment)) error {
	gc = gc.withDefaults()
	if err := gc.Validate(); err != nil {
		return fmt.Errorf("group %s: %w", gc.GroupID, err)
	}
	log := gc.Logger.With().Str("group", gc.GroupID).Logger()
	cc := gc.Config.WithDefaults()

	// Handlers resolve their offsets with cl; it is closed after the group (deferred first).
	cl := cc.Client()
	defer closeClient(cl)

	cg, err := kafkago.NewConsumerGroup(kafkago.ConsumerGroupConfig{
		ID:                gc.GroupID,
		Brokers:           cc.Brokers,
		Dialer:            cc.Dialer(),
		Topics:            gc.Topics,
		GroupBalancers:    []kafkago.GroupBalancer{CoPartitionBalancer{}},
		HeartbeatInterval: gc.HeartbeatInterval,
		SessionTimeout:    gc.SessionTimeout,
		RebalanceTimeout:  gc.RebalanceTimeout,
		JoinGroupBackoff:  gc.JoinGroupBackoff,
		StartOffset:       kafkago.FirstOffset,
		Logger: kafkago.LoggerFunc(func(msg string, args ...any) {
			log.Debug().Msgf(strings.TrimSpace(msg), args...)
		}),
		ErrorLogger: kafkago.LoggerFunc(func(msg string, args ...any) {
			text := strings.TrimSpace(fmt.Sprintf(msg, args...))
			if strings.Contains(text, "Rebalance In Progress") {
				log.Debug().Msg(text) // every rebalance; not a problem
				return
			}
			log.Warn().Msg(text)
		}),
	})
	if err != nil {
		return fmt.Errorf("group %s: %w", gc.GroupID, err)
	}
	// Close ends the current generation (its handlers' contexts), waits for them, and leaves
	// the group.
	defer func() {
		_ = cg.Close()
		log.Info().Msg("left consumer group")
	}()

	for {
		gen, err := cg.Next(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && fatalGroupError(err):
			return fmt.Errorf("joining group %s: %w", gc.GroupID, err)
		case errors.Is(err, kafkago.RebalanceInProgress):
			log.Debug().Err(err).Msg("joining consumer group: rebalance in progress; rejoining")
			continue
		case err != nil:
			log.Warn().Err(err).Msg("joining consumer group; retrying")
			continue
		}
		startGeneration(ctx, gen, gc.Topics, gc.CommitInterval, cl, log, fn)
	}
}

// startGeneration starts one goroutine per owned partition index of gen.
func startGeneration(parent context.Context, gen *kafkago.Generation, topics []string, commitInterval time.Duration, cl *kafkago.Client, log zerolog.Logger, fn func(context.Context, Assignment)) {
	owned := map[int]map[string]int64{} // partition -> topic -> committed offset (maybe FirstOffset)
	for topic, pas := range gen.Assignments {
		for _, pa := range pas {
			if owned[pa.ID] == nil {
				owned[pa.ID] = map[string]int64{}
			}
			owned[pa.ID][topic] = pa.Offset
		}
	}
	parts := make([]int, 0, len(owned))
	for p := range owned {
		parts = append(parts, p)
	}
	sort.Ints(parts)
	log.Info().Int32("generation", gen.ID).Str("member_id", gen.MemberID).Ints("partitions", parts).
		Strs("topics", topics).Msg("consumer group generation started")

	// Handlers see the parent's values but end only with the generation: when ctx ends,
	// RunGroup closes the group, which ends the generation. Ending handlers directly on ctx
	// would end the generation first and make kafka-go rejoin before leaving.
	base := context.WithoutCancel(parent)
	committer := newGroupCommitter(gen.CommitOffsets, commitInterval)
	for _, p := range parts {
		committed := owned[p]
		plog := log.With().Int("partition", p).Int32("generation", gen.ID).Logger()
		gen.Start(func(gctx context.Context) {
			ctx, cancel := context.WithCancel(base)
			defer cancel()
			stop := context.AfterFunc(gctx, cancel)
			defer stop()

			offsets, ok := resolveOffsets(ctx, cl, p, committed, plog)
			if !ok {
				return // the generation ended first
			}
			fn(ctx, Assignment{Generation: gen, Partition: p, Offsets: offsets, committer: committer, pending: &sync.WaitGroup{}})
			if ctx.Err() == nil {
				plog.Warn().Msg("partition handler returned before its generation ended; the member rejoins the group")
			}
		})
	}
}

// resolveOffsets turns committed offsets into next offsets to read, retrying until ctx ends.
func resolveOffsets(ctx context.Context, cl *kafkago.Client, p int, committed map[string]int64, log zerolog.Logger) (map[string]int64, bool) {
	req := make(map[string][]int, len(committed))
	for t := range committed {
		req[t] = []int{p}
	}
	backoff := 100 * time.Millisecond
	for {
		b, err := listBounds(ctx, cl, req)
		if err == nil {
			out := make(map[string]int64, len(committed))
			for t, off := range committed {
				out[t] = nextOffset(t, p, off, b[topicPartition{t, p}], log)
			}
			return out, true
		}
		if ctx.Err() != nil {
			return nil, false
		}
		log.Warn().Err(err).Msg("reading partition offsets; retrying")
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, false
		case <-t.C:
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// nextOffset resolves one committed offset against the partition's bounds.
func nextOffset(topic string, p int, committed int64, b bounds, log zerolog.Logger) int64 {
	switch {
	case committed < 0: // nothing committed (kafka-go reports FirstOffset)
		return b.first
	case committed < b.first:
		log.Error().Str("topic", topic).Int64("committed", committed).Int64("log_start", b.first).
			Int64("gap", b.first-committed).
			Msg("committed offset is below the log start: records were deleted before they were processed; continuing at the log start")
		return b.first
	case committed > b.last:
		log.Error().Str("topic", topic).Int64("committed", committed).Int64("high_watermark", b.last).
			Int64("gap", committed-b.last).
			Msg("committed offset is beyond the high watermark (topic recreated or truncated?); continuing at the high watermark")
		return b.last
	default:
		return committed
	}
}

// fatalGroupError reports errors that rejoining cannot fix.
func fatalGroupError(err error) bool {
	return slices.ContainsFunc([]error{
		kafkago.InvalidSessionTimeout,
		kafkago.GroupAuthorizationFailed,
		kafkago.TopicAuthorizationFailed,
		kafkago.SASLAuthenticationFailed,
		kafkago.InconsistentGroupProtocol,
		kafkago.InvalidGroupId,
	}, func(target error) bool { return errors.Is(err, target) })
}
