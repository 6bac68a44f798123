package httpapi

import (
	"bytes"
	"context"

	"github.com/tracegate/tracegate"
	"github.com/tracegate/tracegate/gen/api"
)

// GetHealth implements api.StrictServerInterface.
func (s *Server) GetHealth(context.Context, api.GetHealthRequestObject) (api.GetHealthResponseObject, error) {
	return api.GetHealth200JSONResponse{Status: api.Ok}, nil
}

// GetOpenAPI implements api.StrictServerInterface.
func (s *Server) GetOpenAPI(context.Context, api.GetOpenAPIRequestObject) (api.GetOpenAPIResponseObject, error) {
	return api.GetOpenAPI200ApplicationyamlResponse{
		Body: bytes.NewReader(tracegate.OpenAPI), ContentLength: int64(len(tracegate.OpenAPI)),
	}, nil
}

// GetReference implements api.StrictServerInterface.
func (s *Server) GetReference(context.Context, api.GetReferenceRequestObject) (api.GetReferenceResponseObject, error) {
	return api.GetReference200TexthtmlResponse{
		Body:          bytes.NewReader(tracegate.Reference),
		ContentLength: int64(len(tracegate.Reference)),
		Headers:       api.GetReference200ResponseHeaders{ContentSecurityPolicy: tracegate.ReferenceCSP()},
	}, nil
}

// GetMetrics implements api.StrictServerInterface.
func (s *Server) GetMetrics(context.Context, api.GetMetricsRequestObject) (api.GetMetricsResponseObject, error) {
	text, err := s.metrics.Text()
	if err != nil {
		return nil, err
	}
	return api.GetMetrics200TextResponse(text), nil
}
