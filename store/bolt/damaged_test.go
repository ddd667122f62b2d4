package bolt_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowbatch/flow/store/bolt"
)

// A store file cut short (a copy stopped half way, a full disk) crashed
// the process with SIGBUS and a Go stack trace when bbolt read a page past
// its end, at open or later. Open now refuses it with an error naming the
// file (found by the bad-input corpus, testdata/bad/store-truncated).
func TestOpenTruncated(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flow.db")
	s := open(t, path, nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(full) < 4*4096 {
		t.Fatalf("a new store has %d bytes", len(full))
	}
	for _, n := range []int{2 * 4096, 3 * 4096, 4 * 4096} {
		cut := filepath.Join(dir, "cut.db")
		if err := os.WriteFile(cut, full[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := bolt.Open(cut, nil)
		if err == nil {
			s.Close()
			t.Errorf("a store cut to %d of %d bytes opened", n, len(full))
			continue
		}
		if !strings.Contains(err.Error(), "cut.db is damaged") {
			t.Errorf("cut to %d bytes: %v", n, err)
		}
	}
}
