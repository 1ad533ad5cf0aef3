//go:build race

package httpapi_test

// raceEnabled is true under the race detector, which changes allocation counts.
const raceEnabled = true
