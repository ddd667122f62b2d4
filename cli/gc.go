package cli

import (
	"os"
	"runtime/debug"
)

// GCPercent is the garbage collector's target that TuneGC sets.
const GCPercent = 400

// TuneGC sets the garbage collector's target to GCPercent unless the GOGC
// environment variable sets one. A batch step makes millions of
// short-lived records over a live heap of a few megabytes: with Go's
// default (100) the collector runs every 2 to 4 MB allocated, hundreds of
// times per million records, and costs a third of the CPU time; at 400
// the heap stays in tens of megabytes. Programs that embed the engine
// decide for themselves (GOGC, debug.SetGCPercent).
func TuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(GCPercent)
	}
}
