// Package notification is podium's reference notification worker: business logic only, run
// by the workers runtime (`podium worker notification`).
//
// It sends order confirmations and cancellation notices (order saga) and refund notices
// (returns saga) by e-mail. Every recipient receives them except those at the domain
// bounce.example, which fail with reason "bounced" (the sagas' notification steps are
// optional, so the order still completes and the return is still refunded). Message IDs derive
// from the idempotency key, so a message sent twice for one key is the same message,
// recorded once. Notifications have no compensation.
//
// A Worker is safe for concurrent use.
package notification

import (
	"context"
	"fmt"
	"strings"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/workers"
)

// Name is the worker's name.
const Name = "notification"

// Failure reasons.
const (
	// ReasonBounced fails a message to a recipient at BounceDomain.
	ReasonBounced = "bounced"
	// ReasonInvalidRecipient fails a message to an address without a domain.
	ReasonInvalidRecipient = "invalid_recipient"
)

// BounceDomain is the recipient domain whose messages bounce.
const BounceDomain = "bounce.example"

// Effect kinds recorded in the effect log.
const (
	EffectConfirmationSent       = "confirmation_sent"
	EffectCancellationNoticeSent = "cancellation_notice_sent"
	EffectRefundNoticeSent       = "refund_notice_sent"
)

// SendResult is the result of a message sent.
type SendResult struct {
	MessageID string `json:"message_id"`
}

// Worker handles events.TypeNotificationConfirmation, events.TypeNotificationCancellation
// and events.TypeNotificationRefundNotice.
type Worker struct {
	effects workers.EffectLog
}

// New returns a Worker recording its effects in effects (nil: a new in-memory log).
func New(effects workers.EffectLog) *Worker {
	if effects == nil {
		effects = workers.NewMemoryEffects()
	}
	return &Worker{effects: effects}
}

// MessageID is the message sent for an idempotency key.
func MessageID(idempotencyKey string) string { return workers.StableID(Name, idempotencyKey) }

// Handle implements workers.Handler.
func (w *Worker) Handle(_ context.Context, cmd workers.Command) workers.Result {
	switch cmd.Type() {
	case events.TypeNotificationConfirmation:
		var req events.SendConfirmation
		if err := cmd.Decode(&req); err != nil {
			return workers.Failure("invalid_command", err.Error())
		}
		return w.send(cmd, req.Email, EffectConfirmationSent)
	case events.TypeNotificationCancellation:
		var req events.SendCancellationNotice
		if err := cmd.Decode(&req); err != nil {
			return workers.Failure("invalid_command", err.Error())
		}
		return w.send(cmd, req.Email, EffectCancellationNoticeSent)
	case events.TypeNotificationRefundNotice:
		var req events.SendRefundNotice
		if err := cmd.Decode(&req); err != nil {
			return workers.Failure("invalid_command", err.Error())
		}
		return w.send(cmd, req.Email, EffectRefundNoticeSent)
	default:
		return workers.Failure("unsupported_command", fmt.Sprintf("notification does not handle %q", cmd.Type()))
	}
}

// Sync implements workers.Syncer.
func (w *Worker) Sync() error { return w.effects.Sync() }

func (w *Worker) send(cmd workers.Command, email, kind string) workers.Result {
	at := strings.LastIndexByte(email, '@')
	if at < 1 || at == len(email)-1 {
		return workers.Failure(ReasonInvalidRecipient, fmt.Sprintf("recipient %q has no domain", email))
	}
	if strings.EqualFold(email[at+1:], BounceDomain) {
		return workers.Failure(ReasonBounced, fmt.Sprintf("the message to %s bounced", email))
	}
	id := MessageID(cmd.IdempotencyKey())
	if err := workers.RecordEffect(w.effects, Name, cmd, kind, id); err != nil {
		return workers.Retryable(workers.ReasonEffectLog, err.Error())
	}
	return workers.Success(SendResult{MessageID: id})
}
