package tempo

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

// Trace answers are read into recycled buffers: a 2,000-span trace is half
// a megabyte of protobuf, and allocating (and zeroing) one per request made
// the garbage collector a fifth of tracegate's CPU at that size.
//
// A buffer goes back only when WithTrace returns, after the last byte of
// its answer is written, and a reader only ever sees the bytes read into
// it: getBody returns a slice cut to the answer's length and capacity, so
// nothing of an earlier answer (another tenant's) can be reached through it.

// minPooled is the smallest body read into a recycled buffer; smaller ones
// are allocated as they come.
const minPooled = 64 << 10

// bodiesInUse counts the recycled buffers handed out and not yet back.
var bodiesInUse atomic.Int64

// bodyPools holds one pool per size class: sizes are rounded up to an
// eighth of their power of two (at most 1/8 more than asked for).
var bodyPools [64 * 8]sync.Pool

// bodyClass returns the size class of a body of n ≥ minPooled bytes: its
// pool and the capacity of its buffers. A class's own size is in it.
func bodyClass(n int) (pool *sync.Pool, size int) {
	shift := bits.Len(uint(n)) - 4
	steps := (n + 1<<shift - 1) >> shift // 8..16
	if steps == 16 {
		shift, steps = shift+1, 8
	}
	return &bodyPools[shift*8+steps-8], steps << shift
}

// getBody returns a buffer of length n to read a body into; its capacity
// is its size class (the memory it holds). Hand on only b[:n:n].
func getBody(n int) []byte {
	if n < minPooled {
		return make([]byte, n)
	}
	bodiesInUse.Add(1)
	pool, size := bodyClass(n)
	if b, ok := pool.Get().(*[]byte); ok {
		return (*b)[:n]
	}
	return make([]byte, n, size)
}

// putBody recycles a buffer of getBody. Nothing may use b, or anything
// sliced from it, afterwards.
func putBody(b []byte) {
	if cap(b) < minPooled {
		return
	}
	pool, size := bodyClass(cap(b))
	if size != cap(b) {
		return // not a buffer of getBody
	}
	bodiesInUse.Add(-1)
	b = b[:0]
	pool.Put(&b)
}

// bodySize is the memory getBody(n) holds.
func bodySize(n int) int {
	if n < minPooled {
		return n
	}
	_, size := bodyClass(n)
	return size
}

// BodiesInUse returns how many recycled body buffers are handed out now:
// when no trace is in flight, it must be 0.
func (c *Client) BodiesInUse() int64 { return bodiesInUse.Load() }
