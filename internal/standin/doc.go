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
//     v2 span filtering: q keeps the spans its spansets match (and with
//     keep_hierarchy=true their ancestors), status PARTIAL with Tempo's
//     message; match_depth and ancestor_depth are ignored.
//   - GET /api/metrics/query_range and /api/metrics/query (q or query; start
//     and end in unix seconds or nanoseconds, or since; step as a duration or
//     seconds, default range/240): rate() and count_over_time(), optionally
//     by() fields, over the spans the query's spansets match; samples aligned
//     to the step, a zero sample without "value"; a query without a metrics
//     function is 400 "not a metrics query"; other metrics functions are 400
//     (the stand-in does not compute them).
//   - GET /api/search with q (TraceQL, below), tags (logfmt;
//     key=value pairs, a trace matches when one span satisfies all pairs:
//     "name" is the span name, "status.code" the status, "error=true" an error
//     status, any other key a span or resource attribute whose value as text
//     equals the value), minDuration/maxDuration (trace duration), limit
//     (default 20, max 262144), spss (default 3, max 100), start/end (unix
//     seconds, both or neither, at most 168h apart; without them the last 15
//     minutes; end clamped to now - query end cutoff). Like Tempo, when none
//     of q, tags, start and end is given, unknown query parameters are used as
//     tags. Results are newest first (by trace start); searches with q carry
//     spanSets (first spss spans of each span set, with the attributes the
//     query reports), spanSet (the first of them) and serviceStats. JSON, or protobuf SearchResponse with
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
//     behaviour); so is a q whose conditions are joined with || or that has
//     a structural operator (Tempo's traceql.ExtractConditions gives up on
//     them), and, assuming the worst, any q that is not exactly one spanset
//     filter. A gateway must not rely on q to restrict what a caller sees
//     there.
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
// # TraceQL
//
// The stand-in evaluates TraceQL the way the recorded Tempo does:
// testdata/traceql/cases.json holds 140 searches and 8 tag-value lookups a
// real Tempo answered over testdata/tempo/ingested plus a mixed trace (acme
// root, child resource stamped tenant.id=globex with partner.secret), and
// TestCorpus replays every one of them: same status and error text, same
// traces, root service and name, matched counts, returned spans and
// attributes. It reproduces Tempo's cross-tenant leaks faithfully (for
// example { } | select(span.partner.secret) returns GLOBEX-ONLY), so that a
// gateway's confinement can be tested against it.
//
//	{ cond }                       spanset filter; { } and { true } match every span
//	A && B, A || B                 trace-level: && needs both sides to match some span
//	                               and returns both sides' spans; || is the union
//	A > B, >>, <, <<, ~            B spans whose parent / ancestor / child / descendant /
//	                               sibling is in A (structure from parentSpanId)
//	A !> B, !>>, !<, !<<, !~       B spans without such a span in A (roots have no parent)
//	A &> B, &>>, &<, &<<, &~       both sides' spans that stand in the relation
//	(A) op (B)                     grouping; a parenthesised pipeline may only be joined
//	                               to another parenthesised operand (Tempo's grammar)
//	... | stage | stage            stages apply to each span set in turn:
//	  { cond } or A op B           a filter within the span set
//	  count() > 2, avg|min|max|sum(field) > 1ms
//	                               keeps span sets whose aggregate holds
//	  by(field)                    splits span sets by the field's value
//	  coalesce()                   merges them
//	  select(field, ...)           reports those fields on returned spans
//	  rate(), count_over_time(), quantile_over_time(...), compare({...}), topk(n), ...
//	                               metrics stages: accepted, no effect on matching, as on
//	                               Tempo's search endpoint (compare() reports every attribute)
//	... with (name = value, ...)   hints: accepted, no effect
//
// Conditions: field op value, joined with && and || (&& binds tighter),
// negated with !, grouped with parentheses; true and false. Operators
// = != =~ !~ > >= < <=; regular expressions are Go syntax, fully anchored.
// Fields: resource.X, span.X, .X (span attribute first, then resource),
// event.X, link.X, instrumentation.X (X may contain quoted parts:
// span."a b"); the intrinsics name, status, kind, duration, statusMessage
// (also as span:name, span:status, ...), span:id, span:parentID,
// span:childCount, nestedSetLeft/Right/Parent (a root's nestedSetParent is
// -1), trace:id, trace:rootService, trace:rootName, trace:duration (and the
// legacy rootServiceName, rootName, traceDuration), event:name,
// event:timeSinceStart, link:traceID, link:spanID, instrumentation:name and
// instrumentation:version. Trace-level intrinsics describe the whole trace,
// spans stamped for another tenant included. Values: double-quoted strings
// with Go escapes (\uXXXX included) or back-quoted raw strings (single quotes
// are Tempo's "invalid char literal"), integers, floats (1.5, 1000.0, 1e3,
// optionally negative), durations (1500000ns, 10ms, 1.5s, 1000µs, 1h30m,
// 2d), true/false, nil, status keywords (error, ok, unset) and kind keywords
// (server, client, internal, producer, consumer, unspecified). Comments //
// and /* */ may appear anywhere between tokens.
//
// Semantics worth knowing, all visible in the corpus:
//
//   - A missing field matches only "= nil" (not even !=); an array attribute
//     matches when one element does; a string never equals a number.
//   - Like Tempo, whose storage first fetches the spans on which every
//     condition of an OR-free filter holds, a condition under ! in a filter
//     without || makes it match nothing: { !(resource.tenant.id = "acme") }
//     returns no trace.
//   - Returned spans: the first spss of each span set in trace order
//     (matched counts them all), each reporting the fields of the query's
//     conditions that hold on it ("= nil" as a value-less attribute) and the
//     fields of select() and by() it has. duration, span:id and trace-level
//     intrinsics are never reported. Attributes Tempo keeps in dedicated
//     columns (http.method, http.route, k8s.pod.name, ... see
//     wellKnownColumns) are reported value-less when selected but missing.
//   - limit counts traces.
//
// Errors are 400 "invalid TraceQL query: parse error at line L, col C:
// <message>" in Tempo's words for the recorded cases (and its shapes
// elsewhere); the parent. scope is 400 "invalid TraceQL query: parent not
// yet supported". Not implemented: arithmetic, attribute-to-attribute
// comparisons, scalar filters other than the aggregates above, and the
// results of metrics functions (see the next section).
//
// # Not supported (list)
//
//   - TraceQL beyond the section above; v2 trace-by-id parameters
//     match_depth, ancestor_depth and span pruning (ignored).
//   - TraceQL metrics functions other than rate() and count_over_time(),
//     exemplars; trace diff, MCP, gRPC streaming, the LLM response format: 404.
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
