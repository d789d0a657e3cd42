//go:build !unix

package api

import (
	"testing"
	"time"
)

// CPUTime is not measured here: benchmarks report no cpu-ns/op.
func CPUTime() time.Duration { return 0 }

// ReportCPU reports nothing where CPUTime is not measured.
func ReportCPU(*testing.B, time.Duration) {}
