package chaos

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/rs/zerolog"
)

// fullFlag selects the full chaos suite: `go test ./internal/chaos/ -args -full`, or
// PODIUM_CHAOS=full.
var fullFlag = flag.Bool("full", false, "run the full chaos suite (also: PODIUM_CHAOS=full)")

// TestMain removes the binary built for the run.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// full reports whether the full suite runs.
func full() bool { return *fullFlag || os.Getenv("PODIUM_CHAOS") == "full" }

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// podiumBinary builds cmd/podium once per test run and returns its path.
func podiumBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("chaos suite: skipped with -short")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "podium-chaos-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "podium")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/podiumhq/podium/cmd/podium").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building podium: %v", buildErr)
	}
	return binPath
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
