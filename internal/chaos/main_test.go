package chaos

import (
	"flag"
	"os"
	"testing"

	"github.com/podiumhq/podium/internal/devstack"
	"github.com/rs/zerolog"
)

// fullFlag selects the full chaos suite: `go test ./internal/chaos/ -args -full`, or
// PODIUM_CHAOS=full.
var fullFlag = flag.Bool("full", false, "run the full chaos suite (also: PODIUM_CHAOS=full)")

// TestMain removes the binary built for the run.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	devstack.RemoveBuilt()
	os.Exit(code)
}

// full reports whether the full suite runs.
func full() bool { return *fullFlag || os.Getenv("PODIUM_CHAOS") == "full" }

// podiumBinary builds cmd/podium once per test run and returns its path.
func podiumBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("chaos suite: skipped with -short")
	}
	bin, err := devstack.BuildPodium()
	if err != nil {
		t.Fatalf("building podium: %v", err)
	}
	return bin
}

// runDir is a directory for one run's data and logs. It is removed when the test passes and
// kept (and named in the log) when it fails, for a post-mortem.
func runDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "podium-chaos-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("PODIUM_CHAOS_KEEP") != "" {
			t.Logf("run directory kept for inspection: %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	return dir
}

// testLogger logs the harness's warnings through t.
func testLogger(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel).With().Timestamp().Logger()
}
