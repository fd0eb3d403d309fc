package notification_test

import (
	"context"
	"testing"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/workers"
	"github.com/podiumhq/podium/workers/notification"
)

func TestSendRefundNotice(t *testing.T) {
	tests := []struct {
		email      string
		wantOut    string
		wantReason string
	}{
		{"ada@example.com", events.OutcomeSuccess, ""},
		{"ada@bounce.example", events.OutcomeFailure, notification.ReasonBounced},
		{"ada", events.OutcomeFailure, notification.ReasonInvalidRecipient},
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			log := workers.NewMemoryEffects()
			w := notification.New(log)
			const key = "ret-1/send-refund-notice"
			cmd := command(t, events.TypeNotificationRefundNotice, key,
				events.SendRefundNotice{ReturnID: "ret-1", Email: tt.email, Amount: 3998, Currency: "EUR"})
			res := w.Handle(context.Background(), cmd)
			if res.Outcome != tt.wantOut || res.Reason != tt.wantReason {
				t.Fatalf("got outcome %q reason %q, want %q %q", res.Outcome, res.Reason, tt.wantOut, tt.wantReason)
			}
			effects := log.Effects()
			if tt.wantOut != events.OutcomeSuccess {
				if len(effects) != 0 {
					t.Errorf("got effects %v, want none", effects)
				}
				return
			}
			if len(effects) != 1 || effects[0].Kind != notification.EffectRefundNoticeSent {
				t.Fatalf("got effects %v, want one %s", effects, notification.EffectRefundNoticeSent)
			}
			if got, want := res.Result, (notification.SendResult{MessageID: notification.MessageID(key)}); got != want {
				t.Errorf("got result %#v, want %#v", got, want)
			}
			if again := w.Handle(context.Background(), cmd); again.Result != res.Result || len(log.Effects()) != 1 {
				t.Errorf("sent twice: got result %v and %d effects, want %v and 1", again.Result, len(log.Effects()), res.Result)
			}
		})
	}
}
