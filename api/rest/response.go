package rest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// HTTPStatus maps a gRPC/Connect code to an HTTP status, as grpc-gateway
// (and so the Scalekit API) does.
func HTTPStatus(code connect.Code) int {
	switch code {
	case 0:
		return http.StatusOK
	case connect.CodeCanceled:
		return 499 // nginx's "client closed request"
	case connect.CodeInvalidArgument, connect.CodeFailedPrecondition, connect.CodeOutOfRange:
		return http.StatusBadRequest
	case connect.CodeUnauthenticated:
		return http.StatusUnauthorized
	case connect.CodePermissionDenied:
		return http.StatusForbidden
	case connect.CodeNotFound:
		return http.StatusNotFound
	case connect.CodeAlreadyExists, connect.CodeAborted:
		return http.StatusConflict
	case connect.CodeResourceExhausted:
		return http.StatusTooManyRequests
	case connect.CodeUnimplemented:
		return http.StatusNotImplemented
	case connect.CodeUnavailable:
		return http.StatusServiceUnavailable
	case connect.CodeDeadlineExceeded:
		return http.StatusGatewayTimeout
	default: // Unknown, Internal, DataLoss and anything new
		return http.StatusInternalServerError
	}
}

// codeForStatus infers a code for answers that are not Connect errors
// (e.g. a plain 401 from an auth middleware): roughly HTTPStatus reversed.
func codeForStatus(status int) connect.Code {
	switch status {
	case http.StatusBadRequest:
		return connect.CodeInvalidArgument
	case http.StatusUnauthorized:
		return connect.CodeUnauthenticated
	case http.StatusForbidden:
		return connect.CodePermissionDenied
	case http.StatusNotFound:
		return connect.CodeNotFound
	case http.StatusConflict:
		return connect.CodeAborted
	case http.StatusTooManyRequests:
		return connect.CodeResourceExhausted
	case 499:
		return connect.CodeCanceled
	case http.StatusNotImplemented:
		return connect.CodeUnimplemented
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		return connect.CodeUnavailable
	case http.StatusGatewayTimeout:
		return connect.CodeDeadlineExceeded
	}
	return connect.CodeUnknown
}

// responseBuffer captures the target's answer in memory.
type responseBuffer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

// maxPooledBytes bounds the buffers that the transcoder keeps for the next answer: the wire
// bytes of an answer and its JSON (a page of 100 users: about 60 KB and 250 KB). Pooling them
// saves a page most of its garbage (issue 12); a larger answer's buffers are let go. A
// sync.Pool empties itself over two collections, so what it holds is bounded by the requests
// in flight, like the garbage it replaces (docs/memory.md, working memory).
const maxPooledBytes = 1 << 20

var responseBuffers = sync.Pool{New: func() any { return &responseBuffer{header: make(http.Header)} }}

func newResponseBuffer() *responseBuffer {
	return responseBuffers.Get().(*responseBuffer)
}

// release hands b back for another answer, once nothing reads it any more.
func (b *responseBuffer) release() {
	if b.body.Cap() > maxPooledBytes {
		return
	}
	clear(b.header)
	b.status = 0
	b.body.Reset()
	responseBuffers.Put(b)
}

// bytePool keeps byte slices of at most maxPooledBytes for reuse.
type bytePool struct{ p sync.Pool }

var jsonBuffers bytePool

func (p *bytePool) get() []byte {
	if b, _ := p.p.Get().(*[]byte); b != nil {
		return (*b)[:0]
	}
	return nil
}

func (p *bytePool) put(b []byte) {
	if cap(b) == 0 || cap(b) > maxPooledBytes {
		return
	}
	b = b[:0]
	p.p.Put(&b)
}

func (b *responseBuffer) Header() http.Header { return b.header }

func (b *responseBuffer) WriteHeader(status int) {
	if b.status == 0 && status >= 200 { // 1xx are informational, keep waiting
		b.status = status
	}
}

func (b *responseBuffer) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}

// Flush is a no-op so handlers that flush still work.
func (b *responseBuffer) Flush() {}

// The JSON form of answers: snake_case names and every field present, so
// clients see "metadata": {} and "organizations": [] rather than nothing.
var marshalJSON = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}

// writeResponse translates a captured Connect unary answer to REST/JSON.
func writeResponse(w http.ResponseWriter, rt *route, rec *responseBuffer, memo *jsonMemo) {
	copyResponseHeaders(w.Header(), rec.header)
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	if ce := rec.header.Get("Content-Encoding"); ce != "" && ce != "identity" {
		// We never send Accept-Encoding, so a compressed answer is a bug.
		writeError(w, http.StatusInternalServerError, connect.CodeInternal, "unexpected compressed response", nil)
		return
	}
	if status != http.StatusOK {
		writeConnectError(w, status, rec)
		return
	}
	if ct := rec.header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/proto") {
		writeError(w, http.StatusInternalServerError, connect.CodeInternal, "unexpected response Content-Type "+ct, nil)
		return
	}
	buf := jsonBuffers.get()
	data, ok, err := memo.appendAnswerJSON(buf, rt.bind.m.output, rt.bind.respField, rec.body.Bytes())
	if ok {
		defer jsonBuffers.put(data) // w.Write copies it (io.Writer never keeps p)
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, connect.CodeInternal, "invalid response message: "+cleanProtoError(err), nil)
		return
	}
	if !ok {
		out := rt.bind.m.output.New()
		if err := proto.Unmarshal(rec.body.Bytes(), out.Interface()); err != nil {
			writeError(w, http.StatusInternalServerError, connect.CodeInternal, "invalid response message: "+cleanProtoError(err), nil)
			return
		}
		if f := rt.bind.respField; f != nil {
			out = out.Get(f).Message()
		}
		// protojson varies its whitespace on purpose; answer compact, stable JSON.
		if data, err = marshalCompact(out.Interface()); err != nil {
			writeError(w, http.StatusInternalServerError, connect.CodeInternal, "encoding response: "+cleanProtoError(err), nil)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(data) //nolint:errcheck // the client went away; nothing to do
}

// copyResponseHeaders passes on headers the handler set (X-Request-Id, ...),
// except those describing the proto body or the Connect protocol.
func copyResponseHeaders(dst, src http.Header) {
	for k, vs := range src {
		switch {
		case strings.HasPrefix(k, "Content-"), strings.HasPrefix(k, "Connect-"),
			strings.HasPrefix(k, "Trailer-"), strings.HasPrefix(k, "Grpc-"),
			k == "Accept-Encoding":
			continue
		}
		dst[k] = slices.Clone(vs)
	}
}

// connectError is the JSON body of a Connect unary error.
type connectError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"details"`
}

// writeConnectError translates a non-200 Connect answer to grpc-gateway's
// {"code": 5, "message": "...", "details": [{"@type": ...}]}.
func writeConnectError(w http.ResponseWriter, status int, rec *responseBuffer) {
	var ce connectError
	var code connect.Code
	if json.Unmarshal(rec.body.Bytes(), &ce) == nil && code.UnmarshalText([]byte(ce.Code)) == nil {
		details := make([]json.RawMessage, 0, len(ce.Details))
		for _, d := range ce.Details {
			details = append(details, detailJSON(d.Type, d.Value))
		}
		writeError(w, HTTPStatus(code), code, ce.Message, details)
		return
	}
	// Not a Connect error (say, a middleware's plain-text 401): keep the
	// status and use a short text body as the message.
	msg := strings.TrimSpace(rec.body.String())
	if msg == "" || len(msg) > 1024 || !utf8.ValidString(msg) || strings.ContainsAny(msg[:1], "{[<") {
		msg = http.StatusText(status)
	}
	writeError(w, status, codeForStatus(status), msg, nil)
}

// detailJSON renders a Connect error detail as a google.protobuf.Any in JSON,
// e.g. {"@type":"type.googleapis.com/scalekit.v1.errdetails.ErrorInfo","error_code":"NOT_FOUND"}.
// Types missing from protoregistry.GlobalTypes keep their bytes as "value".
func detailJSON(typ, value string) json.RawMessage {
	if i := strings.LastIndexByte(typ, '/'); i >= 0 {
		typ = typ[i+1:]
	}
	url := "type.googleapis.com/" + typ
	raw, err := decodeBase64(value)
	if err != nil {
		b, _ := json.Marshal(map[string]string{"@type": url, "value": value})
		return b
	}
	if b, err := (protojson.MarshalOptions{UseProtoNames: true}).Marshal(&anypb.Any{TypeUrl: url, Value: raw}); err == nil {
		return b
	}
	b, _ := json.Marshal(map[string]string{"@type": url, "value": base64.StdEncoding.EncodeToString(raw)})
	return b
}

// decodeBase64 accepts padded or unpadded, standard or URL-safe base64;
// Connect sends unpadded standard base64 but allows either.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// errorBody is grpc-gateway's error shape, which Scalekit clients parse.
type errorBody struct {
	Code    int               `json:"code"`
	Message string            `json:"message"`
	Details []json.RawMessage `json:"details"`
}

func writeError(w http.ResponseWriter, status int, code connect.Code, msg string, details []json.RawMessage) {
	if details == nil {
		details = []json.RawMessage{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep "<" and "&" readable in messages
	if err := enc.Encode(errorBody{Code: int(code), Message: msg, Details: details}); err != nil {
		buf.Reset()
		buf.WriteString(`{"code":13,"message":"encoding error response failed","details":[]}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(status)
	w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))) //nolint:errcheck // the client went away
}

// MarshalJSON is the JSON of m as a REST answer holds it: proto names, every field present,
// compact. It is the specification that userjson (which writes the users of answers and of the
// bulk export) is tested against.
func MarshalJSON(m proto.Message) ([]byte, error) { return marshalCompact(m) }

// ErrorJSON is the JSON error body that REST answers ce with ({"code", "message", "details"}),
// for errors reported inside a streamed answer (the bulk import's failed lines).
func ErrorJSON(ce *connect.Error) json.RawMessage {
	details := make([]json.RawMessage, 0, len(ce.Details()))
	for _, d := range ce.Details() {
		details = append(details, detailJSON(d.Type(), base64.RawStdEncoding.EncodeToString(d.Bytes())))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(errorBody{Code: int(ce.Code()), Message: ce.Message(), Details: details}); err != nil {
		return json.RawMessage(`{"code":13,"message":"encoding error response failed","details":[]}`)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// WriteError answers ce as a REST error, with the HTTP status of its code.
func WriteError(w http.ResponseWriter, ce *connect.Error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(HTTPStatus(ce.Code()))
	w.Write(ErrorJSON(ce)) //nolint:errcheck // the client went away
}
