//go:build !race

package webhooks

const raceDetector = false
