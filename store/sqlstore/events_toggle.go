//go:build roster_eventtoggle && !roster_noevents

package sqlstore

import (
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// In a build with the tag roster_eventtoggle (benchmarks only: bench/ab-events.sh toggle),
// SIGUSR1 switches recording events off and on, so that one process serves the same load
// with and without them in alternating windows: no second process, database copy or minute of
// a shared machine between the two measurements.
var recordingOff atomic.Bool

func init() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR1)
	go func() {
		for range c {
			recordingOff.Store(!recordingOff.Load())
		}
	}()
}

// recordingEvents: see events_recorded.go.
func recordingEvents() bool { return !recordingOff.Load() }
