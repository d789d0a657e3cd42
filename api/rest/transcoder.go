// Package rest serves the REST/JSON form of Connect services, routed by the
// google.api.http annotations of their methods, the way the Scalekit API
// gateway (grpc-gateway) does. It exists because the Scalekit paths put a
// colon inside a literal segment ("/api/v1/organizations:external/{id}"),
// which connectrpc.com/vanguard's template parser rejects.
//
// Each REST request becomes an in-process unary Connect call (binary proto)
// to the target handler, so interceptors, auth and metrics see exactly what
// a gRPC or Connect client would produce.
package rest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"
)

// DefaultMaxBodySize is the request body limit unless WithMaxBodySize says otherwise.
const DefaultMaxBodySize = 1 << 20

// Transcoder is an http.Handler serving REST routes by calling a Connect handler.
type Transcoder struct {
	target   http.Handler
	router   router
	maxBody  int64
	maxDepth int
	maxVals  int
	auth     func(*http.Request) (context.Context, error) // nil: the target authenticates
	detail   func(Problem) proto.Message
	rewrite  map[protoreflect.FullName]func(any) any
	memo     *jsonMemo // nil: every answer goes through protojson whole
}

// Option configures a Transcoder.
type Option func(*Transcoder)

// WithMaxBodySize limits request bodies to n bytes (default 1 MiB); larger
// bodies are answered with HTTP 413. n <= 0 keeps the default.
func WithMaxBodySize(n int64) Option {
	return func(t *Transcoder) {
		if n > 0 {
			t.maxBody = n
		}
	}
}

// WithMaxDepth limits how deeply a request body's arrays and objects may nest (default
// DefaultMaxDepth); deeper bodies are answered with HTTP 400 before any parser runs. n <= 0
// keeps the default.
func WithMaxDepth(n int) Option {
	return func(t *Transcoder) {
		if n > 0 {
			t.maxDepth = n
		}
	}
}

// WithMaxValues limits how many members and elements (of all its objects and arrays together)
// a request body may have (default DefaultMaxValues); larger bodies are answered with HTTP 400
// before any parser runs. n <= 0 keeps the default.
func WithMaxValues(n int) Option {
	return func(t *Transcoder) {
		if n > 0 {
			t.maxVals = n
		}
	}
}

// WithAuthenticate makes the transcoder authenticate a matched request before it reads the
// body: fn returns the context that the call to the target runs in (carrying the caller), or
// an error, which is answered as it is (a *connect.Error keeps its code and details; any other
// error is UNAUTHENTICATED) without reading the body. So an anonymous client can make the
// server parse nothing.
func WithAuthenticate(fn func(r *http.Request) (context.Context, error)) Option {
	return func(t *Transcoder) { t.auth = fn }
}

// Problem is an error that the transcoder itself answers: no route, malformed JSON, a path or
// query value that its field cannot take (then Field and Constraint name the field, in proto
// names, and the rule it broke).
type Problem struct {
	Code              connect.Code
	Message           string
	Field, Constraint string
}

// WithErrorDetail attaches detail(problem) to the errors that the transcoder itself answers,
// so that they carry the same detail types as the errors of the services.
func WithErrorDetail(detail func(Problem) proto.Message) Option {
	return func(t *Transcoder) { t.detail = detail }
}

// WithJSONRewrite registers fn to rewrite the decoded JSON body of messages of type name
// before protojson reads it: a place to accept documented shapes that protojson would refuse
// (for example a role name where a list of roles is expected).
func WithJSONRewrite(name protoreflect.FullName, fn func(body any) any) Option {
	return func(t *Transcoder) {
		if t.rewrite == nil {
			t.rewrite = map[protoreflect.FullName]func(any) any{}
		}
		t.rewrite[name] = fn
	}
}

// fail answers an error of the transcoder's own.
func (t *Transcoder) fail(w http.ResponseWriter, status int, code connect.Code, msg string) {
	t.failRequest(w, &requestError{status: status, code: code, msg: msg})
}

// failRequest answers a request error, naming its field when it has one.
func (t *Transcoder) failRequest(w http.ResponseWriter, e *requestError) {
	status, code, msg := e.status, e.code, e.msg
	var details []json.RawMessage
	if t.detail != nil {
		if m := t.detail(Problem{Code: code, Message: msg, Field: e.field, Constraint: e.constraint}); m != nil {
			if a, err := anypb.New(m); err == nil {
				if b, err := (protojson.MarshalOptions{UseProtoNames: true}).Marshal(a); err == nil {
					details = append(details, b)
				}
			}
		}
	}
	writeError(w, status, code, msg, details)
}

// failWith answers err, an authenticator's refusal: a *connect.Error keeps its code, message
// and details; anything else is UNAUTHENTICATED.
func (t *Transcoder) failWith(w http.ResponseWriter, err error) {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		t.fail(w, http.StatusUnauthorized, connect.CodeUnauthenticated, "unauthenticated")
		return
	}
	details := make([]json.RawMessage, 0, len(ce.Details()))
	for _, d := range ce.Details() {
		details = append(details, detailJSON(d.Type(), base64.RawStdEncoding.EncodeToString(d.Bytes())))
	}
	writeError(w, HTTPStatus(ce.Code()), ce.Code(), ce.Message(), details)
}

// method is one RPC that has at least one REST route.
type method struct {
	procedure     string // "/package.Service/Method"
	input, output protoreflect.MessageType
}

// New builds a handler that serves the REST routes of the google.api.http
// rules (including additional_bindings) of the given services, by calling
// target in-process with the Connect protocol and translating the answer
// to JSON. Methods without an http rule are skipped.
func New(target http.Handler, services []protoreflect.ServiceDescriptor, opts ...Option) (*Transcoder, error) {
	if target == nil {
		return nil, errors.New("rest: nil target handler")
	}
	t := newTranscoder(target, opts...)
	for _, sd := range services {
		methods := sd.Methods()
		for i := range methods.Len() {
			md := methods.Get(i)
			rule, err := httpRule(md)
			if err != nil {
				return nil, fmt.Errorf("rest: %s: %w", md.FullName(), err)
			}
			if rule == nil {
				continue
			}
			if md.IsStreamingClient() || md.IsStreamingServer() {
				return nil, fmt.Errorf("rest: %s: streaming methods cannot be transcoded", md.FullName())
			}
			m := &method{
				procedure: "/" + string(sd.FullName()) + "/" + string(md.Name()),
				input:     messageType(md.Input()),
				output:    messageType(md.Output()),
			}
			if err := t.addRule(rule, m); err != nil {
				return nil, fmt.Errorf("rest: %s: %w", md.FullName(), err)
			}
		}
	}
	return t, nil
}

func newTranscoder(target http.Handler, opts ...Option) *Transcoder {
	t := &Transcoder{target: target, maxBody: DefaultMaxBodySize, maxDepth: DefaultMaxDepth, maxVals: DefaultMaxValues}
	for _, o := range opts {
		o(t)
	}
	return t
}

// addRule registers every binding of rule; m is nil in routing-only tests.
func (t *Transcoder) addRule(rule *annotations.HttpRule, m *method) error {
	routes, err := ruleRoutes(rule)
	if err != nil {
		return err
	}
	for _, rt := range routes {
		if m != nil {
			if rt.bind, err = bind(rt, m); err != nil {
				return fmt.Errorf("%s %s: %w", rt.method, rt.template, err)
			}
		}
		if err := t.router.add(rt); err != nil {
			return err
		}
	}
	return nil
}

// httpRule returns the google.api.http option of md, or nil.
func httpRule(md protoreflect.MethodDescriptor) (*annotations.HttpRule, error) {
	opts, ok := md.Options().(*descriptorpb.MethodOptions)
	if !ok || opts == nil {
		return nil, nil
	}
	if !proto.HasExtension(opts, annotations.E_Http) && len(opts.ProtoReflect().GetUnknown()) > 0 {
		// Descriptors built without annotations linked in keep the rule
		// as unknown bytes; re-parse them with the annotations registered.
		raw, err := proto.Marshal(opts)
		if err != nil {
			return nil, err
		}
		opts = &descriptorpb.MethodOptions{}
		if err := (proto.UnmarshalOptions{Resolver: protoregistry.GlobalTypes}).Unmarshal(raw, opts); err != nil {
			return nil, err
		}
	}
	rule, _ := proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule)
	return rule, nil
}

// messageType prefers the generated Go type and falls back to dynamicpb for
// descriptors that were not linked into the binary.
func messageType(md protoreflect.MessageDescriptor) protoreflect.MessageType {
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName()); err == nil && mt.Descriptor() == md {
		return mt
	}
	return dynamicpb.NewMessageType(md)
}

// Match reports whether a request's method and path match a route, and the
// full method name ("/scalekit.v1.organizations.OrganizationService/GetOrganization").
func (t *Transcoder) Match(r *http.Request) (procedure string, ok bool) {
	rt, _ := t.router.match(r.Method, splitPath(r.URL.EscapedPath()))
	if rt == nil || rt.bind == nil {
		return "", false
	}
	return rt.bind.m.procedure, true
}

// ServeHTTP transcodes one REST request.
func (t *Transcoder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs := splitPath(r.URL.EscapedPath())
	rt, l := t.router.match(r.Method, segs)
	if rt == nil || rt.bind == nil {
		if len(l.allowed) > 0 {
			slices.Sort(l.allowed)
			w.Header().Set("Allow", strings.Join(slices.Compact(l.allowed), ", "))
			t.fail(w, http.StatusMethodNotAllowed, connect.CodeUnimplemented,
				fmt.Sprintf("method %s not allowed for %s", r.Method, r.URL.Path))
			return
		}
		t.fail(w, http.StatusNotFound, connect.CodeNotFound,
			fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
		return
	}
	ctx := r.Context()
	if t.auth != nil {
		// Before the body is read: an anonymous client makes the server parse nothing.
		var err error
		if ctx, err = t.auth(r); err != nil {
			t.failWith(w, err)
			return
		}
	}
	msg, rerr := t.buildRequest(r, rt, segs)
	if rerr != nil {
		t.failRequest(w, rerr)
		return
	}
	payload, err := proto.Marshal(msg.Interface())
	if err != nil { // e.g. invalid UTF-8 that slipped into a string field
		t.fail(w, http.StatusBadRequest, connect.CodeInvalidArgument, "invalid request: "+cleanProtoError(err))
		return
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rt.bind.m.procedure, bytes.NewReader(payload))
	if err != nil {
		t.fail(w, http.StatusInternalServerError, connect.CodeInternal, "building the inner request failed")
		return
	}
	req.Header = innerHeaders(r.Header)
	req.Host, req.RemoteAddr, req.TLS = r.Host, r.RemoteAddr, r.TLS
	req.RequestURI = rt.bind.m.procedure

	rec := newResponseBuffer()
	t.target.ServeHTTP(rec, req)
	writeResponse(w, rt, rec, t.memo)
	rec.release()
}

// innerHeaders copies the client's headers (Authorization, User-Agent,
// X-Request-Id, X-Forwarded-*, ...) minus those that describe the JSON body
// or would change how the Connect handler reads the proto body.
func innerHeaders(src http.Header) http.Header {
	h := make(http.Header, len(src)+2)
	for k, vs := range src {
		k = textproto.CanonicalMIMEHeaderKey(k)
		switch {
		case strings.HasPrefix(k, "Content-"), strings.HasPrefix(k, "Connect-"),
			k == "Accept-Encoding", k == "Connection", k == "Upgrade", k == "Te", k == "Keep-Alive":
			continue
		}
		h[k] = append(h[k], vs...)
	}
	h.Set("Content-Type", "application/proto")
	h.Set("Connect-Protocol-Version", "1")
	return h
}
