package script

import (
	"testing"

	"go.uber.org/goleak"
)

// Watchdogs end when their runtimes are idle: no goroutine outlives the
// tests.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
