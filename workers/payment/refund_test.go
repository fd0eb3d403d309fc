package payment_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/workers"
	"github.com/podiumhq/podium/workers/payment"
)

func TestRefund(t *testing.T) {
	tests := []struct {
		name       string
		token      string
		amount     int64
		wantOut    string
		wantReason string
	}{
		{"visa", payment.TokenVisa, 3998, events.OutcomeSuccess, ""},
		{"mastercard", payment.TokenMastercard, 1, events.OutcomeSuccess, ""},
		{"at the limit", payment.TokenVisa, payment.AmountLimit, events.OutcomeSuccess, ""},
		{"above the limit", payment.TokenVisa, payment.AmountLimit + 1, events.OutcomeFailure, payment.ReasonAmountExceedsLimit},
		{"declined", payment.TokenRefundDeclined, 100, events.OutcomeFailure, payment.ReasonRefundDeclined},
		{"declined above the limit", payment.TokenRefundDeclined, payment.AmountLimit + 1, events.OutcomeFailure, payment.ReasonRefundDeclined},
		{"unknown token", "tok_amex", 100, events.OutcomeFailure, payment.ReasonInvalidToken},
		{"empty token", "", 100, events.OutcomeFailure, payment.ReasonInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := workers.NewMemoryEffects()
			w := payment.New(log)
			const key = "ret-1/refund-payment"
			res := w.Handle(context.Background(), command(t, events.TypePaymentRefund, key,
				events.RefundPayment{ReturnID: "ret-1", Amount: tt.amount, Currency: "EUR", Token: tt.token}))
			if res.Outcome != tt.wantOut || res.Reason != tt.wantReason {
				t.Fatalf("got outcome %q reason %q, want %q %q", res.Outcome, res.Reason, tt.wantOut, tt.wantReason)
			}
			wantEffects := 0
			if tt.wantOut == events.OutcomeSuccess {
				wantEffects = 1
				if got, want := res.Result, (payment.RefundResult{RefundID: payment.RefundID(key)}); got != want {
					t.Errorf("got result %#v, want %#v", got, want)
				}
			}
			effects := log.Effects()
			if got := len(effects); got != wantEffects {
				t.Fatalf("got %d effects, want %d", got, wantEffects)
			}
			if wantEffects == 1 && effects[0].Kind != payment.EffectRefunded {
				t.Errorf("got effect %s, want %s", effects[0].Kind, payment.EffectRefunded)
			}
		})
	}
}

// The order saga's test cards keep their meaning for authorizations: a refund-declined
// token is not a card an order can be paid with.
func TestRefundTokenDoesNotAuthorize(t *testing.T) {
	if reason, _ := payment.Decide(payment.TokenRefundDeclined, 100); reason != payment.ReasonInvalidToken {
		t.Errorf("authorizing with %s: got %q, want %q", payment.TokenRefundDeclined, reason, payment.ReasonInvalidToken)
	}
}

func TestCancelRefund(t *testing.T) {
	const doKey, undoKey = "ret-1/refund-payment", "ret-1/refund-payment/undo"
	tests := []struct {
		name          string
		token         string // refunded first to this token; "" = no refund
		refundID      string // refund_id in the cancellation
		cancels       int
		wantCancelled int
	}{
		{"after a refund", payment.TokenVisa, "", 1, 1},
		{"with the refund ID", payment.TokenVisa, payment.RefundID(doKey), 1, 1},
		{"twice", payment.TokenVisa, "", 2, 1},
		{"nothing refunded", "", "", 1, 0},
		{"the refund was declined", payment.TokenRefundDeclined, "", 1, 0},
		{"an unknown refund ID", payment.TokenVisa, "ref-unknown", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := workers.NewMemoryEffects()
			w := payment.New(log)
			if tt.token != "" {
				w.Handle(context.Background(), command(t, events.TypePaymentRefund, doKey,
					events.RefundPayment{ReturnID: "ret-1", Amount: 10, Currency: "EUR", Token: tt.token}))
			}
			for range tt.cancels {
				res := w.Handle(context.Background(), command(t, events.TypePaymentCancelRefund, undoKey,
					events.CancelRefund{ReturnID: "ret-1", RefundID: tt.refundID}))
				if res.Outcome != events.OutcomeSuccess {
					t.Fatalf("got outcome %q (%s), want success", res.Outcome, res.Reason)
				}
			}
			cancelled := 0
			for _, e := range log.Effects() {
				if e.Kind == payment.EffectRefundCancelled {
					cancelled++
					if e.Ref != payment.RefundID(doKey) || e.IdempotencyKey != undoKey {
						t.Errorf("got cancellation of %s under key %s, want %s under %s", e.Ref, e.IdempotencyKey, payment.RefundID(doKey), undoKey)
					}
				}
			}
			if cancelled != tt.wantCancelled {
				t.Errorf("got %d cancelled refunds, want %d", cancelled, tt.wantCancelled)
			}
		})
	}
}

func TestRefundTwiceIsOneRefund(t *testing.T) {
	log := workers.NewMemoryEffects()
	w := payment.New(log)
	cmd := command(t, events.TypePaymentRefund, "ret-1/refund-payment",
		events.RefundPayment{ReturnID: "ret-1", Amount: 10, Currency: "EUR", Token: payment.TokenVisa})
	a, b := w.Handle(context.Background(), cmd), w.Handle(context.Background(), cmd)
	if a.Result != b.Result {
		t.Errorf("got results %v and %v, want the same refund", a.Result, b.Result)
	}
	if got := len(log.Effects()); got != 1 {
		t.Errorf("got %d effects, want 1", got)
	}
	raw, _ := json.Marshal(payment.RefundResult{RefundID: "x"})
	if got, want := string(raw), `{"refund_id":"x"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
