// Package bulkcli does the work of `roster import` and `roster export` that is not wiring:
// progress on a terminal or in plain lines, the report of failed lines, and the import and
// export through a running server's REST API (docs/import-export.md).
package bulkcli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rosterhq/roster/api"
)

// Progress shows how far an import or export is: a bar redrawn in place on a terminal, a
// line every interval otherwise.
type Progress struct {
	out      io.Writer
	tty      bool
	verb     string
	total    int64 // bytes of the file; 0 when unknown (stdin, an export)
	interval time.Duration
	start    time.Time

	bytes, lines atomic.Int64
	stop         chan struct{}
	wg           sync.WaitGroup
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// NewProgress starts showing progress on out until Stop; out nil shows nothing.
func NewProgress(out io.Writer, tty bool, verb string, total int64, interval time.Duration) *Progress {
	p := &Progress{out: out, tty: tty, verb: verb, total: total, interval: interval, start: time.Now(), stop: make(chan struct{})}
	if out == nil {
		return p
	}
	if tty {
		p.interval = 200 * time.Millisecond
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(p.interval)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.show()
			}
		}
	}()
	return p
}

// Reader counts the bytes read through r.
func (p *Progress) Reader(r io.Reader) io.Reader { return countingReader{r, &p.bytes} }

// Writer counts the bytes written through w.
func (p *Progress) Writer(w io.Writer) io.Writer { return countingWriter{w, &p.bytes} }

// SetLines records how many lines (users) are done.
func (p *Progress) SetLines(n int64) { p.lines.Store(n) }

// Lines is how many lines are done.
func (p *Progress) Lines() int64 { return p.lines.Load() }

// Elapsed is the time since the progress started.
func (p *Progress) Elapsed() time.Duration { return time.Since(p.start) }

// Stop ends the display (and clears the bar on a terminal).
func (p *Progress) Stop() {
	if p.out == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
	if p.tty {
		fmt.Fprint(p.out, "\r\033[K")
	}
}

func (p *Progress) show() {
	lines, b := p.lines.Load(), p.bytes.Load()
	secs := max(time.Since(p.start).Seconds(), 0.001)
	rate := float64(lines) / secs
	size := mib(b)
	if p.total > 0 {
		size += " of " + mib(p.total)
	}
	if !p.tty {
		fmt.Fprintf(p.out, "roster %s: %d lines, %s, %.0f users/s\n", p.verb, lines, size, rate)
		return
	}
	bar := ""
	if p.total > 0 {
		const width = 30
		done := int(float64(width) * min(float64(b)/float64(p.total), 1))
		bar = fmt.Sprintf("[%s%s] %3.0f%% ", strings.Repeat("=", done), strings.Repeat(" ", width-done), 100*min(float64(b)/float64(p.total), 1))
	}
	fmt.Fprintf(p.out, "\r\033[K%s%d lines, %s, %.0f users/s", bar, lines, size, rate)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// ReportLine is one line of an import's report (the REST answer's lines): a failed line, or
// the summary at the end.
type ReportLine struct {
	Line       int                `json:"line"`
	Email      string             `json:"email"`
	ExternalID string             `json:"external_id"`
	Error      *ReportError       `json:"error"`
	Summary    *api.ImportSummary `json:"summary"`
}

// ReportError is the API's JSON error, as far as a report prints it.
type ReportError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details []struct {
		ErrorCode           string `json:"error_code"`
		ValidationErrorInfo struct {
			FieldViolations []struct {
				Field       string `json:"field"`
				Description string `json:"description"`
			} `json:"field_violations"`
		} `json:"validation_error_info"`
	} `json:"details"`
}

// Fields names the fields that the error's violations name.
func (e *ReportError) Fields() []string {
	var out []string
	for _, d := range e.Details {
		for _, fv := range d.ValidationErrorInfo.FieldViolations {
			if fv.Field != "" {
				out = append(out, fv.Field)
			}
		}
	}
	return out
}

// Reporter prints failed lines (the first Max of them) on Out and writes every report line to
// File, when set, as NDJSON.
type Reporter struct {
	Out     io.Writer
	File    io.Writer
	Max     int
	printed int
	failed  int
}

// Add takes one report line as the API writes it.
func (r *Reporter) Add(raw []byte) error {
	if r.File != nil {
		if _, err := r.File.Write(raw); err != nil {
			return fmt.Errorf("write the report: %w", err)
		}
	}
	var l ReportLine
	if err := json.Unmarshal(raw, &l); err != nil || l.Error == nil || l.Summary != nil {
		return nil
	}
	r.failed++
	if r.Out == nil {
		return nil
	}
	if r.printed < r.Max {
		r.printed++
		who := l.Email
		if who == "" {
			who = l.ExternalID
		}
		if who != "" {
			who = " (" + who + ")"
		}
		field := strings.Join(l.Error.Fields(), ", ")
		if field != "" && !strings.Contains(l.Error.Message, field+":") {
			field += ": "
		} else {
			field = "" // the message names it already
		}
		fmt.Fprintf(r.Out, "line %d%s: %s%s\n", l.Line, who, field, l.Error.Message)
	} else if r.printed == r.Max {
		r.printed++
		fmt.Fprintf(r.Out, "(more failed lines are not printed; --report FILE keeps them all)\n")
	}
	return nil
}

// Remote calls a running Roster's REST API with an API client's credentials.
type Remote struct {
	URL          string
	ClientID     string
	ClientSecret string
	HTTP         *http.Client
}

// token fetches an access token (client credentials).
func (c *Remote) token(ctx context.Context) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {c.ClientSecret}}
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimSuffix(c.URL, "/")+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.HTTP.Do(req)
	if err != nil {
		return "", fmt.Errorf("get an access token from %s: %w", c.URL, err)
	}
	defer res.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&body)
	if res.StatusCode != http.StatusOK || body.AccessToken == "" {
		return "", fmt.Errorf("get an access token from %s: HTTP %d %s (check SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET)", c.URL, res.StatusCode, body.Error)
	}
	return body.AccessToken, nil
}

// Import sends body to POST /api/v1/users:import and hands each line of the answer to
// report, the summary last, which it returns.
func (c *Remote) Import(ctx context.Context, body io.Reader, report func(raw []byte) error) (api.ImportSummary, error) {
	var sum api.ImportSummary
	tok, err := c.token(ctx)
	if err != nil {
		return sum, err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimSuffix(c.URL, "/")+api.ImportPath, body)
	if err != nil {
		return sum, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := c.HTTP.Do(req)
	if err != nil {
		return sum, fmt.Errorf("import through %s: %w", c.URL, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return sum, answerError(res)
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		raw := append(bytes.TrimSpace(sc.Bytes()), '\n')
		var l ReportLine
		if err := json.Unmarshal(raw, &l); err != nil {
			return sum, fmt.Errorf("import through %s: an answer line is not JSON: %.200s", c.URL, raw)
		}
		if l.Summary != nil {
			sum = *l.Summary
			if l.Error != nil {
				return sum, fmt.Errorf("the import stopped: %s", l.Error.Message)
			}
			return sum, nil
		}
		if err := report(raw); err != nil {
			return sum, err
		}
	}
	if err := sc.Err(); err != nil {
		return sum, fmt.Errorf("import through %s: %w", c.URL, err)
	}
	return sum, errors.New("the server's answer ended before its summary: the import may not be complete")
}

// Export writes GET /api/v1/users:export (of one organization when organizationID is set) to w.
func (c *Remote) Export(ctx context.Context, organizationID string, w io.Writer) error {
	tok, err := c.token(ctx)
	if err != nil {
		return err
	}
	u := strings.TrimSuffix(c.URL, "/") + api.ExportPath
	if organizationID != "" {
		u += "?organization_id=" + url.QueryEscape(organizationID)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("export through %s: %w", c.URL, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return answerError(res)
	}
	// A line that is an error ends an export that failed half-way (docs/import-export.md).
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if bytes.HasPrefix(line, []byte(`{"error":`)) {
			var l ReportLine
			_ = json.Unmarshal(line, &l)
			if l.Error != nil {
				return fmt.Errorf("the export stopped: %s", l.Error.Message)
			}
		}
		if _, err := w.Write(append(line, '\n')); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("export through %s: %w", c.URL, err)
	}
	return nil
}

func answerError(res *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	var e ReportError
	if json.Unmarshal(raw, &e) == nil && e.Message != "" {
		return fmt.Errorf("HTTP %d: %s", res.StatusCode, e.Message)
	}
	return fmt.Errorf("HTTP %d: %.200s", res.StatusCode, raw)
}
