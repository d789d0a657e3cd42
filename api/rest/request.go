package rest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"connectrpc.com/connect"
	"github.com/tailscale/hujson"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// fieldPath is a chain of fields from the request message to a leaf.
type fieldPath []protoreflect.FieldDescriptor

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
		if b.bodyField, err = topMessageField(in, rt.body); err != nil {
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

// resolveFieldPath looks up dotted field names; every field but the last must
// be a singular message. With jsonNames, lowerCamel names are accepted too.
func resolveFieldPath(md protoreflect.MessageDescriptor, names []string, jsonNames bool) (fieldPath, error) {
	fp := make(fieldPath, 0, len(names))
	for i, name := range names {
		if md == nil {
			return nil, fmt.Errorf("%q is not a message field", names[i-1])
		}
		fd := md.Fields().ByName(protoreflect.Name(name))
		if fd == nil && jsonNames {
			fd = md.Fields().ByJSONName(name)
		}
		if fd == nil {
			return nil, fmt.Errorf("%s has no field %q", md.FullName(), name)
		}
		fp = append(fp, fd)
		md = nil
		if fd.Message() != nil && !fd.IsList() && !fd.IsMap() {
			md = fd.Message()
		}
	}
	return fp, nil
}

// Well-known message types that can be written as one bare text value.
var wrapperTypes = map[protoreflect.FullName]bool{
	"google.protobuf.DoubleValue": true, "google.protobuf.FloatValue": true,
	"google.protobuf.Int64Value": true, "google.protobuf.UInt64Value": true,
	"google.protobuf.Int32Value": true, "google.protobuf.UInt32Value": true,
	"google.protobuf.BoolValue": true, "google.protobuf.StringValue": true,
	"google.protobuf.BytesValue": true,
}

const (
	fieldMaskType = "google.protobuf.FieldMask"
	timestampType = "google.protobuf.Timestamp"
	durationType  = "google.protobuf.Duration"
)

// checkLeaf reports whether fd can be set from text (a path variable may not be repeated).
func checkLeaf(fd protoreflect.FieldDescriptor, allowList bool) error {
	if fd.IsMap() || (fd.IsList() && !allowList) {
		return fmt.Errorf("field %q cannot be set from a URL", fd.Name())
	}
	if md := fd.Message(); md != nil {
		switch n := md.FullName(); {
		case wrapperTypes[n], n == fieldMaskType, n == timestampType, n == durationType:
		default:
			return fmt.Errorf("field %q of type %s cannot be set from a URL", fd.Name(), n)
		}
	}
	return nil
}

// setField sets the leaf of fp from text values, creating parent messages.
func setField(msg protoreflect.Message, fp fieldPath, values []string) error {
	for _, fd := range fp[:len(fp)-1] {
		msg = msg.Mutable(fd).Message()
	}
	fd := fp[len(fp)-1]
	if err := checkLeaf(fd, true); err != nil {
		return err
	}
	if fd.IsList() {
		list := msg.Mutable(fd).List()
		for _, s := range values {
			elem := list.NewElement()
			v, err := parseValue(fd, elem, s)
			if err != nil {
				return err
			}
			list.Append(v)
		}
		return nil
	}
	if fd.Message() != nil && fd.Message().FullName() == fieldMaskType {
		values = []string{strings.Join(values, ",")} // update_mask=a&update_mask=b
	}
	if len(values) != 1 {
		return fmt.Errorf("expected one value, got %d", len(values))
	}
	var empty protoreflect.Value
	if fd.Message() != nil {
		empty = msg.NewField(fd)
	}
	v, err := parseValue(fd, empty, values[0])
	if err != nil {
		return err
	}
	msg.Set(fd, v)
	return nil
}

// parseValue converts text to a value of fd's kind; for message kinds it
// fills empty, a new message of the field's type.
func parseValue(fd protoreflect.FieldDescriptor, empty protoreflect.Value, s string) (protoreflect.Value, error) {
	md := fd.Message()
	if md == nil {
		return parseScalar(fd, s)
	}
	m := empty.Message()
	switch n := md.FullName(); {
	case wrapperTypes[n]:
		vf := md.Fields().ByName("value")
		v, err := parseScalar(vf, s)
		if err != nil {
			return protoreflect.Value{}, err
		}
		m.Set(vf, v)
	case n == fieldMaskType:
		paths := m.Mutable(md.Fields().ByName("paths")).List()
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				paths.Append(protoreflect.ValueOfString(snakePath(p)))
			}
		}
	default: // Timestamp, Duration: their JSON string form ("2024-01-02T03:04:05Z", "1.5s").
		if err := protojson.Unmarshal([]byte(strconv.Quote(s)), m.Interface()); err != nil {
			return protoreflect.Value{}, fmt.Errorf("%q is not a valid %s", s, n)
		}
	}
	return empty, nil
}

// snakePath turns a lowerCamel field mask path ("displayName") into the proto
// form ("display_name"); snake_case input is left alone.
func snakePath(p string) string {
	if strings.IndexFunc(p, func(r rune) bool { return 'A' <= r && r <= 'Z' }) < 0 {
		return p
	}
	var b strings.Builder
	for _, r := range p {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func parseScalar(fd protoreflect.FieldDescriptor, s string) (protoreflect.Value, error) {
	bad := func(typ string) (protoreflect.Value, error) {
		return protoreflect.Value{}, fmt.Errorf("%q is not a valid %s", s, typ)
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		if !utf8.ValidString(s) {
			return bad("UTF-8 string")
		}
		return protoreflect.ValueOfString(s), nil
	case protoreflect.BytesKind:
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(s); err == nil {
				return protoreflect.ValueOfBytes(b), nil
			}
		}
		return bad("base64 value")
	case protoreflect.BoolKind:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return bad("bool")
		}
		return protoreflect.ValueOfBool(b), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return bad("int32")
		}
		return protoreflect.ValueOfInt32(int32(n)), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return bad("int64")
		}
		return protoreflect.ValueOfInt64(n), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return bad("uint32")
		}
		return protoreflect.ValueOfUint32(uint32(n)), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return bad("uint64")
		}
		return protoreflect.ValueOfUint64(n), nil
	case protoreflect.FloatKind:
		f, err := strconv.ParseFloat(s, 32)
		if err != nil {
			return bad("float")
		}
		return protoreflect.ValueOfFloat32(float32(f)), nil
	case protoreflect.DoubleKind:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return bad("double")
		}
		return protoreflect.ValueOfFloat64(f), nil
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByName(protoreflect.Name(s)); ev != nil {
			return protoreflect.ValueOfEnum(ev.Number()), nil
		}
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return bad(string(fd.Enum().Name()))
		}
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), nil
	}
	return bad(fd.Kind().String())
}

// requestError is a client error detected before calling the target.
type requestError struct {
	status int
	code   connect.Code
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) *requestError {
	return &requestError{http.StatusBadRequest, connect.CodeInvalidArgument, fmt.Sprintf(format, args...)}
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
		if rerr := t.decodeBody(r, msg.Mutable(b.bodyField).Message()); rerr != nil {
			return nil, rerr
		}
		if rerr := setQuery(r, msg, b, b.bodyField); rerr != nil {
			return nil, rerr
		}
	}

	for i, fp := range b.pathFields {
		if err := setField(msg, fp, []string{vals[i]}); err != nil {
			return nil, badRequest("invalid value for path variable %q: %v", rt.vars[i].fieldPath, err)
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
			return badRequest("invalid value for query parameter %q: %v", key, err)
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
		return &requestError{http.StatusUnsupportedMediaType, connect.CodeInvalidArgument,
			fmt.Sprintf("unsupported Content-Type %q, want application/json", ct)}
	}
	// hujson accepts the trailing commas (and comments) of hand-written
	// requests, including the Scalekit docs' own curl examples.
	std, err := hujson.Standardize(data)
	if err != nil {
		return badRequest("invalid JSON body: %s", strings.TrimPrefix(err.Error(), "hujson: "))
	}
	if std[0] != '{' && !nonObjectJSON(msg.Descriptor().FullName()) {
		return badRequest("invalid JSON body: expected a JSON object")
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(std, msg.Interface()); err != nil {
		return badRequest("invalid JSON body: %s", protoFieldNames(cleanProtoError(err), msg.Descriptor()))
	}
	return nil
}

func (t *Transcoder) tooLarge() *requestError {
	return &requestError{http.StatusRequestEntityTooLarge, connect.CodeResourceExhausted,
		fmt.Sprintf("request body larger than %d bytes", t.maxBody)}
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
