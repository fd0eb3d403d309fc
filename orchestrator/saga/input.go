package saga

import (
	"encoding/json"
	"time"
)

// InputKind is the kind of an Input.
type InputKind string

// Input kinds.
const (
	InputStart   InputKind = "start"
	InputReply   InputKind = "reply"
	InputTimer   InputKind = "timer"
	InputControl InputKind = "control"
)

// Control actions of an InputControl.
const (
	ControlCancel = "cancel"
	ControlRetry  = "retry"
)

// Reply outcomes, as carried by the CloudEvents "outcome" extension.
const (
	ReplySuccess = "success" // the action happened; Result holds its result
	ReplyFailure = "failure" // a business failure: the action did not happen, do not retry
	ReplyError   = "error"   // a retryable error
)

// Input is one thing that happens to a saga. Build it with StartInput, ReplyInput,
// TimerInput, CancelInput or RetryInput.
type Input struct {
	Kind InputKind

	// start
	SagaID      string
	Payload     json.RawMessage
	Seed        uint64
	TraceParent string

	// reply
	CommandID string
	Step      string
	Outcome   string // ReplySuccess, ReplyFailure or ReplyError
	Result    json.RawMessage

	// control; on a start, ControlCancel starts the saga cancelled (StartCancelledInput)
	Action string // ControlCancel or ControlRetry

	// Reason is the failure/error reason of a reply, or the reason of a control request.
	Reason string
}

// StartInput starts saga sagaID with its input payload (valid JSON), the seed of its retry
// jitter, and the W3C traceparent to propagate on its commands.
func StartInput(sagaID string, payload json.RawMessage, seed uint64, traceParent string) Input {
	return Input{Kind: InputStart, SagaID: sagaID, Payload: payload, Seed: seed, TraceParent: traceParent}
}

// StartCancelledInput starts saga sagaID already cancelled, for a cancel request (reason)
// that arrived before the start and was held by the runtime: the saga records its start
// and the cancel, skips every step — OnCompensated steps too, as nothing happened that
// needs announcing — and is compensated at once. No command is sent.
func StartCancelledInput(sagaID string, payload json.RawMessage, seed uint64, traceParent, reason string) Input {
	in := StartInput(sagaID, payload, seed, traceParent)
	in.Action, in.Reason = ControlCancel, reason
	return in
}

// ReplyInput is a worker's reply to command commandID of step. outcome is ReplySuccess,
// ReplyFailure or ReplyError; reason is the machine reason of a failure or error; result
// is the success result (JSON).
func ReplyInput(commandID, step, outcome, reason string, result json.RawMessage) Input {
	return Input{Kind: InputReply, CommandID: commandID, Step: step, Outcome: outcome, Reason: reason, Result: result}
}

// TimerInput fires every deadline and retry time due at Apply's now.
func TimerInput() Input { return Input{Kind: InputTimer} }

// CancelInput asks a running saga to cancel (compensate). It is rejected in any other
// status.
func CancelInput(reason string) Input {
	return Input{Kind: InputControl, Action: ControlCancel, Reason: reason}
}

// RetryInput asks a failed saga to retry its failed compensations with a fresh attempt
// budget. It is rejected in any other status.
func RetryInput(reason string) Input {
	return Input{Kind: InputControl, Action: ControlRetry, Reason: reason}
}

// Command is a command to send to a worker.
type Command struct {
	ID     string // deterministic: CommandID(SagaID, Step, Compensation, Attempt)
	SagaID string
	Step   string
	Worker string
	Type   string
	// Attempt is 1-based and never reused within a phase, even across operator retries.
	Attempt int
	// IdempotencyKey is stable across attempts: see [IdempotencyKey].
	IdempotencyKey string
	Compensation   bool
	Payload        json.RawMessage
	// Deadline is when the attempt times out.
	Deadline time.Time
}

// EventKind is the kind of an Event.
type EventKind string

// Event kinds.
const (
	EventMilestone   EventKind = "milestone"   // Name: the milestone
	EventCompleted   EventKind = "completed"   // the saga completed
	EventCompensated EventKind = "compensated" // Reason, Step: why the saga compensated
	EventFailed      EventKind = "failed"      // Step, Reason: the compensation that failed
	EventRejected    EventKind = "rejected"    // Name: the control action; Reason: why rejected
)

// Event is something to announce about the saga.
type Event struct {
	Kind   EventKind
	Name   string
	Reason string
	Step   string
}

// Outputs is what Apply asks the caller to do.
type Outputs struct {
	Commands []Command
	Events   []Event
	// History lists the transitions this input made, oldest first: the saga's audit trail,
	// which the runtime publishes (the state does not keep it).
	History []HistoryEntry
	// Changed reports whether the state changed (a history entry counts); when false the
	// returned state equals the input state and need not be written.
	Changed bool
	// Ignored is why the input was recorded and ignored — "duplicate", "late", "unknown" or
	// "invalid outcome" for a reply — and empty when it was applied.
	Ignored string
	// Settled is the attempt a reply answered (success, failure or error), nil for other
	// inputs and ignored replies.
	Settled *Settlement
}

// Settlement is one step attempt answered by a reply: what a runtime needs to measure the
// step's latency, without reading it back from the state or the history.
type Settlement struct {
	Step         string
	Compensation bool
	Attempt      int
	Outcome      string // ReplySuccess, ReplyFailure or ReplyError
	// DispatchedAt is when the attempt's command was dispatched (its deadline minus the
	// action's timeout).
	DispatchedAt time.Time
}
