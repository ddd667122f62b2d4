//go:build !unix

package script

import "time"

// cpuTime is not measured here: the benchmarks print wall time only.
func cpuTime() time.Duration { return 0 }
