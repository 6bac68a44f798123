// Package limits provides per-key request limits: token-bucket rates
// (golang.org/x/time/rate) and concurrency caps. They are per process: with
// several replicas, each enforces its own.
package limits

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxIdle is how long an unused key's state is kept.
const maxIdle = 10 * time.Minute

// Rate limits each key to a steady rate with a burst. A nil *Rate allows
// everything.
type Rate struct {
	limit rate.Limit
	burst int

	mu        sync.Mutex
	keys      map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

// NewRate returns a limiter of perSecond requests per key with the given
// burst, or nil (no limit) when perSecond is not positive.
func NewRate(perSecond float64, burst int) *Rate {
	if perSecond <= 0 {
		return nil
	}
	return &Rate{limit: rate.Limit(perSecond), burst: max(burst, 1), keys: map[string]*bucket{}}
}

// Allow takes one token for key. When none is available it reports false and
// how long until one will be.
func (r *Rate) Allow(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	if r == nil {
		return true, 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweep(now)
	b, found := r.keys[key]
	if !found {
		b = &bucket{lim: rate.NewLimiter(r.limit, r.burst)}
		r.keys[key] = b
	}
	b.last = now
	res := b.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweep forgets keys idle for maxIdle, at most once a minute, so that the
// map stays bounded by the keys active recently.
func (r *Rate) sweep(now time.Time) {
	if now.Sub(r.lastSweep) < time.Minute {
		return
	}
	r.lastSweep = now
	for k, b := range r.keys {
		if now.Sub(b.last) > maxIdle {
			delete(r.keys, k)
		}
	}
}

// Concurrency caps the requests in progress per key. A nil *Concurrency
// allows everything.
type Concurrency struct {
	max int

	mu   sync.Mutex
	busy map[string]int
}

// NewConcurrency returns a cap of max requests per key, or nil (no cap) when
// max is not positive.
func NewConcurrency(max int) *Concurrency {
	if max <= 0 {
		return nil
	}
	return &Concurrency{max: max, busy: map[string]int{}}
}

// Acquire takes a slot for key; release must be called once the request is
// done. ok is false, and release a no-op, when key is at its cap.
func (c *Concurrency) Acquire(key string) (release func(), ok bool) {
	if c == nil {
		return func() {}, true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.busy[key] >= c.max {
		return func() {}, false
	}
	c.busy[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.busy[key]--; c.busy[key] == 0 {
				delete(c.busy, key)
			}
		})
	}, true
}
