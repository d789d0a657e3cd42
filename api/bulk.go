package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api/rest"
	"github.com/rosterhq/roster/api/userjson"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/gen/scalekit/v1/commons"
	usersv1 "github.com/rosterhq/roster/gen/scalekit/v1/users"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Bulk import and export of users as NDJSON (docs/import-export.md): one user per line, in
// the JSON that GET /api/v1/users/{id} answers in "user". The REST routes, the gRPC stream and
// the roster import/export commands all go through ImportNDJSON/ExportNDJSON or the same line
// codec, so a file means the same thing on every path.

// Bounds of an import (docs/import-export.md, Limits).
const (
	// MaxImportLineBytes bounds one line; a longer one is reported and skipped, and the import
	// goes on.
	MaxImportLineBytes = 1 << 20
	// ImportBatchLines is how many lines go to the directory at once (one transaction).
	ImportBatchLines = 1000
	// importBatchBytes also ends a batch, so that a batch of long lines stays small in memory.
	importBatchBytes = 4 << 20
	// MaxReportedErrors is how many failed lines a gRPC answer lists (it counts them all).
	MaxReportedErrors = 1000
)

// ImportSummary counts the lines of an import: Lines = Created + Updated + Unchanged + Failed.
type ImportSummary struct {
	Lines     int64 `json:"lines"`
	Created   int64 `json:"created"`
	Updated   int64 `json:"updated"`
	Unchanged int64 `json:"unchanged"`
	Failed    int64 `json:"failed"`
}

func (s *ImportSummary) add(r roster.ImportResult) {
	s.Lines++
	switch r {
	case roster.ImportCreated:
		s.Created++
	case roster.ImportUpdated:
		s.Updated++
	case roster.ImportUnchanged:
		s.Unchanged++
	default:
		s.Failed++
	}
}

// LineError is a line that was not applied: its number, the email and external ID it names
// (when they could be read) and why (a *roster.Error naming the field).
type LineError struct {
	Line       int
	Email      string
	ExternalID string
	Err        error
}

// ImportOptions are the hooks of ImportNDJSON.
type ImportOptions struct {
	// OnError is called with each failed line, in line order; an error from it stops the import.
	OnError func(LineError) error
	// OnBatch is called after each batch is applied, with the counts so far.
	OnBatch func(ImportSummary)
}

// lineKey is what a report says to find a line: its user's email and external ID.
type lineKey struct{ email, externalID string }

type importBatch struct {
	lines []directory.ImportLine
	keys  []lineKey
}

// ImportNDJSON reads users from r, one per line, and applies them through dir in batches,
// each line in full or not at all. It returns the counts; the error is for the whole import (r
// failed, the database went away, ctx ended, or OnError refused): the batches before it are
// applied, the one it happened in is not. Memory is bounded by a few batches, whatever r's size:
// lines are read and decoded while the previous batch is written.
func ImportNDJSON(ctx context.Context, dir *directory.Service, env roster.Environment, r io.Reader, opts ImportOptions) (ImportSummary, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan importBatch, 1)
	var readErr error
	go func() {
		defer close(batches)
		readErr = readBatches(ctx, r, batches)
	}()
	var sum ImportSummary
	var err error
	for b := range batches {
		if err = applyBatch(ctx, dir, env, b, &sum, opts.OnError); err != nil {
			break
		}
		if opts.OnBatch != nil {
			opts.OnBatch(sum)
		}
	}
	cancel()
	for range batches { // let the reader finish
	}
	if err == nil && readErr != nil && !errors.Is(readErr, context.Canceled) {
		err = readErr
	}
	return sum, err
}

// readBatches reads r into batches until its end. Lines are read in order and decoded in
// parallel, a batch at a time (decoding costs about as much as the database's work per line).
func readBatches(ctx context.Context, r io.Reader, out chan<- importBatch) error {
	lr := newLineReader(r, MaxImportLineBytes)
	var raw rawBatch
	send := func() error {
		if len(raw.lines) == 0 {
			return nil
		}
		b := raw.decode()
		raw.lines, raw.arena = raw.lines[:0], raw.arena[:0]
		select {
		case out <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	}
	for {
		line, num, tooLong, err := lr.next()
		if err == io.EOF {
			return send()
		}
		if err != nil {
			return err
		}
		raw.lines = append(raw.lines, rawLine{num: num, start: len(raw.arena), end: len(raw.arena) + len(line), tooLong: tooLong})
		raw.arena = append(raw.arena, line...)
		if len(raw.lines) >= ImportBatchLines || len(raw.arena) >= importBatchBytes {
			if err := send(); err != nil {
				return err
			}
		}
	}
}

// rawBatch is a batch's lines as read: their bytes one after another in arena.
type rawBatch struct {
	lines []rawLine
	arena []byte
}

type rawLine struct {
	num        int
	start, end int
	tooLong    bool
}

// decode decodes the batch's lines on all the cores.
func (rb *rawBatch) decode() importBatch {
	n := len(rb.lines)
	b := importBatch{lines: make([]directory.ImportLine, n), keys: make([]lineKey, n)}
	workers := max(1, min(runtime.GOMAXPROCS(0), n/64))
	chunk := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				l := rb.lines[i]
				b.lines[i], b.keys[i] = decodeLine(l.num, rb.arena[l.start:l.end], l.tooLong)
			}
		}()
	}
	wg.Wait()
	return b
}

// decodeLine makes a numbered line an import line, or the error that reports it.
func decodeLine(num int, line []byte, tooLong bool) (directory.ImportLine, lineKey) {
	il := directory.ImportLine{Number: num}
	if tooLong {
		il.Err = &roster.Error{Code: roster.EInvalid, Message: fmt.Sprintf("the line is longer than %d bytes", MaxImportLineBytes),
			Violations: roster.Violations{{Field: "line", Constraint: "bytes.max_len=" + strconv.Itoa(MaxImportLineBytes),
				Description: fmt.Sprintf("must be at most %d bytes", MaxImportLineBytes)}}}
		return il, lineKey{}
	}
	u, err := DecodeUserLine(line)
	var key lineKey
	if u != nil {
		key = lineKey{u.GetEmail(), u.GetExternalId()}
	}
	if il.Err = err; err == nil {
		email, phone := verifiedFlagsGiven(line)
		il.User = ImportUserFromProto(u, email, phone)
	}
	return il, key
}

// applyBatch imports one batch and reports its lines.
func applyBatch(ctx context.Context, dir *directory.Service, env roster.Environment, b importBatch, sum *ImportSummary, onError func(LineError) error) error {
	outcomes, err := dir.ImportUsers(ctx, env, b.lines)
	if err != nil {
		return err
	}
	keys := make(map[int]lineKey, len(b.lines))
	for i, l := range b.lines {
		keys[l.Number] = b.keys[i]
	}
	for _, o := range outcomes {
		sum.add(o.Result)
		if o.Result != roster.ImportFailed && o.Err == nil {
			continue
		}
		if o.Result != roster.ImportFailed { // an error without the failed result: count it as failed
			sum.add(roster.ImportFailed)
			sum.Lines--
			switch o.Result {
			case roster.ImportCreated:
				sum.Created--
			case roster.ImportUpdated:
				sum.Updated--
			case roster.ImportUnchanged:
				sum.Unchanged--
			}
		}
		if onError != nil {
			k := keys[o.Line]
			if err := onError(LineError{Line: o.Line, Email: k.email, ExternalID: k.externalID, Err: o.Err}); err != nil {
				return err
			}
		}
	}
	return nil
}

// lineReader splits NDJSON into lines, numbered from 1 as an editor numbers them (blank lines
// count, and are skipped). A line longer than max is skipped without being held in memory.
type lineReader struct {
	r   *bufio.Reader
	max int
	num int
	buf []byte
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next line that is not blank, without surrounding spaces, and its number;
// tooLong reports a line over the limit (line is then nil). The line's bytes are valid until
// the next call. err is io.EOF after the last line.
func (l *lineReader) next() (line []byte, num int, tooLong bool, err error) {
	for {
		l.buf, tooLong = l.buf[:0], false
		var rerr error
		read := 0
		for {
			chunk, e := l.r.ReadSlice('\n')
			read += len(chunk)
			if !tooLong {
				if len(l.buf)+len(chunk) > l.max+2 { // the line and its "\r\n"
					tooLong, l.buf = true, l.buf[:0]
				} else {
					l.buf = append(l.buf, chunk...)
				}
			}
			if e != bufio.ErrBufferFull {
				rerr = e
				break
			}
		}
		if rerr != nil && rerr != io.EOF {
			return nil, 0, false, rerr
		}
		if read == 0 { // the end, right after a line end
			return nil, 0, false, io.EOF
		}
		l.num++
		if tooLong {
			return nil, l.num, true, nil
		}
		if line = bytes.TrimSpace(l.buf); len(line) > 0 {
			return line, l.num, false, nil
		}
		if rerr == io.EOF {
			return nil, 0, false, io.EOF
		}
	}
}

// unmarshalLine refuses unknown fields (a misspelt field would otherwise be dropped silently
// from every line of a file) and duplicate keys (which value would win is a guess).
var unmarshalLine = protojson.UnmarshalOptions{}

// DecodeUserLine reads one NDJSON line into a user, with the bounds of a REST body (nesting and
// number of values) and the API's text rule (roster.CheckText). The error is a *roster.Error
// naming the field; the user is returned when it could be read, for the report.
func DecodeUserLine(line []byte) (*usersv1.User, error) {
	if err := rest.CheckShape(line, rest.DefaultMaxDepth, rest.DefaultMaxValues); err != nil {
		return nil, lineError("", "json", "invalid JSON: %v", err)
	}
	if line[0] != '{' {
		return nil, lineError("", "json", "invalid JSON: a line must be a JSON object (one user)")
	}
	u := &usersv1.User{}
	if err := unmarshalLine.Unmarshal(line, u); err != nil {
		return nil, jsonLineError(err)
	}
	var v roster.Violations
	walkText(&v, u.ProtoReflect(), "", "")
	return u, v.Err()
}

func lineError(field, constraint, format string, args ...any) *roster.Error {
	msg := fmt.Sprintf(format, args...)
	e := &roster.Error{Code: roster.EInvalid, Message: msg}
	if field != "" || constraint != "" {
		e.Violations = roster.Violations{{Field: field, Constraint: constraint, Description: msg}}
	}
	return e
}

// jsonLineError turns protojson's `proto: (line 1:17): unknown field "foo"` into an error that
// names the field (as a path from the user, in proto names) and the column.
func jsonLineError(err error) *roster.Error {
	s := strings.TrimLeft(strings.TrimPrefix(err.Error(), "proto:"), " \u00a0")
	where := ""
	if i := strings.Index(s, "(line "); i >= 0 {
		if j := strings.IndexByte(s[i:], ')'); j >= 0 {
			if _, col, ok := strings.Cut(s[i+len("(line "):i+j], ":"); ok {
				where = " (at column " + col + ")"
			}
			s = strings.TrimSpace(strings.TrimSpace(s[:i]) + " " + strings.TrimPrefix(s[i+j+1:], ":"))
		}
	}
	quoted := func(prefix string) (string, bool) {
		rest, ok := strings.CutPrefix(s, prefix)
		if !ok {
			return "", false
		}
		name, err := strconv.Unquote(rest)
		return name, err == nil
	}
	if name, ok := quoted("unknown field "); ok {
		return lineError(userFieldPath(name), "unknown_field", "unknown field %q%s", name, where)
	}
	if name, ok := quoted("duplicate field "); ok {
		return lineError(userFieldPath(name), "duplicate_key", "the field %q is given twice%s", name, where)
	}
	if key, ok := quoted("duplicate map key "); ok {
		return lineError("", "duplicate_key", "the map key %s is given twice%s", key, where)
	}
	if rest, ok := strings.CutPrefix(s, "invalid value for "); ok {
		kind, rest, ok1 := strings.Cut(rest, " field ")
		name, value, ok2 := strings.Cut(rest, ": ")
		if ok1 && ok2 {
			path := userFieldPath(name)
			last := path[strings.LastIndexByte(path, '.')+1:]
			return lineError(path, "type", "invalid value for %s field %s: %s%s", kind, last, value, where)
		}
	}
	return lineError("", "json", "invalid JSON: %s%s", s, where)
}

// userFields maps each field name of a User, at any depth, in proto and JSON spelling, to its
// path from the user in proto names (the first found, nearest the top, when a name repeats).
var userFields = func() map[string]string {
	paths := map[string]string{}
	type level struct {
		md   protoreflect.MessageDescriptor
		path string
	}
	seen := map[protoreflect.FullName]bool{}
	for q := []level{{(&usersv1.User{}).ProtoReflect().Descriptor(), ""}}; len(q) > 0; q = q[1:] {
		md := q[0].md
		if seen[md.FullName()] || strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
			continue
		}
		seen[md.FullName()] = true
		for i := range md.Fields().Len() {
			fd := md.Fields().Get(i)
			p := string(fd.Name())
			if q[0].path != "" {
				p = q[0].path + "." + p
			}
			for _, n := range []string{string(fd.Name()), fd.JSONName()} {
				if _, ok := paths[n]; !ok {
					paths[n] = p
				}
			}
			if fd.Message() != nil && !fd.IsMap() {
				q = append(q, level{fd.Message(), p})
			}
		}
	}
	return paths
}()

func userFieldPath(name string) string {
	if p, ok := userFields[name]; ok {
		return p
	}
	return name
}

// verifiedFlagsGiven reports whether a line's user_profile has the keys email_verified and
// phone_number_verified (in either spelling): a proto3 bool cannot tell false from absent, and
// an import, like PATCH, leaves what is absent as it is. The line has been decoded already, so
// it is well-formed JSON.
func verifiedFlagsGiven(line []byte) (email, phone bool) {
	if !bytes.Contains(line, []byte("erified")) {
		return false, false
	}
	jsonMembers(line, 0, func(key []byte, v int) {
		if k := string(key); (k == "user_profile" || k == "userProfile") && line[v] == '{' {
			jsonMembers(line, v, func(key []byte, _ int) {
				switch string(key) {
				case "email_verified", "emailVerified":
					email = true
				case "phone_number_verified", "phoneNumberVerified":
					phone = true
				}
			})
		}
	})
	return email, phone
}

// jsonMembers calls fn with each key of the well-formed JSON object starting at data[i] and the
// offset of its value. Keys with escapes are passed as they are written.
func jsonMembers(data []byte, i int, fn func(key []byte, value int)) {
	i = skipSpace(data, i)
	if i >= len(data) || data[i] != '{' {
		return
	}
	i++
	for {
		i = skipSpace(data, i)
		if i >= len(data) || data[i] != '"' {
			return
		}
		end := skipString(data, i)
		if end-1 < i+1 { // an unterminated string
			return
		}
		key := data[i+1 : end-1]
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return
		}
		i = skipSpace(data, i+1)
		if i >= len(data) {
			return
		}
		fn(key, i)
		i = skipSpace(data, skipValue(data, i))
		if i >= len(data) || data[i] != ',' {
			return
		}
		i++
	}
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the offset after the string that starts at data[i] ('"').
func skipString(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(data)
}

// skipValue returns the offset after the value that starts at data[i].
func skipValue(data []byte, i int) int {
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for ; i < len(data); i++ {
			switch data[i] {
			case '"':
				i = skipString(data, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return len(data)
	}
	for i < len(data) && !strings.ContainsRune(",}] \t\r\n", rune(data[i])) {
		i++
	}
	return i
}

// ImportUserFromProto takes the writable fields of a user (docs/import-export.md): read-only
// ones (times, the profile's ID, organization names, permissions) are ignored, so that an
// export re-imports unchanged. Empty strings and lists leave a field as it is, as a PATCH that
// does not send it; emailVerified and phoneVerified say whether those flags were given.
func ImportUserFromProto(u *usersv1.User, emailVerified, phoneVerified bool) roster.ImportUser {
	out := roster.ImportUser{ID: u.GetId(), Email: u.GetEmail(), ExternalID: u.ExternalId, Metadata: u.GetMetadata()}
	if p := u.GetUserProfile(); p != nil {
		out.Profile = roster.ProfilePatch{
			GivenName: nameOf(p.GetGivenName(), p.GetFirstName()), FamilyName: nameOf(p.GetFamilyName(), p.GetLastName()),
			Name: nonEmpty(p.GetName()), Locale: nonEmpty(p.GetLocale()), PhoneNumber: nonEmpty(p.GetPhoneNumber()),
			PreferredUsername: nonEmpty(p.GetPreferredUsername()), Picture: nonEmpty(p.GetPicture()), Gender: nonEmpty(p.GetGender()),
			Metadata: p.GetMetadata(), CustomAttributes: p.GetCustomAttributes(),
		}
		if len(p.GetGroups()) > 0 {
			out.Profile.Groups = p.GetGroups()
		}
		if v := p.GetEmailVerified(); v || emailVerified {
			out.EmailVerified = &v
		}
		if v := p.GetPhoneNumberVerified(); v || phoneVerified {
			out.PhoneNumberVerified = &v
		}
	}
	for _, m := range u.GetMemberships() {
		im := roster.ImportMembership{OrganizationID: m.GetOrganizationId(), Metadata: m.GetMetadata()}
		for _, r := range m.GetRoles() {
			im.Roles = append(im.Roles, r.GetName())
		}
		switch m.GetMembershipStatus() {
		case commons.MembershipStatus_ACTIVE:
			im.Status = roster.MembershipActive
		case commons.MembershipStatus_INACTIVE:
			im.Status = roster.MembershipInactive
		case commons.MembershipStatus_PENDING_INVITE:
			im.Status = roster.MembershipPendingInvite
		}
		// INVITE_EXPIRED is what a pending invitation shows once its time has passed: it is
		// not stored, and leaves the membership as it is.
		out.Memberships = append(out.Memberships, im)
	}
	return out
}

// AppendUserLine appends u's export line: the JSON of GET /api/v1/users/{id}'s "user", and a
// line feed.
func AppendUserLine(b []byte, u roster.User) ([]byte, error) {
	n := len(b)
	b, err := userjson.Append(b, userToProto(u))
	if err != nil {
		return b[:n], err
	}
	return append(b, '\n'), nil
}

// appendUserLines appends the export lines of users, encoded on all the cores.
func appendUserLines(b []byte, users []roster.User) ([]byte, error) {
	n := len(users)
	workers := max(1, min(runtime.GOMAXPROCS(0), n/64))
	chunk := (n + workers - 1) / workers
	parts := make([][]byte, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w*chunk < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, u := range users[w*chunk : min((w+1)*chunk, n)] {
				var err error
				if parts[w], err = AppendUserLine(parts[w], u); err != nil {
					errs[w] = fmt.Errorf("encode user %s: %w", u.ID, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for w := range parts {
		if errs[w] != nil {
			return b, errs[w]
		}
		b = append(b, parts[w]...)
	}
	return b, nil
}

// ExportNDJSON writes the users of env (or of one organization) to w, one line each, as of one
// point in time; flush, when set, runs after each batch (a streamed answer's flush).
func ExportNDJSON(ctx context.Context, dir *directory.Service, env roster.Environment, organizationID string, w io.Writer, flush func(users int64) error) error {
	var buf []byte
	var n int64
	return dir.ExportUsers(ctx, env, organizationID, func(users []roster.User) error {
		var err error
		if buf, err = appendUserLines(buf[:0], users); err != nil {
			return err
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
		n += int64(len(users))
		if flush != nil {
			return flush(n)
		}
		return nil
	})
}

// reportLine is a failed line in a REST import's answer (and a roster import --report file).
type reportLine struct {
	Line       int             `json:"line"`
	Email      string          `json:"email,omitempty"`
	ExternalID string          `json:"external_id,omitempty"`
	Error      json.RawMessage `json:"error"`
}

// ReportLineJSON is the NDJSON line (with its line feed) that reports a failed line:
// {"line":N,"email":..,"external_id":..,"error":{the API's JSON error}}.
func ReportLineJSON(ctx context.Context, log *slog.Logger, le LineError) []byte {
	return reportJSON(reportLine{Line: le.Line, Email: le.Email, ExternalID: le.ExternalID,
		Error: rest.ErrorJSON(toConnectError(ctx, log, bulkImportProcedure, le.Err))})
}

// SummaryLineJSON is the last line of a REST import's answer: {"summary":{...}}, with
// {"error":{...}} beside it when the import stopped early.
func SummaryLineJSON(ctx context.Context, log *slog.Logger, s ImportSummary, err error) []byte {
	v := struct {
		Summary ImportSummary   `json:"summary"`
		Error   json.RawMessage `json:"error,omitempty"`
	}{Summary: s}
	if err != nil {
		v.Error = rest.ErrorJSON(toConnectError(ctx, log, bulkImportProcedure, err))
	}
	return reportJSON(v)
}

func reportJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // plain structs of strings and numbers
	return buf.Bytes()
}
