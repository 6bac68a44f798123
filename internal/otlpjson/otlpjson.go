// Package otlpjson transcodes an OTLP TracesData message from protobuf to
// OTLP/JSON without building an object model. Parse validates the whole
// message first, as pdata's protobuf reader does, and lists every value of
// one resource attribute per resource (for the tenant check); WriteJSON then
// streams the JSON of the chosen resources, byte for byte what pdata's
// ptrace.JSONMarshaler writes for them, through a fixed-size buffer.
//
// Byte identity with pdata includes its quirks: repeated occurrences of a
// singular message are merged, the last oneof member of an AnyValue wins
// (an array or map replaces, never merges), all-zero ids are left out,
// strings are copied as they are (invalid UTF-8 included), and nested values
// deeper than pdata's recursion limit are an error.
package otlpjson

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync"
)

// ValueType is the type of an attribute value, as pcommon.ValueType.
type ValueType uint8

// The value types of OTLP's AnyValue.
const (
	TypeEmpty ValueType = iota
	TypeStr
	TypeInt
	TypeDouble
	TypeBool
	TypeMap
	TypeSlice
	TypeBytes
)

// Value is one value of an attribute.
type Value struct {
	Type ValueType
	// Str is the string, or for other types a rendering of the value for
	// logs (as pcommon.Value.AsString).
	Str string
}

// Trace is a validated TracesData message. It refers to the bytes given to
// Parse, which must not change while it is in use.
type Trace struct {
	resources [][]byte
}

// Parse validates data as a TracesData message the way pdata reads one, and
// fails where pdata fails (nesting deeper than pdata's recursion limit
// included), before anything is written.
func Parse(data []byte) (*Trace, error) {
	if err := validate(&tracesData, data, 0); err != nil {
		return nil, err
	}
	t := &Trace{}
	for pos := 0; pos < len(data); {
		var f field
		pos = next(data, pos, &f)
		if f.num == 1 {
			t.resources = append(t.resources, f.b)
		}
	}
	return t, nil
}

// Len returns the number of resources (ResourceSpans) of the trace.
func (t *Trace) Len() int { return len(t.resources) }

// Values returns every value of the attribute key of resource i, in order,
// duplicates included, as pdata reads them (a repeated resource message is
// merged, the last member of a value wins).
func (t *Trace) Values(i int, key string) []Value { return attributeValues(t.resources[i], key) }

// attributeValues returns the values of the resource attributes named key
// of the ResourceSpans rs.
func attributeValues(rs []byte, key string) []Value {
	var out []Value
	eachField(rs, 1, func(res []byte) {
		eachField(res, 1, func(kv []byte) {
			var k []byte
			n, first := 0, []byte(nil)
			for pos := 0; pos < len(kv); {
				var f field
				pos = next(kv, pos, &f)
				switch f.num {
				case 1:
					k = f.b
				case 2:
					if n == 0 {
						first = f.b
					}
					n++
				}
			}
			if string(k) == key {
				out = append(out, valueOf(merged(kv, 2, n, first)))
			}
		})
	})
	return out
}

// eachField calls fn with every occurrence of the length-delimited field num
// of the validated message b.
func eachField(b []byte, num int32, fn func([]byte)) {
	for pos := 0; pos < len(b); {
		var f field
		pos = next(b, pos, &f)
		if f.num == num && f.typ == wireLen {
			fn(f.b)
		}
	}
}

// lastOneof returns the AnyValue member that pdata keeps: the last one.
func lastOneof(av []byte) (f field, ok bool) {
	// The usual value is one short field: read it in place.
	if len(av) >= 2 && av[0] < 0x80 && av[0]>>3 >= 1 && av[0]>>3 <= 8 {
		f.num, f.typ = int32(av[0]>>3), int8(av[0]&7)
		switch {
		case f.typ == wireLen && av[1] < 0x80 && len(av) == 2+int(av[1]):
			f.b = av[2:]
			return f, true
		case f.typ == wireVarint && av[1] < 0x80 && len(av) == 2:
			f.u = uint64(av[1])
			return f, true
		case f.typ == wireI64 && len(av) == 9:
			f.u = binary.LittleEndian.Uint64(av[1:])
			return f, true
		}
		f = field{}
	}
	for pos := 0; pos < len(av); {
		var g field
		pos = next(av, pos, &g)
		if g.num >= 1 && g.num <= 8 {
			f, ok = g, true
		}
	}
	return f, ok
}

func valueOf(av []byte) Value {
	f, ok := lastOneof(av)
	if !ok || f.num == 8 {
		return Value{Type: TypeEmpty}
	}
	switch f.num {
	case 1:
		return Value{Type: TypeStr, Str: string(f.b)}
	case 2:
		return Value{Type: TypeBool, Str: strconv.FormatBool(f.u != 0)}
	case 3:
		return Value{Type: TypeInt, Str: strconv.FormatInt(int64(f.u), 10)}
	case 4:
		return Value{Type: TypeDouble, Str: strconv.FormatFloat(math.Float64frombits(f.u), 'g', -1, 64)}
	case 5:
		return Value{Type: TypeSlice, Str: rawJSON(av)}
	case 6:
		return Value{Type: TypeMap, Str: rawJSON(av)}
	default:
		return Value{Type: TypeBytes, Str: base64.StdEncoding.EncodeToString(f.b)}
	}
}

// rawJSON renders an AnyValue as plain JSON (["a","b"], {"k":1}), for logs.
func rawJSON(av []byte) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rawValue(av)); err != nil {
		return "<unprintable>"
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

func rawValue(av []byte) any {
	f, ok := lastOneof(av)
	if !ok {
		return nil
	}
	switch f.num {
	case 1:
		return string(f.b)
	case 2:
		return f.u != 0
	case 3:
		return int64(f.u)
	case 4:
		v := math.Float64frombits(f.u)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Sprint(v)
		}
		return v
	case 5:
		out := []any{}
		eachField(f.b, 1, func(v []byte) { out = append(out, rawValue(v)) })
		return out
	case 6:
		out := map[string]any{}
		eachField(f.b, 1, func(kv []byte) {
			var k []byte
			n, first := 0, []byte(nil)
			for pos := 0; pos < len(kv); {
				var g field
				pos = next(kv, pos, &g)
				switch g.num {
				case 1:
					k = g.b
				case 2:
					if n == 0 {
						first = g.b
					}
					n++
				}
			}
			out[string(k)] = rawValue(merged(kv, 2, n, first))
		})
		return out
	case 7:
		return base64.StdEncoding.EncodeToString(f.b)
	default:
		return int64(int32(f.u))
	}
}

// AppendProto appends the TracesData message of the resources i for which
// keep(i) is true (all when keep is nil) to dst: their ResourceSpans as
// they were given to Parse.
func (t *Trace) AppendProto(dst []byte, keep func(i int) bool) []byte {
	for i, rs := range t.resources {
		if keep != nil && !keep(i) {
			continue
		}
		dst = append(dst, 1<<3|wireLen)
		dst = binary.AppendUvarint(dst, uint64(len(rs)))
		dst = append(dst, rs...)
	}
	return dst
}

// WriteJSON writes the trace as OTLP/JSON to w, keeping the resources i for
// which keep(i) is true (all when keep is nil). With head nil, the output
// is exactly pdata's ptrace.JSONMarshaler output for the kept resources.
// Otherwise head must be a JSON object ({…}); its members come first, in
// one object with the trace's, and resourceSpans is always present (empty
// when nothing is kept). Output reaches w in chunks of at most BufferSize
// bytes; the first error of w is returned.
func (t *Trace) WriteJSON(w io.Writer, head []byte, keep func(i int) bool) error {
	buf := buffers.Get().(*[]byte)
	defer buffers.Put(buf)
	out := writer{w: w, buf: (*buf)[:0]}
	n := 0
	first := true
	if head != nil {
		if len(head) < 2 || head[0] != '{' || head[len(head)-1] != '}' {
			return fmt.Errorf("otlpjson: head %q is not a JSON object", head)
		}
		out.rawBytes(head[:len(head)-1])
		first = len(head) == 2
	} else {
		out.byte('{')
	}
	for i, rs := range t.resources {
		if keep != nil && !keep(i) {
			continue
		}
		if n == 0 {
			out.field(&first, "resourceSpans")
			out.byte('[')
		} else {
			out.byte(',')
		}
		n++
		out.resourceSpans(rs)
	}
	switch {
	case n > 0:
		out.byte(']')
	case head != nil:
		out.field(&first, "resourceSpans")
		out.raw("[]")
	}
	out.byte('}')
	out.flush()
	return out.err
}

// buffers recycles the output buffers of finished responses.
var buffers = sync.Pool{New: func() any {
	b := make([]byte, 0, BufferSize)
	return &b
}}

func (w *writer) resourceSpans(b []byte) {
	var (
		resN                  int
		res, schemaURL        []byte
		scopeAt, deprecatedAt = none, none
	)
	for pos := 0; pos < len(b); {
		from := pos
		var f field
		pos = next(b, pos, &f)
		switch f.num {
		case 1:
			if resN == 0 {
				res = f.b
			}
			resN++
		case 2:
			scopeAt.add(from, pos)
		case 3:
			schemaURL = f.b
		case 1000:
			deprecatedAt.add(from, pos)
		}
	}
	first := true
	w.byte('{')
	w.field(&first, "resource")
	w.resource(merged(b, 1, resN, res))
	if scopeAt.at >= 0 {
		w.field(&first, "scopeSpans")
		w.array(b, scopeAt, 2, w.scopeSpans)
	}
	if len(schemaURL) > 0 {
		w.field(&first, "schemaUrl")
		w.str(schemaURL)
	}
	if deprecatedAt.at >= 0 {
		w.field(&first, "deprecatedScopeSpans")
		w.array(b, deprecatedAt, 1000, w.scopeSpans)
	}
	w.byte('}')
}

// run is where the occurrences of a repeated field lie in a message: from
// the first one's tag to the last one's end (at < 0: none).
type run struct{ at, end int }

var none = run{-1, -1}

func (r *run) add(from, to int) {
	if r.at < 0 {
		r.at = from
	}
	r.end = to
}

// array writes every occurrence of field num of b within r as a JSON array
// of fn's output.
func (w *writer) array(b []byte, r run, num int32, fn func([]byte)) {
	w.byte('[')
	n := 0
	for pos := r.at; pos < r.end; {
		var f field
		pos = next(b, pos, &f)
		if f.num != num || f.typ != wireLen {
			continue
		}
		if n > 0 {
			w.byte(',')
		}
		n++
		fn(f.b)
	}
	w.byte(']')
}

// attributes is array(b, r, num, w.keyValue) with direct calls and the
// separators written with the members: attributes are most of a trace.
func (w *writer) attributes(b []byte, r run, num int32) {
	w.byte('[')
	sep := false
	for pos := r.at; pos < r.end; {
		var f field
		pos = next(b, pos, &f)
		if f.num == num && f.typ == wireLen {
			w.kv(f.b, sep)
			sep = true
		}
	}
	w.byte(']')
}

func (w *writer) resource(b []byte) {
	var dropped uint64
	attrsAt, refsAt := none, none
	for pos := 0; pos < len(b); {
		from := pos
		var f field
		pos = next(b, pos, &f)
		switch f.num {
		case 1:
			attrsAt.add(from, pos)
		case 2:
			dropped = f.u
		case 3:
			refsAt.add(from, pos)
		}
	}
	first := true
	w.byte('{')
	if attrsAt.at >= 0 {
		w.field(&first, "attributes")
		w.attributes(b, attrsAt, 1)
	}
	if uint32(dropped) != 0 {
		w.field(&first, "droppedAttributesCount")
		w.uint32(dropped)
	}
	if refsAt.at >= 0 {
		w.field(&first, "entityRefs")
		w.array(b, refsAt, 3, w.entityRef)
	}
	w.byte('}')
}

func (w *writer) entityRef(b []byte) {
	var schemaURL, typ []byte
	idsAt, descAt := none, none
	for pos := 0; pos < len(b); {
		from := pos
		var f field
		pos = next(b, pos, &f)
		switch f.num {
		case 1:
			schemaURL = f.b
		case 2:
			typ = f.b
		case 3:
			idsAt.add(from, pos)
		case 4:
			descAt.add(from, pos)
		}
	}
	first := true
	w.byte('{')
	if len(schemaURL) > 0 {
		w.field(&first, "schemaUrl")
		w.str(schemaURL)
	}
	if len(typ) > 0 {
		w.field(&first, "type")
		w.str(typ)
	}
	if idsAt.at >= 0 {
		w.field(&first, "idKeys")
		w.array(b, idsAt, 3, w.str)
	}
	if descAt.at >= 0 {
		w.field(&first, "descriptionKeys")
		w.array(b, descAt, 4, w.str)
	}
	w.byte('}')
}

func (w *writer) scopeSpans(b []byte) {
	var (
		scopeN           int
		scope, schemaURL []byte
		spansAt          = none
	)
	for pos := 0; pos < len(b); {
		from := pos
		var f field
		pos = next(b, pos, &f)
		switch f.num {
		case 1:
			if scopeN == 0 {
				scope = f.b
			}
			scopeN++
		case 2:
			spansAt.add(from, pos)
		case 3:
			schemaURL = f.b
		}
	}
	first := true
	w.byte('{')
	w.field(&first, "scope")
	w.scope(merged(b, 1, scopeN, scope))
	if spansAt.at >= 0 {
		w.field(&first, "spans")
		w.array(b, spansAt, 2, w.span)
	}
	if len(schemaURL) > 0 {
		w.field(&first, "schemaUrl")
		w.str(schemaURL)
	}
	w.byte('}')
}

func (w *writer) scope(b []byte) {
	var (
		name, version []byte
		dropped       uint64
		attrsAt       = none
	)
	for pos := 0; pos < len(b); {
		from := pos
		var f field
		pos = next(b, pos, &f)
		switch f.num {
		case 1:
			name = f.b
		case 2:
			version = f.b
		case 3:
			attrsAt.add(from, pos)
		case 4:
			dropped = f.u
		}
	}
	first := true
	w.byte('{')
	if len(name) > 0 {
		w.field(&first, "name")
		w.str(name)
	}
	if len(version) > 0 {
		w.field(&first, "version")
		w.str(version)
	}
	if attrsAt.at >= 0 {
		w.field(&first, "attributes")
		w.attributes(b, attrsAt, 3)
	}
	if uint32(dropped) != 0 {
		w.field(&first, "droppedAttributesCount")
		w.uint32(dropped)
	}
	w.byte('}')
}

// nonZero reports whether an id is set: pdata leaves out an empty or
// all-zero id.
func nonZero(id []byte) bool {
	for _, c := range id {
		if c != 0 {
			return true
		}
	}
	return false
}

func (w *writer) span(b []byte) {
	var (
		traceID, spanID, parentID, traceState, name, status []byte
		flags, kind, start, end                             uint64
		droppedAttrs, droppedEvents, droppedLinks           uint64
		statusN                                             int
		attrsAt, eventsAt, linksAt                          = none, none, none
	)
	for pos := 0; pos < len(b); {
		from := pos
		var f field
		pos = next(b, pos, &f)
		switch f.num {
		case 1:
			traceID = f.b
		case 2:
			spanID = f.b
		case 3:
			traceState = f.b
		case 4:
			parentID = f.b
		case 16:
			flags = f.u
		case 5:
			name = f.b
		case 6:
			kind = f.u
		case 7:
			start = f.u
		case 8:
			end = f.u
		case 9:
			attrsAt.add(from, pos)
		case 10:
			droppedAttrs = f.u
		case 11:
			eventsAt.add(from, pos)
		case 12:
			droppedEvents = f.u
		case 13:
			linksAt.add(from, pos)
		case 14:
			droppedLinks = f.u
		case 15:
			if statusN == 0 {
				status = f.b
			}
			statusN++
		}
	}
	w.room(headroom)
	buf := append(w.buf, '{')
	first := true
	if nonZero(traceID) {
		buf = appendID(appendField(buf, &first, "traceId"), traceID)
	}
	if nonZero(spanID) {
		buf = appendID(appendField(buf, &first, "spanId"), spanID)
	}
	if len(traceState) > 0 {
		buf = w.strIn(appendField(buf, &first, "traceState"), traceState)
	}
	if nonZero(parentID) {
		buf = appendID(appendField(buf, &first, "parentSpanId"), parentID)
	}
	if uint32(flags) != 0 {
		buf = strconv.AppendUint(appendField(buf, &first, "flags"), uint64(uint32(flags)), 10)
	}
	if len(name) > 0 {
		buf = w.strIn(appendField(buf, &first, "name"), name)
	}
	if k := int32(kind); k > 0 && k < 10 {
		buf = append(appendField(buf, &first, "kind"), byte('0'+k))
	} else if k != 0 {
		buf = strconv.AppendInt(appendField(buf, &first, "kind"), int64(k), 10)
	}
	if start != 0 {
		buf = appendUint64(appendField(buf, &first, "startTimeUnixNano"), start)
	}
	if end != 0 {
		buf = appendUint64(appendField(buf, &first, "endTimeUnixNano"), end)
	}
	w.buf = buf
	if attrsAt.at >= 0 {
		w.field(&first, "attributes")
		w.attributes(b, attrsAt, 9)
	}
	if uint32(droppedAttrs) != 0 {
		w.field(&first, "droppedAttributesCount")
		w.uint32(droppedAttrs)
	}
	if eventsAt.at >= 0 {
		w.field(&first, "events")
		w.array(b, eventsAt, 11, w.event)
	}
	if uint32(droppedEvents) != 0 {
		w.field(&first, "droppedEventsCount")
		w.uint32(droppedEvents)
	}
	if linksAt.at >= 0 {
		w.field(&first, "links")
		w.array(b, linksAt, 13, w.link)
	}
	if uint32(droppedLinks) != 0 {
		w.field(&first, "droppedLinksCount")
		w.uint32(droppedLinks)
	}
	if statusN <= 1 && len(status) == 0 && !first { // unset: the usual case
		w.raw(`,"status":{}}`)
		return
	}
	w.field(&first, "status")
	w.status(merged(b, 15, statusN, status))
	w.byte('}')
}

func (w *writer) event(b []byte) {
	var (
		time, dropped uint64
		name          []byte
		attrsAt       = none
	)
	for pos := 0; pos < len(b); {
		from := pos
		var f field
		pos = next(b, pos, &f)
		switch f.num {
		case 1:
			time = f.u
		case 2:
			name = f.b
		case 3:
			attrsAt.add(from, pos)
		case 4:
			dropped = f.u
		}
	}
	first := true
	w.byte('{')
	if time != 0 {
		w.field(&first, "timeUnixNano")
		w.uint64(time)
	}
	if len(name) > 0 {
		w.field(&first, "name")
		w.str(name)
	}
	if attrsAt.at >= 0 {
		w.field(&first, "attributes")
		w.attributes(b, attrsAt, 3)
	}
	if uint32(dropped) != 0 {
		w.field(&first, "droppedAttributesCount")
		w.uint32(dropped)
	}
	w.byte('}')
}

func (w *writer) link(b []byte) {
	var (
		traceID, spanID, traceState []byte
		dropped, flags              uint64
		attrsAt                     = none
	)
	for pos := 0; pos < len(b); {
		from := pos
		var f field
		pos = next(b, pos, &f)
		switch f.num {
		case 1:
			traceID = f.b
		case 2:
			spanID = f.b
		case 3:
			traceState = f.b
		case 4:
			attrsAt.add(from, pos)
		case 5:
			dropped = f.u
		case 6:
			flags = f.u
		}
	}
	first := true
	w.byte('{')
	if nonZero(traceID) {
		w.field(&first, "traceId")
		w.id(traceID)
	}
	if nonZero(spanID) {
		w.field(&first, "spanId")
		w.id(spanID)
	}
	if len(traceState) > 0 {
		w.field(&first, "traceState")
		w.str(traceState)
	}
	if attrsAt.at >= 0 {
		w.field(&first, "attributes")
		w.attributes(b, attrsAt, 4)
	}
	if uint32(dropped) != 0 {
		w.field(&first, "droppedAttributesCount")
		w.uint32(dropped)
	}
	if uint32(flags) != 0 {
		w.field(&first, "flags")
		w.uint32(flags)
	}
	w.byte('}')
}

func (w *writer) status(b []byte) {
	var (
		message []byte
		code    uint64
	)
	for pos := 0; pos < len(b); {
		var f field
		pos = next(b, pos, &f)
		switch f.num {
		case 2:
			message = f.b
		case 3:
			code = f.u
		}
	}
	first := true
	w.byte('{')
	if len(message) > 0 {
		w.field(&first, "message")
		w.str(message)
	}
	if int32(code) != 0 {
		w.field(&first, "code")
		w.int32(code)
	}
	w.byte('}')
}

func (w *writer) keyValue(b []byte) { w.kv(b, false) }

// kv writes the KeyValue b, after a comma if sep is set.
func (w *writer) kv(b []byte, sep bool) {
	key, value, ok := plainKeyValue(b)
	var strindex uint64
	if !ok {
		valueN := 0
		for pos := 0; pos < len(b); {
			var f field
			pos = next(b, pos, &f)
			switch f.num {
			case 1:
				key = f.b
			case 2:
				if valueN == 0 {
					value = f.b
				}
				valueN++
			case 3:
				strindex = f.u
			}
		}
		value = merged(b, 2, valueN, value)
	}
	w.room(headroom)
	buf := w.buf
	if sep {
		buf = append(buf, ',')
	}
	if len(key) > 0 {
		buf = append(buf, `{"key":`...)
		buf = w.strIn(buf, key)
		buf = append(buf, `,"value":`...)
	} else {
		buf = append(buf, `{"value":`...)
	}
	buf = w.valueIn(buf, value)
	if int32(strindex) != 0 {
		buf = append(buf, `,"keyStrindex":`...)
		buf = strconv.AppendInt(buf, int64(int32(strindex)), 10)
	}
	w.buf = append(buf, '}')
}

func (w *writer) anyValue(b []byte) {
	w.room(headroom)
	w.buf = w.valueIn(w.buf, b)
}

// valueIn appends the AnyValue b to buf, which has headroom, and returns
// buf with headroom again.
func (w *writer) valueIn(buf, b []byte) []byte {
	f, ok := lastOneof(b)
	if !ok {
		return append(buf, "{}"...)
	}
	switch f.num {
	case 1:
		buf = append(buf, `{"stringValue":`...)
		buf = w.strIn(buf, f.b)
	case 2:
		if f.u != 0 {
			buf = append(buf, `{"boolValue":true`...)
		} else {
			buf = append(buf, `{"boolValue":false`...)
		}
	case 3:
		buf = append(buf, `{"intValue":"`...)
		buf = strconv.AppendInt(buf, int64(f.u), 10)
		buf = append(buf, '"')
	case 4:
		buf = append(buf, `{"doubleValue":`...)
		buf = appendDouble(buf, f.u)
	case 7:
		buf = append(buf, `{"bytesValue":`...)
		if base64.StdEncoding.EncodedLen(len(f.b))+2 <= cap(buf)-len(buf)-headroom {
			buf = append(buf, '"')
			buf = base64.StdEncoding.AppendEncode(buf, f.b)
			buf = append(buf, '"')
		} else {
			w.buf = buf
			w.bytes(f.b)
			w.room(headroom)
			buf = w.buf
		}
	case 8:
		buf = append(buf, `{"stringValueStrindex":`...)
		buf = strconv.AppendInt(buf, int64(int32(f.u)), 10)
	default: // 5, 6: a list, of any size
		w.buf = buf
		if f.num == 5 {
			w.raw(`{"arrayValue":`)
			w.list(f.b, w.anyValue)
		} else {
			w.raw(`{"kvlistValue":`)
			w.list(f.b, w.keyValue)
		}
		w.room(headroom)
		buf = w.buf
	}
	return append(buf, '}')
}

// plainKeyValue reads the usual KeyValue in place: a key and one value,
// in this order, each shorter than 128 bytes.
func plainKeyValue(b []byte) (key, value []byte, ok bool) {
	if len(b) < 4 || b[0] != 0x0a || b[1] >= 0x80 {
		return nil, nil, false
	}
	end := 2 + int(b[1])
	if end+2 > len(b) || b[end] != 0x12 || b[end+1] >= 0x80 || end+2+int(b[end+1]) != len(b) {
		return nil, nil, false
	}
	return b[2:end], b[end+2:], true
}

// list writes an ArrayValue or KeyValueList: {"values":[…]} or {}.
func (w *writer) list(b []byte, fn func([]byte)) {
	at := -1
	for pos := 0; pos < len(b); {
		from := pos
		var f field
		pos = next(b, pos, &f)
		if f.num == 1 {
			at = from
			break
		}
	}
	if at < 0 {
		w.raw("{}")
		return
	}
	w.raw(`{"values":`)
	w.array(b, run{at, len(b)}, 1, fn)
	w.byte('}')
}
