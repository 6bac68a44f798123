package standin

import (
	"container/list"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// DefaultQueryEndCutoff is the query_end_cutoff of the Tempo the fixtures
// were recorded from (Tempo's own default is 30s).
const DefaultQueryEndCutoff = time.Second

// maxSpans bounds the memory of a long-running dev server: over it, the least
// recently written traces are dropped.
const maxSpans = 1_000_000

// Option configures a Server.
type Option func(*Server)

// WithQueryEndCutoff sets how far before "now" search, tag and tag-value
// windows end. Use 0 in tests so that fresh spans are searchable at once.
func WithQueryEndCutoff(d time.Duration) Option {
	return func(s *Server) { s.cutoff = max(d, 0) }
}

// Server is an in-memory, multi-tenant stand-in for Tempo. It is safe for
// concurrent use.
type Server struct {
	clock    func() time.Time
	cutoff   time.Duration
	maxSpans int

	mu      sync.RWMutex
	tenants map[string]map[[16]byte]*storedTrace
	lru     *list.List // of *storedTrace, front = least recently written
	spans   int
}

type storedTrace struct {
	tenant string
	id     [16]byte
	// batches is copy-on-write, so a reader may keep a slice it took under
	// the read lock; a stored ResourceSpans is never modified.
	batches []ptrace.ResourceSpans
	spanIDs map[[8]byte]struct{}
	elem    *list.Element
}

// New returns an empty Server. clock supplies "now" for the default search
// window and the query end cutoff; nil means time.Now.
func New(clock func() time.Time, opts ...Option) *Server {
	if clock == nil {
		clock = time.Now
	}
	s := &Server{
		clock:    clock,
		cutoff:   DefaultQueryEndCutoff,
		maxSpans: maxSpans,
		tenants:  map[string]map[[16]byte]*storedTrace{},
		lru:      list.New(),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

var errNoOrgID = errors.New("no org id")

// validTenantID applies Tempo's (dskit's) tenant ID rules.
func validTenantID(s string) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!-_.*'()", c) >= 0) {
			return fmt.Errorf("tenant ID '%s' contains unsupported character '%c'", s, rune(c))
		}
	}
	if len(s) > 150 {
		return errors.New("tenant ID is too long: max 150 characters")
	}
	if s == "." || s == ".." {
		return errors.New("tenant ID is '.' or '..'")
	}
	return nil
}

// resolveTenants turns an X-Scope-OrgID value into the tenants to read, as
// Tempo's query path does: split on '|', cut each part at the first ':'
// (metadata), validate, sort and de-duplicate.
func resolveTenants(orgID string) ([]string, error) {
	var out []string
	for p := range strings.SplitSeq(orgID, "|") {
		p, _, _ = strings.Cut(p, ":")
		if err := validTenantID(p); err != nil {
			return nil, err
		}
		if p == "" {
			return nil, errNoOrgID
		}
		out = append(out, p)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Ingest stores the spans of td under tenant, a single valid Tempo tenant
// ID. Spans with an all-zero trace ID or an already stored span ID are
// dropped. td is not retained.
func (s *Server) Ingest(tenant string, td ptrace.Traces) error {
	if tenant == "" {
		return errNoOrgID
	}
	if err := validTenantID(tenant); err != nil {
		return err
	}
	batches := splitByTrace(td)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range batches {
		byID := s.tenants[tenant]
		if byID == nil {
			byID = map[[16]byte]*storedTrace{}
			s.tenants[tenant] = byID
		}
		st := byID[b.id]
		if st == nil {
			st = &storedTrace{tenant: tenant, id: b.id, spanIDs: map[[8]byte]struct{}{}}
			byID[b.id] = st
			st.elem = s.lru.PushBack(st)
		} else {
			s.lru.MoveToBack(st.elem)
		}
		added := 0
		b.rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool {
			ss.Spans().RemoveIf(func(sp ptrace.Span) bool {
				id := [8]byte(sp.SpanID())
				if _, dup := st.spanIDs[id]; dup || len(st.spanIDs) >= s.maxSpans {
					return true
				}
				st.spanIDs[id] = struct{}{}
				added++
				return false
			})
			return ss.Spans().Len() == 0
		})
		if added > 0 {
			s.spans += added
			st.batches = append(st.batches[:len(st.batches):len(st.batches)], b.rs)
		}
		for s.spans > s.maxSpans {
			s.evict(s.lru.Front().Value.(*storedTrace))
		}
	}
	return nil
}

func (s *Server) evict(st *storedTrace) {
	s.lru.Remove(st.elem)
	delete(s.tenants[st.tenant], st.id)
	if len(s.tenants[st.tenant]) == 0 {
		delete(s.tenants, st.tenant)
	}
	s.spans -= len(st.spanIDs)
}

type traceBatch struct {
	id [16]byte
	rs ptrace.ResourceSpans
}

// splitByTrace copies td into one ResourceSpans per (input ResourceSpans,
// trace ID), with Tempo's resource attribute order (service.name last).
func splitByTrace(td ptrace.Traces) []traceBatch {
	var out []traceBatch
	for _, rs := range td.ResourceSpans().All() {
		byTrace := map[[16]byte]int{} // index in out
		for _, ss := range rs.ScopeSpans().All() {
			scopes := map[[16]byte]ptrace.ScopeSpans{}
			for _, sp := range ss.Spans().All() {
				id := [16]byte(sp.TraceID())
				if id == ([16]byte{}) {
					continue
				}
				i, ok := byTrace[id]
				if !ok {
					nrs := ptrace.NewResourceSpans()
					copyResource(rs.Resource(), nrs.Resource())
					nrs.SetSchemaUrl(rs.SchemaUrl())
					i, byTrace[id] = len(out), len(out)
					out = append(out, traceBatch{id: id, rs: nrs})
				}
				nss, ok := scopes[id]
				if !ok {
					nss = out[i].rs.ScopeSpans().AppendEmpty()
					ss.Scope().CopyTo(nss.Scope())
					nss.SetSchemaUrl(ss.SchemaUrl())
					scopes[id] = nss
				}
				sp.CopyTo(nss.Spans().AppendEmpty())
			}
		}
	}
	return out
}

// copyResource copies a resource, moving service.name to the end of the
// attributes as Tempo does. Other attributes keep their order and
// repetitions, as in Tempo (what the gateway's all-occurrences tenant check
// exists for).
func copyResource(src, dst pcommon.Resource) {
	dst.SetDroppedAttributesCount(src.DroppedAttributesCount())
	attrs := dst.Attributes()
	src.Attributes().CopyTo(attrs) // keeps repeated keys, unlike Put*
	if svc, ok := src.Attributes().Get("service.name"); ok {
		attrs.RemoveIf(func(k string, _ pcommon.Value) bool { return k == "service.name" })
		svc.CopyTo(attrs.PutEmpty("service.name"))
	}
}

// traceSnap is an immutable view of one stored trace.
type traceSnap struct {
	tenant  string
	id      [16]byte
	batches []ptrace.ResourceSpans
}

// snapshot returns every trace of the given tenants, or with id != nil the
// trace with that id from each tenant that has it (in tenant order).
func (s *Server) snapshot(tenants []string, id *[16]byte) []traceSnap {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []traceSnap
	add := func(st *storedTrace) {
		if st != nil {
			out = append(out, traceSnap{tenant: st.tenant, id: st.id, batches: st.batches})
		}
	}
	for _, t := range tenants {
		if id != nil {
			add(s.tenants[t][*id])
			continue
		}
		for _, st := range s.tenants[t] {
			add(st)
		}
	}
	return out
}

// spanRef is one span with its resource and scope.
type spanRef struct {
	res   pcommon.Resource
	scope pcommon.InstrumentationScope
	span  ptrace.Span
}

func (t traceSnap) forEachSpan(fn func(spanRef)) {
	for _, rs := range t.batches {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				fn(spanRef{res: rs.Resource(), scope: ss.Scope(), span: sp})
			}
		}
	}
}

// summary holds the trace-level values Tempo reports in search results.
type summary struct {
	start, end  uint64
	rootService string
	rootName    string
	hasRoot     bool
}

func (t traceSnap) summary() summary {
	var sm summary
	first := true
	t.forEachSpan(func(r spanRef) {
		st, en := uint64(r.span.StartTimestamp()), uint64(r.span.EndTimestamp())
		if first || st < sm.start {
			sm.start = st
		}
		if first || en > sm.end {
			sm.end = en
		}
		first = false
		if !sm.hasRoot && r.span.ParentSpanID().IsEmpty() {
			sm.hasRoot = true
			sm.rootName = r.span.Name()
			if v, ok := r.res.Attributes().Get("service.name"); ok {
				sm.rootService = v.AsString()
			}
		}
	})
	if !sm.hasRoot {
		sm.rootService = "<root span not yet received>"
	}
	if sm.end < sm.start {
		sm.end = sm.start
	}
	return sm
}

// overlaps reports whether the trace overlaps [startNs, endNs]; 0 means open.
func (sm summary) overlaps(startNs, endNs uint64) bool {
	if endNs != 0 && sm.start > endNs {
		return false
	}
	if startNs != 0 && sm.end < startNs {
		return false
	}
	return true
}
