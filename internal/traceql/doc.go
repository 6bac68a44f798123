// Package traceql parses TraceQL queries into a syntax tree, prints the tree back
// canonically and confines it to a caller's tenants: the prom-label-proxy pattern for
// traces. Tempo only ever receives the printed tree, never the caller's text, so
// comments, odd whitespace and quoting tricks cannot survive.
//
// It is written from TraceQL's documentation and from a corpus of queries a real Tempo
// accepted or rejected (testdata/traceql/cases.json); it shares no code with Tempo nor
// with the stand-in's parser (internal/standin), so one bug cannot hide on both sides.
// It uses only the standard library.
//
// # Grammar
//
// Anything outside this grammar is a *SyntaxError, never passed through.
//
//	query      = spanset { "|" stage } [ "|" metrics [ "|" ("topk"|"bottomk") "(" int ")" ] ] [ hints ]
//	stage      = spanset | scalar op scalar | "by" "(" attr ")" | "select" "(" attr {"," attr} ")" | "coalesce" "(" ")"
//	spanset    = rel { ("&&" | "||") rel }
//	rel        = primary { (">" | ">>" | "<" | "<<" | "~" | "!>" | "!>>" | "!<" | "!<<" | "!~"
//	                        | "&>" | "&>>" | "&<" | "&<<" | "&~") primary }
//	primary    = "{" [ cond ] "}" | "(" spanset ")"
//	cond       = unary { ("&&" | "||") unary }
//	unary      = "!" "(" cond ")" | "(" cond ")" | "true" | "false" | attr cmp static
//	cmp        = "=" | "!=" | "=~" | "!~" | ">" | ">=" | "<" | "<="
//	scalar     = ("count" "(" ")" | ("min"|"max"|"sum"|"avg") "(" attr ")") | ["-"] number
//	metrics    = ("rate" | "count_over_time") "(" ")" [ by ]
//	           | ("min_over_time" | "max_over_time" | "avg_over_time" | "sum_over_time" | "histogram_over_time") "(" attr ")" [ by ]
//	           | "quantile_over_time" "(" attr "," number { "," number } ")" [ by ]
//	           | "compare" "(" "{" [ cond ] "}" [ "," int [ "," int "," int ] ] ")"
//	by         = "by" "(" attr { "," attr } ")"
//	hints      = "with" "(" name "=" static { "," name "=" static } ")"
//	attr       = ("." | "resource." | "span." | "event." | "link." | "instrumentation.") (name | "\"" quoted name "\"")
//	           | intrinsic (name, status, statusMessage, kind, duration, span:*, event:*, link:*,
//	             instrumentation:*, trace:*, rootServiceName, rootName, traceDuration, childCount, nestedSet*)
//	static     = "…" (Go escapes, \uXXXX) | `raw` | ["-"] int | ["-"] float (1.5, .5, 1e3) | ["-"] duration
//	             (ns us µs ms s m h) | true | false | nil | error | ok | unset
//	             | server | client | internal | producer | consumer | unspecified
//
// Comments (// to the end of the line, /* … */) and whitespace separate tokens and are
// dropped. Single-quoted strings, the parent. scope, bare identifiers, arrays,
// arithmetic, wrapped pipelines such as ({ } | count() > 1) && { }, and queries over
// MaxQueryBytes (Tempo's 128 KiB) are rejected, as Tempo rejects them or as this
// package does not need them.
//
// # Precedence
//
// As in Tempo's grammar (lowest first): the pipe |; then && and || on ONE level,
// associating to the left (so a || b && c is (a || b) && c, both between spansets and
// inside filters); then the comparison and structural operators on one level,
// associating to the left; ! binds tighter than all of these and here only takes a
// parenthesized condition. The printer parenthesizes every nested binary operation
// except a left-leaning chain of one operator, so the printed form never depends on
// precedence.
//
// # Confinement
//
// Confine rewrites every spanset filter { X } into { (X) && resource.<attr> = "<t>" }
// (several tenants are OR-ed), including filters inside compare() and filters used as
// later pipeline stages. Then every condition, structural relation, count, aggregate,
// select(), by(), metrics function and Tempo's own limit see only the caller's spans.
// It refuses (a *RefusedError naming the construct and the reason): intrinsics that
// describe the whole trace (trace:rootService, trace:rootName, trace:duration,
// rootServiceName, rootName, traceDuration) or other spans (childCount,
// span:childCount, nestedSetLeft/Right/Parent); the structural operators that walk
// ancestor chains (>>, <<, !>>, !<<, &>>, &<<; see refusedSpansetOps for the analysis
// of every operator); hints other than most_recent; and queries of the wrong Kind.
// trace:id is allowed: it is a field of the caller's own span.
package traceql
