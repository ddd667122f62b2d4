package files

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
)

// FuzzCSVReader reads arbitrary bytes: no panic; every bad row carries
// its position (in.csv:line, a line of the file) and names a field; records
// come in file order. Where encoding/csv reads the same input without
// error (and the input has none of the things we treat otherwise: CR,
// a BOM), the records and their lines must be the same. The seed corpus is
// in testdata/fuzz/FuzzCSVReader.
func FuzzCSVReader(f *testing.F) {
	f.Add([]byte("a,b\n1,2\n"), true, false, false)
	f.Add([]byte("a,b\n\"x\ny\",\"q\"\"\"\n"), true, false, false)
	f.Add([]byte("# c\n1,\"2\n"), false, true, true)
	f.Fuzz(func(t *testing.T, data []byte, header, trim, comment bool) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "in.csv"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		attrs := map[string]cty.Value{"path": cty.StringVal("in.csv"), "header": cty.BoolVal(header), "trim_space": cty.BoolVal(trim)}
		if comment {
			attrs["comment"] = cty.StringVal("#")
		}
		// Without a header, as many columns as the first line has fields.
		ncols := 1 + bytes.Count(bytes.SplitN(data, []byte("\n"), 2)[0], []byte(","))
		if !header {
			cols := make([]string, ncols)
			for i := range cols {
				cols[i] = "c" + strconv.Itoa(i+1)
			}
			attrs["columns"] = strList(cols...)
		}
		r, err := newCSVReader(testConfig(dir, "csv", attrs))
		if err != nil {
			if !strings.Contains(err.Error(), "in.csv") {
				t.Fatalf("error without the file: %v", err)
			}
			return
		}
		defer r.Close()
		lines := int64(bytes.Count(data, []byte("\n")) + 1)
		var prevLine, prevOff int64 = 0, -1
		var got [][]string
		var gotLines []int64
		bad := 0
		for {
			rec, b, err := r.read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if b != nil {
				bad++
				ln, perr := strconv.ParseInt(strings.TrimPrefix(b.where, "in.csv:"), 10, 64)
				if perr != nil || !strings.HasPrefix(b.where, "in.csv:") || ln < 1 || ln > lines {
					t.Fatalf("bad row at %q (file of %d lines)", b.where, lines)
				}
				if b.err == nil || (!strings.Contains(b.err.Error(), "field") && !errors.Is(b.err, errLineTooLong)) {
					t.Fatalf("bad row %s: error %v names no field", b.where, b.err)
				}
				continue
			}
			if rec.Line <= prevLine || rec.Offset <= prevOff || rec.Offset >= int64(len(data)) || rec.Line > lines {
				t.Fatalf("record at line %d offset %d after line %d offset %d", rec.Line, rec.Offset, prevLine, prevOff)
			}
			prevLine, prevOff = rec.Line, rec.Offset
			got = append(got, rowOf(rec))
			gotLines = append(gotLines, rec.Line)
		}
		if r.in.offset != int64(len(data)) {
			t.Fatalf("stopped at offset %d of %d", r.in.offset, len(data))
		}
		// Compare with encoding/csv.
		if header || trim || comment || bytes.ContainsRune(data, '\r') || bytes.HasPrefix(data, utf8BOM) || !utf8.Valid(data) {
			return
		}
		cr := csv.NewReader(bytes.NewReader(data))
		cr.FieldsPerRecord = ncols
		var want [][]string
		var wantLines []int64
		for {
			rec, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return // encoding/csv refuses it: nothing to compare
			}
			want = append(want, rec)
			ln, _ := cr.FieldPos(0)
			wantLines = append(wantLines, int64(ln))
		}
		if bad > 0 || !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotLines, wantLines) {
			t.Fatalf("%q:\ngot  %q at lines %v (%d bad rows)\nwant %q at lines %v", data, got, gotLines, bad, want, wantLines)
		}
	})
}
