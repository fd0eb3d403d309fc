package saga

import (
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// RetryPolicy says how often and how fast a step (or a compensation) is retried after a
// retryable error reply or a timeout. Zero fields take their defaults.
type RetryPolicy struct {
	// MaxAttempts is the total number of attempts, including the first. Default: 3.
	MaxAttempts int
	// Initial is the backoff after the first failed attempt. Default: 200ms.
	Initial time.Duration
	// Max caps the backoff. Default: 5s.
	Max time.Duration
	// Multiplier grows the backoff after each failed attempt. Default: 2.
	Multiplier float64
	// Jitter is the fraction (0..1) by which a backoff is shortened, chosen
	// deterministically from the state's seed, the step and the attempt. Default: 0.2;
	// a negative value disables jitter.
	Jitter float64
}

// Policy defaults.
const (
	DefaultMaxAttempts = 3
	DefaultInitial     = 200 * time.Millisecond
	DefaultMax         = 5 * time.Second
	DefaultMultiplier  = 2.0
	DefaultJitter      = 0.2
)

// WithDefaults returns p with every zero field set to its default.
func (p RetryPolicy) WithDefaults() RetryPolicy {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.Initial == 0 {
		p.Initial = DefaultInitial
	}
	if p.Max == 0 {
		p.Max = DefaultMax
	}
	if p.Multiplier == 0 {
		p.Multiplier = DefaultMultiplier
	}
	if p.Jitter == 0 {
		p.Jitter = DefaultJitter
	}
	return p
}

// Validate reports every problem of the policy (after defaults) at once.
func (p RetryPolicy) Validate() error {
	var errs []error
	if p.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("retry: max attempts %d is negative", p.MaxAttempts))
	}
	if p.Initial < 0 {
		errs = append(errs, fmt.Errorf("retry: initial backoff %v is negative", p.Initial))
	}
	if p.Max < 0 {
		errs = append(errs, fmt.Errorf("retry: max backoff %v is negative", p.Max))
	}
	if p.Multiplier != 0 && (p.Multiplier < 1 || math.IsNaN(p.Multiplier) || math.IsInf(p.Multiplier, 0)) {
		errs = append(errs, fmt.Errorf("retry: multiplier %v is not a finite number >= 1", p.Multiplier))
	}
	if p.Jitter > 1 || math.IsNaN(p.Jitter) {
		errs = append(errs, fmt.Errorf("retry: jitter %v is above 1", p.Jitter))
	}
	if len(errs) == 0 {
		if d := p.WithDefaults(); d.Max < d.Initial {
			errs = append(errs, fmt.Errorf("retry: max backoff %v is below initial backoff %v", d.Max, d.Initial))
		}
	}
	return errors.Join(errs...)
}

// Backoff is the wait after the n-th failed attempt (n ≥ 1, counted within the current
// attempt budget): Initial·Multiplier^(n-1), capped at Max, then shortened by up to Jitter
// of itself using a fraction derived from seed, key and n. It is at least 1ns.
func (p RetryPolicy) Backoff(n int, seed uint64, key string) time.Duration {
	p = p.WithDefaults()
	if n < 1 {
		n = 1
	}
	d := float64(p.Initial) * math.Pow(p.Multiplier, float64(n-1))
	if d > float64(p.Max) || math.IsInf(d, 0) || math.IsNaN(d) {
		d = float64(p.Max)
	}
	if p.Jitter > 0 {
		d *= 1 - p.Jitter*unitFraction(seed, key, n)
	}
	if d < 1 {
		d = 1
	}
	return time.Duration(d)
}

// unitFraction is a deterministic number in [0, 1).
func unitFraction(seed uint64, key string, n int) float64 {
	h := fnv.New64a()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], seed)
	binary.BigEndian.PutUint64(b[8:], uint64(n))
	h.Write(b[:8])
	h.Write([]byte(key))
	h.Write(b[8:])
	return float64(h.Sum64()>>11) / (1 << 53)
}

// commandNamespace is the UUID namespace of command IDs. Never change it: command IDs in
// stored states and in flight depend on it.
var commandNamespace = uuid.MustParse("8c0f5b1e-3d0a-4b7e-9a51-6f2c4d7e1b93")

// CommandID is the deterministic ID of a command: a SHA-1 UUID of
// "sagaID/step/do/attempt" (or ".../undo/attempt" for a compensation), as uuid.NewSHA1
// derives it in commandNamespace.
func CommandID(sagaID, step string, compensation bool, attempt int) string {
	id := commandID(sagaID, step, compensation, attempt)
	return string(id[:])
}

// commandID is the text of CommandID, without allocating it (comparing string(id[:]) with a
// string does not allocate either).
func commandID(sagaID, step string, compensation bool, attempt int) [36]byte {
	// uuid.NewSHA1 hashes the namespace, then the name; one buffer on the stack holds both.
	var buf [128]byte
	b := append(buf[:0], commandNamespace[:]...)
	b = append(b, sagaID...)
	b = append(b, '/')
	b = append(b, step...)
	b = append(b, '/')
	b = append(b, phaseName(compensation)...)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(attempt), 10)
	sum := sha1.Sum(b)
	sum[6] = (sum[6] & 0x0f) | 0x50 // version 5
	sum[8] = (sum[8] & 0x3f) | 0x80 // RFC 4122 variant
	var id [36]byte                 // uuid.UUID.String's layout: 8-4-4-4-12 hex digits
	hex.Encode(id[0:8], sum[0:4])
	id[8] = '-'
	hex.Encode(id[9:13], sum[4:6])
	id[13] = '-'
	hex.Encode(id[14:18], sum[6:8])
	id[18] = '-'
	hex.Encode(id[19:23], sum[8:10])
	id[23] = '-'
	hex.Encode(id[24:36], sum[10:16])
	return id
}

// IdempotencyKey is the key workers deduplicate a step's command on, stable across
// attempts: "sagaID/step" for the forward action, "sagaID/step/undo" for the compensation.
func IdempotencyKey(sagaID, step string, compensation bool) string {
	if compensation {
		return sagaID + "/" + step + "/undo"
	}
	return sagaID + "/" + step
}

func phaseName(compensation bool) string {
	if compensation {
		return "undo"
	}
	return "do"
}
