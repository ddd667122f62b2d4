package flow_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every run must leave no goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
