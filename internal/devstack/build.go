package devstack

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// BuildPodium builds cmd/podium once per process (with the go command on PATH) into a
// temporary directory and returns the binary's path. Process-level tests use it; their
// TestMain calls RemoveBuilt.
func BuildPodium() (string, error) {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "podium-bin-")
		if err != nil {
			buildErr = err
			return
		}
		built = filepath.Join(dir, "podium")
		out, err := exec.Command("go", "build", "-o", built, "github.com/podiumhq/podium/cmd/podium").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	return built, buildErr
}

// RemoveBuilt deletes what BuildPodium built, if anything.
func RemoveBuilt() {
	if built != "" {
		_ = os.RemoveAll(filepath.Dir(built))
	}
}
