package otlpjson

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The wire reader mirrors pdata's (internal/proto of
// go.opentelemetry.io/collector/pdata), not protowire's, because the output
// must match pdata's wherever pdata accepts an input: pdata reads a field
// number as int32(tag>>3) and accepts ten-byte varints whose last byte has
// more than one bit, where protowire is stricter.

// Wire types.
const (
	wireVarint     = 0
	wireI64        = 1
	wireLen        = 2
	wireStartGroup = 3
	wireEndGroup   = 4
	wireI32        = 5
)

// recursionLimit is pdata's bound on nested KeyValue, AnyValue, ArrayValue
// and KeyValueList messages.
const recursionLimit = 100

var (
	errOverflow    = errors.New("proto: integer overflow")
	errNegativeLen = errors.New("proto: negative length")
	errEndOfGroup  = errors.New("proto: unexpected end of group")
	errDepth       = errors.New("proto: exceeded max recursion depth")
)

func consumeVarint(b []byte, pos int) (uint64, int, error) {
	var num uint64
	for shift := uint(0); ; shift += 7 {
		if shift >= 64 {
			return 0, 0, errOverflow
		}
		if pos >= len(b) {
			return 0, 0, io.ErrUnexpectedEOF
		}
		c := b[pos]
		pos++
		num |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return num, pos, nil
		}
	}
}

func consumeTag(b []byte, pos int) (num int32, typ int8, next int, err error) {
	tag, pos, err := consumeVarint(b, pos)
	if err != nil {
		return 0, 0, 0, err
	}
	num = int32(tag >> 3)
	if num <= 0 {
		return 0, 0, 0, fmt.Errorf("proto: illegal field number %d", num)
	}
	return num, int8(tag & 7), pos, nil
}

// consumeLen returns the bounds of a length-delimited value at pos.
func consumeLen(b []byte, pos int) (start, end int, err error) {
	n, pos, err := consumeVarint(b, pos)
	if err != nil {
		return 0, 0, err
	}
	length := int(n)
	if length < 0 {
		return 0, 0, errNegativeLen
	}
	end = pos + length
	if end < 0 || end > len(b) {
		return 0, 0, io.ErrUnexpectedEOF
	}
	return pos, end, nil
}

func consumeFixed(b []byte, pos, size int) (int, error) {
	pos += size
	if pos < 0 || pos > len(b) {
		return 0, io.ErrUnexpectedEOF
	}
	return pos, nil
}

// consumeUnknown skips a field of an unknown number, groups included (their
// end tag's number is not checked, as in pdata).
func consumeUnknown(b []byte, pos int, typ int8) (int, error) {
	var err error
	depth := 0
	for pos < len(b) {
		switch typ {
		case wireVarint:
			_, pos, err = consumeVarint(b, pos)
			return pos, err
		case wireI64:
			return consumeFixed(b, pos, 8)
		case wireLen:
			_, pos, err = consumeLen(b, pos)
			return pos, err
		case wireI32:
			return consumeFixed(b, pos, 4)
		case wireStartGroup:
			depth++
		case wireEndGroup:
			if depth == 0 {
				return 0, errEndOfGroup
			}
			depth--
		default:
			return 0, fmt.Errorf("proto: illegal wire type %d", typ)
		}
		if depth == 0 {
			return pos, nil
		}
		if _, typ, pos, err = consumeTag(b, pos); err != nil {
			return 0, err
		}
	}
	return 0, io.ErrUnexpectedEOF
}

// field is one field of a message already validated.
type field struct {
	num int32
	typ int8
	u   uint64 // varint, fixed32 and fixed64 values
	b   []byte // length-delimited values
}

// next reads the field at pos of a validated message. A short
// length-delimited field, by far the most common, is read inline.
func next(b []byte, pos int, f *field) int {
	// (Every field of a validated message has a byte after its tag.)
	if c, n := b[pos], b[pos+1]; c&0x87 == wireLen && n < 0x80 {
		end := pos + 2 + int(n)
		f.num, f.typ, f.b = int32(c>>3), wireLen, b[pos+2:end]
		return end
	}
	return nextSlow(b, pos, f)
}

// nextSlow is next for every other field. One-byte tags and lengths take a
// short path.
func nextSlow(b []byte, pos int, f *field) int {
	var tag uint64
	if c := b[pos]; c < 0x80 {
		tag = uint64(c)
		pos++
	} else {
		tag, pos, _ = consumeVarint(b, pos)
	}
	f.num, f.typ = int32(tag>>3), int8(tag&7)
	switch f.typ {
	case wireLen:
		var n uint64
		if c := b[pos]; c < 0x80 {
			n = uint64(c)
			pos++
		} else {
			n, pos, _ = consumeVarint(b, pos)
		}
		end := pos + int(n)
		f.b, pos = b[pos:end:end], end
	case wireVarint:
		if c := b[pos]; c < 0x80 {
			f.u = uint64(c)
			pos++
		} else {
			f.u, pos, _ = consumeVarint(b, pos)
		}
	case wireI64:
		f.u = binary.LittleEndian.Uint64(b[pos:])
		pos += 8
	case wireI32:
		f.u = uint64(binary.LittleEndian.Uint32(b[pos:]))
		pos += 4
	default:
		pos, _ = consumeUnknown(b, pos, f.typ)
	}
	return pos
}

// merged returns the message that pdata builds from every occurrence of the
// singular message field num in b: the occurrences in order, read as one
// (protobuf's merge). One occurrence is returned in place.
func merged(b []byte, num int32, count int, first []byte) []byte {
	if count <= 1 {
		return first
	}
	var out []byte
	for pos := 0; pos < len(b); {
		var f field
		pos = next(b, pos, &f)
		if f.num == num && f.typ == wireLen {
			out = append(out, f.b...)
		}
	}
	return out
}
