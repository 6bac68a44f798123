package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

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
// TracesData, byte for byte as pdata's spec-compliant marshaler encodes it,
// with the metadata members in front. The trace stays protobuf until here:
// the transcoder streams it to w in bounded chunks, bypassing the generated
// model. It was validated when it was read, so a malformed trace never gets
// this far (a 502 with nothing written).
type traceResponse traces.Trace

func (t traceResponse) VisitGetTraceResponse(w http.ResponseWriter) error {
	defer traces.Trace(t).Release()
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
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	return traces.Trace(t).WriteJSON(w, head)
}
