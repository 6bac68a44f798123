// Package tempoapi is a typed client for the subset of Grafana Tempo's HTTP API
// that tracegate calls, generated from tempo.openapi.yaml by oapi-codegen.
// Never edit it by hand; run `go tool task generate`.
package tempoapi

//go:generate go tool oapi-codegen -config cfg.yaml ../../tempo.openapi.yaml
