package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/tracegate/tracegate/gen/api"
	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traces"
)

// GetTrace implements api.StrictServerInterface. The trace is read when the
// response is written (traceResponse), inside the Repository's WithTrace:
// what reading it holds is freed there, however the writing ends.
func (s *Server) GetTrace(ctx context.Context, req api.GetTraceRequestObject) (api.GetTraceResponseObject, error) {
	t, r, err := readScope(ctx, req.Params.Start, req.Params.End)
	if err != nil {
		return nil, err
	}
	id, err := traces.ParseID(req.TraceId)
	if err != nil {
		return nil, err
	}
	return traceResponse{ctx: ctx, traces: s.traces, tenants: t, id: id, r: r}, nil
}

// traceResponse reads a trace and writes it as the spec's Trace schema:
// OTLP/JSON TracesData, byte for byte as pdata's spec-compliant marshaler
// encodes it, with the metadata members in front. The trace stays protobuf
// until here: the transcoder streams it to w in bounded chunks, bypassing
// the generated model. It is validated when it is read, so a malformed
// trace (like any failure to read it) is an error with nothing written,
// which the one error handler answers.
type traceResponse struct {
	ctx     context.Context // the request's: the trace is read while the response is written
	traces  TraceReader
	tenants tenant.Set
	id      traces.ID
	r       traces.TimeRange
}

func (tr traceResponse) VisitGetTraceResponse(w http.ResponseWriter) error {
	return tr.traces.WithTrace(tr.ctx, tr.tenants, tr.id, tr.r, func(t traces.Trace) error {
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
		return t.WriteJSON(w, head)
	})
}
