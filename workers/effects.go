package workers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Effect is one change a worker made to the world: a reservation made or released, a payment
// authorized or voided, a message sent. Effects are keyed by the idempotency key of the
// command that caused them; one key causes at most one effect.
type Effect struct {
	Worker         string    `json:"worker"`
	IdempotencyKey string    `json:"idempotency_key"`
	OrderID        string    `json:"order_id"`
	Step           string    `json:"step"`
	Kind           string    `json:"kind"` // "reserved", "released", "authorized", ...
	CommandID      string    `json:"command_id"`
	Ref            string    `json:"ref,omitempty"` // the ID of what was created or undone
	Time           time.Time `json:"time"`
}

// NewEffect describes an effect of kind caused by cmd, at the current time (UTC).
func NewEffect(worker string, cmd Command, kind, ref string) Effect {
	return Effect{
		Worker:         worker,
		IdempotencyKey: cmd.IdempotencyKey(),
		OrderID:        cmd.OrderID(),
		Step:           cmd.Step(),
		Kind:           kind,
		CommandID:      cmd.ID(),
		Ref:            ref,
		Time:           time.Now().UTC(),
	}
}

// EffectLog records a worker's effects by idempotency key. It is how a handler keeps its
// effects idempotent when the runtime runs it twice for one key (a crash before the
// processed record was written): the second Record of a key records nothing and reports
// false. Implementations are safe for concurrent use.
type EffectLog interface {
	// Record stores e unless an effect is already recorded for e.IdempotencyKey, and reports
	// whether e was stored.
	Record(e Effect) (bool, error)
	// Lookup returns the effect recorded for key, if any.
	Lookup(key string) (Effect, bool, error)
	// Sync makes the recorded effects durable. The runtime calls it once per batch, through
	// the handler's Sync method (see Syncer).
	Sync() error
}

// MemoryEffects is an in-memory EffectLog, for tests and for workers without an effects
// file. It also counts every Record call per key, stored or not, so tests can tell how often
// a handler tried to cause an effect. The zero value is not usable; use NewMemoryEffects.
type MemoryEffects struct {
	mu       sync.Mutex
	byKey    map[string]Effect
	order    []Effect
	attempts map[string]int
	retain   time.Duration // 0: keep every effect
}

// NewMemoryEffects returns an empty MemoryEffects that keeps every effect (tests).
func NewMemoryEffects() *MemoryEffects {
	return &MemoryEffects{byKey: map[string]Effect{}, attempts: map[string]int{}}
}

// NewMemoryEffectsFor returns an empty MemoryEffects that forgets an effect retain after it
// was recorded, so that a long-running worker's memory follows the window, not the number
// of commands ever handled. A key must stay known for as long as the runtime may run its
// handler again: `podium worker` uses its processed retention.
func NewMemoryEffectsFor(retain time.Duration) *MemoryEffects {
	m := NewMemoryEffects()
	m.retain = retain
	return m
}

// Record implements EffectLog.
func (m *MemoryEffects) Record(e Effect) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(e.Time)
	m.attempts[e.IdempotencyKey]++
	if _, ok := m.byKey[e.IdempotencyKey]; ok {
		return false, nil
	}
	m.byKey[e.IdempotencyKey] = e
	m.order = append(m.order, e)
	return true, nil
}

// expire forgets the effects recorded more than retain before now (none when retain is 0).
// Effects are recorded in time order, so they leave from the front.
func (m *MemoryEffects) expire(now time.Time) {
	if m.retain <= 0 {
		return
	}
	n := 0
	for n < len(m.order) && !m.order[n].Time.Add(m.retain).After(now) {
		delete(m.byKey, m.order[n].IdempotencyKey)
		delete(m.attempts, m.order[n].IdempotencyKey)
		n++
	}
	if n > 0 {
		clear(m.order[:n]) // the array's front is reclaimed when append next reallocates
		m.order = m.order[n:]
	}
}

// Lookup implements EffectLog.
func (m *MemoryEffects) Lookup(key string) (Effect, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.byKey[key]
	return e, ok, nil
}

// Sync implements EffectLog; it does nothing.
func (m *MemoryEffects) Sync() error { return nil }

// Effects returns the recorded effects in the order they were recorded.
func (m *MemoryEffects) Effects() []Effect {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Effect(nil), m.order...)
}

// Attempts is how many times Record was called for key, including calls that recorded
// nothing because the key already had an effect.
func (m *MemoryEffects) Attempts(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.attempts[key]
}

// FileEffects is an EffectLog in a JSON-lines file, one Effect per line, for `podium worker
// --effects-file`. Open loads the keys already in the file, so an effect recorded before a
// crash is not recorded again after the restart. Record appends one line with a single
// write; Sync fsyncs the file (the runtime does that once per batch).
//
// Several processes may share one file: every Record and Lookup takes an exclusive advisory
// lock on the file (flock, on Unix) and first reads the lines other processes appended, so a
// key is recorded once across all of them. A torn last line (a crash in the middle of a
// write) is terminated on open and skipped. FileEffects is safe for concurrent use.
type FileEffects struct {
	mu      sync.Mutex
	f       *os.File
	path    string
	byKey   map[string]Effect
	offset  int64 // bytes of the file already parsed
	skipped int
	dirty   bool
}

// OpenFileEffects opens (creating it if needed) the effects file at path and loads it.
func OpenFileEffects(path string) (*FileEffects, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening effects file: %w", err)
	}
	fe := &FileEffects{f: f, path: path, byKey: map[string]Effect{}}
	err = fe.locked(func() error {
		if err := fe.refresh(); err != nil {
			return err
		}
		return fe.terminateTornLine()
	})
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("loading effects file %s: %w", path, err)
	}
	return fe, nil
}

// Record implements EffectLog.
func (fe *FileEffects) Record(e Effect) (bool, error) {
	line, err := json.Marshal(e)
	if err != nil {
		return false, fmt.Errorf("encoding effect: %w", err)
	}
	line = append(line, '\n')
	recorded := false
	err = fe.locked(func() error {
		if err := fe.refresh(); err != nil {
			return err
		}
		if _, ok := fe.byKey[e.IdempotencyKey]; ok {
			return nil
		}
		if _, err := fe.f.Write(line); err != nil {
			return fmt.Errorf("appending effect: %w", err)
		}
		fe.offset += int64(len(line))
		fe.byKey[e.IdempotencyKey] = e
		fe.dirty = true
		recorded = true
		return nil
	})
	return recorded, err
}

// Lookup implements EffectLog.
func (fe *FileEffects) Lookup(key string) (Effect, bool, error) {
	var (
		e  Effect
		ok bool
	)
	err := fe.locked(func() error {
		if err := fe.refresh(); err != nil {
			return err
		}
		e, ok = fe.byKey[key]
		return nil
	})
	return e, ok, err
}

// Sync implements EffectLog: it fsyncs the file if anything was appended since the last Sync.
func (fe *FileEffects) Sync() error {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	if !fe.dirty {
		return nil
	}
	if err := fe.f.Sync(); err != nil {
		return fmt.Errorf("syncing effects file: %w", err)
	}
	fe.dirty = false
	return nil
}

// Skipped is the number of lines that could not be parsed (torn or foreign lines).
func (fe *FileEffects) Skipped() int {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	return fe.skipped
}

// Close syncs and closes the file.
func (fe *FileEffects) Close() error {
	err := fe.Sync()
	fe.mu.Lock()
	defer fe.mu.Unlock()
	return errors.Join(err, fe.f.Close())
}

// locked runs fn holding the in-process mutex and the file lock.
func (fe *FileEffects) locked(fn func() error) error {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	if err := lockFile(fe.f); err != nil {
		return fmt.Errorf("locking effects file: %w", err)
	}
	defer func() { _ = unlockFile(fe.f) }()
	return fn()
}

// refresh parses the complete lines appended since the last call. Callers hold the locks.
func (fe *FileEffects) refresh() error {
	info, err := fe.f.Stat()
	if err != nil {
		return fmt.Errorf("reading effects file: %w", err)
	}
	if info.Size() <= fe.offset {
		return nil
	}
	buf := make([]byte, info.Size()-fe.offset)
	n, err := fe.f.ReadAt(buf, fe.offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading effects file: %w", err)
	}
	buf = buf[:n]
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			return nil // an incomplete last line: parsed once it is complete
		}
		line := bytes.TrimSpace(buf[:i])
		buf = buf[i+1:]
		fe.offset += int64(i + 1)
		if len(line) == 0 {
			continue
		}
		var e Effect
		if err := json.Unmarshal(line, &e); err != nil || e.IdempotencyKey == "" {
			fe.skipped++
			continue
		}
		if _, ok := fe.byKey[e.IdempotencyKey]; !ok {
			fe.byKey[e.IdempotencyKey] = e
		}
	}
}

// terminateTornLine ends an incomplete last line (a write cut by a crash) with a newline, so
// the next append starts a line of its own; the torn line is then skipped as unparsable.
// Callers hold the locks and have just refreshed.
func (fe *FileEffects) terminateTornLine() error {
	info, err := fe.f.Stat()
	if err != nil {
		return fmt.Errorf("reading effects file: %w", err)
	}
	if info.Size() == fe.offset {
		return nil
	}
	if _, err := fe.f.Write([]byte{'\n'}); err != nil {
		return fmt.Errorf("terminating torn line: %w", err)
	}
	fe.dirty = true
	return fe.refresh()
}
