package devstack

import "testing"

func TestTroubleKeepsWarningsErrorsAndForeignLines(t *testing.T) {
	out := `[orchestrator] {"level":"info","message":"started"}
[orchestrator] {"level":"warn","message":"rebalance"}
[worker] {"level":"debug","message":"fetch"}
[worker] {"level":"error","message":"write failed"}
panic: boom

[api] {"level":"info","message":"stopped"}
`
	want := `[orchestrator] {"level":"warn","message":"rebalance"}
[worker] {"level":"error","message":"write failed"}
panic: boom`
	if got := Trouble(out, 10); got != want {
		t.Errorf("Trouble(out, 10) =\n%s\nwant\n%s", got, want)
	}
	if got, want := Trouble(out, 1), "panic: boom"; got != want {
		t.Errorf("Trouble(out, 1) = %q, want %q", got, want)
	}
	if got := Trouble("", 5); got != "" {
		t.Errorf("Trouble of nothing = %q, want empty", got)
	}
}
