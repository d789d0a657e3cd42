//go:build !roster_noevents && !roster_eventtoggle

package sqlstore

// recordingEvents is false only in a build with the tag roster_noevents, which the events
// benchmark (bench/ab-events.sh) makes to run the same code without writing events, the
// "same runs without events" that recording them is measured against, or, with the tag
// roster_eventtoggle, while the benchmark has switched recording off (events_toggle.go).
// Never ship either.
func recordingEvents() bool { return true }
