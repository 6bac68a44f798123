package tempo

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/tracegate/tracegate/gen/tempoapi"
	"github.com/tracegate/tracegate/internal/testkit"
)

func FuzzDecodeTraceByID(f *testing.F) {
	f.Add(testkit.LoadFixture(f, "trace-v2-protobuf-found").Body(f))
	f.Add(testkit.LoadFixture(f, "trace-v2-protobuf-other-tenant").Body(f))
	f.Add([]byte{0x0a, 0x03, 0x0a, 0x01})
	f.Add([]byte{0x18, 0x01, 0x22, 0x02, 'h', 'i'})
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := decodeTraceByID(b)
		if err != nil {
			return
		}
		// A decoded trace is written in full.
		if err := tr.WriteJSON(io.Discard, []byte(`{"traceId":"x"}`)); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzSearchResult(f *testing.F) {
	for _, name := range []string{"search-q-select-tenant", "search-recent", "search-q-error"} {
		f.Add(testkit.LoadFixture(f, name).Body(f))
	}
	f.Add([]byte(`{"traces":[{"traceID":"","spanSets":[{"spans":[{"spanID":"x","attributes":[{"key":"k","value":{"intValue":"zz"}}]}]}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var res tempoapi.SearchResult
		if json.Unmarshal(b, &res) != nil {
			return
		}
		found, err := fromTempoSearch(res)
		if err != nil {
			return
		}
		for _, s := range found {
			if len(s.ID) != 32 || strings.Trim(s.ID.String(), "0123456789abcdef") != "" {
				t.Fatalf("search result id %q is not canonical", s.ID)
			}
		}
	})
}
