//go:build unix

package api

import (
	"syscall"
	"testing"
	"time"
)

// CPUTime is the CPU time (user and system) this process has used.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ReportCPU reports the process's CPU time per operation since cpu0 (CPUTime before the loop):
// on a machine shared with other work ns/op measures the sharing as much as the code, this
// does not (in-process benchmarks: client and server, and on SQLite the database too; not
// PostgreSQL's server).
func ReportCPU(b *testing.B, cpu0 time.Duration) {
	if cpu := CPUTime() - cpu0; cpu > 0 && b.N > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
