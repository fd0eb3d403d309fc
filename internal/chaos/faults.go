package chaos

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Fault kinds the suite injects and counts.
const (
	FaultOrchestratorKill      = "orchestrator kill -9"
	FaultOrchestratorKillRest  = "orchestrator kill -9 while restoring"
	FaultWorkerKill            = "worker kill -9"
	FaultWorkerDown            = "worker down longer than the step timeout"
	FaultZombie                = "orchestrator SIGSTOP > session timeout, SIGCONT"
	FaultBrokerRestart         = "broker kill -9 and restart (same address, data dir)"
	FaultCut5s                 = "network: orchestrator blackholed 5s"
	FaultCut45s                = "network: orchestrator blackholed 45s"
	FaultWorkerCut             = "network: workers blackholed"
	FaultHeldWrites            = "network: orchestrator link held, writes land late"
	FaultReset                 = "network: connections reset"
	FaultLatency               = "network: latency spike"
	FaultScaleOrchestrators    = "scale orchestrators"
	FaultScaleWorker           = "scale a worker"
	FaultMalformed             = "malformed records injected"
	FaultGracefulOrchestrators = "orchestrator graceful stop (SIGTERM)"
	FaultDuplicate             = "duplicate OrderPlaced of retired orders"
)

// FaultLog records the faults a run injected, in order, and writes each as it happens.
// Safe for concurrent use.
type FaultLog struct {
	mu      sync.Mutex
	start   time.Time
	entries []faultEntry
	out     io.Writer
}

type faultEntry struct {
	at     time.Duration
	kind   string
	detail string
}

// NewFaultLog starts a log; every fault is also written to out (nil: nowhere).
func NewFaultLog(out io.Writer) *FaultLog {
	return &FaultLog{start: time.Now(), out: out}
}

// Add records one fault of kind.
func (l *FaultLog) Add(kind, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := faultEntry{at: time.Since(l.start), kind: kind, detail: fmt.Sprintf(format, args...)}
	l.entries = append(l.entries, e)
	if l.out != nil {
		fmt.Fprintf(l.out, "chaos %7s  %-48s %s\n", e.at.Round(100*time.Millisecond), kind, e.detail)
	}
}

// Count is the number of faults of kind.
func (l *FaultLog) Count(kind string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.entries {
		if e.kind == kind {
			n++
		}
	}
	return n
}

// FaultCount is one line of the report's fault table.
type FaultCount struct {
	Kind  string
	Count int
	Note  string
}

// Counts returns the count of each kind, in order of first occurrence.
func (l *FaultLog) Counts() []FaultCount {
	l.mu.Lock()
	defer l.mu.Unlock()
	idx := map[string]int{}
	var out []FaultCount
	for _, e := range l.entries {
		i, ok := idx[e.kind]
		if !ok {
			i = len(out)
			idx[e.kind] = i
			out = append(out, FaultCount{Kind: e.kind})
		}
		out[i].Count++
	}
	if i, ok := idx[FaultOrchestratorKillRest]; ok {
		out[i].Note = "not counted in the line above"
	}
	return out
}

// Kills is the number of kill -9 of orchestrator instances, restoring or not.
func (l *FaultLog) Kills() int {
	return l.Count(FaultOrchestratorKill) + l.Count(FaultOrchestratorKillRest)
}
