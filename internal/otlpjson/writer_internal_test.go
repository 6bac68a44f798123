package otlpjson

import (
	"encoding/hex"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// appendDecimal and appendID write what strconv and encoding/hex write.
func TestDecimalAndHex(t *testing.T) {
	values := []uint64{0, 1, 9, 10, 99_999_999, 1e8, 1e8 + 1, 1_000_000_007, 1e15, 1e16 - 1, 1e16,
		1_700_000_000_123_456_789, math.MaxInt64, math.MaxUint64 - 1, math.MaxUint64}
	rng := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // test data
	for range 10_000 {
		values = append(values, rng.Uint64()>>rng.IntN(64))
	}
	for _, v := range values {
		if got, want := string(appendDecimal(nil, v)), strconv.FormatUint(v, 10); got != want {
			t.Fatalf("appendDecimal(%d) = %s", v, got)
		}
	}
	id := make([]byte, 256)
	for i := range id {
		id[i] = byte(i)
	}
	if got, want := string(appendID(nil, id)), `"`+hex.EncodeToString(id)+`"`; got != want {
		t.Fatalf("appendID = %s, want %s", got, want)
	}
}
