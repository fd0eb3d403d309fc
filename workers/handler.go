package workers

import (
	"context"
	"reflect"
	"strings"

	"github.com/google/uuid"

	"github.com/podiumhq/podium/events"
)

// Handler handles the commands of one worker. Handle is called once per command that is not
// a repeat of an answered idempotency key; it must be safe for concurrent use (one goroutine
// per owned partition). A business failure is a Result with Outcome failure, not a panic; a
// transient problem (a database down) is a Result with Outcome error, which the orchestrator
// retries. ctx carries the per-command deadline, and ends early when the worker loses the
// command's partition (a rebalance, a shutdown): the batch is then abandoned — no reply is
// written, nothing is committed — and the partition's next owner handles the command again
// with the same idempotency key, so effects must be idempotent by that key.
//
// A Mux is a Handler built from one typed function per command type (see Handle).
type Handler interface {
	Handle(ctx context.Context, cmd Command) Result
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, cmd Command) Result

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, cmd Command) Result { return f(ctx, cmd) }

// Syncer is implemented by handlers that buffer their effects (see EffectLog). Run calls Sync
// after handling a batch and before writing its replies, so an effect is durable before the
// reply that reports it. A Sync error fails the batch: nothing is written or committed, and
// the batch is fetched and handled again.
type Syncer interface {
	Sync() error
}

// Command is a decoded and validated command, as a Handler sees it.
type Command struct {
	// Envelope is the command's CloudEvent; Envelope.Data is the typed payload of
	// Envelope.Type (events.ReserveInventory for events.TypeInventoryReserve, ...).
	Envelope events.Envelope
}

// Type is the command type, e.g. events.TypeInventoryReserve.
func (c Command) Type() string { return c.Envelope.Type }

// ID is the command's CloudEvents id, the correlationid of its reply.
func (c Command) ID() string { return c.Envelope.ID }

// OrderID is the order the command is about (the CloudEvents subject): the saga ID, which
// for the order saga is the order ID. SagaID is the same under the name that fits sagas of
// other types.
func (c Command) OrderID() string { return c.Envelope.Subject }

// SagaID is the saga the command belongs to (the CloudEvents subject, also the record key):
// "ord-1" for an order, "ret-1" for a return, the user's ID for a saga type of their own.
func (c Command) SagaID() string { return c.Envelope.Subject }

// IdempotencyKey is stable across the attempts of one step: "ord-1/reserve-inventory" for
// an action, "ord-1/reserve-inventory/undo" for its compensation.
func (c Command) IdempotencyKey() string { return c.Envelope.IdempotencyKey }

// Step is the saga step the command belongs to.
func (c Command) Step() string { return c.Envelope.Step }

// Decode stores the command's data in v, a pointer to the command type's payload struct:
// a copy of the payload events.Decode made (Envelope.Payload) when v has its type, else the
// data unmarshalled with encoding/json.
func (c Command) Decode(v any) error {
	if p := c.Envelope.Payload; p != nil && reflect.TypeOf(v) == reflect.TypeOf(p) {
		dst, src := reflect.ValueOf(v), reflect.ValueOf(p)
		if dst.Kind() == reflect.Pointer && !dst.IsNil() && !src.IsNil() {
			dst.Elem().Set(src.Elem())
			return nil
		}
	}
	return c.Envelope.DecodeData(v)
}

// Result is a Handler's answer. Build it with Success, Failure or Retryable.
type Result struct {
	// Outcome is events.OutcomeSuccess, events.OutcomeFailure (a business failure: the saga
	// compensates) or events.OutcomeError (retryable: not stored, the orchestrator retries).
	// Any other value is replied as an error with reason "invalid_outcome".
	Outcome string
	// Reason is the machine-readable reason of a failure or error ("out_of_stock").
	// Default for a failure or error without one: "unspecified".
	Reason string
	// Message is human-readable detail.
	Message string
	// Result is marshalled to JSON as the reply's result on success
	// ({"reservation_id": "..."}); nil means no result.
	Result any
}

// Success is a successful outcome with result (nil for none).
func Success(result any) Result {
	return Result{Outcome: events.OutcomeSuccess, Result: result}
}

// Failure is a business failure: final, stored, and the saga compensates.
func Failure(reason, message string) Result {
	return Result{Outcome: events.OutcomeFailure, Reason: reason, Message: message}
}

// Retryable is a transient error: replied with outcome error and not stored, so the
// orchestrator's retry runs the handler again.
func Retryable(reason, message string) Result {
	return Result{Outcome: events.OutcomeError, Reason: reason, Message: message}
}

// idNamespace is the UUID namespace of StableID.
var idNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/podiumhq/podium/workers"))

// StableID derives a deterministic UUID from a worker name and an idempotency key, so a
// handler that runs again for the same key (after a crash) hands out the same reservation,
// authorization, ... ID.
func StableID(worker, key string) string {
	return uuid.NewSHA1(idNamespace, []byte(worker+"\x00"+key)).String()
}

// undoSuffix ends the idempotency key of a compensation.
const undoSuffix = "/undo"

// UndoneKey returns the idempotency key of the action that the compensation with key undoes:
// "ord-1/reserve-inventory/undo" → "ord-1/reserve-inventory". A key without the "/undo"
// suffix is returned with ok false.
func UndoneKey(key string) (string, bool) {
	return strings.CutSuffix(key, undoSuffix)
}
