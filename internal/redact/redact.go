// Package redact removes credentials from what tracegate logs: the user
// information of URLs, also inside the *url.Error that net/http's client
// returns (which masks the password but keeps the user name).
package redact

import (
	"errors"
	"net/url"
	"strings"
)

// Placeholder replaces the user information of a URL.
const Placeholder = "redacted"

// URL returns s with the user information of its authority (anything before
// an '@' in it) replaced by Placeholder. It needs no valid URL: a setting
// refused as malformed is redacted as well before it is reported.
func URL(s string) string {
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + len("://")
	} else if strings.HasPrefix(s, "//") {
		start = len("//")
	}
	end := len(s)
	if i := strings.IndexAny(s[start:], "/?#"); i >= 0 {
		end = start + i
	}
	at := strings.LastIndexByte(s[start:end], '@')
	if at < 0 {
		return s
	}
	return s[:start] + Placeholder + s[start+at:]
}

// Error redacts, in place, the URL of every *url.Error in err's chain and
// returns err, so that its text can be logged.
func Error(err error) error {
	for e := err; e != nil; {
		var ue *url.Error
		if !errors.As(e, &ue) {
			break
		}
		ue.URL = URL(ue.URL)
		e = ue.Err
	}
	return err
}
