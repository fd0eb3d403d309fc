package workers

import (
	"math/rand/v2"
)

// faultDecision is what Faults decided for one command.
type faultDecision struct {
	Error     bool // answer with an injected error instead of running the handler
	Drop      bool // do not send the reply
	Duplicate bool // send the reply twice
}

// faultSource draws fault decisions from a seeded generator. One per partition goroutine;
// not safe for concurrent use.
type faultSource struct {
	f   Faults
	rng *rand.Rand
}

// newFaultSource seeds a generator from f.Seed and the partition, so each partition gets its
// own reproducible sequence whatever the goroutine schedule.
func newFaultSource(f Faults, partition int) *faultSource {
	return &faultSource{f: f, rng: rand.New(rand.NewPCG(uint64(f.Seed), uint64(partition)))}
}

// next decides the faults of the next command. It always draws three numbers, so a decision
// depends only on the command's position in the partition, not on earlier decisions.
func (s *faultSource) next() faultDecision {
	e, d, dup := s.rng.Float64(), s.rng.Float64(), s.rng.Float64()
	return faultDecision{
		Error:     e < s.f.ErrorRate,
		Drop:      d < s.f.DropRate,
		Duplicate: dup < s.f.DuplicateRate,
	}
}
