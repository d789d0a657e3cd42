//go:build roster_noevents

package sqlstore

// recordingEvents: see events_recorded.go. This build writes no events (benchmarks only).
func recordingEvents() bool { return false }
