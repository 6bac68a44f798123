package redact_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tracegate/tracegate/internal/redact"
)

func TestURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://user:pw@tempo:3200/x?y=1":     "http://redacted@tempo:3200/x?y=1",
		"https://user@tempo":                  "https://redacted@tempo",
		"http://u:p@ss@tempo:3200":            "http://redacted@tempo:3200",
		"http://tempo:3200/a@b":               "http://tempo:3200/a@b",
		"http://tempo:3200/?u=a@b#c@d":        "http://tempo:3200/?u=a@b#c@d",
		"user:secret@tempo:3200":              "redacted@tempo:3200",
		"//user:secret@tempo":                 "//redacted@tempo",
		"http://user:pw@tempo:3200/ extra":    "http://redacted@tempo:3200/ extra",
		"http://us er:p w@tempo:3200/\x7fbad": "http://redacted@tempo:3200/\x7fbad",
		"":                                    "",
	} {
		if got := redact.URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

// net/http's client masks the password of a failed request's URL, but not
// the user name.
func TestErrorOfHTTPClient(t *testing.T) {
	t.Parallel()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://alice:s3cret@127.0.0.1:1/ready", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = http.DefaultClient.Do(req)
	if err == nil {
		t.Fatal("request to port 1 succeeded")
	}
	wrapped := redact.Error(errors.Join(errors.New("tempo"), err))
	var ue *url.Error
	if !errors.As(wrapped, &ue) {
		t.Fatalf("%v is no *url.Error", wrapped)
	}
	if text := wrapped.Error(); strings.Contains(text, "alice") || strings.Contains(text, "s3cret") || !strings.Contains(text, "redacted@127.0.0.1:1") {
		t.Errorf("redacted error: %s", text)
	}
	if redact.Error(nil) != nil {
		t.Error("Error(nil) != nil")
	}
}
