package traceql_test

import (
	"fmt"

	"github.com/tracegate/tracegate/internal/traceql"
)

func ExampleConfine() {
	q, err := traceql.Parse(`{ span.tenant.id = "acme" || status = error } | select(span.secret) // comment`)
	if err != nil {
		panic(err)
	}
	confined, err := traceql.Confine(q, "tenant.id", []string{"acme", "globex"}, traceql.Search)
	if err != nil {
		panic(err)
	}
	fmt.Println(confined)

	q, _ = traceql.Parse(`{ trace:rootService = "partner-api" }`)
	_, err = traceql.Confine(q, "tenant.id", []string{"acme"}, traceql.Search)
	fmt.Println(err)
	// Output:
	// { (span.tenant.id = "acme" || status = error) && (resource.tenant.id = "acme" || resource.tenant.id = "globex") } | select(span.secret)
	// trace:rootService is not allowed here: it describes the whole trace, including spans of other tenants
}

func ExampleTagFilter() {
	fmt.Println(traceql.TagFilter(`{ status = error && span.x = "y" }`, "tenant.id", "acme"))
	fmt.Println(traceql.TagFilter(`{ .a = 1 } || { .b = 2 }`, "tenant.id", "acme"))
	// Output:
	// { status = error && span.x = "y" && resource.tenant.id = "acme" }
	// { resource.tenant.id = "acme" }
}
