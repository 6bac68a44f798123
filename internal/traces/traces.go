// Package traces is tracegate's domain: trace ids, traces, and the Repository
// that is the only place where reads are scoped to a tenant.
package traces

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tracegate/tracegate/internal/otlpjson"
)

// Errors returned by Repository and by Upstream implementations. Callers map
// them to statuses with errors.Is; all of them may be wrapped.
var (
	// ErrInvalidID: the trace id is not 1 to 32 hexadecimal characters.
	ErrInvalidID = errors.New("invalid trace id")
	// ErrInvalidQuery: the request's parameters are inconsistent, or Tempo
	// rejected them (its 400). The wrapping message may be shown to the caller.
	ErrInvalidQuery = errors.New("invalid query")
	// ErrNotFound: the trace does not exist, or it belongs to another tenant.
	// The two cases are deliberately the same error, so ids cannot be probed.
	ErrNotFound = errors.New("trace not found")
	// ErrTenantMismatch: the trace exists for the tenant in Tempo but fails
	// the tenant-attribute check (mis-routed ingestion). It is an ErrNotFound.
	ErrTenantMismatch = fmt.Errorf("tenant attribute mismatch: %w", ErrNotFound)
	// ErrRateLimited: Tempo is overloaded for this tenant (its 429).
	ErrRateLimited = errors.New("tempo rate limited the request")
	// ErrUpstream: Tempo answered with an error or an unreadable body.
	ErrUpstream = errors.New("tempo answered with an error")
	// ErrUnavailable: Tempo could not be reached.
	ErrUnavailable = errors.New("tempo unavailable")
	// ErrTimeout: Tempo did not answer in time.
	ErrTimeout = errors.New("tempo timed out")
	// ErrNoTenant: a read was asked for no tenant at all. It is a bug of the
	// caller (authentication did not run), refused rather than guessed at.
	ErrNoTenant = errors.New("no tenant to read as")
)

// QueryError is an ErrInvalidQuery whose Reason is safe to show the caller.
type QueryError struct {
	Reason string
}

func (e *QueryError) Error() string { return "invalid query: " + e.Reason }

// Is makes errors.Is(err, ErrInvalidQuery) true.
func (e *QueryError) Is(target error) bool { return target == ErrInvalidQuery }

// MismatchError reports a trace hidden by the tenant-attribute check: it is
// an ErrTenantMismatch (and so an ErrNotFound). Found lists the attribute
// values that did not match (at most a few), for the audit log only.
type MismatchError struct {
	TraceID ID
	Found   string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("trace %s: %v (found %s)", e.TraceID, ErrTenantMismatch, e.Found)
}

// Unwrap makes errors.Is(err, ErrTenantMismatch) and ErrNotFound true.
func (e *MismatchError) Unwrap() error { return ErrTenantMismatch }

// ID is a canonical trace id: 32 lowercase hexadecimal characters.
type ID string

// String returns the 32-character form.
func (id ID) String() string { return string(id) }

// ParseID accepts 1 to 32 hexadecimal characters in either case and returns the
// canonical id, left-padded with zeros as Tempo does ("A1B2" and
// "0000000000000000000000000000a1b2" address the same trace). It returns an
// error wrapping ErrInvalidID otherwise.
func ParseID(s string) (ID, error) {
	if s == "" || len(s) > 32 {
		return "", fmt.Errorf("%w: must be 1 to 32 hexadecimal characters", ErrInvalidID)
	}
	var b [32]byte
	pad := 32 - len(s)
	for i := range pad {
		b[i] = '0'
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			c += 'a' - 'A'
		default:
			return "", fmt.Errorf("%w: character %d is not hexadecimal", ErrInvalidID, i+1)
		}
		b[pad+i] = c
	}
	return ID(b[:]), nil
}

// TimeRange narrows a lookup to [Start, End] in unix seconds. The zero value
// means "no range".
type TimeRange struct {
	Start, End int64
}

// IsZero reports whether no range is set.
func (r TimeRange) IsZero() bool { return r == TimeRange{} }

// NewTimeRange checks a range given as optional bounds: both or neither, and
// end after start. It returns an error wrapping ErrInvalidQuery otherwise.
func NewTimeRange(start, end *int64) (TimeRange, error) {
	switch {
	case start == nil && end == nil:
		return TimeRange{}, nil
	case start == nil || end == nil:
		return TimeRange{}, &QueryError{Reason: "give both start and end, or neither"}
	case *end <= *start:
		return TimeRange{}, &QueryError{Reason: "end must be after start"}
	}
	return TimeRange{Start: *start, End: *end}, nil
}

// Trace is one trace as read from Tempo. It is only valid inside the
// callback of the WithTrace that gave it (see Repository.WithTrace).
type Trace struct {
	ID ID
	// Data holds every resource, scope and span of the trace as Tempo sent
	// them (validated OTLP protobuf, never decoded into objects).
	Data *otlpjson.Trace
	// Partial is true when Tempo returned only part of the trace; Warnings says why.
	Partial  bool
	Warnings []string

	// keep says which resources of Data are the caller's (nil: all).
	keep []bool
}

// Resources returns the number of resources the trace shows.
func (t Trace) Resources() int {
	if t.Data == nil {
		return 0
	}
	if t.keep == nil {
		return t.Data.Len()
	}
	n := 0
	for _, k := range t.keep {
		if k {
			n++
		}
	}
	return n
}

// Proto returns the resources the trace shows as an OTLP TracesData
// protobuf message (a copy; Tempo's bytes of each resource).
func (t Trace) Proto() []byte {
	if t.Data == nil {
		return nil
	}
	return t.Data.AppendProto(nil, t.keepFunc())
}

func (t Trace) keepFunc() func(int) bool {
	if t.keep == nil {
		return nil
	}
	return func(i int) bool { return t.keep[i] }
}

// WriteJSON writes the resources the trace shows as OTLP/JSON TracesData
// to w, with the members of the JSON object head (if not nil) first: see
// otlpjson.Trace.WriteJSON. Output reaches w in bounded chunks.
func (t Trace) WriteJSON(w io.Writer, head []byte) error {
	return t.Data.WriteJSON(w, head, t.keepFunc())
}

// joinValues renders attribute values for a log line, bounded in size.
func joinValues(vs []string) string {
	const maxValues = 5
	if len(vs) > maxValues {
		vs = append(vs[:maxValues:maxValues], "…")
	}
	return strings.Join(vs, ",")
}
