// Package pagetoken makes opaque, tamper-evident page tokens for keyset pagination. A token
// holds the position in the list (the ID number of the last or first row seen), the direction
// and a fingerprint of the query, signed with the environment's HMAC key; a token that was
// altered, made by another environment or reused with another query is refused.
package pagetoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
)

// Direction says which way a token pages.
type Direction byte

const (
	Next Direction = 'n'
	Prev Direction = 'p'
)

// Cursor is the content of a token.
type Cursor struct {
	Direction Direction
	Position  int64 // ID number: Next returns rows after it, Prev rows before it
}

// ErrInvalid means the token is malformed, forged or belongs to another query.
var ErrInvalid = errors.New("invalid page token")

const macLen = 16

// Encode returns the token for c. query identifies the list and its filters (for example
// "organizations\x00ext=abc"), so a token only works with the query that produced it.
func Encode(key []byte, query string, c Cursor) string {
	buf := make([]byte, 0, 1+8)
	buf = append(buf, byte(c.Direction))
	buf = binary.BigEndian.AppendUint64(buf, uint64(c.Position))
	return Seal(key, query, buf)
}

// Decode checks a token made by Encode with the same key and query.
func Decode(key []byte, query, token string) (Cursor, error) {
	body, err := Open(key, query, token, 1+8)
	if err != nil {
		return Cursor{}, err
	}
	c := Cursor{Direction: Direction(body[0]), Position: int64(binary.BigEndian.Uint64(body[1:]))}
	if (c.Direction != Next && c.Direction != Prev) || c.Position <= 0 {
		return Cursor{}, ErrInvalid
	}
	return c, nil
}

// Seal returns an opaque token of body (a position of another shape than Cursor's, such as
// the event feed's), signed for key and query like Encode's tokens.
func Seal(key []byte, query string, body []byte) string {
	buf := append(body[:len(body):len(body)], sum(key, query, body)...)
	return base64.RawURLEncoding.EncodeToString(buf)
}

// Open checks a token made by Seal with the same key and query and a body of size bytes,
// and returns the body.
func Open(key []byte, query, token string, size int) ([]byte, error) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(raw) != size+macLen {
		return nil, ErrInvalid
	}
	body, mac := raw[:size], raw[size:]
	if !hmac.Equal(mac, sum(key, query, body)) {
		return nil, ErrInvalid
	}
	return body, nil
}

func sum(key []byte, query string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(query))
	m.Write([]byte{0})
	m.Write(body)
	return m.Sum(nil)[:macLen]
}
