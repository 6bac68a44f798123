package tempo

import (
	"context"
	"sync"
)

// budget is the conversion memory shared by all tenants, split fairly: no
// tenant ever holds more than its share (half the budget), so the other half
// is always there for the others, whatever one tenant does (e.g. keep
// several huge responses stuck on clients that never read). Within a tenant
// requests are served first come, first served; across tenants a waiting
// request never blocks another tenant's request that fits, and when memory
// frees up the tenant holding least goes first.
//
// It replaces one first-come queue for everybody, where a tenant's large
// waiting request held every later request of every tenant behind it.
type budget struct {
	size, share int64

	mu      sync.Mutex
	used    int64
	seq     uint64
	tenants map[string]*tenantBudget // tenants holding or waiting
}

type tenantBudget struct {
	used    int64
	waiters []*budgetWaiter // FIFO
}

type budgetWaiter struct {
	n     int64
	seq   uint64        // arrival order, to break ties between tenants
	ready chan struct{} // closed when granted
}

// newBudget returns a budget of size bytes in which one tenant may hold at
// most share bytes (0 < share <= size).
func newBudget(size, share int64) *budget {
	return &budget{size: size, share: share, tenants: map[string]*tenantBudget{}}
}

// clamp is what a request of n bytes reserves: at least 1 byte, at most a
// tenant's share (a larger trace runs alone within its tenant's share).
func (b *budget) clamp(n int64) int64 { return min(max(n, 1), b.share) }

// acquire reserves n bytes (see clamp) for tenant, waiting until they fit
// or ctx ends; the returned func gives them back and may be called more
// than once.
func (b *budget) acquire(ctx context.Context, tenant string, n int64) (func(), error) {
	n = b.clamp(n)
	b.mu.Lock()
	tb := b.tenants[tenant]
	if tb == nil {
		tb = &tenantBudget{}
		b.tenants[tenant] = tb
	}
	if len(tb.waiters) == 0 && b.fits(tb, n) {
		b.grant(tb, n)
		b.mu.Unlock()
		return b.releaser(tenant, n), nil
	}
	b.seq++
	w := &budgetWaiter{n: n, seq: b.seq, ready: make(chan struct{})}
	tb.waiters = append(tb.waiters, w)
	b.mu.Unlock()

	select {
	case <-w.ready:
		return b.releaser(tenant, n), nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	select {
	case <-w.ready: // granted meanwhile: give it back
		b.mu.Unlock()
		b.release(tenant, n)
		return nil, ctx.Err()
	default:
	}
	for i, x := range tb.waiters {
		if x == w {
			tb.waiters = append(tb.waiters[:i], tb.waiters[i+1:]...)
			break
		}
	}
	b.wake() // the next of this tenant may fit where w did not
	b.forget(tenant, tb)
	b.mu.Unlock()
	return nil, ctx.Err()
}

// inUse returns the bytes granted and not given back.
func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

func (b *budget) releaser(tenant string, n int64) func() {
	var once sync.Once
	return func() { once.Do(func() { b.release(tenant, n) }) }
}

func (b *budget) release(tenant string, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	tb := b.tenants[tenant]
	b.used -= n
	tb.used -= n
	b.wake()
	b.forget(tenant, tb)
}

func (b *budget) fits(tb *tenantBudget, n int64) bool {
	return b.used+n <= b.size && tb.used+n <= b.share
}

func (b *budget) grant(tb *tenantBudget, n int64) {
	b.used += n
	tb.used += n
}

// wake grants waiting requests while any fits: each round the first waiter
// of the tenant holding least (then the earliest) among those whose first
// waiter fits. Called with mu held.
func (b *budget) wake() {
	for {
		var best *tenantBudget
		for _, tb := range b.tenants {
			if len(tb.waiters) == 0 || !b.fits(tb, tb.waiters[0].n) {
				continue
			}
			if best == nil || tb.used < best.used || tb.used == best.used && tb.waiters[0].seq < best.waiters[0].seq {
				best = tb
			}
		}
		if best == nil {
			return
		}
		w := best.waiters[0]
		best.waiters = best.waiters[1:]
		b.grant(best, w.n)
		close(w.ready)
	}
}

// forget drops the bookkeeping of a tenant that holds and waits for
// nothing. Called with mu held.
func (b *budget) forget(tenant string, tb *tenantBudget) {
	if tb.used == 0 && len(tb.waiters) == 0 {
		delete(b.tenants, tenant)
	}
}
