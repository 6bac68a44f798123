// Package api is generated from openapi.yaml by oapi-codegen: the Echo server,
// its strict-server interface, the models and the embedded spec. Never edit it
// by hand; run `go tool task generate`.
package api

//go:generate go tool oapi-codegen -config cfg.yaml ../../openapi.yaml
