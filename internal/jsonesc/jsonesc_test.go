package jsonesc

import (
	"encoding/json"
	"testing"
)

// Every ASCII byte an encoder escapes is written as encoding/json writes it.
func TestAppendASCIILikeEncodingJSON(t *testing.T) {
	for c := 0; c < 0x80; c++ {
		want, _ := json.Marshal(string(rune(c)))
		want = want[1 : len(want)-1]
		if string(want) == string(rune(c)) {
			continue // written as it is: no encoder escapes it
		}
		if got := AppendASCII(nil, byte(c)); string(got) != string(want) {
			t.Errorf("%#x: %s, want %s", c, got, want)
		}
	}
}
