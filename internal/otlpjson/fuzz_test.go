package otlpjson_test

import (
	"math/rand/v2"
	"testing"
)

// FuzzSameAsPdata: where pdata reads an input, the transcoder writes the
// same bytes; where pdata rejects it, so does the transcoder. Never a panic.
func FuzzSameAsPdata(f *testing.F) {
	kv := msg(str(nil, 1, "tenant.id"), 2, str(nil, 1, "acme"))
	f.Add([]byte{})
	f.Add(rs(str(varint(nil, 6, 2), 5, "op")))
	f.Add(msg(nil, 1, msg(msg(nil, 1, msg(nil, 1, kv)), 1, msg(nil, 1, kv))))
	f.Add(rs(msg(msg(nil, 9, kv), 15, varint(nil, 3, 2))))
	f.Add(rs(msg(nil, 9, msg(str(nil, 1, "k"), 2, nest(3)))))
	f.Add(rs(doubles()))
	f.Add(marshal(f, Synthetic(rand.New(rand.NewPCG(5, 6)), 3))) //nolint:gosec // test data
	f.Fuzz(func(t *testing.T, data []byte) {
		same(t, "fuzzed", data)
	})
}
