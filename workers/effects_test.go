package workers

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func effect(key, kind string) Effect {
	return Effect{
		Worker: "inventory", IdempotencyKey: key, OrderID: strings.Split(key, "/")[0], Step: "reserve-inventory",
		Kind: kind, CommandID: "cmd-" + key, Ref: "ref-" + key, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

// TestEffectLogContract runs the same contract against every EffectLog.
func TestEffectLogContract(t *testing.T) {
	impls := map[string]func(t *testing.T) EffectLog{
		"memory": func(*testing.T) EffectLog { return NewMemoryEffects() },
		"file": func(t *testing.T) EffectLog {
			fe, err := OpenFileEffects(filepath.Join(t.TempDir(), "effects.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = fe.Close() })
			return fe
		},
	}
	for name, open := range impls {
		t.Run(name, func(t *testing.T) {
			t.Run("records a key once", func(t *testing.T) {
				log := open(t)
				for i, want := range []bool{true, false, false} {
					e := effect("ord-1/reserve-inventory", "reserved")
					e.CommandID = "cmd-" + string(rune('a'+i))
					got, err := log.Record(e)
					if err != nil || got != want {
						t.Errorf("Record #%d: got %v, %v, want %v, nil", i+1, got, err, want)
					}
				}
				got, ok, err := log.Lookup("ord-1/reserve-inventory")
				if err != nil || !ok || got.CommandID != "cmd-a" {
					t.Errorf("got %+v, %v, %v, want the first effect (cmd-a)", got, ok, err)
				}
			})
			t.Run("keys are independent", func(t *testing.T) {
				log := open(t)
				for _, k := range []string{"ord-1/reserve-inventory", "ord-1/reserve-inventory/undo", "ord-2/reserve-inventory"} {
					if got, err := log.Record(effect(k, "reserved")); err != nil || !got {
						t.Errorf("Record %s: got %v, %v, want true, nil", k, got, err)
					}
				}
			})
			t.Run("unknown key", func(t *testing.T) {
				log := open(t)
				if _, ok, err := log.Lookup("nope"); ok || err != nil {
					t.Errorf("got %v, %v, want false, nil", ok, err)
				}
			})
			t.Run("concurrent records of one key", func(t *testing.T) {
				log := open(t)
				var wg sync.WaitGroup
				var mu sync.Mutex
				recorded := 0
				for range 20 {
					wg.Go(func() {
						ok, err := log.Record(effect("ord-1/authorize-payment", "authorized"))
						if err != nil {
							t.Error(err)
						}
						if ok {
							mu.Lock()
							recorded++
							mu.Unlock()
						}
					})
				}
				wg.Wait()
				if recorded != 1 {
					t.Errorf("got %d records, want 1", recorded)
				}
			})
			t.Run("sync", func(t *testing.T) {
				log := open(t)
				if _, err := log.Record(effect("ord-1/x", "k")); err != nil {
					t.Fatal(err)
				}
				if err := log.Sync(); err != nil {
					t.Errorf("got %v, want nil", err)
				}
			})
		})
	}
}

func TestMemoryEffectsAttempts(t *testing.T) {
	m := NewMemoryEffects()
	for range 3 {
		_, _ = m.Record(effect("ord-1/a", "k"))
	}
	if got := m.Attempts("ord-1/a"); got != 3 {
		t.Errorf("got %d attempts, want 3", got)
	}
	if got := len(m.Effects()); got != 1 {
		t.Errorf("got %d effects, want 1", got)
	}
}

func TestFileEffectsSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "effects.jsonl")
	first, err := OpenFileEffects(path)
	if err != nil {
		t.Fatal(err)
	}
	want := effect("ord-1/reserve-inventory", "reserved")
	if _, err := first.Record(want); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	second, err := OpenFileEffects(path)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	got, ok, err := second.Lookup(want.IdempotencyKey)
	if err != nil || !ok || got != want {
		t.Errorf("got %+v, %v, %v, want %+v", got, ok, err, want)
	}
	if recorded, err := second.Record(want); err != nil || recorded {
		t.Errorf("got %v, %v after reopening, want false, nil: the effect is already recorded", recorded, err)
	}
	lines := readLines(t, path)
	if len(lines) != 1 {
		t.Errorf("got %d lines, want 1", len(lines))
	}
	for _, field := range []string{`"worker":"inventory"`, `"idempotency_key":"ord-1/reserve-inventory"`, `"order_id":"ord-1"`,
		`"step":"reserve-inventory"`, `"kind":"reserved"`, `"command_id":"cmd-ord-1/reserve-inventory"`, `"time":"2026-01-02T03:04:05Z"`} {
		if !strings.Contains(lines[0], field) {
			t.Errorf("got line %s, want it to contain %s", lines[0], field)
		}
	}
}

func TestFileEffectsSharedByTwoOpeners(t *testing.T) {
	path := filepath.Join(t.TempDir(), "effects.jsonl")
	a, err := OpenFileEffects(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenFileEffects(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	if ok, err := a.Record(effect("ord-1/x", "k")); err != nil || !ok {
		t.Fatalf("got %v, %v, want true, nil", ok, err)
	}
	if ok, err := b.Record(effect("ord-1/x", "k")); err != nil || ok {
		t.Errorf("got %v, %v from the second opener, want false, nil: a appended the key", ok, err)
	}
	if _, ok, _ := b.Lookup("ord-1/x"); !ok {
		t.Error("got no effect from the second opener, want a's")
	}
}

func TestFileEffectsTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "effects.jsonl")
	good := `{"worker":"inventory","idempotency_key":"ord-1/a","kind":"reserved","time":"2026-01-02T03:04:05Z"}` + "\n"
	if err := os.WriteFile(path, []byte(good+`{"worker":"inv`), 0o644); err != nil {
		t.Fatal(err)
	}
	fe, err := OpenFileEffects(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fe.Close()
	if fe.Skipped() != 1 {
		t.Errorf("got %d skipped lines, want 1", fe.Skipped())
	}
	if _, ok, _ := fe.Lookup("ord-1/a"); !ok {
		t.Error("got ord-1/a missing, want it loaded")
	}
	if ok, err := fe.Record(effect("ord-2/a", "reserved")); err != nil || !ok {
		t.Fatalf("got %v, %v, want true, nil", ok, err)
	}
	lines := readLines(t, path)
	if len(lines) != 3 || !strings.Contains(lines[2], `"idempotency_key":"ord-2/a"`) {
		t.Errorf("got lines %q, want the torn line terminated and the new effect on a line of its own", lines)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
}

func TestUndoneKey(t *testing.T) {
	tests := []struct {
		key, want string
		ok        bool
	}{
		{"ord-1/reserve-inventory/undo", "ord-1/reserve-inventory", true},
		{"ord-1/reserve-inventory", "ord-1/reserve-inventory", false},
	}
	for _, tt := range tests {
		got, ok := UndoneKey(tt.key)
		if got != tt.want || ok != tt.ok {
			t.Errorf("UndoneKey(%q): got %q, %v, want %q, %v", tt.key, got, ok, tt.want, tt.ok)
		}
	}
}

func TestMemoryEffectsForgetsAfterItsWindow(t *testing.T) {
	m := NewMemoryEffectsFor(time.Minute)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 100 {
		e := Effect{IdempotencyKey: fmt.Sprintf("ord-%d/reserve-inventory", i), Time: t0.Add(time.Duration(i) * time.Second)}
		if ok, err := m.Record(e); !ok || err != nil {
			t.Fatalf("Record %d: got %v %v, want stored", i, ok, err)
		}
	}
	// At t0+99s every effect older than a minute (ord-0 … ord-39) is gone.
	if _, ok, _ := m.Lookup("ord-39/reserve-inventory"); ok {
		t.Errorf("ord-39 still known after its window")
	}
	if _, ok, _ := m.Lookup("ord-40/reserve-inventory"); !ok {
		t.Errorf("ord-40 forgotten within its window")
	}
	if got, want := len(m.Effects()), 60; got != want {
		t.Errorf("effects held: got %d, want %d", got, want)
	}
	// A repeat within the window is still recognised.
	if ok, _ := m.Record(Effect{IdempotencyKey: "ord-99/reserve-inventory", Time: t0.Add(100 * time.Second)}); ok {
		t.Errorf("a repeat within the window was recorded again")
	}
}
