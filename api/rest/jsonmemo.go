package rest

import (
	"bytes"
	"encoding/json"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// jsonMemo remembers the JSON form of messages of chosen types by their wire bytes. The JSON of a
// message is a function of its type and its bytes alone, so a remembered answer is never stale:
// a user that changes has other bytes, and its old entry is simply not asked for again. It
// spares protojson, the dearest step of a REST answer, for the messages that answers repeat
// (a user in a page of users, the same user fetched again).
type jsonMemo struct {
	types map[protoreflect.FullName]protoreflect.MessageType
	max   int // bytes of keys and values together

	mu   sync.Mutex
	m    map[protoreflect.FullName]map[string][]byte // type → wire bytes → compact JSON
	size int
}

// WithJSONMemo remembers up to maxBytes of the JSON of messages of the named types, by their
// wire bytes (see jsonMemo). The handler's answers must be marshalled deterministically, or
// equal messages will seldom have equal bytes.
func WithJSONMemo(maxBytes int, names ...protoreflect.FullName) Option {
	return func(t *Transcoder) {
		memo := &jsonMemo{types: map[protoreflect.FullName]protoreflect.MessageType{}, max: maxBytes, m: map[protoreflect.FullName]map[string][]byte{}}
		for _, n := range names {
			if mt, err := protoregistry.GlobalTypes.FindMessageByName(n); err == nil {
				memo.types[n] = mt
			}
		}
		t.memo = memo
	}
}

// json returns the compact JSON of the message of type mt encoded as b.
func (m *jsonMemo) json(mt protoreflect.MessageType, b []byte) ([]byte, error) {
	name := mt.Descriptor().FullName()
	m.mu.Lock()
	out, ok := m.m[name][string(b)] // no copy of b for the lookup
	m.mu.Unlock()
	if ok {
		return out, nil
	}
	msg := mt.New()
	if err := proto.Unmarshal(b, msg.Interface()); err != nil {
		return nil, err
	}
	out, err := marshalCompact(msg.Interface())
	if err != nil {
		return nil, err
	}
	cost := len(b) + len(out)
	if cost > m.max/16 { // one huge message would evict everything else
		return out, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, byBytes := range m.m { // map order is random: random victims
		for k, v := range byBytes {
			if m.size+cost <= m.max {
				break
			}
			m.size -= len(k) + len(v)
			delete(byBytes, k)
		}
	}
	byBytes := m.m[name]
	if byBytes == nil {
		byBytes = map[string][]byte{}
		m.m[name] = byBytes
	}
	if _, ok := byBytes[string(b)]; !ok {
		byBytes[string(b)] = out
		m.size += cost
	}
	return out, nil
}

// marshalCompact is protojson in Roster's JSON form, without protojson's deliberately unstable
// whitespace.
func marshalCompact(m proto.Message) ([]byte, error) {
	data, err := marshalJSON.Marshal(m)
	if err != nil {
		return nil, err
	}
	var compact bytes.Buffer
	compact.Grow(len(data))
	if json.Compact(&compact, data) != nil {
		return data, nil
	}
	return compact.Bytes(), nil
}

// answerJSON turns the wire bytes of an answer of type out into its JSON (the field rf of it,
// when the route's response_body names one). Message fields of remembered types come from the
// memo; the rest of the answer goes through protojson, with those fields left empty, and their
// JSON is put in place of the empty values. ok is false when the answer has no remembered
// field; the caller then converts it whole.
func (m *jsonMemo) answerJSON(out protoreflect.MessageType, rf protoreflect.FieldDescriptor, b []byte) (data []byte, ok bool, err error) {
	if m == nil {
		return nil, false, nil
	}
	desc := out.Descriptor()
	if rf != nil {
		// The answer is one field of the message: a remembered message, or not.
		if rf.Kind() != protoreflect.MessageKind || rf.IsList() || rf.IsMap() || m.types[rf.Message().FullName()] == nil {
			return nil, false, nil
		}
		var last []byte
		n := 0
		for len(b) > 0 {
			num, typ, tagLen := protowire.ConsumeTag(b)
			if tagLen < 0 {
				return nil, false, protowire.ParseError(tagLen)
			}
			valLen := protowire.ConsumeFieldValue(num, typ, b[tagLen:])
			if valLen < 0 {
				return nil, false, protowire.ParseError(valLen)
			}
			if num == rf.Number() && typ == protowire.BytesType {
				last, _ = protowire.ConsumeBytes(b[tagLen:])
				n++
			}
			b = b[tagLen+valLen:]
		}
		if n > 1 { // several occurrences merge: leave that to proto.Unmarshal
			return nil, false, nil
		}
		data, err = m.json(m.types[rf.Message().FullName()], last)
		return data, err == nil, err
	}

	// Fields of remembered types, by field number; their values in the order they came.
	var memoFields map[protowire.Number]protoreflect.FieldDescriptor
	fields := desc.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		if f.Kind() == protoreflect.MessageKind && !f.IsMap() && f.ContainingOneof() == nil && m.types[f.Message().FullName()] != nil {
			if memoFields == nil {
				memoFields = map[protowire.Number]protoreflect.FieldDescriptor{}
			}
			memoFields[f.Number()] = f
		}
	}
	if memoFields == nil {
		return nil, false, nil
	}
	values := map[protowire.Number][][]byte{}
	var rest []byte
	for len(b) > 0 {
		num, typ, tagLen := protowire.ConsumeTag(b)
		if tagLen < 0 {
			return nil, false, protowire.ParseError(tagLen)
		}
		valLen := protowire.ConsumeFieldValue(num, typ, b[tagLen:])
		if valLen < 0 {
			return nil, false, protowire.ParseError(valLen)
		}
		if f := memoFields[num]; f != nil && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b[tagLen:])
			values[num] = append(values[num], v)
			if !f.IsList() && len(values[num]) > 1 {
				return nil, false, nil // a singular message given twice merges: leave it to proto
			}
		} else {
			rest = append(rest, b[:tagLen+valLen]...)
		}
		b = b[tagLen+valLen:]
	}
	// The rest of the answer (page tokens, a total) repeats too: the same page asked again, a
	// lookup's "one match". Its JSON is remembered like the users'; the splicing below copies.
	top, err := m.json(out, rest)
	if err != nil {
		return nil, false, err
	}
	for num, vs := range values {
		f := memoFields[num]
		mt := m.types[f.Message().FullName()]
		var val bytes.Buffer
		if f.IsList() {
			val.WriteByte('[')
		}
		for i, v := range vs {
			j, err := m.json(mt, v)
			if err != nil {
				return nil, false, err
			}
			if i > 0 {
				val.WriteByte(',')
			}
			val.Write(j)
		}
		if f.IsList() {
			val.WriteByte(']')
		}
		empty := "null"
		if f.IsList() {
			empty = "[]"
		}
		at := topLevelValue(top, string(f.Name()), empty)
		if at < 0 {
			return nil, false, nil // not where protojson puts it: convert the answer whole
		}
		top = append(top[:at:at], append(val.Bytes(), top[at+len(empty):]...)...) // a copy: top[:at:at] has no room
	}
	return top, true, nil
}

// topLevelValue finds, in the compact JSON object doc, the key name at the top level whose value
// is the literal empty, and returns the value's offset, or -1.
func topLevelValue(doc []byte, name, empty string) int {
	key := `"` + name + `":` + empty
	depth, inString, escaped := 0, false, false
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			// A key at the top level follows '{' or ','.
			if depth == 1 && (doc[i-1] == '{' || doc[i-1] == ',') && bytes.HasPrefix(doc[i:], []byte(key)) {
				end := i + len(key)
				if end == len(doc) || doc[end] == ',' || doc[end] == '}' {
					return end - len(empty)
				}
			}
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		}
	}
	return -1
}
