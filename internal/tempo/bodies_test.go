package tempo

import (
	"testing"
)

// Size classes: at most 1/8 above the body, a class's size maps to itself,
// and a recycled buffer serves a later body of its class, cut to length.
func TestBodyClasses(t *testing.T) {
	for n := minPooled; n < 1<<28; n += n/7 + 1 {
		_, size := bodyClass(n)
		if size < n || size-n > n/8 {
			t.Fatalf("body of %d bytes: class size %d", n, size)
		}
		if p1, _ := bodyClass(n); func() bool { p2, s2 := bodyClass(size); return p1 != p2 || s2 != size }() {
			t.Fatalf("class size %d (of %d) is not in its own class", size, n)
		}
	}
	if b := getBody(100); len(b) != 100 || cap(b) != 100 {
		t.Fatalf("a small body is not pooled: len %d cap %d", len(b), cap(b))
	}
}

func TestBodyRecycled(t *testing.T) {
	n := 300 << 10
	b := getBody(n)
	_, size := bodyClass(n)
	if len(b) != n || cap(b) != size {
		t.Fatalf("getBody(%d): len %d cap %d, want cap %d", n, len(b), cap(b), size)
	}
	// sync.Pool may drop an item (at random under the race detector) or
	// miss it on another P: a buffer given back comes back within a few tries.
	for range 20 {
		putBody(b)
		c := getBody(n - 10)
		if len(c) != n-10 || cap(c) != size {
			t.Fatalf("getBody(%d): len %d cap %d", n-10, len(c), cap(c))
		}
		if &c[0] == &b[0] {
			return
		}
		b = c[:n]
	}
	t.Fatal("a returned buffer is never used again")
}
