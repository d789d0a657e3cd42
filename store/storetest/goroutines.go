package storetest

import "runtime/metrics"

// GoroutinesCreated is how many goroutines the process has started so far: a test of a read
// that must start none compares it before and after.
func GoroutinesCreated() uint64 {
	sample := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}
