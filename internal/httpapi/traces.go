package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tracegate/tracegate/gen/api"
	"github.com/tracegate/tracegate/internal/traces"
)

// GetTrace implements api.StrictServerInterface.
func (s *Server) GetTrace(ctx context.Context, req api.GetTraceRequestObject) (api.GetTraceResponseObject, error) {
	t, r, err := readScope(ctx, req.Params.Start, req.Params.End)
	if err != nil {
		return nil, err
	}
	id, err := traces.ParseID(req.TraceId)
	if err != nil {
		return nil, err
	}
	tr, err := s.traces.Trace(ctx, t, id, r)
	if err != nil {
		return nil, err
	}
	return traceResponse(tr), nil
}

// traceResponse writes a trace as the spec's Trace schema: OTLP/JSON
// TracesData, as pdata's spec-compliant marshaler encodes it, with the
// metadata members in front. It bypasses the generated model, which would
// mean a second, slower encoding of the same data.
type traceResponse traces.Trace

var jsonMarshaler ptrace.JSONMarshaler

func (t traceResponse) VisitGetTraceResponse(w http.ResponseWriter) error {
	defer traces.Trace(t).Release()
	otlp, err := jsonMarshaler.MarshalTraces(t.Spans)
	if err != nil {
		return err
	}
	warnings := t.Warnings
	if warnings == nil {
		warnings = []string{}
	}
	head, err := json.Marshal(struct {
		TraceID  string   `json:"traceId"`
		Partial  bool     `json:"partial"`
		Warnings []string `json:"warnings"`
	}{t.ID.String(), t.Partial, warnings})
	if err != nil {
		return err
	}
	// head is {"traceId":…,"warnings":[…]} and otlp is {"resourceSpans":[…]}:
	// write them as one object, without copying the (large) OTLP part.
	head[len(head)-1] = ','
	if len(otlp) <= 2 {
		otlp = []byte(`{"resourceSpans":[]}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(head); err != nil {
		return err
	}
	_, err = w.Write(otlp[1:])
	return err
}
