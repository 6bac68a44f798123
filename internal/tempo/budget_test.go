package tempo

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func acquired(t *testing.T, b *budget, tenant string, n int64) func() {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	release, err := b.acquire(ctx, tenant, n)
	if err != nil {
		t.Fatalf("%s %d: %v", tenant, n, err)
	}
	return release
}

// waiting starts acquire in the background; the channel yields its release
// func once granted.
func waiting(ctx context.Context, b *budget, tenant string, n int64) <-chan func() {
	ch := make(chan func(), 1)
	go func() {
		release, err := b.acquire(ctx, tenant, n)
		if err != nil {
			close(ch)
			return
		}
		ch <- release
	}()
	return ch
}

func granted(ch <-chan func(), within time.Duration) (func(), bool) {
	select {
	case r, ok := <-ch:
		return r, ok
	case <-time.After(within):
		return nil, false
	}
}

func TestBudgetShare(t *testing.T) {
	t.Parallel()
	b := newBudget(100, 50)
	r1 := acquired(t, b, "acme", 30)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	over := waiting(ctx, b, "acme", 30) // 60 > acme's share
	if _, ok := granted(over, 50*time.Millisecond); ok {
		t.Fatal("acme got more than its share")
	}
	// Another tenant is not queued behind acme's waiting request.
	acquired(t, b, "globex", 50)()
	// A trace larger than the share reserves the share.
	if n := b.clamp(500); n != 50 {
		t.Errorf("clamp(500) = %d, want the share", n)
	}
	r1()
	r2, ok := granted(over, time.Second)
	if !ok {
		t.Fatal("acme's waiting request not granted after release")
	}
	r2()
	r2() // twice gives back once
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used != 0 || len(b.tenants) != 0 {
		t.Errorf("after all releases: used %d, %d tenants tracked", b.used, len(b.tenants))
	}
}

// Within a tenant, first come first served: a small request does not pass a
// large one waiting before it.
func TestBudgetFIFOWithinTenant(t *testing.T) {
	t.Parallel()
	b := newBudget(100, 50)
	r1 := acquired(t, b, "acme", 40)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	big := waiting(ctx, b, "acme", 40)
	time.Sleep(20 * time.Millisecond)
	small := waiting(ctx, b, "acme", 5)
	if _, ok := granted(small, 50*time.Millisecond); ok {
		t.Fatal("a later small request passed an earlier large one of the same tenant")
	}
	r1()
	if r, ok := granted(big, time.Second); !ok {
		t.Fatal("large request not granted")
	} else {
		r()
	}
	if r, ok := granted(small, time.Second); !ok {
		t.Fatal("small request not granted")
	} else {
		r()
	}
}

// When memory frees up, the tenant holding least goes first.
func TestBudgetWakesLeastHoldingTenant(t *testing.T) {
	t.Parallel()
	b := newBudget(100, 50)
	a1 := acquired(t, b, "acme", 50)
	g1 := acquired(t, b, "globex", 40)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g2 := waiting(ctx, b, "globex", 10) // fits: the budget is then full
	if r, ok := granted(g2, time.Second); !ok {
		t.Fatal("globex's 10 should fit (90+10 <= 100)")
	} else {
		defer r()
	}
	i1 := waiting(ctx, b, "initech", 30) // budget full
	time.Sleep(20 * time.Millisecond)
	g3 := waiting(ctx, b, "globex", 30) // over globex's share anyway
	a1()                                // 50 free: initech (holding 0) goes
	if r, ok := granted(i1, time.Second); !ok {
		t.Fatal("initech not granted")
	} else {
		defer r()
	}
	if _, ok := granted(g3, 50*time.Millisecond); ok {
		t.Fatal("globex beyond its share")
	}
	g1()
	if r, ok := granted(g3, time.Second); !ok {
		t.Fatal("globex not granted after it released")
	} else {
		r()
	}
}

func TestBudgetCancel(t *testing.T) {
	t.Parallel()
	b := newBudget(10, 5)
	r := acquired(t, b, "acme", 5)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := b.acquire(ctx, "acme", 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	r()
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Millisecond)
			defer cancel()
			if rel, err := b.acquire(ctx, "acme", 3); err == nil {
				time.Sleep(time.Millisecond)
				rel()
			}
		})
	}
	wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used != 0 || len(b.tenants) != 0 {
		t.Errorf("after cancellations: used %d, %d tenants tracked", b.used, len(b.tenants))
	}
}
