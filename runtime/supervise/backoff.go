package supervise

import (
	"math/rand/v2"
	"time"
)

// Backoff is the restart policy's timing: the delay before restart n (1-based)
// is Initial·2^(n-1), capped at Max, then spread by ±Jitter (a fraction).
// BurstLimit failures within BurstWindow make the supervisor give up on the
// service (state failed). A run that lasts at least BurstWindow resets the
// exponent.
type Backoff struct {
	Initial     time.Duration // default 100ms
	Max         time.Duration // default 30s
	Jitter      float64       // default 0.2; negative means none
	BurstLimit  int           // default 5
	BurstWindow time.Duration // default 60s
}

// DefaultBackoff is the Backoff used for zero fields.
var DefaultBackoff = Backoff{
	Initial:     100 * time.Millisecond,
	Max:         30 * time.Second,
	Jitter:      0.2,
	BurstLimit:  5,
	BurstWindow: 60 * time.Second,
}

// withDefaults fills zero fields from DefaultBackoff.
func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = DefaultBackoff.Initial
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoff.Max
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	switch {
	case b.Jitter == 0:
		b.Jitter = DefaultBackoff.Jitter
	case b.Jitter < 0:
		b.Jitter = 0
	case b.Jitter > 1:
		b.Jitter = 1
	}
	if b.BurstLimit <= 0 {
		b.BurstLimit = DefaultBackoff.BurstLimit
	}
	if b.BurstWindow <= 0 {
		b.BurstWindow = DefaultBackoff.BurstWindow
	}
	return b
}

// Base returns the un-jittered delay before restart n (n >= 1).
func (b Backoff) Base(n int) time.Duration {
	d := b.Initial
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// Delay returns the jittered delay before restart n (n >= 1).
func (b Backoff) Delay(n int) time.Duration {
	d := b.Base(n)
	if b.Jitter <= 0 {
		return d
	}
	f := 1 + b.Jitter*(2*rand.Float64()-1)
	return time.Duration(float64(d) * f)
}

// burst records failure times and reports when too many fall in the window.
type burst struct {
	times []time.Time
}

// add records a failure at now and reports whether limit failures fall
// within window.
func (b *burst) add(now time.Time, limit int, window time.Duration) bool {
	keep := b.times[:0]
	for _, t := range b.times {
		if now.Sub(t) < window {
			keep = append(keep, t)
		}
	}
	b.times = append(keep, now)
	return len(b.times) >= limit
}
