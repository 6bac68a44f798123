package traceql

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

const corpusFile = "../../testdata/traceql/cases.json"

type corpusCase struct {
	Q      string `json:"q"`
	Status int    `json:"status"`
	Error  string `json:"error"`
}

type corpus struct {
	Search    []corpusCase `json:"search"`
	TagValues []struct {
		Tag    string   `json:"tag"`
		Q      string   `json:"q"`
		Values []string `json:"values"`
	} `json:"tag_values"`
}

func loadCorpus(t testing.TB) corpus {
	t.Helper()
	raw, err := os.ReadFile(corpusFile)
	if err != nil {
		t.Fatal(err)
	}
	var c corpus
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Search) < 140 {
		t.Fatalf("corpus has %d search cases, want at least 140", len(c.Search))
	}
	return c
}

// corpusRefusals lists every query Tempo accepted that Confine (Search kind) must
// refuse, with a word the refusal's Construct must contain. Every other accepted
// query must be confined.
var corpusRefusals = map[string]string{
	`{ trace:rootService = "frontend" }`:                                      "trace:rootService",
	`{ trace:rootService = "shop" }`:                                          "trace:rootService",
	`{ trace:rootName = "GET /mixed" }`:                                       "trace:rootName",
	`{ trace:duration > 1ms }`:                                                "trace:duration",
	`{ rootServiceName = "frontend" }`:                                        "rootServiceName",
	`{ traceDuration > 1ms }`:                                                 "traceDuration",
	`{ rootName = "checkout" }`:                                               "rootName",
	`{ nestedSetParent = -1 }`:                                                "nestedSetParent",
	`{ resource.service.name = "frontend" } >> { span.http.method = "GET" }`:  ">>",
	`{ resource.service.name = "frontend" } << { span.http.method = "GET" }`:  "<<",
	`{ resource.service.name = "frontend" } !>> { span.http.method = "GET" }`: "!>>",
	`{ resource.service.name = "frontend" } &>> { span.http.method = "GET" }`: "&>>",
	`{ } with(sample=true)`:                                                   "sample",
	`{ } | rate()`:                                                            "rate()",
	`{ } | count_over_time()`:                                                 "count_over_time()",
	`{ } | compare({ status = error })`:                                       "compare()",
}

func TestCorpusSearch(t *testing.T) {
	t.Parallel()
	c := loadCorpus(t)
	seenRefusals := map[string]bool{}
	for _, tc := range c.Search {
		t.Run(tc.Q, func(t *testing.T) {
			q, err := Parse(tc.Q)
			switch {
			case tc.Q == "":
				// Tempo answers an empty q with all traces; Parse refuses it by contract
				// (callers handle "no q" themselves).
				if err == nil {
					t.Fatal("Parse(\"\") succeeded, want an error")
				}
				return
			case tc.Status != 200:
				if err == nil {
					t.Fatalf("Tempo rejected this query (%s) but Parse accepted it as %q", tc.Error, q)
				}
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("error %v is not a *SyntaxError", err)
				}
				return
			case err != nil:
				t.Fatalf("Tempo accepted this query but Parse failed: %v", err)
			}
			checkRoundTrip(t, q)

			confined, err := Confine(q, "tenant.id", []string{"acme"}, Search)
			if want, refused := corpusRefusals[tc.Q]; refused {
				seenRefusals[tc.Q] = true
				var re *RefusedError
				if !errors.As(err, &re) {
					t.Fatalf("Confine = %v, %v; want a *RefusedError naming %q", confined, err, want)
				}
				if !strings.Contains(re.Construct, want) {
					t.Fatalf("refusal construct %q does not name %q", re.Construct, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Confine: %v", err)
			}
			checkRoundTrip(t, confined)
			checkConfined(t, confined, "tenant.id", []string{"acme"})
			if reflect.DeepEqual(confined, q) {
				t.Fatal("Confine returned the tree unchanged")
			}
		})
	}
	for q := range corpusRefusals {
		if !seenRefusals[q] {
			t.Errorf("expected refusal %q is not an accepted query of the corpus", q)
		}
	}
}

// checkRoundTrip asserts that q prints without comments and re-parses to an equal tree.
func checkRoundTrip(t testing.TB, q *Query) {
	t.Helper()
	printed := q.String()
	// A confined query can print longer than MaxQueryBytes (the caller checks that
	// before sending it); the round trip must hold at any length.
	again, err := parse(printed)
	if err != nil {
		t.Fatalf("printed form %q does not parse: %v", printed, err)
	}
	if !reflect.DeepEqual(again, q) {
		t.Fatalf("printed form %q parses to a different tree:\n got %#v\nwant %#v", printed, again, q)
	}
	if again.String() != printed {
		t.Fatalf("printing is not stable: %q then %q", printed, again.String())
	}
	checkNoComment(t, printed)
}

// checkNoComment lexes s with an independent scanner that knows only strings and
// comments, and fails if a comment starts outside a string literal.
func checkNoComment(t testing.TB, s string) {
	t.Helper()
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case '`':
			t.Fatalf("printed form %q contains a raw string", s)
		case '/':
			if i+1 < len(s) && (s[i+1] == '/' || s[i+1] == '*') {
				t.Fatalf("printed form %q contains a comment at byte %d", s, i)
			}
		}
	}
}

// checkConfined walks the tree and asserts that every spanset filter, including those
// in later stages and in compare(), is `{ T }` or `{ X && T }` where T is exactly the
// tenant condition; and that nothing refused survived.
func checkConfined(t testing.TB, q *Query, attr string, tenants []string) {
	t.Helper()
	var want Cond
	for _, tn := range tenants {
		c := &Comparison{Attr: Attribute{Scope: ScopeResource, Name: attr}, Op: "=", Value: Static{Kind: StaticString, S: tn}}
		if want == nil {
			want = c
		} else {
			want = &Logic{Op: "||", Left: want, Right: c}
		}
	}
	filters := 0
	checkFilter := func(f *SpansetFilter) {
		filters++
		if reflect.DeepEqual(f.Cond, want) {
			return
		}
		l, ok := f.Cond.(*Logic)
		if !ok || l.Op != "&&" || !reflect.DeepEqual(l.Right, want) {
			var b strings.Builder
			writeFilter(&b, f)
			t.Fatalf("filter %s is not confined to %v", b.String(), tenants)
		}
	}
	var spanset func(e SpansetExpr)
	spanset = func(e SpansetExpr) {
		switch s := e.(type) {
		case *SpansetFilter:
			checkFilter(s)
		case *SpansetOp:
			if _, refused := refusedSpansetOps[s.Op]; refused {
				t.Fatalf("refused operator %s survived confinement", s.Op)
			}
			spanset(s.Left)
			spanset(s.Right)
		default:
			t.Fatalf("unknown spanset expression %T", e)
		}
	}
	if _, ok := q.Stages[0].(*SpansetStage); !ok {
		t.Fatalf("first stage is %T, not a spanset", q.Stages[0])
	}
	for _, st := range q.Stages {
		if s, ok := st.(*SpansetStage); ok {
			spanset(s.Expr)
		}
	}
	if q.Metrics != nil && q.Metrics.Compare != nil {
		checkFilter(q.Metrics.Compare)
	}
	if filters == 0 {
		t.Fatal("no spanset filter found")
	}
	walk(q, func(a Attribute) bool {
		if r := attrRefusal(a); r != "" {
			t.Fatalf("unconfinable %s survived confinement", printAttr(a))
		}
		return true
	}, func(string) bool { return true })
	for _, h := range q.Hints {
		if h.Name != "most_recent" {
			t.Fatalf("hint %s survived confinement", h.Name)
		}
	}
}
