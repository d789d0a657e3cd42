//go:build race

package webhooks

// raceDetector: timing targets do not apply under -race.
const raceDetector = true
