//go:build race

package main

// raceEnabled: under the race detector every child process is slow to
// start and run, so TestHarnessSmall runs a few workloads only.
const raceEnabled = true
