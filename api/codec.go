package api

import (
	"errors"
	"fmt"

	"github.com/rosterhq/roster/api/rest"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// boundedJSON is connect's JSON codec (protojson, unknown fields discarded) with the REST
// transcoder's bounds on a body's nesting and number of values, checked in one linear pass
// before protojson runs. connect-go decodes a request before any interceptor runs, so without
// them an anonymous Connect JSON call could make the server parse 1 MiB of values whole.
type boundedJSON struct{ name string }

func (c boundedJSON) Name() string { return c.name }

func (c boundedJSON) Marshal(m any) ([]byte, error) { return c.MarshalAppend(nil, m) }

func (c boundedJSON) MarshalAppend(b []byte, m any) ([]byte, error) {
	msg, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("cannot marshal %T: not a protobuf message", m)
	}
	return protojson.MarshalOptions{}.MarshalAppend(b, msg)
}

func (c boundedJSON) Unmarshal(b []byte, m any) error {
	msg, ok := m.(proto.Message)
	if !ok {
		return fmt.Errorf("cannot unmarshal into %T: not a protobuf message", m)
	}
	if len(b) == 0 {
		return errors.New("zero-length payload is not a valid JSON object")
	}
	if err := rest.CheckShape(b, rest.DefaultMaxDepth, rest.DefaultMaxValues); err != nil {
		return err
	}
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, msg)
}

func (c boundedJSON) IsBinary() bool { return false }
