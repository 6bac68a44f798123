package traces

import "time"

// SearchQuery is a validated search request.
type SearchQuery struct {
	// Q is a TraceQL query; empty lists the most recent traces.
	Q           string
	Range       TimeRange
	Limit       int
	SpansPerSet int
}

// Attribute is one attribute of a search result span. Value is a string,
// int64, float64 or bool.
type Attribute struct {
	Key   string
	Value any
}

// SpanSummary is one matched span of a search result.
type SpanSummary struct {
	SpanID        string // 16 lowercase hex characters
	StartUnixNano uint64
	DurationNanos uint64
	Attributes    []Attribute
}

// SpanSet is a set of spans that matched a query; Spans holds at most the
// requested spans per set, Matched counts them all.
type SpanSet struct {
	Matched int64
	Spans   []SpanSummary
}

// TraceSummary is one search result.
type TraceSummary struct {
	ID            ID
	RootService   string
	RootSpan      string
	StartUnixNano uint64
	DurationMs    int64
	SpanSets      []SpanSet
}

// Start returns the trace's start time.
func (t TraceSummary) Start() time.Time {
	return time.Unix(0, int64(t.StartUnixNano)).UTC() //nolint:gosec // unix nanos fit int64 until 2262
}

// TagScope lists the attribute names of one scope (resource, span, …).
type TagScope struct {
	Name string
	Tags []string
}

// TagValue is one value of an attribute, with Tempo's type name.
type TagValue struct {
	Type  string
	Value string
}
