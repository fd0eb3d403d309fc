package payment_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/workers"
	"github.com/podiumhq/podium/workers/payment"
)

func command(t *testing.T, typ, key string, data any) workers.Command {
	t.Helper()
	env, err := events.NewEvent(typ, "ord-1", data)
	if err != nil {
		t.Fatalf("NewEvent: %v", err)
	}
	env.IdempotencyKey = key
	return workers.Command{Envelope: env}
}

func TestAuthorize(t *testing.T) {
	tests := []struct {
		name       string
		token      string
		amount     int64
		wantOut    string
		wantReason string
	}{
		{"visa", payment.TokenVisa, 3998, events.OutcomeSuccess, ""},
		{"mastercard", payment.TokenMastercard, 1, events.OutcomeSuccess, ""},
		{"zero amount", payment.TokenVisa, 0, events.OutcomeSuccess, ""},
		{"at the limit", payment.TokenVisa, payment.AmountLimit, events.OutcomeSuccess, ""},
		{"above the limit", payment.TokenVisa, payment.AmountLimit + 1, events.OutcomeFailure, payment.ReasonAmountExceedsLimit},
		{"declined", payment.TokenChargeDeclined, 100, events.OutcomeFailure, payment.ReasonCardDeclined},
		{"declined above the limit", payment.TokenChargeDeclined, payment.AmountLimit + 1, events.OutcomeFailure, payment.ReasonCardDeclined},
		{"insufficient funds", payment.TokenInsufficientFunds, 100, events.OutcomeFailure, payment.ReasonInsufficientFunds},
		{"unknown token", "tok_amex", 100, events.OutcomeFailure, payment.ReasonInvalidToken},
		{"empty token", "", 100, events.OutcomeFailure, payment.ReasonInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := workers.NewMemoryEffects()
			w := payment.New(log)
			const key = "ord-1/authorize-payment"
			res := w.Handle(context.Background(), command(t, events.TypePaymentAuthorize, key,
				events.AuthorizePayment{OrderID: "ord-1", Amount: tt.amount, Currency: "EUR", Token: tt.token}))
			if res.Outcome != tt.wantOut || res.Reason != tt.wantReason {
				t.Fatalf("got outcome %q reason %q, want %q %q", res.Outcome, res.Reason, tt.wantOut, tt.wantReason)
			}
			wantEffects := 0
			if tt.wantOut == events.OutcomeSuccess {
				wantEffects = 1
				if got, want := res.Result, (payment.AuthorizeResult{AuthorizationID: payment.AuthorizationID(key)}); got != want {
					t.Errorf("got result %#v, want %#v", got, want)
				}
			}
			if got := len(log.Effects()); got != wantEffects {
				t.Errorf("got %d effects, want %d", got, wantEffects)
			}
		})
	}
}

func TestVoid(t *testing.T) {
	const doKey, undoKey = "ord-1/authorize-payment", "ord-1/authorize-payment/undo"
	tests := []struct {
		name       string
		token      string // authorized first with this token; "" = no authorization
		voids      int
		wantVoided int
	}{
		{"after an authorization", payment.TokenVisa, 1, 1},
		{"twice", payment.TokenVisa, 2, 1},
		{"nothing authorized", "", 1, 0},
		{"the authorization was declined", payment.TokenChargeDeclined, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := workers.NewMemoryEffects()
			w := payment.New(log)
			if tt.token != "" {
				w.Handle(context.Background(), command(t, events.TypePaymentAuthorize, doKey,
					events.AuthorizePayment{OrderID: "ord-1", Amount: 10, Currency: "EUR", Token: tt.token}))
			}
			for range tt.voids {
				res := w.Handle(context.Background(), command(t, events.TypePaymentVoid, undoKey, events.VoidPayment{OrderID: "ord-1"}))
				if res.Outcome != events.OutcomeSuccess {
					t.Fatalf("got outcome %q (%s), want success", res.Outcome, res.Reason)
				}
			}
			voided := 0
			for _, e := range log.Effects() {
				if e.Kind == payment.EffectVoided {
					voided++
				}
			}
			if voided != tt.wantVoided {
				t.Errorf("got %d voids, want %d", voided, tt.wantVoided)
			}
		})
	}
}

func TestAuthorizationIDIsStable(t *testing.T) {
	a, b := payment.AuthorizationID("ord-1/authorize-payment"), payment.AuthorizationID("ord-1/authorize-payment")
	if a != b {
		t.Errorf("got %s and %s, want equal IDs for one key", a, b)
	}
	if c := payment.AuthorizationID("ord-2/authorize-payment"); c == a {
		t.Errorf("got %s for two keys, want different IDs", c)
	}
	raw, _ := json.Marshal(payment.AuthorizeResult{AuthorizationID: "x"})
	if got, want := string(raw), `{"authorization_id":"x"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
