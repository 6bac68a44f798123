package otlpjson

import (
	"encoding/base64"
	"encoding/binary"
	"io"
	"math"
	"strconv"
)

// BufferSize is the size of the output buffer of one WriteJSON call: the
// output reaches the io.Writer in chunks of at most this many bytes.
const BufferSize = 128 << 10

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

// headroom is how many bytes may be appended to the buffer without a check
// after room(headroom) or strIn: the fixed-size parts of a message (member
// names, ids, numbers) are written with plain appends between checks.
const headroom = 512

// strIn appends b as a JSON string to buf, which has headroom, and returns
// buf with headroom again (flushing what came before if b is long).
func (w *writer) strIn(buf, b []byte) []byte {
	if 6*len(b)+2 <= cap(buf)-len(buf)-headroom {
		return appendStr(buf, b)
	}
	w.buf = buf
	w.str(b)
	w.room(headroom)
	return w.buf
}

// str writes b as a JSON string the way pdata's encoder (jsoniter without
// HTML escaping) does: '"', '\\' and control characters are escaped, every
// other byte, invalid UTF-8 included, is copied as it is.
func (w *writer) str(b []byte) {
	if 6*len(b)+2 <= cap(w.buf)-len(w.buf) {
		w.buf = appendStr(w.buf, b)
		return
	}
	w.byte('"')
	start, i := 0, 0
	for i+8 <= len(b) && !escape8(binary.LittleEndian.Uint64(b[i:])) {
		i += 8
	}
	for ; i < len(b); i++ {
		c := b[i]
		if !escaped[c] {
			continue
		}
		w.rawBytes(b[start:i])
		w.room(6)
		w.buf = appendEscaped(w.buf, c)
		start = i + 1
	}
	w.rawBytes(b[start:])
	w.byte('"')
}

// appendStr is str for a buffer with room for 6*len(b)+2 more bytes.
func appendStr(dst, b []byte) []byte {
	dst = append(dst, '"')
	i := 0
	// Eight bytes at a time while none needs escaping (the usual case).
	for i+8 <= len(b) && !escape8(binary.LittleEndian.Uint64(b[i:])) {
		i += 8
	}
	start := 0
	for ; i < len(b); i++ {
		if c := b[i]; escaped[c] {
			dst = appendEscaped(append(dst, b[start:i]...), c)
			start = i + 1
		}
	}
	dst = append(dst, b[start:]...)
	return append(dst, '"')
}

func appendEscaped(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// appendField appends `,"name":`, or `"name":` for the first member.
func appendField(dst []byte, first *bool, name string) []byte {
	if !*first {
		dst = append(dst, ',')
	}
	*first = false
	dst = append(dst, '"')
	dst = append(dst, name...)
	return append(dst, '"', ':')
}

func appendID(dst, id []byte) []byte {
	dst = append(dst, '"')
	for _, c := range id {
		dst = append(dst, hexPairs[2*int(c)], hexPairs[2*int(c)+1])
	}
	return append(dst, '"')
}

// hexPairs holds the two hex digits of every byte.
var hexPairs = func() (t [512]byte) {
	for c := range 256 {
		t[2*c], t[2*c+1] = hexDigits[c>>4], hexDigits[c&0xf]
	}
	return t
}()

// appendUint64 appends v as a JSON string (proto3 JSON's 64-bit integers).
func appendUint64(dst []byte, v uint64) []byte {
	dst = append(dst, '"')
	dst = appendDecimal(dst, v)
	return append(dst, '"')
}

// appendDecimal is strconv.AppendUint(dst, v, 10), faster for the long
// numbers of timestamps: eight digits at a time in 32-bit arithmetic.
func appendDecimal(dst []byte, v uint64) []byte {
	if v < 1e8 {
		return strconv.AppendUint(dst, v, 10)
	}
	lo := uint32(v % 1e8)
	v /= 1e8
	if v < 1e8 {
		dst = strconv.AppendUint(dst, v, 10)
	} else {
		dst = strconv.AppendUint(dst, v/1e8, 10)
		dst = append8(dst, uint32(v%1e8))
	}
	return append8(dst, lo)
}

// append8 appends v < 1e8 as exactly eight digits.
func append8(dst []byte, v uint32) []byte {
	hi, lo := v/10000, v%10000
	a, b, c, d := hi/100, hi%100, lo/100, lo%100
	return append(dst, decimalPairs[2*a], decimalPairs[2*a+1], decimalPairs[2*b], decimalPairs[2*b+1],
		decimalPairs[2*c], decimalPairs[2*c+1], decimalPairs[2*d], decimalPairs[2*d+1])
}

// decimalPairs holds the two digits of 0..99.
var decimalPairs = func() (t [200]byte) {
	for i := range 100 {
		t[2*i], t[2*i+1] = byte('0'+i/10), byte('0'+i%10)
	}
	return t
}()

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

// field writes `,"name":` or `"name":` when it is the first member.
func (w *writer) field(first *bool, name string) {
	w.room(len(name) + 4)
	w.buf = appendField(w.buf, first, name)
}

func (w *writer) id(b []byte) {
	w.room(2 + 2*len(b))
	w.buf = appendID(w.buf, b)
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
	w.buf = appendUint64(w.buf, v)
}

// appendDouble appends v as pdata does: NaN and the infinities as strings,
// other values as the shortest exact decimal, in exponent form below 1e-6 or
// from 1e21 on (at most 26 bytes).
func appendDouble(dst []byte, bits uint64) []byte {
	v := math.Float64frombits(bits)
	switch {
	case math.IsNaN(v):
		return append(dst, `"NaN"`...)
	case math.IsInf(v, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(v, -1):
		return append(dst, `"-Infinity"`...)
	}
	format := byte('f')
	if abs := math.Abs(v); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(dst, v, format, -1, 64)
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
