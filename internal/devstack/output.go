package devstack

import (
	"bytes"
	"strings"
	"sync"
)

// Output collects the output of child processes (a Supervisor's Output), safe for the
// concurrent writes of several processes.
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Trouble returns the last n lines of s logged at warn level or above ("warn", "error",
// "fatal", "panic"), or that do not look like a log line at all (a stack trace, a Go
// panic): what a failed test should show first, since a plain tail of a stack being shut
// down is mostly shutdown messages.
func Trouble(s string, n int) string {
	var out []string
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if line == "" {
			continue
		}
		if !strings.Contains(line, `"level":`) ||
			strings.Contains(line, `"level":"warn"`) || strings.Contains(line, `"level":"error"`) ||
			strings.Contains(line, `"level":"fatal"`) || strings.Contains(line, `"level":"panic"`) {
			out = append(out, line)
		}
	}
	return strings.Join(out[max(0, len(out)-n):], "\n")
}
