// Package saga is podium's pure saga engine: saga definitions (a DAG of steps with
// compensations, timeouts and retry policies), the serialisable state of one saga instance,
// and the transition function [Definition.Apply].
//
// The engine performs no I/O and reads no clock and no randomness: time comes in as an
// argument, command IDs are derived deterministically from the saga ID, step and attempt
// ([CommandID]), and retry jitter comes from the seed stored in the [State]. Apply never
// mutates its input state, so a caller can keep the previous snapshot until the new one is
// durably written. Timers (step deadlines and retry times) are data inside the state;
// [State.NextTimer] tells the caller when to deliver a [TimerInput].
//
// Semantics, in short:
//
//   - Start creates the state and dispatches every step without dependencies. A second
//     Start for the same saga is recorded as a duplicate and does nothing else.
//   - A reply is applied only if its command ID was issued for that step in its current
//     phase (do or undo) and the step is still awaiting a reply. A reply for a superseded
//     attempt (the step timed out and was retried) is accepted once. Duplicate, late and
//     unknown replies are recorded in the history and change nothing else; they are never
//     an error.
//   - A retryable error reply or a timeout retries the step with exponential backoff and
//     deterministic jitter until its attempts are exhausted; a business failure fails the
//     step at once. The failure of an optional step does not cancel the saga.
//   - When a required step fails or a cancel arrives, no new steps start, steps in flight
//     are awaited (no more retries), and then every step that was dispatched and not
//     answered with a business failure is compensated in reverse dependency order. When all
//     compensations are done the saga is compensated and the OnCompensated steps run; if a
//     compensation fails, the saga is failed and waits for an operator's [RetryInput].
//
// A definition's payload builders are usually typed functions of its decoded input made
// with [Build], reading what earlier steps returned with [ResultField]; package
// orchestrator/saga/sagatest drives and fuzzes a definition in tests.
//
// A Definition is read-only after construction and safe for concurrent use; a State is a
// plain value owned by one goroutine at a time.
package saga
