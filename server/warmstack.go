package server

import (
	"net/http"
	"sync/atomic"
	"time"
)

// HTTP/2 runs every request's handler on a goroutine of its own, which starts with a small
// stack and grows it (copying it each time it doubles) down through the middleware, connect,
// the directory and the store: 4% of the CPU of a gRPC create, ~12 µs a request
// (runtime.morestack in perf), where an HTTP/1.1 connection's goroutine keeps its grown stack
// from one request to the next. warmStacks hands HTTP/2 requests to long-lived workers whose
// stacks stay grown, and waits for them.

// maxWarmWorkers bounds the workers; a request that finds none free and the bound reached
// runs on its own goroutine as before. Each idle worker keeps its stack (tens of KiB) until
// the collector shrinks it, and ends after warmWorkerIdle without a request (so a stopped
// server, or one past its burst, keeps none).
const (
	maxWarmWorkers = 64
	warmWorkerIdle = 30 * time.Second
)

type warmStacks struct {
	next    http.Handler
	jobs    chan *warmJob
	workers atomic.Int32
	idle    time.Duration // warmWorkerIdle; tests shorten it
}

type warmJob struct {
	w        http.ResponseWriter
	r        *http.Request
	done     chan struct{}
	panicked any
}

func withWarmStacks(next http.Handler) http.Handler {
	return &warmStacks{next: next, jobs: make(chan *warmJob), idle: warmWorkerIdle}
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
	defer p.workers.Add(-1)
	idle := time.NewTimer(p.idle)
	defer idle.Stop()
	for {
		p.run(j)
		idle.Reset(p.idle)
		select {
		case j = <-p.jobs:
		case <-idle.C:
			return
		}
	}
}

func (p *warmStacks) run(j *warmJob) {
	defer close(j.done)
	defer func() { j.panicked = recover() }()
	p.next.ServeHTTP(j.w, j.r)
}
