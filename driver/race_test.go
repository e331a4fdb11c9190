//go:build race

package driver_test

// raceEnabled shortens the load tests under the race detector, which slows them about tenfold.
const raceEnabled = true
