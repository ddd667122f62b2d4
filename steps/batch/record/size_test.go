package record

import (
	"testing"
	"unsafe"
)

// Readers make millions of values: keep them small.
func TestValueSize(t *testing.T) {
	if s := unsafe.Sizeof(Value{}); s > 40 {
		t.Errorf("Value is %d bytes, want at most 40", s)
	}
}
