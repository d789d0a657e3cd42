package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"connectrpc.com/connect"
	"github.com/tailscale/hujson"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// binding is the protobuf side of a route, resolved once in New.
type binding struct {
	m          *method
	pathFields []fieldPath                  // parallel to route.vars
	bodyField  protoreflect.FieldDescriptor // set when body names a field
	respField  protoreflect.FieldDescriptor // set when response_body names a field
}

// bind resolves the field names of rt against m's request and response types.
func bind(rt *route, m *method) (*binding, error) {
	b := &binding{m: m}
	in := m.input.Descriptor()
	for _, v := range rt.vars {
		fp, err := resolveFieldPath(in, strings.Split(v.fieldPath, "."), false)
		if err != nil {
			return nil, fmt.Errorf("path variable %q: %w", v.fieldPath, err)
		}
		if err := checkLeaf(fp[len(fp)-1], false); err != nil {
			return nil, fmt.Errorf("path variable %q: %w", v.fieldPath, err)
		}
		b.pathFields = append(b.pathFields, fp)
	}
	var err error
	if rt.body != "" && rt.body != "*" {
		if b.bodyField, err = bodyField(in, rt.body); err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
	}
	if rt.responseBody != "" {
		if b.respField, err = topMessageField(m.output.Descriptor(), rt.responseBody); err != nil {
			return nil, fmt.Errorf("response_body: %w", err)
		}
	}
	return b, nil
}

// bodyField returns the field that a body rule names: a singular message, or a repeated
// field whose JSON body is an array (grpc-gateway allows both).
func bodyField(md protoreflect.MessageDescriptor, name string) (protoreflect.FieldDescriptor, error) {
	fd := md.Fields().ByName(protoreflect.Name(name))
	if fd != nil && fd.IsList() {
		return fd, nil
	}
	return topMessageField(md, name)
}

func topMessageField(md protoreflect.MessageDescriptor, name string) (protoreflect.FieldDescriptor, error) {
	fd := md.Fields().ByName(protoreflect.Name(name))
	if fd == nil {
		return nil, fmt.Errorf("%s has no field %q", md.FullName(), name)
	}
	if fd.Message() == nil || fd.IsList() || fd.IsMap() {
		return nil, fmt.Errorf("field %q must be a singular message", name)
	}
	return fd, nil
}

// requestError is a client error detected before calling the target.
type requestError struct {
	status            int
	code              connect.Code
	msg               string
	field, constraint string // the request field at fault, when there is one
}

func badRequest(format string, args ...any) *requestError {
	return &requestError{status: http.StatusBadRequest, code: connect.CodeInvalidArgument, msg: fmt.Sprintf(format, args...)}
}

// badValue is a path or query value that its field cannot take: not UTF-8 for a string field
// (constraint string.utf8, as the API's own text rule says), or not of the field's type.
func badValue(fp fieldPath, values []string, format string, args ...any) *requestError {
	e := badRequest(format, args...)
	e.field, e.constraint = fp.String(), "type"
	for _, v := range values {
		if !utf8.ValidString(v) {
			e.constraint = "string.utf8"
		}
	}
	return e
}

// buildRequest fills a new request message from the path, query and body.
// Precedence, lowest first: body, query string, path variables.
func (t *Transcoder) buildRequest(r *http.Request, rt *route, segs []string) (protoreflect.Message, *requestError) {
	b := rt.bind
	msg := b.m.input.New()
	vals, err := rt.captures(segs)
	if err != nil {
		return nil, badRequest("%v", err)
	}

	body := rt.body
	if r.Method == http.MethodGet || r.Method == http.MethodDelete {
		body = "" // never read a body for these, whatever the rule says
	}
	switch body {
	case "*":
		if rerr := t.decodeBody(r, msg); rerr != nil {
			return nil, rerr
		}
	case "":
		if rerr := setQuery(r, msg, b, nil); rerr != nil {
			return nil, rerr
		}
	default:
		if b.bodyField.IsList() {
			// The body is the list itself: decode it as {"<field>": <body>} into the request.
			if rerr := t.decodeListBody(r, msg, b.bodyField); rerr != nil {
				return nil, rerr
			}
		} else if rerr := t.decodeBody(r, msg.Mutable(b.bodyField).Message()); rerr != nil {
			return nil, rerr
		}
		if rerr := setQuery(r, msg, b, b.bodyField); rerr != nil {
			return nil, rerr
		}
	}

	for i, fp := range b.pathFields {
		if err := setField(msg, fp, []string{vals[i]}); err != nil {
			return nil, badValue(fp, []string{vals[i]}, "invalid value for path variable %q: %v", rt.vars[i].fieldPath, err)
		}
	}
	return msg, nil
}

// setQuery sets fields from query parameters. Unknown parameters are ignored,
// like the Scalekit gateway does; parameters naming a path variable or the
// body field are skipped since those come from elsewhere.
func setQuery(r *http.Request, msg protoreflect.Message, b *binding, bodyField protoreflect.FieldDescriptor) *requestError {
	if r.URL.RawQuery == "" {
		return nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return badRequest("invalid query string: %v", err)
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic when two parameters touch one oneof
	md := msg.Descriptor()
	for _, key := range keys {
		fp, err := resolveFieldPath(md, strings.Split(key, "."), true)
		if err != nil || fp[0] == bodyField || b.coversPath(fp) {
			continue
		}
		if err := setField(msg, fp, q[key]); err != nil {
			return badValue(fp, q[key], "invalid value for query parameter %q: %v", key, err)
		}
	}
	return nil
}

// coversPath reports whether fp overlaps a path variable's field.
func (b *binding) coversPath(fp fieldPath) bool {
	for _, pv := range b.pathFields {
		n := min(len(pv), len(fp))
		if slices.Equal(pv[:n], fp[:n]) {
			return true
		}
	}
	return false
}

// decodeBody reads the JSON body into msg. An empty body leaves msg empty.
func (t *Transcoder) decodeBody(r *http.Request, msg protoreflect.Message) *requestError {
	return t.decodeBodyAs(r, msg, nil)
}

// decodeListBody decodes a JSON array body into the repeated field fd of msg.
func (t *Transcoder) decodeListBody(r *http.Request, msg protoreflect.Message, fd protoreflect.FieldDescriptor) *requestError {
	return t.decodeBodyAs(r, msg, fd)
}

// decodeBodyAs decodes the body into msg; with list set, the body is an array that becomes
// that repeated field of msg.
func (t *Transcoder) decodeBodyAs(r *http.Request, msg protoreflect.Message, list protoreflect.FieldDescriptor) *requestError {
	if r.ContentLength > t.maxBody {
		return t.tooLarge()
	}
	if r.Body == nil {
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, t.maxBody+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return t.tooLarge()
		}
		return badRequest("reading request body: %v", err)
	}
	if int64(len(data)) > t.maxBody {
		return t.tooLarge()
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil
	}
	// The type only matters once there are bytes to parse.
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.Contains(strings.ToLower(ct), "json") {
		return &requestError{status: http.StatusUnsupportedMediaType, code: connect.CodeInvalidArgument,
			msg: fmt.Sprintf("unsupported Content-Type %q, want application/json", ct)}
	}
	// hujson, encoding/json and protojson all recurse on nesting, and hujson builds a tree
	// of the whole body: bound depth and size first, in one linear pass, so that no body can
	// overflow the stack or buy a second of work and a hundred megabytes.
	if err := checkShape(data, t.maxDepth, t.maxVals); err != nil {
		return badRequest("invalid JSON body: %v", err)
	}
	std := data
	if !json.Valid(data) {
		// hujson accepts the trailing commas (and comments) of hand-written
		// requests, including the Scalekit docs' own curl examples. Standard JSON
		// (json.Valid neither allocates nor recurses) needs no standardizing.
		var err error
		if std, err = hujson.Standardize(data); err != nil {
			return badRequest("invalid JSON body: %s", strings.TrimPrefix(err.Error(), "hujson: "))
		}
	}
	std = bytes.TrimSpace(std) // a leading comment became spaces
	if len(std) == 0 {
		return nil
	}
	if fn := t.rewrite[msg.Descriptor().FullName()]; fn != nil && list == nil {
		var v any
		if err := json.Unmarshal(std, &v); err == nil {
			if out, err := json.Marshal(fn(v)); err == nil {
				std = out
			}
		}
	}
	if list != nil {
		if std[0] != '[' {
			return badRequest("invalid JSON body: expected a JSON array of %s", list.Name())
		}
		std = append(append([]byte(`{"`+string(list.Name())+`":`), std...), '}')
	} else if std[0] != '{' && !nonObjectJSON(msg.Descriptor().FullName()) {
		return badRequest("invalid JSON body: expected a JSON object")
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(std, msg.Interface()); err != nil {
		return badRequest("invalid JSON body: %s", protoFieldNames(cleanProtoError(err), msg.Descriptor()))
	}
	return nil
}

func (t *Transcoder) tooLarge() *requestError {
	return &requestError{status: http.StatusRequestEntityTooLarge, code: connect.CodeResourceExhausted,
		msg: fmt.Sprintf("request body larger than %d bytes", t.maxBody)}
}

// nonObjectJSON reports whether a message's JSON form is not an object.
func nonObjectJSON(n protoreflect.FullName) bool {
	switch n {
	case fieldMaskType, timestampType, durationType, "google.protobuf.Value", "google.protobuf.ListValue":
		return true
	}
	return wrapperTypes[n]
}

// cleanProtoError turns protojson's `proto: (line 1:17): invalid value for
// string field display_name: 5` into `invalid value for string field
// display_name: 5`. (protobuf-go randomizes the space after "proto:" so
// that nobody compares these strings; we only trim them.)
func cleanProtoError(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "proto:")
	s = strings.TrimLeft(s, " \u00a0")
	if i := strings.Index(s, "(line "); i >= 0 {
		if j := strings.IndexByte(s[i:], ')'); j >= 0 {
			before, after := strings.TrimRight(s[:i], " "), strings.TrimPrefix(s[i+j+1:], ":")
			if before == "" {
				s = strings.TrimSpace(after)
			} else {
				s = before + ":" + after
			}
		}
	}
	return s
}

// protoFieldNames rewrites the lowerCamel name in protojson's "invalid value
// for string field displayName: 5" to the proto name our docs and responses
// use, looking for the field nearest to md.
func protoFieldNames(s string, md protoreflect.MessageDescriptor) string {
	const head = "invalid value for "
	rest, ok := strings.CutPrefix(s, head)
	if !ok {
		return s
	}
	kind, rest, ok1 := strings.Cut(rest, " field ")
	name, value, ok2 := strings.Cut(rest, ": ")
	if !ok1 || !ok2 {
		return s
	}
	seen := map[protoreflect.FullName]bool{}
	for level := []protoreflect.MessageDescriptor{md}; len(level) > 0; {
		var next []protoreflect.MessageDescriptor
		for _, m := range level {
			if seen[m.FullName()] {
				continue
			}
			seen[m.FullName()] = true
			if fd := m.Fields().ByJSONName(name); fd != nil {
				return head + kind + " field " + string(fd.Name()) + ": " + value
			}
			for i := range m.Fields().Len() {
				f := m.Fields().Get(i)
				if f.IsMap() {
					f = f.MapValue()
				}
				if f.Message() != nil {
					next = append(next, f.Message())
				}
			}
		}
		level = next
	}
	return s
}
