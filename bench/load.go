package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// target is one thing under test: how to ask it for a trace, and whose CPU
// time to charge for it.
type target struct {
	name   string
	url    func(traceID string) string
	header http.Header
	client *http.Client
	cpuPID string         // "self" (in-process) or tracegate's pid
	tg     *tracegateProc // a tracegate process (its CPU and allocations are reported)
}

func newClient(concurrency int, gzip bool) *http.Client {
	return &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        concurrency * 2,
			MaxIdleConnsPerHost: concurrency * 2,
			IdleConnTimeout:     time.Minute,
			// By default the client asks for identity: a browser would ask
			// for gzip, which only Tempo's direct and proxied answers honour.
			DisableCompression: !gzip,
		},
	}
}

// sample is what one slice of load on one target measured.
type sample struct {
	lat      []time.Duration
	requests int
	elapsed  time.Duration
	bytes    int64
	failures int
	firstErr error
}

func (s *sample) add(o sample) {
	s.lat = append(s.lat, o.lat...)
	s.requests += o.requests
	s.elapsed += o.elapsed
	s.bytes += o.bytes
	s.failures += o.failures
	if s.firstErr == nil {
		s.firstErr = o.firstErr
	}
}

func (s *sample) rps() float64 { return float64(s.requests) / s.elapsed.Seconds() }

// fetch does one request and reads the whole body; anything but a 200 is a
// failure.
func fetch(ctx context.Context, t *target, url string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	for k, v := range t.header {
		req.Header[k] = v
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return n, err
	}
	if resp.StatusCode != http.StatusOK {
		return n, fmt.Errorf("%s: status %d", t.name, resp.StatusCode)
	}
	return n, nil
}

// load runs concurrency workers against url until d has passed or maxRequests
// (0 = no limit) have been started.
func load(ctx context.Context, t *target, url string, concurrency int, d time.Duration, maxRequests int) sample {
	var (
		started atomic.Int64
		mu      sync.Mutex
		total   sample
		wg      sync.WaitGroup
	)
	begin := time.Now()
	deadline := begin.Add(d)
	for range concurrency {
		wg.Go(func() {
			var s sample
			for time.Now().Before(deadline) {
				if maxRequests > 0 && started.Add(1) > int64(maxRequests) {
					break
				}
				t0 := time.Now()
				n, err := fetch(ctx, t, url)
				s.lat = append(s.lat, time.Since(t0))
				s.requests++
				s.bytes += n
				if err != nil {
					s.failures++
					if s.firstErr == nil {
						s.firstErr = err
					}
				}
			}
			mu.Lock()
			total.add(s)
			mu.Unlock()
		})
	}
	wg.Wait()
	total.elapsed = time.Since(begin)
	return total
}

func percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
