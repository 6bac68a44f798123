// Package tracegate holds the files tracegate serves about itself: its API
// contract and the reference built from it. They live at the module root
// because go:embed cannot reach parent folders.
package tracegate

import (
	_ "embed"
	"strings"
)

// OpenAPI is openapi.yaml, the contract tracegate was built from.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Reference is the self-contained API reference page built by Redocly from
// openapi.yaml (`npm run build:docs`).
//
//go:embed docs/api/index.html
var Reference []byte

//go:embed docs/api/csp.txt
var referenceCSP string

// ReferenceCSP is the Content-Security-Policy that Reference needs: only its
// own inline scripts (by hash) and styles, nothing from other hosts. It is
// rebuilt together with the page.
func ReferenceCSP() string { return strings.TrimSpace(referenceCSP) }
