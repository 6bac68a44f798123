package otlpjson

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math"
	"strconv"
)

// BufferSize is the size of the output buffer of one WriteJSON call: the
// output reaches the io.Writer in chunks of at most this many bytes.
const BufferSize = 32 << 10

// writer buffers JSON output in a fixed-size buffer and hands it to w in
// chunks. The first error of w sticks; later writes are dropped.
type writer struct {
	w   io.Writer
	buf []byte
	err error
}

func (w *writer) flush() {
	if len(w.buf) == 0 || w.err != nil {
		w.buf = w.buf[:0]
		return
	}
	_, w.err = w.w.Write(w.buf)
	w.buf = w.buf[:0]
}

// room makes room for n more bytes (n ≤ BufferSize).
func (w *writer) room(n int) {
	if len(w.buf)+n > cap(w.buf) {
		w.flush()
	}
}

func (w *writer) raw(s string) {
	if len(s) > cap(w.buf)-len(w.buf) {
		w.rawLong(s)
		return
	}
	w.buf = append(w.buf, s...)
}

func (w *writer) rawLong(s string) {
	for len(s) > 0 {
		if len(w.buf) == cap(w.buf) {
			w.flush()
		}
		n := min(len(s), cap(w.buf)-len(w.buf))
		w.buf = append(w.buf, s[:n]...)
		s = s[n:]
	}
}

func (w *writer) rawBytes(b []byte) {
	for len(b) > 0 {
		if len(w.buf) == cap(w.buf) {
			w.flush()
		}
		n := copy(w.buf[len(w.buf):cap(w.buf)], b)
		w.buf = w.buf[:len(w.buf)+n]
		b = b[n:]
	}
}

func (w *writer) byte(c byte) {
	if len(w.buf) == cap(w.buf) {
		w.flush()
	}
	w.buf = append(w.buf, c)
}

// str writes b as a JSON string the way pdata's encoder (jsoniter without
// HTML escaping) does: '"', '\\' and control characters are escaped, every
// other byte, invalid UTF-8 included, is copied as it is.
func (w *writer) str(b []byte) {
	w.byte('"')
	start, i := 0, 0
	// Eight bytes at a time while none needs escaping (the usual case).
	for i+8 <= len(b) && !escape8(binary.LittleEndian.Uint64(b[i:])) {
		i += 8
	}
	for ; i < len(b); i++ {
		c := b[i]
		if !escaped[c] {
			continue
		}
		w.rawBytes(b[start:i])
		switch c {
		case '"', '\\':
			w.raw2('\\', c)
		case '\n':
			w.raw2('\\', 'n')
		case '\r':
			w.raw2('\\', 'r')
		case '\t':
			w.raw2('\\', 't')
		default:
			w.room(6)
			w.buf = append(w.buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	w.rawBytes(b[start:])
	w.byte('"')
}

const hexDigits = "0123456789abcdef"

// escape8 reports whether any of the eight bytes in x is a control
// character, '"' or '\\' (exact: SWAR tests for a byte below 0x20 and for
// zero bytes of x^'"' and x^'\\').
func escape8(x uint64) bool {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	below := (x - 0x20*ones) &^ x & high
	q := x ^ ('"' * ones)
	s := x ^ ('\\' * ones)
	return below|((q-ones)&^q&high)|((s-ones)&^s&high) != 0
}

// escaped marks the bytes str escapes: control characters, '"' and '\\'.
var escaped = func() (t [256]bool) {
	for c := range 32 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

func (w *writer) raw2(a, b byte) {
	w.room(2)
	w.buf = append(w.buf, a, b)
}

// field writes `,"name":` or `"name":` when it is the first member.
func (w *writer) field(first *bool, name string) {
	w.room(len(name) + 4)
	if !*first {
		w.buf = append(w.buf, ',')
	}
	*first = false
	w.buf = append(w.buf, '"')
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, '"', ':')
}

func (w *writer) id(b []byte) {
	w.room(2 + 2*len(b))
	w.buf = append(w.buf, '"')
	w.buf = hex.AppendEncode(w.buf, b)
	w.buf = append(w.buf, '"')
}

// uint32 and int32 are JSON numbers; 64-bit integers are strings (proto3 JSON).
func (w *writer) uint32(v uint64) {
	w.room(20)
	w.buf = strconv.AppendUint(w.buf, uint64(uint32(v)), 10)
}

func (w *writer) int32(v uint64) {
	w.room(20)
	w.buf = strconv.AppendInt(w.buf, int64(int32(v)), 10)
}

func (w *writer) uint64(v uint64) {
	w.room(22)
	w.buf = append(w.buf, '"')
	w.buf = strconv.AppendUint(w.buf, v, 10)
	w.buf = append(w.buf, '"')
}

func (w *writer) int64(v uint64) {
	w.room(22)
	w.buf = append(w.buf, '"')
	w.buf = strconv.AppendInt(w.buf, int64(v), 10)
	w.buf = append(w.buf, '"')
}

// double writes v as pdata does: NaN and the infinities as strings, other
// values as the shortest exact decimal, in exponent form below 1e-6 or from
// 1e21 on.
func (w *writer) double(bits uint64) {
	v := math.Float64frombits(bits)
	switch {
	case math.IsNaN(v):
		w.raw(`"NaN"`)
		return
	case math.IsInf(v, 1):
		w.raw(`"Infinity"`)
		return
	case math.IsInf(v, -1):
		w.raw(`"-Infinity"`)
		return
	}
	format := byte('f')
	if abs := math.Abs(v); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	w.room(32)
	w.buf = strconv.AppendFloat(w.buf, v, format, -1, 64)
}

func (w *writer) bytes(b []byte) {
	n := base64.StdEncoding.EncodedLen(len(b))
	if n+2 <= cap(w.buf) {
		w.room(n + 2)
		w.buf = append(w.buf, '"')
		w.buf = base64.StdEncoding.AppendEncode(w.buf, b)
		w.buf = append(w.buf, '"')
		return
	}
	// Larger than the buffer: encode in pieces of whole 3-byte groups.
	w.byte('"')
	const chunk = 3 * 1024
	for len(b) > 0 {
		n := min(len(b), chunk)
		w.room(base64.StdEncoding.EncodedLen(n))
		w.buf = base64.StdEncoding.AppendEncode(w.buf, b[:n])
		b = b[n:]
	}
	w.byte('"')
}
