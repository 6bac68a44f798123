package traces_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tracegate/tracegate/internal/standin"
	"github.com/tracegate/tracegate/internal/tempo"
	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traces"
)

// The oracle suite. An attacker who can make Tempo evaluate a predicate over
// spans it must not see reads their values back one guess at a time, if the
// answer to a right guess differs from the answer to a wrong one in any way:
// which traces fit under limit, matched counts, which spans a structural
// operator returns. So for every attack class and every operator tracegate
// allows, two queries that differ only in a guessed foreign value must give
// byte-identical answers, and no answer may show anything foreign. Each case
// is also run with confinement switched off (the caller's text sent with the
// tenant select appended, results filtered afterwards: tracegate before
// confinement), where it must tell the guesses apart: otherwise the case
// would prove nothing.

// The world, in acme's Tempo tenant (or the shared one): a trace that mixes
// tenants, as a shared service called by several tenants makes them.
//
//	g0  globex-gw  "globex entry"          (globex, 2 s: the whole trace)
//	└ a1  shop       "GET /mixed"          (acme)
//	  ├ g2  partner-api "partner lookup"   (globex; span.partner.secret=GLOBEX-ONLY,
//	  │   │                                 and a lying span.tenant.id=acme; 900 ms)
//	  │   └ a3  shop  "callback"           (acme)
//	  └ a4  shop  "sibling"                (acme)
//
// plus acme's own "checkout" trace (older) and, in the shared tenant,
// globex's own trace. Own spans get lower ids and earlier starts than
// foreign ones, so a span-per-set limit keeps an own span first.
const (
	oracleMixed    = "3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a"
	oracleCheckout = "4bf92f3577b34da6a3ce929d0e0e4736"
	oracleGlobex   = "5b8efff798038103d269b633813fc700"
)

// oracleForeign are strings no answer to acme may contain.
var oracleForeign = []string{"GLOBEX-ONLY", "globex-gw", "partner-api", "globex entry", "partner lookup",
	"f000000000000000", "f000000000000002", oracleGlobex, "globex-report"}

type oracleSpan struct {
	id, parent, service, tenant, name string
	start, dur                        time.Duration
	attrs                             map[string]string
}

func oracleTrace(t *testing.T, traceID string, base time.Time, spans []oracleSpan) ptrace.Traces {
	t.Helper()
	td := ptrace.NewTraces()
	var tid pcommon.TraceID
	if _, err := hex.Decode(tid[:], []byte(traceID)); err != nil {
		t.Fatal(err)
	}
	for _, s := range spans {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", s.service)
		rs.Resource().Attributes().PutStr("tenant.id", s.tenant)
		sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		sp.SetTraceID(tid)
		var sid pcommon.SpanID
		if _, err := hex.Decode(sid[:], []byte(s.id)); err != nil {
			t.Fatal(err)
		}
		sp.SetSpanID(sid)
		if s.parent != "" {
			var pid pcommon.SpanID
			if _, err := hex.Decode(pid[:], []byte(s.parent)); err != nil {
				t.Fatal(err)
			}
			sp.SetParentSpanID(pid)
		}
		sp.SetName(s.name)
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(base.Add(s.start)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(base.Add(s.start + s.dur)))
		for k, v := range s.attrs {
			sp.Attributes().PutStr(k, v)
		}
	}
	return td
}

// oracleRepo returns a repository over a stand-in holding the world, stored
// under org; shared says whether org is a shared Tempo tenant.
func oracleRepo(t *testing.T, shared bool) (*traces.Repository, traces.TimeRange) {
	t.Helper()
	repo, _, r := oracleWorld(t, shared)
	return repo, r
}

// oracleWorld is oracleRepo plus the Tempo client it reads through.
func oracleWorld(t *testing.T, shared bool) (*traces.Repository, *tempo.Client, traces.TimeRange) {
	t.Helper()
	now := time.Now().Truncate(time.Second)
	org := "acme"
	if shared {
		org = "single-tenant"
	}
	st := standin.New(func() time.Time { return now }, standin.WithQueryEndCutoff(0))
	mixedStart := now.Add(-10 * time.Second)
	ingest := func(tenant string, td ptrace.Traces) {
		if err := st.Ingest(tenant, td); err != nil {
			t.Fatal(err)
		}
	}
	ingest(org, oracleTrace(t, oracleMixed, mixedStart, []oracleSpan{
		{id: "f000000000000000", service: "globex-gw", tenant: "globex", name: "globex entry", dur: 2 * time.Second},
		{id: "a000000000000001", parent: "f000000000000000", service: "shop", tenant: "acme", name: "GET /mixed", start: time.Millisecond, dur: 10 * time.Millisecond},
		{id: "f000000000000002", parent: "a000000000000001", service: "partner-api", tenant: "globex", name: "partner lookup", start: 3 * time.Millisecond, dur: 900 * time.Millisecond,
			attrs: map[string]string{"partner.secret": "GLOBEX-ONLY", "tenant.id": "acme"}},
		{id: "a000000000000003", parent: "f000000000000002", service: "shop", tenant: "acme", name: "callback", start: 4 * time.Millisecond, dur: time.Millisecond},
		{id: "a000000000000004", parent: "a000000000000001", service: "shop", tenant: "acme", name: "sibling", start: 2 * time.Millisecond, dur: time.Millisecond},
	}))
	ingest(org, oracleTrace(t, oracleCheckout, mixedStart.Add(-time.Minute), []oracleSpan{
		{id: "b000000000000001", service: "frontend", tenant: "acme", name: "checkout", dur: 20 * time.Millisecond},
		{id: "b000000000000002", parent: "b000000000000001", service: "payments", tenant: "acme", name: "charge", start: time.Millisecond, dur: 5 * time.Millisecond},
	}))
	globexOrg := "globex"
	if shared {
		globexOrg = org
	}
	ingest(globexOrg, oracleTrace(t, oracleGlobex, mixedStart.Add(-2*time.Minute), []oracleSpan{
		{id: "c000000000000001", service: "globex-report", tenant: "globex", name: "report", dur: 30 * time.Millisecond,
			attrs: map[string]string{"partner.secret": "GLOBEX-ONLY"}},
	}))
	srv := httptest.NewServer(st.Handler())
	t.Cleanup(srv.Close)
	up, err := tempo.New(srv.URL, &http.Client{}, 10*time.Second, 64<<20, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := traces.Config{TenantAttribute: "tenant.id", Now: func() time.Time { return now }}
	if shared {
		cfg.TempoTenant = tenant.MustParse("single-tenant")
	}
	return newRepo(t, up, cfg, nil), up, traces.TimeRange{Start: now.Add(-time.Hour).Unix(), End: now.Unix() + 1}
}

// oracleCase is a query template: GUESS stands for the guessed foreign value,
// right and wrong are a right and a wrong guess.
type oracleCase struct {
	name         string
	q            string
	right, wrong string
	limit, spss  int
	refused      string // the construct confinement must refuse (400) whatever the guess
}

var oracleCases = []oracleCase{
	// Comments: a trailing // once commented out the select tracegate appended.
	{name: "comment hides the appended select", q: `{ span.tenant.id = "acme" && span.partner.secret =~ "GUESS" } | select(span.partner.secret) //`},
	// Limit displacement: a foreign match takes the only slot of limit=1.
	{name: "limit displacement with ||", q: `{ span.partner.secret =~ "GUESS" } || { name = "checkout" }`, limit: 1},
	{name: "limit displacement with &&", q: `({ span.partner.secret =~ "GUESS" } && { resource.tenant.id = "acme" }) || { name = "checkout" }`, limit: 1},
	{name: "limit displacement with &>", q: `({ span.partner.secret =~ "GUESS" } &> { resource.tenant.id = "acme" }) || { name = "checkout" }`, limit: 1},
	{name: "limit displacement with &<", q: `({ span.partner.secret =~ "GUESS" } &< { resource.tenant.id = "acme" }) || { name = "checkout" }`, limit: 1},
	{name: "limit displacement with &~", q: `({ span.partner.secret =~ "GUESS" } &~ { resource.tenant.id = "acme" }) || { name = "checkout" }`, limit: 1},
	{name: "limit displacement with &>>", q: `({ span.partner.secret =~ "GUESS" } &>> { resource.tenant.id = "acme" }) || { name = "checkout" }`, limit: 1, refused: "&>>"},
	{name: "limit displacement with &<<", q: `({ span.partner.secret =~ "GUESS" } &<< { resource.tenant.id = "acme" }) || { name = "checkout" }`, limit: 1, refused: "&<<"},
	// Structural operators: own spans related to a foreign one.
	{name: "child of a foreign span (>)", q: `{ span.partner.secret =~ "GUESS" } > { resource.tenant.id = "acme" }`},
	{name: "parent of a foreign span (<)", q: `{ span.partner.secret =~ "GUESS" } < { resource.tenant.id = "acme" }`},
	{name: "sibling of a foreign span (~)", q: `{ span.partner.secret =~ "GUESS" } ~ { resource.tenant.id = "acme" }`},
	{name: "the issue's sibling example", q: `{ resource.tenant.id != "acme" && span.partner.secret =~ "GUESS" } ~ { resource.tenant.id = "acme" }`},
	{name: "descendant of a foreign span (>>)", q: `{ span.partner.secret =~ "GUESS" } >> { resource.tenant.id = "acme" }`, refused: ">>"},
	{name: "ancestor of a foreign span (<<)", q: `{ span.partner.secret =~ "GUESS" } << { resource.tenant.id = "acme" }`, refused: "<<"},
	{name: "not a child of a foreign span (!>)", q: `{ span.partner.secret =~ "GUESS" } !> { resource.tenant.id = "acme" }`, spss: 10},
	{name: "not a parent of a foreign span (!<)", q: `{ span.partner.secret =~ "GUESS" } !< { resource.tenant.id = "acme" }`, spss: 10},
	{name: "not a sibling of a foreign span (!~)", q: `{ span.partner.secret =~ "GUESS" } !~ { resource.tenant.id = "acme" }`, spss: 10},
	{name: "not a descendant of a foreign span (!>>)", q: `{ span.partner.secret =~ "GUESS" } !>> { resource.tenant.id = "acme" }`, spss: 10, refused: "!>>"},
	{name: "not an ancestor of a foreign span (!<<)", q: `{ span.partner.secret =~ "GUESS" } !<< { resource.tenant.id = "acme" }`, spss: 10, refused: "!<<"},
	// Counts and aggregates over a span set that holds foreign spans.
	{name: "matched counts", q: `{ span.partner.secret =~ "GUESS" || resource.service.name = "shop" }`, spss: 1},
	{name: "count()", q: `{ span.partner.secret =~ "GUESS" || name = "GET /mixed" } | count() > 1`, spss: 1},
	{name: "max()", q: `{ span.partner.secret =~ "GUESS" || name = "GET /mixed" } | max(duration) > 500ms`, spss: 1},
	{name: "sum()", q: `{ span.partner.secret =~ "GUESS" || name = "GET /mixed" } | sum(duration) > 500ms`, spss: 1},
	{name: "avg()", q: `{ span.partner.secret =~ "GUESS" || name = "GET /mixed" } | avg(duration) > 100ms`, spss: 1},
	// Ancestor chains may pass through foreign spans: the operators that walk
	// them are refused (the descendant and ancestor cases above), as are
	// trace-level intrinsics, which describe foreign spans.
	{name: "trace:rootService", q: `{ trace:rootService =~ "GUESS" && resource.tenant.id = "acme" }`, refused: "trace:rootService"},
	{name: "rootServiceName", q: `{ rootServiceName =~ "GUESS" && resource.tenant.id = "acme" }`, refused: "rootServiceName"},
	{name: "trace:rootName", q: `{ trace:rootName =~ "GUESS" && resource.tenant.id = "acme" }`, right: "globex.*", wrong: "shop.*", refused: "trace:rootName"},
	{name: "trace:duration", q: `{ trace:duration > GUESS && resource.tenant.id = "acme" }`, right: "1s", wrong: "3s", refused: "trace:duration"},
	{name: "traceDuration", q: `{ traceDuration > GUESS && resource.tenant.id = "acme" }`, right: "1s", wrong: "3s", refused: "traceDuration"},
}

func (c oracleCase) query(guess string) traces.SearchQuery {
	right, wrong := c.right, c.wrong
	if right == "" {
		right, wrong = "G.*", "X.*"
		if strings.Contains(c.q, "rootService") {
			right = "globex.*"
		}
	}
	value := map[bool]string{true: right, false: wrong}[guess == "right"]
	limit, spss := c.limit, c.spss
	if limit == 0 {
		limit = 20
	}
	if spss == 0 {
		spss = 3
	}
	return traces.SearchQuery{Q: strings.ReplaceAll(c.q, "GUESS", value), Limit: limit, SpansPerSet: spss}
}

func oracleAnswer(t *testing.T, repo *traces.Repository, r traces.TimeRange, q traces.SearchQuery) (string, error) {
	t.Helper()
	q.Range = r
	got, err := repo.Search(context.Background(), tenant.MustSet("acme"), q)
	if err != nil {
		return "error: " + err.Error(), err
	}
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), nil
}

func TestOracles(t *testing.T) {
	t.Parallel()
	for _, shared := range []bool{false, true} {
		mode := map[bool]string{false: "tempo tenant plus attribute", true: "shared tempo"}[shared]
		repo, r := oracleRepo(t, shared)
		unconfined, _ := oracleRepo(t, shared)
		traces.DisableConfinement(unconfined)
		for _, c := range oracleCases {
			t.Run(mode+"/"+c.name, func(t *testing.T) {
				right, rightErr := oracleAnswer(t, repo, r, c.query("right"))
				wrong, _ := oracleAnswer(t, repo, r, c.query("wrong"))
				if right != wrong {
					t.Errorf("a right and a wrong guess are told apart:\n right: %s\n wrong: %s", right, wrong)
				}
				for _, f := range oracleForeign {
					if strings.Contains(right, f) || strings.Contains(wrong, f) {
						t.Errorf("the answer shows foreign %q: %s", f, right)
					}
				}
				if c.refused != "" {
					if !errors.Is(rightErr, traces.ErrInvalidQuery) || !strings.Contains(rightErr.Error(), c.refused) {
						t.Errorf("not refused with a reason naming %s: %s", c.refused, right)
					}
				} else if rightErr != nil {
					t.Errorf("refused: %v", rightErr)
				}

				// Without confinement the same case must leak, or it tests nothing.
				uRight, _ := oracleAnswer(t, unconfined, r, c.query("right"))
				uWrong, _ := oracleAnswer(t, unconfined, r, c.query("wrong"))
				if uRight == uWrong {
					t.Errorf("without confinement the guesses give the same answer (%s): the case would not catch a leak", uRight)
				}
			})
		}
	}
}
