package workers

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// Reasons of the failure replies a Mux gives without calling a handler.
const (
	// ReasonInvalidPayload fails a command whose data does not decode into its handler's
	// type. Run only hands a Mux commands whose data passed the type's JSON Schema, so this
	// means the Go type does not match the schema: a programming error, not a business
	// failure of the command.
	ReasonInvalidPayload = "invalid_payload"
	// ReasonUnknownCommand fails a command of a type no handler is registered for (a
	// Config.Types entry without a Handle call).
	ReasonUnknownCommand = "unknown_command"
)

// Mux is a Handler that dispatches each command to the typed handler registered for its
// type with Handle, so a worker's code never switches on type strings or decodes by hand:
//
//	m := workers.NewMux()
//	workers.Handle(m, events.TypeInventoryReserve, reserve) // reserve(ctx, cmd, events.ReserveInventory)
//	workers.Handle(m, events.TypeInventoryRelease, release)
//	err := workers.Run(ctx, workers.Config{Worker: "inventory", Types: m.Types()}, m)
//
// A command of a type without a handler is answered with Failure(ReasonUnknownCommand, ...),
// one whose data does not decode into the handler's type with Failure(ReasonInvalidPayload,
// ...); the Mux logs neither. Both are failures, final like any: the saga compensates.
//
// The zero value is an empty Mux ready to use; NewMux returns one. A Mux must not be copied
// after first use. It is safe for concurrent use: Run calls Handle from one goroutine per
// partition, and handlers may be registered at any time (a command arriving before its
// handler is registered is an unknown command).
type Mux struct {
	// SyncFunc, when set, is called by Sync: Run calls it after handling each batch and
	// before writing its replies (see Syncer), typically an EffectLog's Sync. Set it before
	// Run. Default: none (Sync returns nil).
	SyncFunc func() error

	mu       sync.RWMutex
	handlers map[string]func(ctx context.Context, cmd Command) Result
	types    []string // in registration order
}

// NewMux returns an empty Mux.
func NewMux() *Mux { return &Mux{} }

// Handle registers fn as the handler of commandType on m. For each command of that type, the
// Mux calls fn with the data as a C: the payload events.Decode made (cmd.Envelope.Payload)
// when it is a *C, else the data decoded into a new C (with Command.Decode, encoding/json);
// a decoding error is answered with Failure(ReasonInvalidPayload, ...) without calling fn.
// C is the command's payload type, e.g. events.ReserveInventory for
// events.TypeInventoryReserve, or a type of the caller's own registered with events.Register.
//
// fn follows the contract of Handler.Handle (concurrent calls, per-command deadline in ctx,
// effects idempotent by cmd.IdempotencyKey()). Handle panics if commandType is empty, fn is
// nil, or commandType already has a handler on m, like http.ServeMux: these are mistakes in
// the program's setup.
func Handle[C any](m *Mux, commandType string, fn func(ctx context.Context, cmd Command, data C) Result) {
	if commandType == "" {
		panic("workers: Handle with an empty command type")
	}
	if fn == nil {
		panic(fmt.Sprintf("workers: Handle(%q) with a nil handler", commandType))
	}
	h := func(ctx context.Context, cmd Command) Result {
		if p, ok := cmd.Envelope.Payload.(*C); ok { // decoded by events.Decode
			return fn(ctx, cmd, *p)
		}
		var data C
		if err := cmd.Decode(&data); err != nil {
			return Failure(ReasonInvalidPayload, fmt.Sprintf("decoding %s data into %T: %v", cmd.Type(), data, err))
		}
		return fn(ctx, cmd, data)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.handlers[commandType]; dup {
		panic(fmt.Sprintf("workers: Handle(%q) twice", commandType))
	}
	if m.handlers == nil {
		m.handlers = make(map[string]func(ctx context.Context, cmd Command) Result)
	}
	m.handlers[commandType] = h
	m.types = append(m.types, commandType)
}

// Handle implements Handler: it calls the handler registered for cmd's type.
func (m *Mux) Handle(ctx context.Context, cmd Command) Result {
	m.mu.RLock()
	h, ok := m.handlers[cmd.Type()]
	m.mu.RUnlock()
	if !ok {
		return Failure(ReasonUnknownCommand, fmt.Sprintf("no handler for command type %q", cmd.Type()))
	}
	return h(ctx, cmd)
}

// Types returns the command types registered on m, in registration order, for
// Config.Types. The slice is a copy.
func (m *Mux) Types() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Clone(m.types)
}

// Sync implements Syncer: it calls SyncFunc, if set.
func (m *Mux) Sync() error {
	if m.SyncFunc == nil {
		return nil
	}
	return m.SyncFunc()
}
