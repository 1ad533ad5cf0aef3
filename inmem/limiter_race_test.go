//go:build race

package inmem

const raceEnabled = true
