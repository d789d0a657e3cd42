package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// errBodyTooSlow is what a handler reads when a client sent its body too slowly.
type errBodyTooSlow struct{ idle time.Duration }

func (e errBodyTooSlow) Error() string {
	return fmt.Sprintf("the request body arrived too slowly (no data for %s, or under the minimum data rate)", e.idle)
}

// Timeout lets callers that look for net.Error timeouts see one.
func (errBodyTooSlow) Timeout() bool { return true }

// slowBody stops reading a request body that a client sends too slowly, without bounding the
// body's total time: a long upload at a steady rate goes on for as long as it takes. Each read
// waits at most idle for the next bytes (a read deadline, per connection on HTTP/1.1 and per
// stream on HTTP/2), and all the time spent waiting for the client may not exceed idle plus
// one second for every minRate bytes received. Time the handler spends between reads does not
// count against the client.
type slowBody struct {
	body    io.ReadCloser
	w       http.ResponseWriter
	ctl     *http.ResponseController
	idle    time.Duration
	minRate int64 // bytes per second; 0: the idle limit only
	cut     func()
	// h1: an HTTP/1.1 connection, whose unread rest of a body the server reads after the
	// handler (finish).
	h1 bool

	got    int64
	waited time.Duration
	armed  bool // a read deadline is set
	done   bool // the body has ended (EOF or an error)
	off    bool // the writer has no read deadlines (a test's recorder): pass through
	failed error
}

func (b *slowBody) Read(p []byte) (int, error) {
	if b.failed != nil {
		return 0, b.failed
	}
	if b.off {
		return b.body.Read(p)
	}
	wait := b.idle
	if b.minRate > 0 {
		earned := b.idle + time.Duration(float64(b.got)/float64(b.minRate)*float64(time.Second)) - b.waited
		wait = min(wait, earned)
	}
	if wait <= 0 {
		return 0, b.tooSlow()
	}
	start := time.Now()
	if err := b.ctl.SetReadDeadline(start.Add(wait)); err != nil {
		if errors.Is(err, http.ErrNotSupported) {
			b.off = true
			return b.body.Read(p)
		}
		return 0, err
	}
	b.armed = true
	n, err := b.body.Read(p)
	b.waited += time.Since(start)
	b.got += int64(n)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return n, b.tooSlow()
	}
	// The deadline bounds this read only. Left armed while the handler works between reads (a
	// bulk import writing a batch), it would cut the body on HTTP/2 (the stream's body is closed
	// with the deadline's error) and, on HTTP/1.1, end the server's own read of the connection
	// that starts once the body's last chunk is in, which cancels the request.
	b.disarm()
	if err != nil {
		b.done = true // the body is done (or broken)
	}
	return n, err
}

// tooSlow ends the body for good and makes the server close the connection once the handler
// has answered (HTTP/1.1; on HTTP/2 a GOAWAY), since what is left of the body is never read.
func (b *slowBody) tooSlow() error {
	b.failed = errBodyTooSlow{idle: b.idle}
	_ = b.ctl.SetReadDeadline(time.Now().Add(-time.Second))
	b.armed = true
	b.w.Header().Set("Connection", "close")
	if b.cut != nil {
		b.cut()
	}
	return b.failed
}

func (b *slowBody) disarm() {
	if b.armed {
		_ = b.ctl.SetReadDeadline(time.Time{})
		b.armed = false
	}
}

func (b *slowBody) Close() error { return b.body.Close() }

// finish runs when the handler has returned. On HTTP/1.1 the server then reads and drops what
// is left of an unread body (up to 256 KiB) to keep the connection: that too may wait at most
// idle, so a handler that answers without reading (an unauthenticated call) cannot leave the
// connection to a trickling client.
func (b *slowBody) finish() {
	if !b.h1 || b.off || b.done || b.failed != nil {
		return
	}
	_ = b.ctl.SetReadDeadline(time.Now().Add(b.idle))
}
