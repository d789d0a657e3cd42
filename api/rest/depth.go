package rest

import "fmt"

// DefaultMaxDepth is the deepest nesting of arrays and objects that a request body may have
// unless WithMaxDepth says otherwise. The Scalekit messages are shallow (a CreateUser body is
// four levels deep at most); 32 leaves room for a google.protobuf.Struct (a connection's
// context) without letting a body drive a recursive parser into the ground.
const DefaultMaxDepth = 32

// DefaultMaxValues is how many members and elements a request body may have in all unless
// WithMaxValues says otherwise: far above any Scalekit message (a user has at most 50 groups and
// 20 metadata pairs per map), far below the half a million tiny values that fit in 1 MiB.
const DefaultMaxValues = 10_000

// CheckShape is checkShape for other JSON decoders of requests (the API's Connect JSON codec),
// so that every JSON entry point has the same bounds.
func CheckShape(data []byte, maxDepth, maxValues int) error {
	return checkShape(data, maxDepth, maxValues)
}

// checkShape refuses a body whose arrays and objects nest deeper than maxDepth, or that has more
// than maxValues members and elements in all. It is one linear pass that parses nothing and
// allocates nothing: it counts brackets and commas outside JSON strings (with their escapes)
// and outside the comments that hujson accepts (// to the end of the line, and /* ... */), so
// that no recursive parser (hujson, encoding/json, protojson) ever sees a body that would take
// it deeper, and none builds more values than the limit. Unbalanced or malformed input is left
// for the parsers to refuse: only depth and size are judged here.
func checkShape(data []byte, maxDepth, maxValues int) error {
	depth, values := 0, 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '[', '{', ',':
			// Each container may hold a first value, and each comma announces one more.
			if values++; values > maxValues {
				return fmt.Errorf("arrays and objects hold more than %d members and elements (at byte %d)", maxValues, i)
			}
			if data[i] == ',' {
				break
			}
			if depth++; depth > maxDepth {
				return fmt.Errorf("arrays and objects nest deeper than %d levels (at byte %d)", maxDepth, i)
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
		case '"':
			// Skip to the closing quote; a backslash escapes the next byte.
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
		case '/':
			if i+1 >= len(data) {
				break
			}
			switch data[i+1] {
			case '/':
				for i += 2; i < len(data) && data[i] != '\n'; i++ {
				}
			case '*':
				i += 2
				for i+1 < len(data) && (data[i] != '*' || data[i+1] != '/') {
					i++
				}
				i++ // on the closing '/' (or past the end)
			}
		}
	}
	return nil
}
