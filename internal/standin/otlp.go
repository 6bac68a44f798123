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
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

const (
	ctOTLPProto = "application/x-protobuf"
	// maxOTLPBody is the OTel collector's default max_request_body_size.
	maxOTLPBody = 20 << 20

	grpcInvalidArgument = 3
	grpcUnavailable     = 14
)

// OTLPHandler returns Tempo's OTLP/HTTP receiver (what Tempo serves on
// :4318). It answers like the OTel collector's receiver inside Tempo; a
// missing X-Scope-OrgID is 503 Unavailable "no org id" (Tempo's tenant
// middleware returns a plain error there; derived from Tempo's source).
func (s *Server) OTLPHandler() http.Handler { return http.HandlerFunc(s.serveOTLP) }

func (s *Server) serveOTLP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "405 method not allowed, supported: [POST]", http.StatusMethodNotAllowed)
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var isJSON bool
	switch mt {
	case ctOTLPProto:
	case ctJSON:
		isJSON = true
	default:
		http.Error(w, "415 unsupported media type, supported: [application/json, application/x-protobuf]", http.StatusUnsupportedMediaType)
		return
	}
	body, err := readOTLPBody(r)
	if err != nil {
		writeOTLPStatus(w, isJSON, http.StatusBadRequest, grpcInvalidArgument, err.Error())
		return
	}
	req := ptraceotlp.NewExportRequest()
	if isJSON {
		err = req.UnmarshalJSON(body)
	} else {
		err = req.UnmarshalProto(body)
	}
	if err != nil {
		writeOTLPStatus(w, isJSON, http.StatusBadRequest, grpcInvalidArgument, err.Error())
		return
	}
	tenant := r.Header.Get("X-Scope-OrgID")
	if tenant == "" {
		writeOTLPStatus(w, isJSON, http.StatusServiceUnavailable, grpcUnavailable, errNoOrgID.Error())
		return
	}
	if err := s.Ingest(tenant, req.Traces()); err != nil {
		writeOTLPStatus(w, isJSON, http.StatusBadRequest, grpcInvalidArgument, err.Error())
		return
	}
	resp := ptraceotlp.NewExportResponse()
	var out []byte
	if isJSON {
		out, err = resp.MarshalJSON()
	} else {
		out, err = resp.MarshalProto()
	}
	if err != nil {
		writeOTLPStatus(w, isJSON, http.StatusInternalServerError, 13, err.Error())
		return
	}
	writeOTLP(w, isJSON, http.StatusOK, out)
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
	if err != nil {
		return nil, err
	}
	if len(b) > maxOTLPBody {
		return nil, errors.New("request body too large")
	}
	return b, nil
}

func writeOTLP(w http.ResponseWriter, isJSON bool, status int, body []byte) {
	ct := ctOTLPProto
	if isJSON {
		ct = ctJSON
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) //nolint:gosec // G705: an OTLP response body we encoded, served as OTLP, not HTML
}

// writeOTLPStatus writes a google.rpc.Status, as the receiver does for errors.
func writeOTLPStatus(w http.ResponseWriter, isJSON bool, status int, code int32, msg string) {
	st := &statuspb.Status{Code: code, Message: msg}
	var body []byte
	if isJSON {
		body, _ = protojson.Marshal(st)
	} else {
		body, _ = proto.Marshal(st)
	}
	writeOTLP(w, isJSON, status, body)
}
