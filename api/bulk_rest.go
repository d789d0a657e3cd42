package api

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api/rest"
	"github.com/rosterhq/roster/directory"
	rosterv1 "github.com/rosterhq/roster/gen/roster/v1"
)

// The REST routes of the bulk import and export. They stream NDJSON both ways, so they are
// served here rather than by the transcoder, which holds a whole body and a whole answer; they
// are exempt from the server's request timeout and body size cap (Handlers.Streaming), and
// still subject to its idle-read deadline and minimum data rate.
const (
	ImportPath = "/api/v1/users:import"
	ExportPath = "/api/v1/users:export"
	// exportWriteTimeout bounds each write of an export: a client that stops reading cannot
	// hold the export's read transaction (and SQLite's WAL) open for long.
	exportWriteTimeout = 30 * time.Second
)

// bulkREST serves ImportPath and ExportPath.
type bulkREST struct {
	dir *directory.Service
	ic  *interceptors
	log *slog.Logger
}

func (h *bulkREST) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var proc string
	switch {
	case r.URL.Path == ImportPath && r.Method == http.MethodPost:
		proc = bulkImportProcedure
	case r.URL.Path == ExportPath && r.Method == http.MethodGet:
		proc = bulkExportProcedure
	default:
		allow := http.MethodPost
		if r.URL.Path == ExportPath {
			allow = http.MethodGet
		}
		w.Header().Set("Allow", allow)
		rest.WriteError(w, connect.NewError(connect.CodeUnimplemented, fmt.Errorf("method %s not allowed for %s", r.Method, r.URL.Path)))
		return
	}
	start := time.Now()
	err := h.serve(w, r, proc)
	code := "ok"
	if err != nil {
		code = connect.CodeOf(err).String()
	}
	h.ic.duration.WithLabelValues(proc, code).Observe(time.Since(start).Seconds())
}

// serve answers the request and returns the error it answered with (for metrics).
func (h *bulkREST) serve(w http.ResponseWriter, r *http.Request, proc string) *connect.Error {
	ctx, err := h.ic.caller(r.Context(), r.Header)
	if err != nil {
		ce := toConnectError(r.Context(), h.log, proc, err)
		rest.WriteError(w, ce)
		return ce
	}
	if proc == bulkImportProcedure {
		return h.importUsers(w, r.WithContext(ctx))
	}
	return h.exportUsers(w, r.WithContext(ctx))
}

// streamedAnswer writes an NDJSON answer whose status is decided by its first line: until
// something is written, an error can still be answered with its own HTTP status.
type streamedAnswer struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
}

func (a *streamedAnswer) Write(p []byte) (int, error) {
	if !a.started {
		a.started = true
		a.w.Header().Set("Content-Type", "application/x-ndjson")
		a.w.Header().Set("X-Content-Type-Options", "nosniff")
		a.w.WriteHeader(http.StatusOK)
	}
	return a.w.Write(p)
}

func (a *streamedAnswer) flush() {
	if a.started {
		_ = a.rc.Flush() // a client that went away is seen at the next write
	}
}

func (h *bulkREST) importUsers(w http.ResponseWriter, r *http.Request) *connect.Error {
	ctx := r.Context()
	rc := http.NewResponseController(w)
	// Failed lines are answered while the body is still being read: on HTTP/1.1 that needs
	// full duplex, or the server would drop the rest of the body at the first write.
	_ = rc.EnableFullDuplex() // not supported (a test's recorder): the answer is written at the end anyway
	ans := &streamedAnswer{w: w, rc: rc}
	sum, err := ImportNDJSON(ctx, h.dir, environment(ctx), bodyReader{r.Body}, ImportOptions{
		OnError: func(le LineError) error {
			_, err := ans.Write(ReportLineJSON(ctx, h.log, le))
			return err
		},
		OnBatch: func(ImportSummary) { ans.flush() },
	})
	var ce *connect.Error
	if err != nil {
		ce = toConnectError(ctx, h.log, bulkImportProcedure, err)
		if !ans.started {
			rest.WriteError(w, ce)
			return ce
		}
	}
	_, _ = ans.Write(SummaryLineJSON(ctx, h.log, sum, err))
	ans.flush()
	return ce
}

// bodyReader makes a failure to read the request body (a client too slow, gone) the client's
// error, not an internal one.
type bodyReader struct{ r io.Reader }

func (b bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = roster.Errorf(roster.EInvalid, "reading the request body: %v", err)
	}
	return n, err
}

func (h *bulkREST) exportUsers(w http.ResponseWriter, r *http.Request) *connect.Error {
	ctx := r.Context()
	req := &rosterv1.ExportUsersRequest{OrganizationId: r.URL.Query().Get("organization_id")}
	var v roster.Violations
	walkText(&v, req.ProtoReflect(), "", "")
	if err := v.Err(); err != nil {
		ce := toConnectError(ctx, h.log, bulkExportProcedure, err)
		rest.WriteError(w, ce)
		return ce
	}
	rc := http.NewResponseController(w)
	ans := &streamedAnswer{w: w, rc: rc}
	bw := bufio.NewWriterSize(deadlineWriter{ans, rc}, 64<<10)
	err := ExportNDJSON(ctx, h.dir, environment(ctx), req.OrganizationId, bw, func(int64) error {
		if err := bw.Flush(); err != nil {
			return err
		}
		ans.flush()
		return nil
	})
	if err == nil {
		err = bw.Flush()
	}
	_ = rc.SetWriteDeadline(time.Time{}) // the connection may serve other requests
	if err == nil {
		if !ans.started { // no users: an empty answer, with its type
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
		}
		return nil
	}
	ce := toConnectError(ctx, h.log, bulkExportProcedure, err)
	if !ans.started {
		rest.WriteError(w, ce)
		return ce
	}
	// The lines sent so far are not the whole export: say so in a last line that no import
	// takes for a user.
	_, _ = ans.Write(reportJSON(struct {
		Error any `json:"error"`
	}{rest.ErrorJSON(ce)}))
	ans.flush()
	return ce
}

// deadlineWriter gives each write of an export exportWriteTimeout to reach the client.
type deadlineWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (d deadlineWriter) Write(p []byte) (int, error) {
	if err := d.rc.SetWriteDeadline(time.Now().Add(exportWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return 0, err
	}
	return d.w.Write(p)
}
