package main

import (
	"testing"

	"github.com/tracegate/tracegate/internal/httpapi"
	"github.com/tracegate/tracegate/internal/tempo"
)

// The other half of the assertions next to newHandlers: the Tempo adapter,
// which reads as whatever tenants it is given, must not fit where the
// handlers expect the domain, or wiring it there would skip the tenant
// filter without a compile error.
func TestOnlyTheDomainServesTheHandlers(t *testing.T) {
	t.Parallel()
	var adapter any = (*tempo.Client)(nil)
	if _, ok := adapter.(httpapi.TraceReader); ok {
		t.Error("*tempo.Client satisfies httpapi.TraceReader: the handlers could read around traces.Repository")
	}
	if _, ok := adapter.(httpapi.TempoReader); ok {
		t.Error("*tempo.Client satisfies httpapi.TempoReader: the /tempo mount could read around traces.Compat")
	}
}
