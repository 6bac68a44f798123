// Package web is tracegate's built-in trace explorer: the page and bundle
// under dist/, built from web/src by esbuild (`npm run build:web`, committed
// and drift-checked like gen/), so that the binary serves it without Node.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed dist
var dist embed.FS

// CSP is the Content-Security-Policy of every file of the explorer: its own
// script and stylesheet only (no inline script or style, nothing from other
// hosts), API calls to its own origin only, and no framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// types maps the served names to their content types; anything else is 404.
var types = map[string]string{
	"index.html": "text/html; charset=utf-8",
	"app.js":     "text/javascript; charset=utf-8",
	"app.css":    "text/css; charset=utf-8",
	// DevTokensFile lists no tokens; `tracegate dev` answers this path itself.
	DevTokensFile: "application/json",
}

// DevTokensFile is where the explorer looks for dev mode's sign-in tokens,
// relative to its root: {"tokens":[{"tenant":…,"token":…}]}. The embedded
// file lists none; `tracegate dev` serves the dev tenants' tokens there.
const DevTokensFile = "dev.json"

type file struct {
	contentType string
	body        []byte
}

// Handler serves the explorer with its prefix stripped: "/" (and any path
// without a file extension, for links into the app) is index.html, "/app.js"
// and "/app.css" are the bundle, "/dev.json" lists no dev tokens.
func Handler() http.Handler {
	files := make(map[string]file, len(types))
	for name, ct := range types {
		b, err := fs.ReadFile(dist, "dist/"+name)
		if err != nil {
			panic(err) // dist is embedded at build time; a missing file is a broken build
		}
		files[name] = file{ct, b}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name == "" || path.Ext(name) == "" {
			name = "index.html"
		}
		f, ok := files[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.contentType)
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		_, _ = w.Write(f.body) //nolint:gosec // G705: one of the embedded files, never request data
	})
}
