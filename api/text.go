package api

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// checkText refuses a request whose text holds control characters or invalid UTF-8, by the
// domain's rule (roster.CheckText), before any handler sees it: every string of the request
// message, at any depth, in lists and in map keys and values. REST path and query parameters
// land in the message, so they are covered too. The answer is INVALID_ARGUMENT naming each
// field, the same on every backend (PostgreSQL refuses a NUL with an internal error, SQLite
// stores it).
func (i *interceptors) checkText(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if m, ok := req.Any().(proto.Message); ok {
			var v roster.Violations
			walkText(&v, m.ProtoReflect(), "", "")
			if err := v.Err(); err != nil {
				return nil, err
			}
		}
		return next(ctx, req)
	}
}

// transparent messages are shown by the field that holds them: a StringValue's "value", a
// Struct's "fields" are not part of a field's name as a JSON client sees it.
func transparent(m protoreflect.MessageDescriptor) bool {
	switch m.FullName() {
	case "google.protobuf.StringValue", "google.protobuf.BytesValue", "google.protobuf.Struct",
		"google.protobuf.Value", "google.protobuf.ListValue", "google.protobuf.FieldMask":
		return true
	}
	return false
}

// walkText checks every string of m; path is m's field path ("" at the top) and name the proto
// name that decides what text is allowed (the field holding m when m is transparent).
func walkText(v *roster.Violations, m protoreflect.Message, path, name string) {
	hide := transparent(m.Descriptor())
	m.Range(func(fd protoreflect.FieldDescriptor, val protoreflect.Value) bool {
		p, n := path, name
		if !hide {
			n = string(fd.Name())
			if p == "" {
				p = n
			} else {
				p += "." + n
			}
		}
		switch {
		case fd.IsMap():
			kf, vf := fd.MapKey(), fd.MapValue()
			val.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				what := ""
				if kf.Kind() == protoreflect.StringKind {
					key := k.String()
					roster.CheckText(v, p, fmt.Sprintf("key %q", key), key, roster.SingleLine)
					what = fmt.Sprintf("the value of key %q", key)
				}
				checkValue(v, vf, mv, p, n, what, true)
				return true
			})
		case fd.IsList():
			l := val.List()
			for j := range l.Len() {
				checkValue(v, fd, l.Get(j), p, n, "", false)
			}
		default:
			checkValue(v, fd, val, p, n, "", false)
		}
		return true
	})
}

func checkValue(v *roster.Violations, fd protoreflect.FieldDescriptor, val protoreflect.Value, path, name, what string, mapValue bool) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		roster.CheckText(v, path, what, val.String(), roster.FieldTextKind(name, mapValue))
	case protoreflect.MessageKind, protoreflect.GroupKind:
		walkText(v, val.Message(), path, name)
	}
}
