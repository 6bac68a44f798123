package standin

import (
	"compress/gzip"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/code"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// maxOTLPBody is the OTel collector's default max_request_body_size.
const maxOTLPBody = 20 << 20

// OTLPHandler returns Tempo's OTLP/HTTP receiver (what Tempo serves on
// :4318). It answers like the OTel collector's receiver inside Tempo; a
// missing X-Scope-OrgID is 503 Unavailable "no org id" (Tempo's tenant
// middleware returns a plain error there; derived from Tempo's source).
func (s *Server) OTLPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/traces", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "405 method not allowed, supported: [POST]", http.StatusMethodNotAllowed)
			return
		}
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != ctJSON && mt != "application/x-protobuf" {
			http.Error(w, "415 unsupported media type, supported: [application/json, application/x-protobuf]", http.StatusUnsupportedMediaType)
			return
		}
		status, c := http.StatusOK, code.Code_OK
		req := ptraceotlp.NewExportRequest()
		body, err := readOTLPBody(r)
		if err == nil && mt == ctJSON {
			err = req.UnmarshalJSON(body)
		} else if err == nil {
			err = req.UnmarshalProto(body)
		}
		switch tenant := r.Header.Get("X-Scope-OrgID"); {
		case err != nil:
			status, c = http.StatusBadRequest, code.Code_INVALID_ARGUMENT
		case tenant == "":
			status, c, err = http.StatusServiceUnavailable, code.Code_UNAVAILABLE, errNoOrgID
		default:
			if err = s.Ingest(tenant, req.Traces()); err != nil {
				status, c = http.StatusBadRequest, code.Code_INVALID_ARGUMENT
			}
		}
		var out []byte
		switch {
		case err != nil && mt == ctJSON:
			out, _ = protojson.Marshal(&statuspb.Status{Code: int32(c), Message: err.Error()})
		case err != nil:
			out, _ = proto.Marshal(&statuspb.Status{Code: int32(c), Message: err.Error()})
		case mt == ctJSON:
			out, _ = ptraceotlp.NewExportResponse().MarshalJSON()
		default:
			out, _ = ptraceotlp.NewExportResponse().MarshalProto()
		}
		w.Header().Set("Content-Type", mt)
		w.Header().Set("Content-Length", strconv.Itoa(len(out)))
		w.WriteHeader(status)
		_, _ = w.Write(out) //nolint:gosec // G705: an OTLP response body we encoded, served as OTLP, not HTML
	})
	return mux
}

func readOTLPBody(r *http.Request) ([]byte, error) {
	var rd io.Reader = http.MaxBytesReader(nil, r.Body, maxOTLPBody)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		rd = io.LimitReader(zr, maxOTLPBody+1)
	default:
		return nil, errors.New("unsupported Content-Encoding: " + enc)
	}
	b, err := io.ReadAll(rd)
	if len(b) > maxOTLPBody {
		return nil, errors.New("request body too large")
	}
	return b, err
}
