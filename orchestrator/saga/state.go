package saga

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// FormatVersion is the State.Format this package writes. Format 1 (which carried the
// history inside every state) is still read: its history is dropped on decoding.
const FormatVersion = 2

// Status is the status of a saga instance.
type Status string

// Saga statuses.
const (
	StatusRunning      Status = "running"      // steps are being executed
	StatusCompensating Status = "compensating" // a required step failed or a cancel arrived
	StatusCompleted    Status = "completed"    // every step succeeded (or failed, if optional)
	StatusCompensated  Status = "compensated"  // every compensation succeeded
	StatusFailed       Status = "failed"       // a compensation failed; waits for an operator's retry
)

// Terminal reports whether the status never changes again (completed, compensated).
// Failed is not terminal: an operator may retry it.
func (s Status) Terminal() bool { return s == StatusCompleted || s == StatusCompensated }

// StepStatus is the status of one step.
type StepStatus string

// Step statuses. The forward path is pending → dispatched (↔ retry_wait) → succeeded |
// failed; compensation is then compensating → compensated | compensation_failed. Steps
// that never started when the saga began compensating (or completed, for OnCompensated
// steps) are skipped.
const (
	StepPending            StepStatus = "pending"
	StepDispatched         StepStatus = "dispatched"
	StepRetryWait          StepStatus = "retry_wait"
	StepSucceeded          StepStatus = "succeeded"
	StepFailed             StepStatus = "failed"
	StepCompensating       StepStatus = "compensating"
	StepCompensated        StepStatus = "compensated"
	StepCompensationFailed StepStatus = "compensation_failed"
	StepSkipped            StepStatus = "skipped"
)

// Outcome is what is known about a step's forward action once it stopped.
type Outcome string

// Step outcomes.
const (
	OutcomeNone    Outcome = ""        // not settled yet
	OutcomeSuccess Outcome = "success" // a success reply was applied
	OutcomeFailure Outcome = "failure" // a business failure reply (or a build error): nothing to undo
	OutcomeUnknown Outcome = "unknown" // errors or timeouts exhausted, or abandoned: may have happened
)

// Phase is the attempt bookkeeping of one action of a step (its forward action or its
// compensation).
type Phase struct {
	// Attempt is the number of the latest attempt dispatched (1-based; 0 = never).
	Attempt int `json:"attempt,omitempty"`
	// Base is the attempt number before the current attempt budget started (an operator's
	// retry gives a fresh budget without reusing attempt numbers).
	Base int `json:"base,omitempty"`
	// CommandID is the ID of the latest attempt's command.
	CommandID string `json:"command_id,omitempty"`
	// Deadline is set while the latest attempt awaits its reply.
	Deadline time.Time `json:"deadline,omitzero"`
	// RetryAt is set while waiting to dispatch the next attempt.
	RetryAt time.Time `json:"retry_at,omitzero"`
	// Answered lists the command IDs whose replies were applied.
	Answered []string `json:"answered,omitempty"`
	// Reason is the latest failure or error reason.
	Reason string `json:"reason,omitempty"`
}

// StepState is the state of one step of a saga instance.
type StepState struct {
	Status  StepStatus      `json:"status"`
	Outcome Outcome         `json:"outcome,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"` // the success reply's result
	Do      Phase           `json:"do,omitzero"`
	Undo    Phase           `json:"undo,omitzero"`
}

// Awaiting reports whether the step waits for a reply or a retry (of either phase).
func (st *StepState) Awaiting() bool {
	switch st.Status {
	case StepDispatched, StepRetryWait, StepCompensating:
		return true
	}
	return false
}

// HistoryEntry is one transition of a saga instance.
type HistoryEntry struct {
	Time      time.Time `json:"time"`
	Kind      string    `json:"kind"`
	Step      string    `json:"step,omitempty"`
	Attempt   int       `json:"attempt,omitempty"`
	CommandID string    `json:"command_id,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// History entry kinds.
const (
	HistoryStarted            = "started"             // Detail: none
	HistoryDuplicateStart     = "duplicate_start"     // a second start for the saga
	HistoryDispatched         = "dispatched"          // a forward command was sent
	HistoryCompensationSent   = "compensation_sent"   // a compensation command was sent
	HistorySucceeded          = "succeeded"           // a success reply was applied
	HistoryFailed             = "failed"              // a step failed (Detail: reason)
	HistoryError              = "error"               // a retryable error reply (Detail: reason)
	HistoryTimeout            = "timeout"             // an attempt's deadline passed
	HistoryRetryScheduled     = "retry_scheduled"     // Detail: the retry time
	HistoryAbandoned          = "abandoned"           // a waiting retry was dropped by compensation
	HistorySkipped            = "skipped"             // a pending step will never run
	HistoryBuildFailed        = "build_failed"        // a payload builder returned an error
	HistoryIgnored            = "ignored"             // Detail: "duplicate", "late" or "unknown" + outcome
	HistoryMilestone          = "milestone"           // Detail: the milestone name
	HistoryCompleted          = "completed"           // the saga completed
	HistoryCompensating       = "compensating"        // the saga began compensating (Detail: reason)
	HistoryCompensated        = "compensated"         // a step (Step set) or the saga was compensated
	HistoryCompensationFailed = "compensation_failed" // a step's compensation failed (Detail: reason)
	HistorySagaFailed         = "saga_failed"         // the saga is failed, waiting for an operator
	HistoryCancel             = "cancel"              // a cancel request (Detail: reason)
	HistoryRetry              = "retry"               // an operator retry (Detail: reason)
	HistoryRejected           = "rejected"            // a control request was rejected (Detail: why)
)

// State is one saga instance: what the engine needs to continue it, and nothing more (its
// history is an output of Apply, not part of the state). It is a plain value:
// JSON-serialisable losslessly (times are kept in UTC without monotonic readings, raw JSON
// compacted), versioned by Format.
//
// A state returned by Apply shares with the state it was applied to its Input, its
// Milestones list and the StepState of every step the input did not change (their Results
// and Answered lists too): treat the states Apply takes and returns as immutable below
// their own fields — setting a field of the State is fine, writing into a StepState, the
// Steps map or the bytes and elements of a slice is not. Clone makes a copy that shares
// nothing.
type State struct {
	Format      int             `json:"format"`
	SagaID      string          `json:"saga_id"`
	Definition  string          `json:"definition"`
	Status      Status          `json:"status"`
	Input       json.RawMessage `json:"input,omitempty"`
	Seed        uint64          `json:"seed"`
	TraceParent string          `json:"traceparent,omitempty"`
	// Steps holds every step of the definition, OnCompensated steps included.
	Steps map[string]*StepState `json:"steps"`
	// Milestones lists the milestones reached, in order.
	Milestones []string `json:"milestones,omitempty"`
	// Reason is why the saga is compensating (a step's failure reason or the cancel reason).
	Reason string `json:"reason,omitempty"`
	// FailedStep is the required step whose failure started the compensation ("" for a cancel).
	FailedStep string `json:"failed_step,omitempty"`
	// Version is bumped by Apply on every change.
	Version uint64 `json:"version"`
	// Generation is owned by the runtime (fencing); Apply copies it unchanged.
	Generation int32     `json:"generation,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// UnmarshalJSON decodes a state of format 2, or of format 1 (whose history is dropped:
// the timeline lives on the audit stream now), and rejects unknown format versions. The
// decoded state is of format 2.
func (s *State) UnmarshalJSON(b []byte) error {
	type plain State
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	switch p.Format {
	case FormatVersion:
	case 1:
		p.Format = FormatVersion
	default:
		return fmt.Errorf("decoding saga state: unknown format version %d (want 1 or %d)", p.Format, FormatVersion)
	}
	*s = State(p)
	return nil
}

// Finished reports whether the saga will never change again, by itself nor by an
// operator: its status is terminal (completed, compensated) and no step waits for a reply
// or a retry (the OnCompensated steps of a compensated saga may still run). The runtime
// drops a finished saga from memory.
func (s *State) Finished() bool {
	if !s.Status.Terminal() {
		return false
	}
	for _, st := range s.Steps {
		if st != nil && st.Awaiting() {
			return false
		}
	}
	return true
}

// Clone returns a deep copy of s: it shares no memory with s.
func (s *State) Clone() *State {
	if s == nil {
		return nil
	}
	c := *s
	c.Input = bytes.Clone(s.Input)
	if s.Steps != nil {
		c.Steps = make(map[string]*StepState, len(s.Steps))
		steps := make([]StepState, 0, len(s.Steps)) // one allocation for every step
		for name, st := range s.Steps {
			if st == nil {
				c.Steps[name] = nil
				continue
			}
			steps = append(steps, *st)
			cs := &steps[len(steps)-1]
			cs.Result = bytes.Clone(st.Result)
			cs.Do.Answered = slices.Clone(st.Do.Answered)
			cs.Undo.Answered = slices.Clone(st.Undo.Answered)
			c.Steps[name] = cs
		}
	}
	c.Milestones = slices.Clone(s.Milestones)
	return &c
}

// successor is the copy of s that Apply changes: the state and its map of steps are
// copied; the steps' states are shared until the engine writes one (engine.mut copies it
// first), and so are Input and the Milestones list (clipped, so that appending copies).
func (s *State) successor() *State {
	c := *s
	c.Steps = maps.Clone(s.Steps)
	c.Milestones = slices.Clip(s.Milestones)
	return &c
}

// NextTimer returns the earliest step deadline or retry time, or false if there is none.
func (s *State) NextTimer() (time.Time, bool) {
	var next time.Time
	found := false
	consider := func(t time.Time) {
		if !t.IsZero() && (!found || t.Before(next)) {
			next, found = t, true
		}
	}
	for _, st := range s.Steps {
		if st == nil {
			continue
		}
		consider(st.Do.Deadline)
		consider(st.Do.RetryAt)
		consider(st.Undo.Deadline)
		consider(st.Undo.RetryAt)
	}
	return next, found
}

// canonicalJSON returns a copy of raw as the state's JSON encoding will store it
// (compacted, HTML-escaped), nil for empty input, and false if raw is not JSON.
func canonicalJSON(raw json.RawMessage) (json.RawMessage, bool) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, true
	}
	if compactAndEscaped(raw) && json.Valid(raw) {
		return bytes.Clone(raw), true // what json.Marshal makes of it, in one allocation
	}
	// json.Marshal compacts and HTML-escapes, exactly as encoding the state will.
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, false
	}
	return b, true
}

// compactAndEscaped reports whether json.Marshal leaves raw as it is, if raw is valid JSON:
// no whitespace outside strings, no '<', '>' or '&', no U+2028 or U+2029 (it is
// conservative: any 0xE2 byte counts as one of those).
func compactAndEscaped(raw []byte) bool {
	inString, escaped := false, false
	for _, c := range raw {
		switch {
		case c == '<' || c == '>' || c == '&' || c == 0xE2:
			return false
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return false
		}
	}
	return true
}
