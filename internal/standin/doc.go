// Package standin is an in-memory, multi-tenant stand-in for Grafana Tempo's
// HTTP query API and its OTLP/HTTP receiver, for tests and for the local
// development server. It is NOT a production trace store: everything lives in
// memory, queries scan every stored trace, and only the subset of Tempo listed
// below is implemented.
//
// Its behaviour follows recordings of a real multi-tenant Tempo 3.1.0-dev
// (testdata/tempo/fixtures in this module; golden_test.go replays every one of
// them).
//
// # API
//
//	s := standin.New(nil)                       // nil clock = time.Now
//	s.Ingest("acme", traces)                    // or POST to s.OTLPHandler()
//	http.ListenAndServe("127.0.0.1:3200", s.Handler())
//	http.ListenAndServe("127.0.0.1:4318", s.OTLPHandler())
//
// Options: WithQueryEndCutoff (default 1s, the recorded Tempo's setting; Tempo's
// own default is 30s; use 0 in tests), WithMaxTracesPerTenant (default 10000)
// and WithMaxSpans (default 1000000 over all tenants). When a bound is exceeded
// the least recently written traces are dropped; a single trace keeps at most
// min(WithMaxSpans, 100000) spans. A Server is safe for concurrent use.
//
// # Supported
//
// Every query route requires X-Scope-OrgID: missing or empty gives 401
// "no org id\n". The value is validated with Tempo's rules (bytes
// A-Za-z0-9!-_.*'(), at most 150 bytes, not "." or "..") and Tempo's 400
// texts; "a|b" federates (each part validated, sorted, de-duplicated, results
// merged); ":" starts metadata that is cut off ("acme:x" reads acme). Ingest
// accepts only a single plain tenant ID.
//
//   - GET /api/traces/{id} (v1): {"batches":[...]} or, with
//     Accept: application/protobuf, tempopb.Trace (= OTLP TracesData); not
//     found: 404 with an empty body.
//   - GET /api/v2/traces/{id}: {"trace":{"resourceSpans":[...]},"metrics":{...}}
//     or protobuf TraceByIDResponse; not found: 200 {"trace":{},"metrics":{}}.
//     Trace ids are parsed like Tempo (hex only, odd length gets a leading 0,
//     at most 128 bits, shorter ids left-padded). Optional start/end (unix
//     seconds) restrict the lookup to traces overlapping them.
//     JSON is Tempo's gogo-jsonpb shape: base64 ids, enum names, 64-bit
//     integers as strings, zero values omitted; resource attributes keep their
//     order except service.name, which Tempo moves to the end.
//   - GET /api/search with q (the TraceQL subset below), tags (logfmt;
//     key=value pairs, a trace matches when one span satisfies all pairs:
//     "name" is the span name, "status.code" the status, "error=true" an error
//     status, any other key a span or resource attribute whose value as text
//     equals the value), minDuration/maxDuration (trace duration), limit
//     (default 20, max 262144), spss (default 3, max 100), start/end (unix
//     seconds, both or neither, at most 168h apart; without them the last 15
//     minutes; end clamped to now - query end cutoff). Like Tempo, when none
//     of q, tags, start and end is given, unknown query parameters are used as
//     tags. Results are newest first (by trace start); searches with q carry
//     spanSet/spanSets (first spss matched spans, with the attributes the query
//     names) and serviceStats. JSON, or protobuf SearchResponse with
//     Accept: application/protobuf.
//   - GET /api/v2/search/tags (scope resource|span|intrinsic|event|link|
//     instrumentation, q, limit, start/end) and GET /api/search/tags (v1:
//     resource and span attribute names, or one scope's).
//   - GET /api/v2/search/tag/{tag}/values ({tag} a TraceQL identifier such as
//     resource.service.name, span.http.route, .x, name, status, kind; values
//     typed string|int|float|bool|keyword; q, limit, start/end) and
//     GET /api/search/tag/{tag}/values (v1: string values of span and resource
//     attributes called {tag}). Tag and tag-value endpoints use the same
//     default window as search (last 15 minutes).
//     Like real Tempo, a q that does not parse is IGNORED on the tag and
//     tag-value endpoints and the unfiltered list is returned (recorded
//     behaviour); so is a q whose conditions are joined with || (Tempo's
//     traceql.ExtractConditions gives up on OR; derived from its source). A
//     gateway must not rely on q to restrict what a caller sees there.
//   - GET /ready ("ready\n"), GET /api/echo ("echo\n"),
//     GET /api/status/buildinfo (empty version strings, the Go version).
//   - Responses of query routes carry Vary: Accept-Encoding and are gzipped
//     when the client accepts gzip and the body has at least 1024 bytes (as
//     Tempo's gzhttp middleware does). 400 bodies are Tempo's plain texts.
//   - Every other path: 404 "404 page not found\n". Query routes accept any
//     HTTP method, as Tempo's do.
//   - OTLPHandler: POST /v1/traces, Content-Type application/x-protobuf or
//     application/json, optional Content-Encoding gzip, X-Scope-OrgID. 200 with
//     an empty ExportTraceServiceResponse in the request's encoding (what the
//     OTel collector receiver inside Tempo sends: {"partialSuccess":{}} or its
//     protobuf); 400 with a google.rpc.Status (code 3) for a body that does not
//     decode or an invalid tenant ("a|b" and "a:x" are invalid for ingest);
//     503 with a google.rpc.Status (code 14, "no org id") for a missing or
//     empty X-Scope-OrgID: Tempo's tenant middleware returns a plain error
//     there, which the receiver maps to Unavailable (derived from Tempo's
//     source; not recorded). 405 for other methods, 415 for other content
//     types.
//
// # TraceQL subset
//
// q must be exactly one spanset filter, optionally followed by a select:
//
//	{ }                                   every span
//	{ cond }                              cond: field op value
//	{ cond && (cond || cond) }            && binds tighter than ||; parentheses group
//	{ ... } | select(field, ...)          adds those fields to the returned spans
//
// Fields: the intrinsics name, status, kind and duration; attributes
// resource.X, span.X and .X (span attribute first, then resource), where X
// may contain quoted parts (span."a b"). Operators: = != =~ !~ > < >= <=
// (regular expressions are Go syntax, fully anchored). Values: double-quoted
// strings with Go escapes (or back-quoted raw strings), integers, floats
// (optionally negative), durations (10ms, 1.5s, 1h30m, 2d), true/false,
// status keywords (error, ok, unset) and kind keywords (server, client,
// internal, producer, consumer, unspecified). status and kind take only = and
// != with their keywords; duration takes durations; name takes strings. A
// missing attribute matches no condition (not even !=); an array attribute
// matches when one element does. Anything else (pipelines other than select,
// aggregates, structural operators, other scopes or intrinsics, nil,
// arithmetic, metrics queries) is rejected with 400
// "invalid TraceQL query: parse error at line L, col C: <message>".
//
// # Not supported (list)
//
//   - TraceQL beyond the subset above; v2 trace-by-id parameters q,
//     keep_hierarchy, match_depth, ancestor_depth and span pruning (ignored:
//     the whole trace is returned).
//   - TraceQL metrics (/api/metrics/query_range, /api/metrics/query), trace
//     diff, MCP, gRPC streaming, the LLM response format: 404.
//   - Protobuf responses of the tag and tag-value endpoints (JSON is returned).
//   - Tempo's partial results: max_bytes_per_trace (422 / PARTIAL), silent
//     truncation of tag values, job queues (429), timeouts (503/504).
//   - Admin pages (/metrics, /status, /debug/pprof, ...): 404.
//   - Ingest over OTLP/gRPC; OTLP/HTTP request encodings other than gzip.
//   - Block, ingestion-delay and live-store semantics: data is searchable as
//     soon as it is ingested (subject to the query end cutoff).
//
// # Differences a test should know
//
//   - The "metrics" objects (inspectedBytes, inspectedTraces, jobs) are
//     normalised: inspectedBytes is the protobuf size of what was scanned,
//     jobs are always 1/1. Their numbers never match Tempo's.
//   - When limit truncates a search, the stand-in returns the newest traces.
//     Real Tempo returns whichever traces its first finished jobs found (the
//     recording search-recent-limit2 shows two older traces).
//   - Tag values come sorted (Tempo's order is arbitrary).
//   - Spans are de-duplicated by span ID per trace at ingestion (Tempo does
//     it when reading); federated trace-by-id merges tenants in sorted order
//     and drops repeated span IDs; federated search keeps the first tenant's
//     result for a trace ID present in several tenants.
package standin
