//go:build !roster_noevents

package sqlstore

// recordingEvents is false only in a build with the tag roster_noevents, which the events
// benchmark (bench/ab-events.sh) makes to run the same code without writing events, the
// "same runs without events" that recording them is measured against. Never ship it.
const recordingEvents = true
