// Package standin is an in-memory, multi-tenant stand-in for the parts of
// Grafana Tempo that tracegate uses: the HTTP query API (including what the
// /tempo mount forwards) and the OTLP/HTTP receiver. It serves dev mode, the
// benchmark and the gateway's tests; it is not a trace store.
//
//	s := standin.New(nil)      // nil clock = time.Now
//	s.Ingest("acme", traces)   // or POST /v1/traces to s.OTLPHandler()
//	http.ListenAndServe("127.0.0.1:3200", s.Handler())
//
// Its answers follow recordings of a real multi-tenant Tempo 3.1.0-dev:
// golden_test.go replays every response in testdata/tempo/fixtures, and
// corpus_test.go the 140 TraceQL searches and 8 tag-value lookups of
// testdata/traceql/cases.json. Those files are the specification; where the
// stand-in deliberately differs, the tests say so.
//
// Routes (X-Scope-OrgID required: missing is 401 "no org id"; validated with
// Tempo's rules and texts; "a|b" federates; ":" starts ignored metadata):
// trace by id v1 and v2 (JSON or protobuf, v2 with q and keep_hierarchy),
// search (q, tags, minDuration, maxDuration, limit, spss, start, end; JSON
// only), tags and tag values v1 and v2, metrics query and query_range (rate
// and count_over_time only; other metrics functions are 400), and /ready,
// /api/echo, /api/status/buildinfo. Bodies of 1 KiB or more are gzipped
// when accepted, as by Tempo's middleware. Other paths are 404.
//
// TraceQL: spanset filters with && || ! and the comparison operators,
// attributes of every scope and the intrinsics, the spanset operators
// && || and the structural ones (> >> < << ~ and their ! and & forms),
// pipelines with count/avg/min/max/sum, by, coalesce and select, metrics
// stages (no effect on a search), hints and comments. Like the recorded
// Tempo, it leaks across tenants where Tempo does, e.g. trace-level
// intrinsics and { } | select(span.partner.secret), so that the gateway's
// confinement can be tested against it; and a tag or tag-value q is ignored
// unless it is exactly one spanset filter without ||.
//
// Differences a test should know: "metrics" blocks are normalised (jobs 1/1,
// inspectedBytes the protobuf size scanned); a search truncated by limit
// returns the newest traces; tag values are sorted; spans are de-duplicated
// by span ID at ingestion; over one million spans in all, the least recently
// written traces are dropped.
package standin
