package limits_test

import (
	"sync"
	"testing"
	"time"

	"github.com/tracegate/tracegate/internal/limits"
)

func TestRate(t *testing.T) {
	t.Parallel()
	r := limits.NewRate(2, 3) // 2/s, burst 3
	now := time.Unix(1000, 0)
	for i := range 3 {
		if ok, _ := r.Allow("a", now); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, retry := r.Allow("a", now)
	if ok || retry <= 0 || retry > 500*time.Millisecond {
		t.Fatalf("4th request: ok %v, retry after %v; want refused, ≤ 500ms", ok, retry)
	}
	if ok, _ := r.Allow("b", now); !ok {
		t.Error("another key shares the bucket")
	}
	if ok, _ := r.Allow("a", now.Add(500*time.Millisecond)); !ok {
		t.Error("a token did not come back after 500ms at 2/s")
	}
	// A refused request does not consume: the next token is still due.
	if ok, _ := r.Allow("a", now.Add(600*time.Millisecond)); ok {
		t.Error("allowed twice within one refill")
	}
	off := limits.NewRate(0, 10)
	if ok, _ := off.Allow("x", now); !ok || off != nil {
		t.Error("a zero rate must mean no limit")
	}
}

func TestConcurrency(t *testing.T) {
	t.Parallel()
	c := limits.NewConcurrency(2)
	r1, ok1 := c.Acquire("a")
	r2, ok2 := c.Acquire("a")
	_, ok3 := c.Acquire("a")
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("acquired %v %v %v, want true true false", ok1, ok2, ok3)
	}
	if _, ok := c.Acquire("b"); !ok {
		t.Error("another key shares the cap")
	}
	r1()
	r1() // releasing twice must not free two slots
	if _, ok := c.Acquire("a"); !ok {
		t.Error("released slot not reusable")
	}
	if _, ok := c.Acquire("a"); ok {
		t.Error("double release freed a second slot")
	}
	r2()

	c = limits.NewConcurrency(4)
	var wg sync.WaitGroup
	var mu sync.Mutex
	in, peak := 0, 0
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, ok := c.Acquire("k")
			if !ok {
				return
			}
			mu.Lock()
			in++
			peak = max(peak, in)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			in--
			mu.Unlock()
			release()
		}()
	}
	wg.Wait()
	if peak > 4 {
		t.Errorf("peak %d in flight, cap 4", peak)
	}
	if limits.NewConcurrency(0) != nil {
		t.Error("a zero cap must mean no cap")
	}
}
