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

// jsonMemo writes the JSON of the messages of chosen types found in answers without turning the
// whole answer into JSON with protojson: with an encoder of their own (WithJSONEncoder), or by
// remembering their JSON by their wire bytes (WithJSONMemo). The JSON of a message is a function
// of its type and its bytes alone, so a remembered answer is never stale: a message that changes
// has other bytes, and its old entry is simply not asked for again.
type jsonMemo struct {
	types map[protoreflect.FullName]protoreflect.MessageType
	enc   map[protoreflect.FullName]Encoder // types with an encoder of their own: never remembered
	max   int                               // bytes of keys and values together

	mu   sync.Mutex
	m    map[protoreflect.FullName]map[string][]byte // type → wire bytes → compact JSON
	size int

	fields sync.Map // message type name → its remembered fields (fieldsOf)
}

// An Encoder appends to b the JSON of the message whose wire bytes are wire: exactly what
// MarshalJSON writes for the message proto.Unmarshal reads from them, or an error where either
// of those fails.
type Encoder func(b, wire []byte) ([]byte, error)

// WithJSONMemo remembers up to maxBytes of the JSON of messages of the named types, by their
// wire bytes (see jsonMemo). The handler's answers must be marshalled deterministically, or
// equal messages will seldom have equal bytes.
func WithJSONMemo(maxBytes int, names ...protoreflect.FullName) Option {
	return func(t *Transcoder) {
		memo := t.jsonMemo()
		memo.max = maxBytes
		for _, n := range names {
			if mt, err := protoregistry.GlobalTypes.FindMessageByName(n); err == nil {
				memo.types[n] = mt
			}
		}
	}
}

// WithJSONEncoder writes the messages of the named type in answers (an answer's field, or the
// elements of a list of them) with enc rather than protojson; they are not remembered by
// WithJSONMemo, and the rest of the answer is.
func WithJSONEncoder(name protoreflect.FullName, enc Encoder) Option {
	return func(t *Transcoder) {
		memo := t.jsonMemo()
		if mt, err := protoregistry.GlobalTypes.FindMessageByName(name); err == nil {
			memo.types[name] = mt
			memo.enc[name] = enc
		}
	}
}

func (t *Transcoder) jsonMemo() *jsonMemo {
	if t.memo == nil {
		t.memo = &jsonMemo{types: map[protoreflect.FullName]protoreflect.MessageType{},
			enc: map[protoreflect.FullName]Encoder{}, m: map[protoreflect.FullName]map[string][]byte{}}
	}
	return t.memo
}

// appendJSON appends the compact JSON of the message of type mt encoded as b: its encoder's, or
// the remembered one.
func (m *jsonMemo) appendJSON(dst []byte, mt protoreflect.MessageType, b []byte) ([]byte, error) {
	if enc := m.enc[mt.Descriptor().FullName()]; enc != nil {
		return enc(dst, b)
	}
	out, err := m.json(mt, b)
	return append(dst, out...), err
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
// when the route's response_body names one). Message fields of the chosen types come from their
// encoder or the memo; the rest of the answer goes through the memo (protojson), with those
// fields left empty, and their JSON is put in place of the empty values. ok is false when the
// answer has no such field; the caller then converts it whole.
func (m *jsonMemo) answerJSON(out protoreflect.MessageType, rf protoreflect.FieldDescriptor, b []byte) (data []byte, ok bool, err error) {
	return m.appendAnswerJSON(nil, out, rf, b)
}

// appendAnswerJSON is answerJSON appending to dst: when ok, data is dst's memory (or new
// memory), never the memo's, so the caller may reuse it once written (writeResponse pools it).
func (m *jsonMemo) appendAnswerJSON(dst []byte, out protoreflect.MessageType, rf protoreflect.FieldDescriptor, b []byte) (data []byte, ok bool, err error) {
	if m == nil {
		return nil, false, nil
	}
	if rf != nil {
		// The answer is one field of the message: a remembered message, or not.
		if rf.Kind() != protoreflect.MessageKind || rf.IsList() || rf.IsMap() || m.types[rf.Message().FullName()] == nil {
			return nil, false, nil
		}
		values, _, err := splitFields(b, func(num protowire.Number) bool { return num == rf.Number() })
		if err != nil {
			return nil, false, err
		}
		vs := values[rf.Number()]
		if len(vs) > 1 { // several occurrences merge: leave that to proto.Unmarshal
			return nil, false, nil
		}
		var v []byte
		if len(vs) == 1 {
			v = vs[0]
		}
		data, err = m.appendJSON(dst, m.types[rf.Message().FullName()], v)
		return data, err == nil, err
	}

	memoFields := m.fieldsOf(out.Descriptor())
	if len(memoFields) == 0 {
		return nil, false, nil
	}
	values, rest, err := splitFields(b, func(num protowire.Number) bool { return memoFields[num] != nil })
	if err != nil {
		return nil, false, err
	}
	for num, vs := range values {
		if !memoFields[num].IsList() && len(vs) > 1 {
			return nil, false, nil // a singular message given twice merges: leave it to proto
		}
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
		empty := "null"
		if f.IsList() {
			empty = "[]"
		}
		at := topLevelValue(top, string(f.Name()), empty)
		if at < 0 {
			return nil, false, nil // not where protojson puts it: convert the answer whole
		}
		// A new answer: top may be remembered, and is never written to.
		size := len(top) + 64
		for _, v := range vs {
			// Every field is in the JSON, by name, even when it is empty and absent from the
			// wire: a message's JSON is about a kilobyte of names and twice its bytes. A guess
			// too small copies the answer as it grows (a third of a page's time).
			size += 1024 + 2*len(v)
		}
		var out []byte
		if len(values) == 1 && cap(dst) >= size { // the one field (a page's list): into dst
			out = dst[:0]
		} else {
			out = make([]byte, 0, size+size/4) // room for a somewhat larger page next time
		}
		out = append(out, top[:at]...)
		if f.IsList() {
			out = append(out, '[')
		}
		for i, v := range vs {
			if i > 0 {
				out = append(out, ',')
			}
			if out, err = m.appendJSON(out, mt, v); err != nil {
				return nil, false, err
			}
		}
		if f.IsList() {
			out = append(out, ']')
		}
		top = append(out, top[at+len(empty):]...)
	}
	if len(values) == 0 { // top is the memo's own
		top = append(dst[:0], top...)
	}
	return top, true, nil
}

// fieldsOf returns the fields of a message type whose JSON the memo keeps, by number; they are
// worked out once per type.
func (m *jsonMemo) fieldsOf(desc protoreflect.MessageDescriptor) map[protowire.Number]protoreflect.FieldDescriptor {
	if v, ok := m.fields.Load(desc.FullName()); ok {
		return v.(map[protowire.Number]protoreflect.FieldDescriptor)
	}
	out := map[protowire.Number]protoreflect.FieldDescriptor{}
	fields := desc.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		if f.Kind() == protoreflect.MessageKind && !f.IsMap() && f.ContainingOneof() == nil && m.types[f.Message().FullName()] != nil {
			out[f.Number()] = f
		}
	}
	m.fields.Store(desc.FullName(), out)
	return out
}

// splitFields walks the top-level fields of the wire bytes b: the values of the length-delimited
// fields that pick chooses, in the order they came, by number; every other field stays as
// encoded, in rest.
func splitFields(b []byte, pick func(protowire.Number) bool) (values map[protowire.Number][][]byte, rest []byte, err error) {
	values = map[protowire.Number][][]byte{}
	for len(b) > 0 {
		num, typ, tagLen := protowire.ConsumeTag(b)
		if tagLen < 0 {
			return nil, nil, protowire.ParseError(tagLen)
		}
		valLen := protowire.ConsumeFieldValue(num, typ, b[tagLen:])
		if valLen < 0 {
			return nil, nil, protowire.ParseError(valLen)
		}
		if typ == protowire.BytesType && pick(num) {
			v, _ := protowire.ConsumeBytes(b[tagLen:])
			values[num] = append(values[num], v)
		} else {
			rest = append(rest, b[:tagLen+valLen]...)
		}
		b = b[tagLen+valLen:]
	}
	return values, rest, nil
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
