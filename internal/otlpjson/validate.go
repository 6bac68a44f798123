package otlpjson

import (
	"fmt"
	"io"
)

// A schema lists the known fields of one OTLP message: pdata rejects a known
// field of another wire type, and reads its messages and ids as it goes.
type schema struct {
	name   string
	fields []fieldSpec
	// counted: the message counts towards pdata's recursion limit (the
	// KeyValue/AnyValue family, whose nesting is unbounded).
	counted bool
	// index maps field numbers below 17 to fields[index-1] (0: unknown).
	index [17]uint8
}

type fieldSpec struct {
	num  int32
	typ  int8
	kind kind
	msg  *schema
}

type kind uint8

const (
	scalar  kind = iota // varint, fixed or string/bytes: any value is accepted
	message             // a nested message, validated in turn
	traceID             // bytes of length 0 or 16
	spanID              // bytes of length 0 or 8
)

var (
	tracesData, resourceSpans, resourceMsg, entityRef, scopeSpans, scopeMsg,
	spanMsg, eventMsg, linkMsg, statusMsg, keyValue, anyValue, arrayValue, kvList schema
)

func init() {
	str := func(n int32) fieldSpec { return fieldSpec{num: n, typ: wireLen} }
	varint := func(n int32) fieldSpec { return fieldSpec{num: n, typ: wireVarint} }
	fixed64 := func(n int32) fieldSpec { return fieldSpec{num: n, typ: wireI64} }
	fixed32 := func(n int32) fieldSpec { return fieldSpec{num: n, typ: wireI32} }
	msg := func(n int32, s *schema) fieldSpec { return fieldSpec{num: n, typ: wireLen, kind: message, msg: s} }
	tid := fieldSpec{num: 1, typ: wireLen, kind: traceID}
	sid := fieldSpec{num: 2, typ: wireLen, kind: spanID}

	tracesData = schema{name: "TracesData", fields: []fieldSpec{msg(1, &resourceSpans)}}
	resourceSpans = schema{name: "ResourceSpans", fields: []fieldSpec{msg(1, &resourceMsg), msg(2, &scopeSpans), str(3), msg(1000, &scopeSpans)}}
	resourceMsg = schema{name: "Resource", fields: []fieldSpec{msg(1, &keyValue), varint(2), msg(3, &entityRef)}}
	entityRef = schema{name: "EntityRef", fields: []fieldSpec{str(1), str(2), str(3), str(4)}}
	scopeSpans = schema{name: "ScopeSpans", fields: []fieldSpec{msg(1, &scopeMsg), msg(2, &spanMsg), str(3)}}
	scopeMsg = schema{name: "InstrumentationScope", fields: []fieldSpec{str(1), str(2), msg(3, &keyValue), varint(4)}}
	spanMsg = schema{name: "Span", fields: []fieldSpec{
		tid, sid, str(3), {num: 4, typ: wireLen, kind: spanID}, fixed32(16), str(5), varint(6),
		fixed64(7), fixed64(8), msg(9, &keyValue), varint(10), msg(11, &eventMsg), varint(12),
		msg(13, &linkMsg), varint(14), msg(15, &statusMsg),
	}}
	eventMsg = schema{name: "Span.Event", fields: []fieldSpec{fixed64(1), str(2), msg(3, &keyValue), varint(4)}}
	linkMsg = schema{name: "Span.Link", fields: []fieldSpec{tid, sid, str(3), msg(4, &keyValue), varint(5), fixed32(6)}}
	statusMsg = schema{name: "Status", fields: []fieldSpec{str(2), varint(3)}}
	keyValue = schema{name: "KeyValue", counted: true, fields: []fieldSpec{str(1), msg(2, &anyValue), varint(3)}}
	anyValue = schema{name: "AnyValue", counted: true, fields: []fieldSpec{
		str(1), varint(2), varint(3), fixed64(4), msg(5, &arrayValue), msg(6, &kvList), str(7), varint(8),
	}}
	arrayValue = schema{name: "ArrayValue", counted: true, fields: []fieldSpec{msg(1, &anyValue)}}
	kvList = schema{name: "KeyValueList", counted: true, fields: []fieldSpec{msg(1, &keyValue)}}
	for _, s := range []*schema{&tracesData, &resourceSpans, &resourceMsg, &entityRef, &scopeSpans, &scopeMsg,
		&spanMsg, &eventMsg, &linkMsg, &statusMsg, &keyValue, &anyValue, &arrayValue, &kvList} {
		for i, f := range s.fields {
			if f.num < int32(len(s.index)) {
				s.index[f.num] = uint8(i + 1)
			}
		}
	}
}

func (s *schema) field(num int32) *fieldSpec {
	if num < int32(len(s.index)) {
		if i := s.index[num]; i > 0 {
			return &s.fields[i-1]
		}
		return nil
	}
	for i := range s.fields {
		if s.fields[i].num == num {
			return &s.fields[i]
		}
	}
	return nil
}

// validate checks b as a message of s the way pdata's UnmarshalProto reads
// it, and fails where pdata fails. depth is pdata's recursion depth.
func validate(s *schema, b []byte, depth int) error {
	if s.counted {
		if depth >= recursionLimit {
			return errDepth
		}
		depth++
	}
	for pos := 0; pos < len(b); {
		var (
			num int32
			typ int8
			p   int
			err error
		)
		if c := b[pos]; c < 0x80 { // one-byte tag: field numbers up to 15
			num, typ, p = int32(c>>3), int8(c&7), pos+1
			if num == 0 {
				return fmt.Errorf("proto: illegal field number 0")
			}
		} else if num, typ, p, err = consumeTag(b, pos); err != nil {
			return err
		}
		f := s.field(num)
		if f == nil {
			if pos, err = consumeUnknown(b, p, typ); err != nil {
				return err
			}
			continue
		}
		if typ != f.typ {
			return fmt.Errorf("proto: wrong wire type %d for field %d of %s", typ, num, s.name)
		}
		switch typ {
		case wireVarint:
			_, pos, err = consumeVarint(b, p)
		case wireI64:
			pos, err = consumeFixed(b, p, 8)
		case wireI32:
			pos, err = consumeFixed(b, p, 4)
		case wireLen:
			var start int
			if p < len(b) && b[p] < 0x80 { // one-byte length
				start, pos = p+1, p+1+int(b[p])
				if pos > len(b) {
					return io.ErrUnexpectedEOF
				}
			} else if start, pos, err = consumeLen(b, p); err != nil {
				return err
			}
			if f.kind != scalar {
				err = validateValue(f, b[start:pos], depth)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func validateValue(f *fieldSpec, v []byte, depth int) error {
	switch f.kind {
	case message:
		switch f.msg {
		case &keyValue:
			return validateKeyValue(v, 0) // below a fixed-depth message: counted afresh
		case &spanMsg:
			return validateSpan(v)
		}
		if !f.msg.counted {
			depth = 0 // pdata starts counting afresh below a fixed-depth message
		}
		return validate(f.msg, v, depth)
	case traceID:
		if len(v) != 0 && len(v) != 16 {
			return fmt.Errorf("proto: trace id of %d bytes", len(v))
		}
	case spanID:
		if len(v) != 0 && len(v) != 8 {
			return fmt.Errorf("proto: span id of %d bytes", len(v))
		}
	}
	return nil
}

// The KeyValue family (attributes, by far the bulk of a trace) is validated
// by hand-written code: the same rules as validate with its schemas, without
// the table lookups.

// tagAt reads the tag at pos (one-byte tags inline).
func tagAt(b []byte, pos int) (num int32, typ int8, next int, err error) {
	if c := b[pos]; c < 0x80 {
		if c < 8 {
			return 0, 0, 0, fmt.Errorf("proto: illegal field number 0")
		}
		return int32(c >> 3), int8(c & 7), pos + 1, nil
	}
	return consumeTag(b, pos)
}

// lenAt reads the bounds of a length-delimited value at pos.
func lenAt(b []byte, pos int) (start, end int, err error) {
	if pos < len(b) && b[pos] < 0x80 {
		start, end = pos+1, pos+1+int(b[pos])
		if end > len(b) {
			return 0, 0, io.ErrUnexpectedEOF
		}
		return start, end, nil
	}
	return consumeLen(b, pos)
}

func wrongType(typ int8, num int32, msg string) error {
	return fmt.Errorf("proto: wrong wire type %d for field %d of %s", typ, num, msg)
}

func validateKeyValue(b []byte, depth int) error {
	if depth+1 >= recursionLimit {
		if depth >= recursionLimit {
			return errDepth
		}
	} else if _, v, ok := plainKeyValue(b); ok && plainScalar(v) {
		return nil // the usual attribute: a key and one short scalar value
	}
	depth++
	for pos := 0; pos < len(b); {
		num, typ, p, err := tagAt(b, pos)
		if err != nil {
			return err
		}
		switch num {
		case 1, 2:
			if typ != wireLen {
				return wrongType(typ, num, "KeyValue")
			}
			var start int
			if start, pos, err = lenAt(b, p); err == nil && num == 2 {
				err = validateAnyValue(b[start:pos], depth)
			}
		case 3:
			if typ != wireVarint {
				return wrongType(typ, num, "KeyValue")
			}
			_, pos, err = consumeVarint(b, p)
		default:
			pos, err = consumeUnknown(b, p, typ)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// validateSpan is validate(&spanMsg, b, 0) written out: spans and their
// attributes are the bulk of a trace.
func validateSpan(b []byte) error {
	for pos := 0; pos < len(b); {
		num, typ, p, err := tagAt(b, pos)
		if err != nil {
			return err
		}
		if num > 16 {
			if pos, err = consumeUnknown(b, p, typ); err != nil {
				return err
			}
			continue
		}
		f := &spanMsg.fields[spanMsg.index[num]-1] // every number 1–16 is a Span field
		if typ != f.typ {
			return wrongType(typ, num, "Span")
		}
		switch typ {
		case wireVarint:
			_, pos, err = consumeVarint(b, p)
		case wireI64:
			pos, err = consumeFixed(b, p, 8)
		case wireI32:
			pos, err = consumeFixed(b, p, 4)
		default: // wireLen
			var start int
			if start, pos, err = lenAt(b, p); err == nil && f.kind != scalar {
				err = validateValue(f, b[start:pos], 0)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// plainScalar reports whether the AnyValue av is valid as one short field
// holding a string, bool, int, double or bytes (lists need validate).
func plainScalar(av []byte) bool {
	if len(av) < 2 {
		return false
	}
	switch av[0] {
	case 1<<3 | wireLen, 7<<3 | wireLen:
		return av[1] < 0x80 && len(av) == 2+int(av[1])
	case 2<<3 | wireVarint, 3<<3 | wireVarint, 8<<3 | wireVarint:
		_, end, err := consumeVarint(av, 1)
		return err == nil && end == len(av)
	case 4<<3 | wireI64:
		return len(av) == 9
	}
	return false
}

func validateAnyValue(b []byte, depth int) error {
	if depth >= recursionLimit {
		return errDepth
	}
	depth++
	for pos := 0; pos < len(b); {
		num, typ, p, err := tagAt(b, pos)
		if err != nil {
			return err
		}
		switch num {
		case 1, 5, 6, 7:
			if typ != wireLen {
				return wrongType(typ, num, "AnyValue")
			}
			var start int
			start, pos, err = lenAt(b, p)
			if err == nil && (num == 5 || num == 6) {
				err = validateList(b[start:pos], depth, num == 6)
			}
		case 2, 3, 8:
			if typ != wireVarint {
				return wrongType(typ, num, "AnyValue")
			}
			_, pos, err = consumeVarint(b, p)
		case 4:
			if typ != wireI64 {
				return wrongType(typ, num, "AnyValue")
			}
			pos, err = consumeFixed(b, p, 8)
		default:
			pos, err = consumeUnknown(b, p, typ)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// validateList validates an ArrayValue, or a KeyValueList when kv is set.
func validateList(b []byte, depth int, kv bool) error {
	if depth >= recursionLimit {
		return errDepth
	}
	depth++
	for pos := 0; pos < len(b); {
		num, typ, p, err := tagAt(b, pos)
		if err != nil {
			return err
		}
		if num != 1 {
			if pos, err = consumeUnknown(b, p, typ); err != nil {
				return err
			}
			continue
		}
		if typ != wireLen {
			return wrongType(typ, num, "ArrayValue")
		}
		var start int
		if start, pos, err = lenAt(b, p); err != nil {
			return err
		}
		if kv {
			err = validateKeyValue(b[start:pos], depth)
		} else {
			err = validateAnyValue(b[start:pos], depth)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
