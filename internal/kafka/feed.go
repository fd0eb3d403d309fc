package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"
)

// FeedConfig configures a Feed.
type FeedConfig struct {
	// MaxWait is how long one fetch waits for records when none are there (the long poll),
	// and so the longest a partition that was paused or newly subscribed waits before it is
	// fetched. Default: 100ms.
	MaxWait time.Duration
	// MaxBytes bounds each partition's share of one fetch response (Kafka still returns at
	// least one whole record batch). Default: 1 MiB.
	MaxBytes int
	// Buffered is how many records a subscription may hold undelivered before its partitions
	// are left out of the next fetches, until the consumer takes them. Default: 1,000.
	Buffered int
	// Logger receives the feed's warnings (fetch errors, offsets reset to the log start).
	Logger zerolog.Logger
}

func (fc FeedConfig) withDefaults() FeedConfig {
	if fc.MaxWait <= 0 {
		fc.MaxWait = 100 * time.Millisecond
	}
	if fc.MaxBytes <= 0 {
		fc.MaxBytes = 1 << 20
	}
	if fc.Buffered <= 0 {
		fc.Buffered = 1000
	}
	return fc
}

// Feed is podium's one way to consume: it reads every subscribed partition, of any number of
// topics, with one long-poll Fetch request per leader broker at a time, and hands each
// subscription its records. A process that owns 12 partitions of 7 co-partitioned topics
// sends one request per round instead of keeping 84 long polls open; records of every
// partition that has some come back in the same response.
//
// Each Subscription is one consumer (a partition processor): it names the partitions and
// the offsets to read from, and takes its records with Next, in offset order per partition.
// A subscription that holds FeedConfig.Buffered records its consumer has not taken is left
// out of the fetches until it takes them: a slow consumer never makes the feed buffer
// without bound, nor holds back the other subscriptions.
//
// Feed is safe for concurrent use. Close ends its fetches; Next then fails.
type Feed struct {
	cfg     FeedConfig
	fetcher *fetcher
	log     zerolog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	loops  sync.WaitGroup

	mu      sync.Mutex
	parts   map[TopicPartition]*feedPart
	leaders map[int32]bool // leaders with a running fetch loop
	changed chan struct{}  // closed (and replaced) when the set of fetchable partitions grows
	closed  bool
}

// feedPart is one subscribed partition.
type feedPart struct {
	sub    *Subscription
	offset int64 // next offset to fetch
	leader int32
}

// NewFeed returns a Feed that reaches the cluster with c. Close it when done.
func NewFeed(c Config, fc FeedConfig) *Feed {
	fc = fc.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Feed{
		cfg:     fc,
		fetcher: newFetcher(c),
		log:     fc.Logger,
		ctx:     ctx,
		cancel:  cancel,
		parts:   make(map[TopicPartition]*feedPart),
		leaders: make(map[int32]bool),
		changed: make(chan struct{}),
	}
}

// Close stops every fetch, waits for them to end and releases the connections. Pending
// and later Next calls return ErrFeedClosed.
func (f *Feed) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	for _, p := range f.parts {
		p.sub.fail(ErrFeedClosed)
	}
	f.mu.Unlock()
	f.cancel()
	f.loops.Wait()
	return f.fetcher.Close()
}

// ErrFeedClosed is returned by Subscribe and Next once the Feed is closed.
var ErrFeedClosed = errors.New("kafka feed closed")

// Subscribe starts reading every partition of offsets from its offset (the next offset to
// read; kafkago.FirstOffset: the log start, kafkago.LastOffset: the end). A partition may belong to one subscription at a time. Close the subscription when
// the consumer stops: its partitions are no longer fetched, and records fetched for it but
// not taken are dropped (a later subscription reads them again from its own offsets).
func (f *Feed) Subscribe(ctx context.Context, offsets map[TopicPartition]int64) (*Subscription, error) {
	if len(offsets) == 0 {
		return nil, errors.New("subscribing: no partitions")
	}
	leaders, err := f.leadersOf(ctx, offsets)
	if err != nil {
		return nil, err
	}
	s := &Subscription{feed: f, ready: make(chan struct{}, 1), hwm: make(map[TopicPartition]int64, len(offsets))}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, ErrFeedClosed
	}
	for tp := range offsets {
		if p, ok := f.parts[tp]; ok && !p.sub.isClosed() {
			return nil, fmt.Errorf("subscribing: %s[%d] is already subscribed", tp.Topic, tp.Partition)
		}
	}
	for tp, off := range offsets {
		s.tps = append(s.tps, tp)
		f.parts[tp] = &feedPart{sub: s, offset: off, leader: leaders[tp]}
		f.startLoop(leaders[tp])
	}
	f.wake()
	return s, nil
}

// leadersOf finds the leader broker of every partition of offsets.
func (f *Feed) leadersOf(ctx context.Context, offsets map[TopicPartition]int64) (map[TopicPartition]int32, error) {
	var msgs []kafkago.Message
	seen := map[string]bool{}
	for tp := range offsets {
		if !seen[tp.Topic] {
			seen[tp.Topic] = true
			msgs = append(msgs, kafkago.Message{Topic: tp.Topic})
		}
	}
	layouts, err := f.fetcher.layouts.layouts(ctx, msgs)
	if err != nil {
		return nil, fmt.Errorf("subscribing: %w", err)
	}
	out := make(map[TopicPartition]int32, len(offsets))
	for tp := range offsets {
		leader, ok := layouts[tp.Topic].leader[tp.Partition]
		if !ok {
			return nil, fmt.Errorf("subscribing: %s[%d]: %w", tp.Topic, tp.Partition, kafkago.UnknownTopicOrPartition)
		}
		out[tp] = leader
	}
	return out, nil
}

// startLoop starts the fetch loop of leader unless it runs (under f.mu).
func (f *Feed) startLoop(leader int32) {
	if f.leaders[leader] {
		return
	}
	f.leaders[leader] = true
	f.loops.Add(1)
	go func() {
		defer f.loops.Done()
		f.loop(leader)
	}()
}

// wake tells idle loops that there may be partitions to fetch (under f.mu).
func (f *Feed) wake() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// loop fetches, until the feed closes, the partitions led by leader whose subscriptions have
// room, and delivers what comes back.
func (f *Feed) loop(leader int32) {
	backoff := 100 * time.Millisecond
	for f.ctx.Err() == nil {
		offsets, changed := f.fetchable(leader)
		if len(offsets) == 0 {
			select {
			case <-changed:
			case <-f.ctx.Done():
			}
			continue
		}
		tps := make([]TopicPartition, 0, len(offsets))
		for tp := range offsets {
			tps = append(tps, tp)
		}
		res, err := f.fetcher.fetchOne(f.ctx, tps, offsets, f.cfg.MaxWait, f.cfg.MaxBytes)
		if err != nil {
			if f.ctx.Err() != nil {
				return
			}
			f.log.Warn().Err(err).Int32("leader", leader).Dur("backoff", backoff).Msg("fetching; retrying")
			f.relocate(offsets)
			select {
			case <-time.After(backoff):
			case <-f.ctx.Done():
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		f.deliver(offsets, res)
	}
}

// fetchable returns the offsets of leader's partitions whose subscriptions have room, and
// the channel closed when that set may have grown.
func (f *Feed) fetchable(leader int32) (map[TopicPartition]int64, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[TopicPartition]int64)
	for tp, p := range f.parts {
		if p.leader == leader && p.sub.hasRoom(f.cfg.Buffered) {
			out[tp] = p.offset
		}
	}
	return out, f.changed
}

// deliver hands the records of res to their subscriptions and advances the offsets. A
// partition whose subscription changed since the fetch was sent (closed, or subscribed again
// at another offset) is skipped.
func (f *Feed) deliver(asked map[TopicPartition]int64, res map[TopicPartition]FetchResult) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var moved map[TopicPartition]int64
	for tp, r := range res {
		p, ok := f.parts[tp]
		if !ok || p.offset != asked[tp] {
			continue
		}
		if p.sub.isClosed() {
			delete(f.parts, tp)
			continue
		}
		switch {
		case errors.Is(r.Err, kafkago.OffsetOutOfRange) && p.offset == kafkago.FirstOffset:
			p.offset = r.LogStartOffset
			continue
		case errors.Is(r.Err, kafkago.OffsetOutOfRange) && p.offset == kafkago.LastOffset:
			p.offset = r.HighWatermark
			continue
		case errors.Is(r.Err, kafkago.OffsetOutOfRange):
			next := r.LogStartOffset
			if p.offset > r.HighWatermark {
				next = r.HighWatermark
			}
			f.log.Error().Str("topic", tp.Topic).Int("partition", tp.Partition).Int64("offset", p.offset).
				Int64("log_start", r.LogStartOffset).Int64("high_watermark", r.HighWatermark).
				Msg("the offset to read is outside the log: records were lost to retention or the topic was recreated; continuing from the log start")
			p.offset = next
			continue
		case errors.Is(r.Err, kafkago.NotLeaderForPartition), errors.Is(r.Err, kafkago.LeaderNotAvailable),
			errors.Is(r.Err, kafkago.UnknownTopicOrPartition), errors.Is(r.Err, kafkago.FencedLeaderEpoch),
			errors.Is(r.Err, kafkago.NotCoordinatorForGroup):
			if moved == nil {
				moved = map[TopicPartition]int64{}
			}
			moved[tp] = p.offset
			continue
		case r.Err != nil:
			p.sub.fail(fmt.Errorf("fetching %s[%d]@%d: %w", tp.Topic, tp.Partition, p.offset, r.Err))
			delete(f.parts, tp)
			continue
		}
		if n := len(r.Records); n > 0 {
			p.offset = r.Records[n-1].Offset + 1
		}
		p.sub.push(tp, r.Records, r.HighWatermark)
	}
	if moved != nil {
		go f.relocate(moved)
	}
}

// relocate looks up the leaders of offsets' partitions again (after an error that may mean
// a leader moved) and moves them to their loops.
func (f *Feed) relocate(offsets map[TopicPartition]int64) {
	f.fetcher.layouts.forget()
	ctx, cancel := context.WithTimeout(f.ctx, 10*time.Second)
	defer cancel()
	leaders, err := f.leadersOf(ctx, offsets)
	if err != nil {
		return // the loop retries the fetch and relocates again
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	for tp, leader := range leaders {
		if p, ok := f.parts[tp]; ok && p.leader != leader {
			p.leader = leader
			f.startLoop(leader)
		}
	}
	f.wake()
}

// Subscription is one consumer's share of a Feed. Next and Close may be called from
// different goroutines; Next from one goroutine at a time.
type Subscription struct {
	feed *Feed
	tps  []TopicPartition

	mu      sync.Mutex
	pending []kafkago.Message
	hwm     map[TopicPartition]int64
	err     error
	closed  bool
	paused  bool          // left out of a fetch for want of room
	ready   chan struct{} // has a value when pending or err may have changed
}

// push appends records of tp (under the feed's lock).
func (s *Subscription) push(tp TopicPartition, records []kafkago.Message, hwm int64) {
	s.mu.Lock()
	s.pending = append(s.pending, records...)
	s.hwm[tp] = hwm
	s.mu.Unlock()
	if len(records) > 0 {
		s.signal()
	}
}

func (s *Subscription) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

func (s *Subscription) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.signal()
}

// hasRoom reports whether the subscription takes more records; when it is full it is marked
// paused, so that the consumer's next take wakes the feed.
func (s *Subscription) hasRoom(limit int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.err != nil {
		return false
	}
	if len(s.pending) >= limit {
		s.paused = true
		return false
	}
	return true
}

func (s *Subscription) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Next returns up to max records fetched for the subscription (max ≤ 0: all there are), in
// offset order per partition, waiting until there is at least one. It returns ctx's error
// when ctx ends first, and the feed's error for a partition that cannot be read (after which
// the subscription delivers nothing more).
func (s *Subscription) Next(ctx context.Context, max int) ([]kafkago.Message, error) {
	for {
		out, err := s.TryNext(max)
		if len(out) > 0 || err != nil {
			return out, err
		}
		select {
		case <-s.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Ready has a value when TryNext may have records (or an error) to return: it lets a
// consumer wait for records and for its own events (timers) in one select. After a receive
// from Ready, call TryNext; when records remain after it, Ready has a value again.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Buffered reports whether TryNext has records (or an error) to return now.
func (s *Subscription) Buffered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending) > 0 || s.err != nil
}

// TryNext is Next without the wait: it returns at once, with no records when none are there.
func (s *Subscription) TryNext(max int) ([]kafkago.Message, error) {
	s.mu.Lock()
	if len(s.pending) == 0 {
		err := s.err
		s.mu.Unlock()
		return nil, err
	}
	n := len(s.pending)
	if max > 0 && n > max {
		n = max
	}
	out := s.pending[:n:n]
	s.pending = s.pending[n:]
	left := len(s.pending) > 0
	if !left {
		s.pending = nil
	}
	paused := s.paused
	s.paused = false
	s.mu.Unlock()
	if left {
		s.signal()
	}
	if paused {
		s.feed.resume()
	}
	return out, nil
}

// Lag returns how many records of tp were behind the partition's end at the last fetch
// that returned it (0 before the first).
func (s *Subscription) Lag(tp TopicPartition, next int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(s.hwm[tp]-next, 0)
}

// Close ends the subscription: its partitions are no longer fetched. Safe to call twice.
func (s *Subscription) Close() {
	s.mu.Lock()
	s.closed = true
	s.pending = nil
	s.mu.Unlock()
	f := s.feed
	f.mu.Lock()
	for _, tp := range s.tps {
		if p, ok := f.parts[tp]; ok && p.sub == s {
			delete(f.parts, tp)
		}
	}
	f.mu.Unlock()
}

// resume wakes the loops after a consumer of a paused subscription took records.
func (f *Feed) resume() {
	f.mu.Lock()
	if !f.closed {
		f.wake()
	}
	f.mu.Unlock()
}
