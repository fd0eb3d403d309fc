// Package payment is podium's reference payment worker: business logic only, run by the
// workers runtime (`podium worker payment`).
//
// It authorizes an order's total against a card token and voids authorizations (order
// saga), and refunds a return to a card token and cancels refunds (returns saga). Tokens
// follow the payment-provider test cards:
//
//	token                                 outcome
//	tok_visa, tok_mastercard              success (unless the amount is above the limit)
//	tok_chargeDeclined                    failure card_declined
//	tok_chargeDeclinedInsufficientFunds   failure insufficient_funds
//	any other token                       failure invalid_token
//
// and an amount above AmountLimit (1,000,000 minor units) fails with amount_exceeds_limit.
// The rules apply in that order: an unknown token is invalid_token and a declined card is
// declined whatever the amount. A refund follows its own rules, in this order:
//
//	token                                 refund outcome
//	tok_refundDeclined                    failure refund_declined
//	tok_visa, tok_mastercard              success (unless the amount is above the limit)
//	any other token                       failure invalid_token
//
// and a refund above AmountLimit fails with amount_exceeds_limit. Authorization and refund
// IDs derive from the idempotency key, so an authorization (or refund) made twice for one key
// is the same one, recorded once. Voiding and cancelling a refund are compensations: they
// always succeed, and undoing what the effect log does not know changes nothing.
//
// A Worker is safe for concurrent use.
package payment

import (
	"context"
	"fmt"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/workers"
)

// Name is the worker's name.
const Name = "payment"

// Test card tokens.
const (
	TokenVisa              = "tok_visa"
	TokenMastercard        = "tok_mastercard"
	TokenChargeDeclined    = "tok_chargeDeclined"
	TokenInsufficientFunds = "tok_chargeDeclinedInsufficientFunds"
	TokenRefundDeclined    = "tok_refundDeclined"
)

// Failure reasons of an authorization.
const (
	ReasonCardDeclined       = "card_declined"
	ReasonInsufficientFunds  = "insufficient_funds"
	ReasonAmountExceedsLimit = "amount_exceeds_limit"
	ReasonInvalidToken       = "invalid_token"
	ReasonRefundDeclined     = "refund_declined"
)

// AmountLimit is the largest amount, in minor units, that can be authorized or refunded.
const AmountLimit = 1_000_000

// Effect kinds recorded in the effect log.
const (
	EffectAuthorized      = "authorized"
	EffectVoided          = "voided"
	EffectRefunded        = "refunded"
	EffectRefundCancelled = "refund_cancelled"
)

// AuthorizeResult is the result of a successful authorization.
type AuthorizeResult struct {
	AuthorizationID string `json:"authorization_id"`
}

// RefundResult is the result of a successful refund.
type RefundResult struct {
	RefundID string `json:"refund_id"`
}

// Worker handles events.TypePaymentAuthorize, events.TypePaymentVoid,
// events.TypePaymentRefund and events.TypePaymentCancelRefund.
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

// AuthorizationID is the authorization made for an idempotency key.
func AuthorizationID(idempotencyKey string) string { return workers.StableID(Name, idempotencyKey) }

// RefundID is the refund made for an idempotency key.
func RefundID(idempotencyKey string) string { return workers.StableID(Name, idempotencyKey) }

// Handle implements workers.Handler.
func (w *Worker) Handle(_ context.Context, cmd workers.Command) workers.Result {
	switch cmd.Type() {
	case events.TypePaymentAuthorize:
		var req events.AuthorizePayment
		if err := cmd.Decode(&req); err != nil {
			return workers.Failure("invalid_command", err.Error())
		}
		return w.authorize(cmd, req)
	case events.TypePaymentVoid:
		var req events.VoidPayment
		if err := cmd.Decode(&req); err != nil {
			return workers.Failure("invalid_command", err.Error())
		}
		if _, err := workers.RecordUndo(w.effects, Name, cmd, EffectAuthorized, EffectVoided, req.AuthorizationID); err != nil {
			return workers.Retryable(workers.ReasonEffectLog, err.Error())
		}
		return workers.Success(nil)
	case events.TypePaymentRefund:
		var req events.RefundPayment
		if err := cmd.Decode(&req); err != nil {
			return workers.Failure("invalid_command", err.Error())
		}
		return w.refund(cmd, req)
	case events.TypePaymentCancelRefund:
		var req events.CancelRefund
		if err := cmd.Decode(&req); err != nil {
			return workers.Failure("invalid_command", err.Error())
		}
		if _, err := workers.RecordUndo(w.effects, Name, cmd, EffectRefunded, EffectRefundCancelled, req.RefundID); err != nil {
			return workers.Retryable(workers.ReasonEffectLog, err.Error())
		}
		return workers.Success(nil)
	default:
		return workers.Failure("unsupported_command", fmt.Sprintf("payment does not handle %q", cmd.Type()))
	}
}

// Sync implements workers.Syncer.
func (w *Worker) Sync() error { return w.effects.Sync() }

// Decide is the authorization rule: the failure reason for token and amount, or "" if the
// authorization succeeds.
func Decide(token string, amount int64) (reason, message string) {
	switch token {
	case TokenVisa, TokenMastercard:
	case TokenChargeDeclined:
		return ReasonCardDeclined, "the card was declined"
	case TokenInsufficientFunds:
		return ReasonInsufficientFunds, "the card has insufficient funds"
	default:
		return ReasonInvalidToken, fmt.Sprintf("unknown payment token %q", token)
	}
	if amount > AmountLimit {
		return ReasonAmountExceedsLimit, fmt.Sprintf("amount %d exceeds the limit of %d", amount, AmountLimit)
	}
	return "", ""
}

func (w *Worker) authorize(cmd workers.Command, req events.AuthorizePayment) workers.Result {
	if reason, msg := Decide(req.Token, req.Amount); reason != "" {
		return workers.Failure(reason, msg)
	}
	id := AuthorizationID(cmd.IdempotencyKey())
	if err := workers.RecordEffect(w.effects, Name, cmd, EffectAuthorized, id); err != nil {
		return workers.Retryable(workers.ReasonEffectLog, err.Error())
	}
	return workers.Success(AuthorizeResult{AuthorizationID: id})
}

// DecideRefund is the refund rule: the failure reason for token and amount, or "" if the
// refund succeeds.
func DecideRefund(token string, amount int64) (reason, message string) {
	switch token {
	case TokenRefundDeclined:
		return ReasonRefundDeclined, "the refund was declined"
	case TokenVisa, TokenMastercard:
	default:
		return ReasonInvalidToken, fmt.Sprintf("unknown payment token %q", token)
	}
	if amount > AmountLimit {
		return ReasonAmountExceedsLimit, fmt.Sprintf("refund %d exceeds the limit of %d", amount, AmountLimit)
	}
	return "", ""
}

func (w *Worker) refund(cmd workers.Command, req events.RefundPayment) workers.Result {
	if reason, msg := DecideRefund(req.Token, req.Amount); reason != "" {
		return workers.Failure(reason, msg)
	}
	id := RefundID(cmd.IdempotencyKey())
	if err := workers.RecordEffect(w.effects, Name, cmd, EffectRefunded, id); err != nil {
		return workers.Retryable(workers.ReasonEffectLog, err.Error())
	}
	return workers.Success(RefundResult{RefundID: id})
}
