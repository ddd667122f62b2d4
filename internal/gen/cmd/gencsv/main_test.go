package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowbatch/flow/internal/gen"
)

func TestRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.csv")
	if err := run(500, 42, path); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := gen.WriteCSV(&want, 500, 42); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Error("the file differs from gen.WriteCSV's output")
	}
	if err := run(-1, 1, path); err == nil {
		t.Error("-n -1 was accepted")
	}
	if err := run(1, 1, filepath.Join(t.TempDir(), "no", "such", "dir", "x.csv")); err == nil {
		t.Error("an unwritable path was accepted")
	}
}
