// Package jsonesc holds the one escape of an ASCII byte inside a JSON string that Roster's
// hand-written encoders share (api/userjson writes protojson's strings, scim/render
// encoding/json's): they differ in which bytes they escape and in what they do with invalid
// UTF-8, not in how a byte they escape is written.
package jsonesc

// AppendASCII appends the escape of the ASCII byte c: a backslash before '"' and '\\', \b, \f,
// \n, \r and \t for those controls, and \u00xx (lowercase hex) for any other.
func AppendASCII(b []byte, c byte) []byte {
	const hex = "0123456789abcdef"
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\b':
		return append(b, '\\', 'b')
	case '\f':
		return append(b, '\\', 'f')
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	default:
		return append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
	}
}
