package notification_test

import (
	"context"
	"testing"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/workers"
	"github.com/podiumhq/podium/workers/notification"
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

func TestSend(t *testing.T) {
	tests := []struct {
		name       string
		typ        string
		email      string
		wantOut    string
		wantReason string
		wantKind   string
	}{
		{"confirmation", events.TypeNotificationConfirmation, "ada@example.com", events.OutcomeSuccess, "", notification.EffectConfirmationSent},
		{"confirmation bounced", events.TypeNotificationConfirmation, "ada@bounce.example", events.OutcomeFailure, notification.ReasonBounced, ""},
		{"bounce domain in capitals", events.TypeNotificationConfirmation, "ada@BOUNCE.example", events.OutcomeFailure, notification.ReasonBounced, ""},
		{"subdomain of the bounce domain", events.TypeNotificationConfirmation, "ada@mx.bounce.example", events.OutcomeSuccess, "", notification.EffectConfirmationSent},
		{"cancellation notice", events.TypeNotificationCancellation, "ada@example.com", events.OutcomeSuccess, "", notification.EffectCancellationNoticeSent},
		{"cancellation notice bounced", events.TypeNotificationCancellation, "bob@bounce.example", events.OutcomeFailure, notification.ReasonBounced, ""},
		{"no domain", events.TypeNotificationConfirmation, "ada", events.OutcomeFailure, notification.ReasonInvalidRecipient, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := workers.NewMemoryEffects()
			w := notification.New(log)
			const key = "ord-1/send-confirmation"
			var data any = events.SendConfirmation{OrderID: "ord-1", Email: tt.email, Total: 100, Currency: "EUR"}
			if tt.typ == events.TypeNotificationCancellation {
				data = events.SendCancellationNotice{OrderID: "ord-1", Email: tt.email, Reason: "out_of_stock"}
			}
			res := w.Handle(context.Background(), command(t, tt.typ, key, data))
			if res.Outcome != tt.wantOut || res.Reason != tt.wantReason {
				t.Fatalf("got outcome %q reason %q, want %q %q", res.Outcome, res.Reason, tt.wantOut, tt.wantReason)
			}
			effects := log.Effects()
			if tt.wantKind == "" {
				if len(effects) != 0 {
					t.Errorf("got effects %v, want none", effects)
				}
				return
			}
			if len(effects) != 1 || effects[0].Kind != tt.wantKind {
				t.Fatalf("got effects %v, want one %s", effects, tt.wantKind)
			}
			if got, want := res.Result, (notification.SendResult{MessageID: notification.MessageID(key)}); got != want {
				t.Errorf("got result %#v, want %#v", got, want)
			}
		})
	}
}

func TestSendTwiceIsOneMessage(t *testing.T) {
	log := workers.NewMemoryEffects()
	w := notification.New(log)
	cmd := command(t, events.TypeNotificationConfirmation, "ord-1/send-confirmation",
		events.SendConfirmation{OrderID: "ord-1", Email: "ada@example.com", Total: 1, Currency: "EUR"})
	a, b := w.Handle(context.Background(), cmd), w.Handle(context.Background(), cmd)
	if a.Result != b.Result {
		t.Errorf("got results %v and %v, want the same message", a.Result, b.Result)
	}
	if got := len(log.Effects()); got != 1 {
		t.Errorf("got %d effects, want 1", got)
	}
}
