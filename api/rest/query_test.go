package rest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// kitchenService builds, without generated code, a service whose Echo
// method takes and returns a message with a field of every kind that a URL
// can set. It also exercises New with dynamicpb types.
func kitchenService(t testing.TB) protoreflect.ServiceDescriptor {
	t.Helper()
	type F = descriptorpb.FieldDescriptorProto
	field := func(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, typeName string, repeated bool) *F {
		f := &F{Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(),
			Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()}
		if repeated {
			f.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
		}
		if typeName != "" {
			f.TypeName = proto.String(typeName)
		}
		return f
	}
	const (
		str = descriptorpb.FieldDescriptorProto_TYPE_STRING
		msg = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	)
	opt := field("opt", 13, str, "", false)
	opt.OneofIndex, opt.Proto3Optional = proto.Int32(0), proto.Bool(true)
	kitchen := &descriptorpb.DescriptorProto{
		Name: proto.String("Kitchen"),
		Field: []*F{
			field("s", 1, str, "", false),
			field("b", 2, descriptorpb.FieldDescriptorProto_TYPE_BOOL, "", false),
			field("i32", 3, descriptorpb.FieldDescriptorProto_TYPE_INT32, "", false),
			field("i64", 4, descriptorpb.FieldDescriptorProto_TYPE_INT64, "", false),
			field("u32", 5, descriptorpb.FieldDescriptorProto_TYPE_UINT32, "", false),
			field("u64", 6, descriptorpb.FieldDescriptorProto_TYPE_UINT64, "", false),
			field("f", 7, descriptorpb.FieldDescriptorProto_TYPE_FLOAT, "", false),
			field("d", 8, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, "", false),
			field("e", 9, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".rest.test.Color", false),
			field("by", 10, descriptorpb.FieldDescriptorProto_TYPE_BYTES, "", false),
			field("rs", 11, str, "", true),
			field("ri", 12, descriptorpb.FieldDescriptorProto_TYPE_INT64, "", true),
			opt,
			field("w", 14, msg, ".google.protobuf.Int32Value", false),
			field("bw", 15, msg, ".google.protobuf.BoolValue", false),
			field("sw", 16, msg, ".google.protobuf.StringValue", false),
			field("mask", 17, msg, ".google.protobuf.FieldMask", false),
			field("ts", 18, msg, ".google.protobuf.Timestamp", false),
			field("nested", 19, msg, ".rest.test.Inner", false),
			field("s32", 20, descriptorpb.FieldDescriptorProto_TYPE_SINT32, "", false),
			field("fx64", 21, descriptorpb.FieldDescriptorProto_TYPE_FIXED64, "", false),
			field("re", 22, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".rest.test.Color", true),
			field("page_size", 23, descriptorpb.FieldDescriptorProto_TYPE_INT32, "", false),
			field("dur", 24, msg, ".google.protobuf.Duration", false),
			field("rw", 25, msg, ".google.protobuf.Int64Value", true),
		},
		OneofDecl: []*descriptorpb.OneofDescriptorProto{{Name: proto.String("_opt")}},
	}
	inner := &descriptorpb.DescriptorProto{
		Name:  proto.String("Inner"),
		Field: []*F{field("name", 1, str, "", false), field("n", 2, descriptorpb.FieldDescriptorProto_TYPE_INT32, "", false)},
	}
	echoOpts := &descriptorpb.MethodOptions{}
	proto.SetExtension(echoOpts, annotations.E_Http, &annotations.HttpRule{
		Pattern: &annotations.HttpRule_Get{Get: "/v1/kitchen/{nested.name}"},
		AdditionalBindings: []*annotations.HttpRule{
			{Pattern: &annotations.HttpRule_Post{Post: "/v1/kitchen"}, Body: "*"},
			{Pattern: &annotations.HttpRule_Put{Put: "/v1/kitchen/{i64}/nested"}, Body: "nested"},
			{Pattern: &annotations.HttpRule_Post{Post: "/v1/kitchen/{s}:echo"}, Body: "*", ResponseBody: "nested"},
		},
	})
	fdp := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("rest/test/kitchen.proto"),
		Package: proto.String("rest.test"),
		Syntax:  proto.String("proto3"),
		Dependency: []string{
			"google/protobuf/wrappers.proto", "google/protobuf/field_mask.proto",
			"google/protobuf/timestamp.proto", "google/protobuf/duration.proto",
		},
		MessageType: []*descriptorpb.DescriptorProto{kitchen, inner},
		EnumType: []*descriptorpb.EnumDescriptorProto{{
			Name: proto.String("Color"),
			Value: []*descriptorpb.EnumValueDescriptorProto{
				{Name: proto.String("COLOR_UNSPECIFIED"), Number: proto.Int32(0)},
				{Name: proto.String("GREEN"), Number: proto.Int32(1)},
				{Name: proto.String("BLUE"), Number: proto.Int32(2)},
			},
		}},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String("KitchenService"),
			Method: []*descriptorpb.MethodDescriptorProto{
				{Name: proto.String("Echo"), InputType: proto.String(".rest.test.Kitchen"), OutputType: proto.String(".rest.test.Kitchen"), Options: echoOpts},
				{Name: proto.String("NoRule"), InputType: proto.String(".rest.test.Kitchen"), OutputType: proto.String(".rest.test.Kitchen")},
			},
		}},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Services().Get(0)
}

// echoTarget answers every Connect unary call with the request bytes.
var echoTarget = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/proto" || r.Header.Get("Connect-Protocol-Version") != "1" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"code":"internal","message":"not a Connect unary request"}`)
		return
	}
	if r.URL.Path != "/rest.test.KitchenService/Echo" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"code":"unimplemented","message":"no such procedure"}`)
		return
	}
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/proto")
	w.Write(body)
})

func newKitchen(t testing.TB) *Transcoder {
	t.Helper()
	tr, err := New(echoTarget, []protoreflect.ServiceDescriptor{kitchenService(t)})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestQueryParameters(t *testing.T) {
	tr := newKitchen(t)
	q := strings.Join([]string{
		"s=hi+there", "b=true", "i32=-5", "i64=-9007199254740993", "u32=7", "u64=18446744073709551615",
		"f=1.5", "d=2.25", "e=GREEN", "by=aGk", "rs=a", "rs=b", "ri=1", "ri=2", "opt=",
		"w=42", "bw=false", "sw=x", "mask=a.b,cD", "ts=2024-01-02T03:04:05Z", "s32=-3", "fx64=4",
		"re=1", "re=BLUE", "nested.n=9", "pageSize=3", "dur=1.5s", "rw=5", "rw=6",
		"unknown=1", "nested.unknown=2", "s.deeper=3", "nested.name=from-query",
	}, "&")
	r := serve(t, tr, "GET", "/v1/kitchen/from%20path?"+q, "")
	wantStatus(t, r, http.StatusOK)
	want := map[string]any{
		"s": "hi there", "b": true, "i32": float64(-5), "i64": "-9007199254740993", "u32": float64(7),
		"u64": "18446744073709551615", "f": 1.5, "d": 2.25, "e": "GREEN", "by": "aGk=",
		"rs": []any{"a", "b"}, "ri": []any{"1", "2"}, "opt": "", "w": float64(42), "bw": false,
		"sw": "x", "mask": "a.b,cD", "ts": "2024-01-02T03:04:05Z", "s32": float64(-3), "fx64": "4",
		"re": []any{"GREEN", "BLUE"}, "nested": map[string]any{"name": "from path", "n": float64(9)},
		"page_size": float64(3), "dur": "1.500s", "rw": []any{"5", "6"},
	}
	if !reflect.DeepEqual(r.body, want) {
		t.Errorf("echo\n got %v\nwant %v", r.body, want)
	}

	// Unset: no optional, wrappers are null, lists are [].
	r = serve(t, tr, "GET", "/v1/kitchen/x", "")
	if _, ok := r.body["opt"]; ok {
		t.Errorf("unset optional emitted: %s", r.raw)
	}
	if r.body["w"] != nil || !reflect.DeepEqual(r.body["rs"], []any{}) {
		t.Errorf("unset fields: %s", r.raw)
	}

	bad := map[string]string{
		"i32=abc":        `"i32": "abc" is not a valid int32`,
		"i32=2147483648": `"i32"`,
		"u32=-1":         `"u32"`,
		"u64=-1":         `"u64"`,
		"i64=1e3":        `"i64"`,
		"f=x":            `"f"`,
		"d=1,5":          `"d"`,
		"b=maybe":        `"b": "maybe" is not a valid bool`,
		"e=PURPLE":       `"e": "PURPLE" is not a valid Color`,
		"re=PURPLE":      `"re"`,
		"by=%21%21":      `"by"`,
		"ts=yesterday":   `"ts"`,
		"dur=forever":    `"dur"`,
		"w=x":            `"w"`,
		"bw=2":           `"bw"`,
		"s=a&s=b":        `"s": expected one value, got 2`,
		"s=%FF":          `"s"`,
		"pageSize=z":     `"pageSize"`,
		"ri=1&ri=x":      `"ri"`,
	}
	for query, msg := range bad {
		r := serve(t, tr, "GET", "/v1/kitchen/x?"+query, "")
		wantError(t, r, http.StatusBadRequest, connect.CodeInvalidArgument, "invalid value for query parameter "+msg)
	}
}

func TestKitchenBodies(t *testing.T) {
	tr := newKitchen(t)

	// body "*": everything from JSON, comments and trailing commas allowed.
	r := serve(t, tr, "POST", "/v1/kitchen?s=ignored", "{\n  // a comment\n  \"s\": \"x\",\n  \"pageSize\": 4,\n  \"nested\": {\"name\": \"n\",},\n}")
	wantStatus(t, r, http.StatusOK)
	if r.body["s"] != "x" || r.body["page_size"] != float64(4) || field(t, r.body, "nested", "name") != "n" {
		t.Errorf("body %s", r.raw)
	}

	// body "nested" with an int64 path variable; other fields from the query.
	r = serve(t, tr, "PUT", "/v1/kitchen/-12/nested?s=q&nested.name=ignored", `{"name": "b", "n": 2}`)
	wantStatus(t, r, http.StatusOK)
	if r.body["i64"] != "-12" || r.body["s"] != "q" || !reflect.DeepEqual(r.body["nested"], map[string]any{"name": "b", "n": float64(2)}) {
		t.Errorf("body %s", r.raw)
	}
	r = serve(t, tr, "PUT", "/v1/kitchen/twelve/nested", `{}`)
	wantError(t, r, http.StatusBadRequest, connect.CodeInvalidArgument, `invalid value for path variable "i64": "twelve" is not a valid int64`)
	r = serve(t, tr, "PUT", "/v1/kitchen/1/nested", `{"n": "x"}`)
	wantError(t, r, http.StatusBadRequest, connect.CodeInvalidArgument, "invalid JSON body: invalid value for int32 field n")

	// A custom verb, with response_body selecting one field of the answer.
	r = serve(t, tr, "POST", "/v1/kitchen/a%3Ab:echo", `{"s": "body", "nested": {"name": "only this"}}`)
	wantStatus(t, r, http.StatusOK)
	if want := map[string]any{"name": "only this", "n": float64(0)}; !reflect.DeepEqual(r.body, want) {
		t.Errorf("body %s, want %v", r.raw, want)
	}
}

func TestTargetSeesConnectRequest(t *testing.T) {
	var got *http.Request
	var body []byte
	target := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, body = r, nil
		body, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/proto")
		w.Header().Set("Connect-Accept-Encoding", "gzip")
		w.Header().Set("Trailer-X-Secret", "t")
		w.Header().Set("X-Request-Id", "from-handler")
	})
	tr, err := New(target, []protoreflect.ServiceDescriptor{kitchenService(t)})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/v1/kitchen", strings.NewReader(`{"s":"x"}`))
	for k, v := range map[string]string{
		"Content-Type": "application/json", "Accept-Encoding": "gzip", "Connect-Timeout-Ms": "5",
		"Authorization": "Bearer t", "User-Agent": "sdk/1", "X-Forwarded-Proto": "https",
	} {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	tr.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if got.Method != "POST" || got.URL.Path != "/rest.test.KitchenService/Echo" || got.Context() != req.Context() {
		t.Errorf("inner request %s %s", got.Method, got.URL)
	}
	want := http.Header{
		"Content-Type": {"application/proto"}, "Connect-Protocol-Version": {"1"},
		"Authorization": {"Bearer t"}, "User-Agent": {"sdk/1"}, "X-Forwarded-Proto": {"https"},
	}
	if !reflect.DeepEqual(got.Header, want) {
		t.Errorf("inner headers %v, want %v", got.Header, want)
	}
	if !bytes.Equal(body, []byte{0x0a, 0x01, 'x'}) {
		t.Errorf("inner body %x", body)
	}
	h := rec.Header()
	if h.Get("X-Request-Id") != "from-handler" || h.Get("Connect-Accept-Encoding") != "" || h.Get("Trailer-X-Secret") != "" {
		t.Errorf("response headers %v", h)
	}
}

// FuzzServeHTTP checks that no request panics or yields a 5xx: the echo
// target always succeeds, so any 5xx would be the transcoder's fault.
func FuzzServeHTTP(f *testing.F) {
	tr := newKitchen(f)
	f.Add("GET", "/v1/kitchen/x", "i32=1&nested.n=2", "")
	f.Add("POST", "/v1/kitchen", "", `{"s": "x", "rs": ["a"],}`)
	f.Add("PUT", "/v1/kitchen/1/nested", "", `{"name": 1}`)
	f.Add("POST", "/v1/kitchen/a:echo", "mask=a,b", `[]`)
	f.Add("GET", "/v1/kitchen/%ff", "ts=x", "")
	f.Fuzz(func(t *testing.T, method, path, query, body string) {
		req, err := http.NewRequest(method, "http://example.com/", strings.NewReader(body))
		if err != nil {
			return
		}
		req.URL.Path, req.URL.RawPath, req.URL.RawQuery = path, path, query
		rec := httptest.NewRecorder()
		tr.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s?%s %q: %d %s", method, path, query, body, rec.Code, rec.Body)
		}
		var v map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("not JSON: %s", rec.Body)
		}
	})
}

func TestBindErrors(t *testing.T) {
	svc := kitchenService(t)
	echo := svc.Methods().ByName("Echo")
	m := &method{input: messageType(echo.Input()), output: messageType(echo.Output())}
	cases := []struct{ tmpl, body, respBody string }{
		{"/x/{nope}", "", ""},
		{"/x/{nested}", "", ""},      // a plain message is not settable from text
		{"/x/{rs}", "", ""},          // repeated
		{"/x/{s.deeper}", "", ""},    // s is not a message
		{"/x/{nested.nope}", "", ""}, // unknown nested field
		{"/x/{pageSize}", "", ""},    // path variables use proto names
		{"/x", "nope", ""},           // unknown body field
		{"/x", "s", ""},              // body field must be a message
		{"/x", "*", "rs"},            // response_body must be a singular message
		{"/x", "*", "nope"},          // unknown response field
	}
	for _, tc := range cases {
		rt, err := parseTemplate("POST", tc.tmpl)
		if err != nil {
			t.Fatal(err)
		}
		rt.body, rt.responseBody = tc.body, tc.respBody
		if _, err := bind(rt, m); err == nil {
			t.Errorf("bind(%s body=%q response_body=%q) succeeded", tc.tmpl, tc.body, tc.respBody)
		}
	}
	for _, tmpl := range []string{"/x/{nested.name}", "/x/{w}", "/x/{mask}", "/x/{ts}/{e}/{by}"} {
		rt, err := parseTemplate("GET", tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bind(rt, m); err != nil {
			t.Errorf("bind(%s): %v", tmpl, err)
		}
	}
	// NoRule has no google.api.http option and is skipped, not an error.
	if rule, err := httpRule(svc.Methods().ByName("NoRule")); rule != nil || err != nil {
		t.Errorf("httpRule(NoRule) = %v, %v", rule, err)
	}
}

// Descriptors built without the annotations extension registered keep the
// rule as unknown option bytes; New must still find it.
func TestHTTPRuleInUnknownFields(t *testing.T) {
	fdp := protodesc.ToFileDescriptorProto(kitchenService(t).ParentFile())
	m := fdp.GetService()[0].GetMethod()[0]
	raw, err := proto.Marshal(m.GetOptions())
	if err != nil {
		t.Fatal(err)
	}
	opts := &descriptorpb.MethodOptions{}
	if err := (proto.UnmarshalOptions{Resolver: &protoregistry.Types{}}).Unmarshal(raw, opts); err != nil {
		t.Fatal(err)
	}
	if proto.HasExtension(opts, annotations.E_Http) || len(opts.ProtoReflect().GetUnknown()) == 0 {
		t.Fatal("fixture: the rule should be unknown bytes")
	}
	m.Options = opts
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(echoTarget, []protoreflect.ServiceDescriptor{fd.Services().Get(0)})
	if err != nil {
		t.Fatal(err)
	}
	r := serve(t, tr, "GET", "/v1/kitchen/x?s=y", "")
	wantStatus(t, r, http.StatusOK)
	if r.body["s"] != "y" {
		t.Errorf("body %s", r.raw)
	}
}

// A target that does not speak Connect properly is a server fault: 5xx with
// a JSON body, never a panic or a garbled success.
func TestBrokenTarget(t *testing.T) {
	cases := map[string]struct {
		handler func(w http.ResponseWriter)
		status  int
		code    connect.Code
	}{
		"html 200": {func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html>")
		}, 500, connect.CodeInternal},
		"bad proto": {func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/proto")
			w.Write([]byte{0xff, 0xff})
		}, 500, connect.CodeInternal},
		"gzip": {func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/proto")
			w.Header().Set("Content-Encoding", "gzip")
			w.Write([]byte{0x1f, 0x8b})
		}, 500, connect.CodeInternal},
		"plain 502": {func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusBadGateway)
		}, 502, connect.CodeUnavailable},
		"json 429 without code": {func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"message": "slow down"}`)
		}, 429, connect.CodeResourceExhausted},
		"nothing written": {func(w http.ResponseWriter) {}, 200, 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			target := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { tc.handler(w) })
			tr, err := New(target, []protoreflect.ServiceDescriptor{kitchenService(t)})
			if err != nil {
				t.Fatal(err)
			}
			r := serve(t, tr, "GET", "/v1/kitchen/x", "")
			if tc.status == 200 { // an empty proto body is a valid empty message
				wantStatus(t, r, 200)
				return
			}
			wantError(t, r, tc.status, tc.code, "")
		})
	}
}
