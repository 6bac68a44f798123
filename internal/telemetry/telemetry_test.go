package telemetry_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/tracegate/tracegate/internal/telemetry"
)

type statusTransport int

func (s statusTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: int(s), Body: http.NoBody}, nil
}

// Tempo answers a trace it has but tracegate hides (mis-routed) 200, and one
// it does not have 404 (or 200, empty): the outcome label must be the same.
func TestTraceByIDOutcomeHidesFoundOrNot(t *testing.T) {
	t.Parallel()
	m := telemetry.New()
	for _, status := range []int{http.StatusOK, http.StatusNotFound} {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://tempo/api/v2/traces/abc", nil)
		resp, err := m.InstrumentTempo(statusTransport(status)).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://tempo/api/search", nil)
	resp, _ := m.InstrumentTempo(statusTransport(http.StatusNotFound)).RoundTrip(req)
	resp.Body.Close()
	text, err := m.Text()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`tracegate_tempo_request_duration_seconds_count{operation="trace_by_id",outcome="ok"} 2`,
		`tracegate_tempo_request_duration_seconds_count{operation="search",outcome="404"} 1`,
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(string(text), `operation="trace_by_id",outcome="404"`) || strings.Contains(string(text), `operation="trace_by_id",outcome="200"`) {
		t.Error("trace_by_id outcomes tell 200 from 404")
	}
}
