package server

import (
	"net/http"
	"sync/atomic"
)

// HTTP/2 runs every request's handler on a goroutine of its own, which starts with a small
// stack and grows it (copying it each time it doubles) down through the middleware, connect,
// the directory and the store: 4% of the CPU of a gRPC create, ~12 µs a request
// (runtime.morestack in perf), where an HTTP/1.1 connection's goroutine keeps its grown stack
// from one request to the next. warmStacks hands HTTP/2 requests to long-lived workers whose
// stacks stay grown, and waits for them.

// maxWarmWorkers bounds the workers; a request that finds none free and the bound reached
// runs on its own goroutine as before. Each idle worker keeps its stack (tens of KiB) until
// the collector shrinks it.
const maxWarmWorkers = 64

type warmStacks struct {
	next    http.Handler
	jobs    chan *warmJob
	workers atomic.Int32
}

type warmJob struct {
	w        http.ResponseWriter
	r        *http.Request
	done     chan struct{}
	panicked any
}

func withWarmStacks(next http.Handler) http.Handler {
	return &warmStacks{next: next, jobs: make(chan *warmJob)}
}

func (p *warmStacks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor != 2 {
		p.next.ServeHTTP(w, r)
		return
	}
	j := &warmJob{w: w, r: r, done: make(chan struct{})}
	select {
	case p.jobs <- j:
	default:
		if p.workers.Add(1) > maxWarmWorkers {
			p.workers.Add(-1)
			p.next.ServeHTTP(w, r)
			return
		}
		go p.work(j)
	}
	<-j.done
	if j.panicked != nil {
		panic(j.panicked) // where net/http expects it: on the request's own goroutine
	}
}

func (p *warmStacks) work(j *warmJob) {
	for {
		p.run(j)
		j = <-p.jobs
	}
}

func (p *warmStacks) run(j *warmJob) {
	defer close(j.done)
	defer func() { j.panicked = recover() }()
	p.next.ServeHTTP(j.w, j.r)
}
