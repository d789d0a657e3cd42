// Package cputime measures the CPU time this process has used, for benchmarks that report CPU
// per operation: on a machine shared with other work ns/op measures the sharing as much as the
// code, and the process's CPU time does not.
package cputime

import (
	"testing"
	"time"
)

// Process is the CPU time (user and system) this process has used; 0 where it is not measured.
func Process() time.Duration { return time.Duration(process()) }

// Report reports the process's CPU time per operation since cpu0 (Process before the loop) as
// cpu-ns/op; in-process benchmarks count client and server, and on SQLite the database too.
func Report(b *testing.B, cpu0 time.Duration) {
	if cpu := Process() - cpu0; cpu > 0 && b.N > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
