//go:build race

package api_test

// raceDetector is whether the tests run with -race (make test does), which makes the store
// several times slower: the round trip then runs a smaller file.
const raceDetector = true
