package rest

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// This file sets message fields from URL text (path variables and query
// parameters), with grpc-gateway's conventions for each kind.

// fieldPath is a chain of fields from the request message to a leaf.
type fieldPath []protoreflect.FieldDescriptor

// String is the path in proto names, as field violations name fields ("organization.display_name").
func (fp fieldPath) String() string {
	names := make([]string, len(fp))
	for i, fd := range fp {
		names[i] = string(fd.Name())
	}
	return strings.Join(names, ".")
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
