package saga

import "time"

// Policies are a saga's timeouts and retry policies: the options the built-in sagas take
// (order.Options and returns.Options are this type) and a user's definition may take too.
// Zero fields take their defaults (WithDefaults).
type Policies struct {
	// Timeout is the deadline of one attempt of a forward step. Default: 10s.
	Timeout time.Duration
	// Retry is the forward steps' retry policy. Default: 4 attempts, backoff 200ms doubling
	// up to 5s, jitter 0.2.
	Retry RetryPolicy
	// CompensationTimeout is the deadline of one attempt of a compensation. Default: 10s.
	CompensationTimeout time.Duration
	// CompensationRetry is the compensations' retry policy; when it is exhausted the saga
	// fails and waits for an operator. Default: 8 attempts, backoff 200ms doubling up to
	// 5s, jitter 0.2.
	CompensationRetry RetryPolicy
	// HistoryLimit caps each saga's history (Definition.HistoryLimit). Default: 200.
	HistoryLimit int
}

// Defaults of Policies.
const (
	DefaultTimeout                 = 10 * time.Second
	DefaultStepMaxAttempts         = 4 // RetryPolicy alone defaults to DefaultMaxAttempts (3)
	DefaultCompensationTimeout     = 10 * time.Second
	DefaultCompensationMaxAttempts = 8
)

// WithDefaults returns p with every zero field at its default.
func (p Policies) WithDefaults() Policies {
	if p.Timeout == 0 {
		p.Timeout = DefaultTimeout
	}
	if p.Retry.MaxAttempts == 0 {
		p.Retry.MaxAttempts = DefaultStepMaxAttempts
	}
	p.Retry = p.Retry.WithDefaults()
	if p.CompensationTimeout == 0 {
		p.CompensationTimeout = DefaultCompensationTimeout
	}
	if p.CompensationRetry.MaxAttempts == 0 {
		p.CompensationRetry.MaxAttempts = DefaultCompensationMaxAttempts
	}
	p.CompensationRetry = p.CompensationRetry.WithDefaults()
	if p.HistoryLimit == 0 {
		p.HistoryLimit = DefaultHistoryLimit
	}
	return p
}

// Do is a forward action with p's timeout and retry policy (call WithDefaults first).
func (p Policies) Do(worker, typ string, b Builder) Action {
	return Action{Worker: worker, Type: typ, Build: b, Timeout: p.Timeout, Retry: p.Retry}
}

// Undo is a compensation with p's compensation timeout and retry policy (call
// WithDefaults first).
func (p Policies) Undo(worker, typ string, b Builder) *Action {
	return &Action{Worker: worker, Type: typ, Build: b, Timeout: p.CompensationTimeout, Retry: p.CompensationRetry}
}
