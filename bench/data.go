package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/flowbatch/flow/internal/gen"
)

// dataSet makes the input files, one per size, from one seed, and the
// baseline's output of each: what every workload's output is checked
// against.
type dataSet struct {
	dir   string
	seed  int64
	files map[int]*dataFile
}

type dataFile struct {
	path, expected string
	kept, cents    int64 // rows T keeps and the sum of their cents
}

func newDataSet(dir string, seed int64) *dataSet {
	return &dataSet{dir: dir, seed: seed, files: map[int]*dataFile{}}
}

// file returns the input of n records, made on first use.
func (d *dataSet) file(n int) (*dataFile, error) {
	if f, ok := d.files[n]; ok {
		return f, nil
	}
	f := &dataFile{path: filepath.Join(d.dir, fmt.Sprintf("in-%d.csv", n)), expected: filepath.Join(d.dir, fmt.Sprintf("expected-%d.csv", n))}
	if err := writeInput(f.path, n, d.seed); err != nil {
		return nil, err
	}
	in, err := os.Open(f.path)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	out, err := os.Create(f.expected)
	if err != nil {
		return nil, err
	}
	read, err := gen.Baseline(in, out)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if read != n {
		return nil, fmt.Errorf("%s: the baseline read %d records, want %d", f.path, read, n)
	}
	if f.kept, f.cents, err = sumCents(f.expected); err != nil {
		return nil, err
	}
	d.files[n] = f
	return f, nil
}

func writeInput(path string, n int, seed int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := gen.WriteCSV(f, n, seed); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// sumCents counts the rows of an output of T and adds up its cents.
func sumCents(path string) (rows, cents int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		if line == 1 {
			continue // the header
		}
		fields := strings.Split(sc.Text(), ",")
		if len(fields) != 5 {
			return 0, 0, fmt.Errorf("%s:%d: %d fields, want 5", path, line, len(fields))
		}
		c, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s:%d: field cents: %w", path, line, err)
		}
		rows++
		cents += c
	}
	return rows, cents, sc.Err()
}

// verify compares an output with the baseline's: byte for byte, or with
// sorted its lines in any order (concurrent workers commit chunks out of
// order; the header must still come first).
func (f *dataFile) verify(out string, sorted bool) error {
	if !sorted {
		return sameFiles(out, f.expected)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	want, err := os.ReadFile(f.expected)
	if err != nil {
		return err
	}
	return sameLines(got, want)
}

// sameFiles compares two files byte for byte and names the first line
// that differs.
func sameFiles(a, b string) error {
	fa, err := os.Open(a)
	if err != nil {
		return err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return err
	}
	defer fb.Close()
	ra, rb := bufio.NewReaderSize(fa, 1<<20), bufio.NewReaderSize(fb, 1<<20)
	for line := 1; ; line++ {
		la, ea := ra.ReadBytes('\n')
		lb, eb := rb.ReadBytes('\n')
		if !bytes.Equal(la, lb) {
			return fmt.Errorf("line %d: %q, want %q", line, la, lb)
		}
		if ea == io.EOF && eb == io.EOF {
			return nil
		}
		if ea != nil && ea != io.EOF {
			return ea
		}
		if eb != nil && eb != io.EOF {
			return eb
		}
	}
}

// sameLines compares two CSV texts as a header and a multiset of lines.
func sameLines(got, want []byte) error {
	g, w := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	if len(g) == 0 || len(w) == 0 {
		return errors.New("empty output")
	}
	if !bytes.Equal(g[0], w[0]) {
		return fmt.Errorf("header %q, want %q", g[0], w[0])
	}
	if len(g) != len(w) {
		return fmt.Errorf("%d lines, want %d", len(g), len(w))
	}
	g, w = g[1:], w[1:]
	slices.SortFunc(g, bytes.Compare)
	slices.SortFunc(w, bytes.Compare)
	for i := range g {
		if !bytes.Equal(g[i], w[i]) {
			return fmt.Errorf("the lines differ: %q where the baseline has %q (sorted)", g[i], w[i])
		}
	}
	return nil
}
