package files

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

// testConfig makes a component config whose relative paths resolve in dir.
func testConfig(dir, typ string, attrs map[string]cty.Value) *batch.Config {
	return &batch.Config{Type: typ, Name: typ, Attrs: attrs, Dir: dir, Step: "test"}
}

func strList(ss ...string) cty.Value {
	if len(ss) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vs := make([]cty.Value, len(ss))
	for i, s := range ss {
		vs[i] = cty.StringVal(s)
	}
	return cty.ListVal(vs)
}

func strMap(kv ...string) cty.Value {
	m := map[string]cty.Value{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = cty.StringVal(kv[i+1])
	}
	return cty.MapVal(m)
}

func writeTemp(t testing.TB, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// rowOf returns a record's fields as text.
func rowOf(r *record.Record) []string {
	out := make([]string, len(r.Values))
	for i, v := range r.Values {
		out[i] = v.Text()
	}
	return out
}

// drain reads a CSV reader to the end, collecting records and bad rows.
func drain(t testing.TB, r *csvReader) ([]*record.Record, []*csvBadRow) {
	t.Helper()
	var recs []*record.Record
	var bads []*csvBadRow
	for {
		rec, bad, err := r.read()
		if err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			return recs, bads
		}
		if bad != nil {
			bads = append(bads, bad)
			continue
		}
		recs = append(recs, rec)
	}
}

func TestCSVReaderRFC4180(t *testing.T) {
	type bad struct{ where, msg string }
	cases := []struct {
		name  string
		in    string
		attrs map[string]cty.Value
		names []string
		rows  [][]string
		lines []int64
		bads  []bad
	}{
		{name: "plain", in: "a,b,c\n1,2,3\n4,5,6\n",
			names: []string{"a", "b", "c"}, rows: [][]string{{"1", "2", "3"}, {"4", "5", "6"}}, lines: []int64{2, 3}},
		{name: "no final newline", in: "a,b\n1,2",
			rows: [][]string{{"1", "2"}}},
		{name: "quoted delimiter", in: "a,b\n\"x,y\",2\n",
			rows: [][]string{{"x,y", "2"}}},
		{name: "doubled quotes", in: "a,b\n\"say \"\"hi\"\"\",\"\"\"\"\n",
			rows: [][]string{{`say "hi"`, `"`}}},
		{name: "embedded newlines", in: "a,b\n\"one\ntwo\nthree\",2\n4,\"5\n\"\n7,8\n",
			rows: [][]string{{"one\ntwo\nthree", "2"}, {"4", "5\n"}, {"7", "8"}}, lines: []int64{2, 5, 7}},
		{name: "crlf", in: "a,b\r\n1,2\r\n\"x\",\"y\"\r\n",
			rows: [][]string{{"1", "2"}, {"x", "y"}}, lines: []int64{2, 3}},
		{name: "crlf inside quotes kept", in: "a,b\r\n\"x\r\ny\",2\r\n3,4\r\n",
			rows: [][]string{{"x\r\ny", "2"}, {"3", "4"}}, lines: []int64{2, 4}},
		{name: "cr at the end of the file", in: "a,b\n1,2\r",
			rows: [][]string{{"1", "2"}}},
		{name: "empty fields", in: "a,b,c\n,,\n\"\",,\"\"\n",
			rows: [][]string{{"", "", ""}, {"", "", ""}}},
		{name: "trailing delimiter", in: "a,b,c\n1,2,\n\"1\",\"2\",\n",
			rows: [][]string{{"1", "2", ""}, {"1", "2", ""}}},
		{name: "BOM stripped", in: "\xEF\xBB\xBFa,b\n1,2\n",
			names: []string{"a", "b"}, rows: [][]string{{"1", "2"}}},
		{name: "BOM and quoted header", in: "\xEF\xBB\xBF\"a\",b\n1,2\n",
			names: []string{"a", "b"}, rows: [][]string{{"1", "2"}}},
		{name: "quoted header with delimiter", in: "\"a,1\",b\n1,2\n",
			names: []string{"a,1", "b"}, rows: [][]string{{"1", "2"}}},
		{name: "blank lines skipped", in: "a,b\n\n1,2\r\n\r\n3,4\n\n",
			rows: [][]string{{"1", "2"}, {"3", "4"}}, lines: []int64{3, 5}},
		{name: "bare quote taken as it is", in: "a,b\n5\" pipe,x\"y\"\n",
			rows: [][]string{{`5" pipe`, `x"y"`}}},
		{name: "comments", in: "# made by hand\na,b\n# a comment\n1,2\n#3,4\n5,#6\n",
			attrs: map[string]cty.Value{"comment": cty.StringVal("#")},
			rows:  [][]string{{"1", "2"}, {"5", "#6"}}, lines: []int64{4, 6}},
		{name: "comment inside a quoted field is data", in: "a,b\n\"x\n#y\",2\n",
			attrs: map[string]cty.Value{"comment": cty.StringVal("#")},
			rows:  [][]string{{"x\n#y", "2"}}},
		{name: "skip rows", in: "report of the day\nsecond line\na,b\n1,2\n",
			attrs: map[string]cty.Value{"skip_rows": cty.NumberIntVal(2)},
			names: []string{"a", "b"}, rows: [][]string{{"1", "2"}}, lines: []int64{4}},
		{name: "no header", in: "1,2\n3,4\n",
			attrs: map[string]cty.Value{"header": cty.False, "columns": strList("x", "y")},
			names: []string{"x", "y"}, rows: [][]string{{"1", "2"}, {"3", "4"}}, lines: []int64{1, 2}},
		{name: "columns override the header", in: "a,b\n1,2\n",
			attrs: map[string]cty.Value{"columns": strList("x", "y")},
			names: []string{"x", "y"}, rows: [][]string{{"1", "2"}}},
		{name: "semicolon", in: "a;b\n\"1;5\";2\n",
			attrs: map[string]cty.Value{"delimiter": cty.StringVal(";")},
			rows:  [][]string{{"1;5", "2"}}},
		{name: "tab", in: "a\tb\n1,5\t2\n",
			attrs: map[string]cty.Value{"delimiter": cty.StringVal("\t")},
			rows:  [][]string{{"1,5", "2"}}},
		{name: "single quote", in: "a,b\n'it''s',2\n",
			attrs: map[string]cty.Value{"quote": cty.StringVal("'")},
			rows:  [][]string{{"it's", "2"}}},
		{name: "quoting off", in: "a,b\n\"x\",\"y\n",
			attrs: map[string]cty.Value{"quote": cty.StringVal("")},
			rows:  [][]string{{`"x"`, `"y`}}},
		{name: "trim space", in: " 1 ,\t\"x \" ,\n",
			attrs: map[string]cty.Value{"trim_space": cty.True, "header": cty.False, "columns": strList("a", "b", "c")},
			rows:  [][]string{{"1", "x ", ""}}},
		{name: "trim space in the header", in: " a ,\"b\" \n1,2\n",
			attrs: map[string]cty.Value{"trim_space": cty.True},
			names: []string{"a", "b"}, rows: [][]string{{"1", "2"}}},
		{name: "spaces kept", in: "a,b\n 1 , 2\n",
			rows: [][]string{{" 1 ", " 2"}}},
		{name: "single column with empty quoted value", in: "a\n\"\"\nx\n",
			rows: [][]string{{""}, {"x"}}},
		{name: "quoted field at EOF", in: "a,b\n1,\"2\"",
			rows: [][]string{{"1", "2"}}},
		{name: "unterminated quote recovers on the next line", in: "a,b\n1,\"2\n3,4\n5,6\n",
			rows: [][]string{{"3", "4"}, {"5", "6"}}, lines: []int64{3, 4},
			bads: []bad{{"in.csv:2", "field b: quoted field not terminated"}}},
		{name: "text after the closing quote", in: "a,b\n\"x\"y,2\n3,4\n",
			rows: [][]string{{"3", "4"}},
			bads: []bad{{"in.csv:2", `field a: 'y' after the closing quote`}}},
		{name: "ragged rows", in: "a,b,c\n1,2\n1,2,3,4\n\"1\",2\n1,2,3\n\"x\",\"y\",\"z\",\"w\"\n",
			rows: [][]string{{"1", "2", "3"}},
			bads: []bad{{"in.csv:2", "2 fields, expected 3: field c is missing"},
				{"in.csv:3", "4 fields, expected 3 (a, b, c): field 4 is one too many"},
				{"in.csv:4", "field c is missing"},
				{"in.csv:6", "field 4 is one too many"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTemp(t, dir, "in.csv", tc.in)
			attrs := map[string]cty.Value{"path": cty.StringVal("in.csv")}
			for k, v := range tc.attrs {
				attrs[k] = v
			}
			r, err := newCSVReader(testConfig(dir, "csv", attrs))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if tc.names != nil && !reflect.DeepEqual(r.Schema().Names(), tc.names) {
				t.Errorf("names %q, want %q", r.Schema().Names(), tc.names)
			}
			recs, bads := drain(t, r)
			var rows [][]string
			var lines []int64
			for _, rec := range recs {
				rows = append(rows, rowOf(rec))
				lines = append(lines, rec.Line)
				if rec.Schema != r.Schema() {
					t.Errorf("record of line %d has its own schema", rec.Line)
				}
			}
			if !reflect.DeepEqual(rows, tc.rows) {
				t.Errorf("rows\n%q\nwant\n%q", rows, tc.rows)
			}
			if tc.lines != nil && !reflect.DeepEqual(lines, tc.lines) {
				t.Errorf("lines %v, want %v", lines, tc.lines)
			}
			if len(bads) != len(tc.bads) {
				for _, b := range bads {
					t.Logf("bad row %s: %v", b.where, b.err)
				}
				t.Fatalf("%d bad rows, want %d", len(bads), len(tc.bads))
			}
			for i, b := range bads {
				if b.where != tc.bads[i].where || !strings.Contains(b.err.Error(), tc.bads[i].msg) {
					t.Errorf("bad row %d: %s: %v; want %s: ...%s...", i, b.where, b.err, tc.bads[i].where, tc.bads[i].msg)
				}
			}
		})
	}
}

func TestCSVReaderConfigErrors(t *testing.T) {
	dir := t.TempDir()
	writeTemp(t, dir, "in.csv", "a,b\n1,2\n")
	writeTemp(t, dir, "dup.csv", "a,a\n1,2\n")
	writeTemp(t, dir, "noname.csv", "a,,c\n1,2,3\n")
	writeTemp(t, dir, "empty.csv", "")
	cases := []struct {
		attrs map[string]cty.Value
		msg   string
	}{
		{map[string]cty.Value{}, "path is required"},
		{map[string]cty.Value{"path": cty.StringVal("missing.csv")}, "no such file"},
		{map[string]cty.Value{"path": cty.StringVal("in.csv"), "header": cty.False}, "needs columns"},
		{map[string]cty.Value{"path": cty.StringVal("in.csv"), "columns": strList("x")}, "columns lists 1 names but the header (line 1) has 2 fields"},
		{map[string]cty.Value{"path": cty.StringVal("in.csv"), "delimiter": cty.StringVal("::")}, "delimiter must be one ASCII character"},
		{map[string]cty.Value{"path": cty.StringVal("in.csv"), "delimiter": cty.StringVal(`"`)}, "quote and delimiter must differ"},
		{map[string]cty.Value{"path": cty.StringVal("in.csv"), "schema": strMap("a", "money")}, `field a: unknown field type "money"`},
		{map[string]cty.Value{"path": cty.StringVal("in.csv"), "schema": strMap("zz", "int")}, "schema names zz, not among the fields (a, b)"},
		{map[string]cty.Value{"path": cty.StringVal("dup.csv")}, `duplicate field "a"`},
		{map[string]cty.Value{"path": cty.StringVal("noname.csv")}, "field 2 of the header (line 1) has no name"},
		{map[string]cty.Value{"path": cty.StringVal("empty.csv")}, "no header: the file is empty"},
	}
	for _, tc := range cases {
		_, err := newCSVReader(testConfig(dir, "csv", tc.attrs))
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%v: error %v, want ...%s...", tc.attrs, err, tc.msg)
		}
	}
	// An empty file with columns is an empty input.
	r, err := newCSVReader(testConfig(dir, "csv", map[string]cty.Value{"path": cty.StringVal("empty.csv"), "columns": strList("a")}))
	if err != nil {
		t.Fatal(err)
	}
	if recs, bads := drain(t, r); len(recs)+len(bads) != 0 {
		t.Errorf("empty file gave %d records", len(recs))
	}
}

func TestCSVReaderTypedSchema(t *testing.T) {
	dir := t.TempDir()
	writeTemp(t, dir, "in.csv", "id,amount,ok,ts,ratio,memo\n"+
		"1,10.50,true,2026-11-20T10:00:00Z,0.25,plain\n"+
		"2,-0.5,false,2026-11-20,1e3,\"quoted, with comma\"\n"+
		"3,,,,,\n"+
		"x4,1.00,true,2026-11-20T10:00:00Z,1,bad id\n"+
		"5,1.00,maybe,2026-11-20T10:00:00Z,1,bad bool\n"+
		"\"6\",\"7.25\",\"true\",\"2026-11-21T00:00:00+01:00\",\"2\",\"all quoted\"\n")
	r, err := newCSVReader(testConfig(dir, "csv", map[string]cty.Value{
		"path":   cty.StringVal("in.csv"),
		"schema": strMap("id", "int", "amount", "decimal", "ok", "bool", "ts", "timestamp", "ratio", "float"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	kinds := []record.Kind{record.Int, record.Decimal, record.Bool, record.Time, record.Float, record.String}
	for i, f := range r.Schema().Fields {
		if f.Kind != kinds[i] {
			t.Errorf("field %s is %s, want %s", f.Name, f.Kind, kinds[i])
		}
	}
	recs, bads := drain(t, r)
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4", len(recs))
	}
	want := [][]string{
		{"1", "10.50", "true", "2026-11-20T10:00:00Z", "0.25", "plain"},
		{"2", "-0.5", "false", "2026-11-20T00:00:00Z", "1000", "quoted, with comma"},
		{"3", "", "", "", "", ""},
		{"6", "7.25", "true", "2026-11-20T23:00:00Z", "2", "all quoted"},
	}
	for i, rec := range recs {
		if got := rowOf(rec); !reflect.DeepEqual(got, want[i]) {
			t.Errorf("record %d: %q, want %q", i, got, want[i])
		}
		for j, v := range rec.Values {
			if !v.IsNull() && v.Kind() != kinds[j] {
				t.Errorf("record %d field %d is a %s", i, j, v.Kind())
			}
		}
	}
	for j := 1; j < 5; j++ {
		if v := recs[2].Values[j]; !v.IsNull() {
			t.Errorf("empty %s is %v, want null", kinds[j], v)
		}
	}
	if v := recs[2].Values[5]; v.IsNull() || v.Str() != "" {
		t.Errorf("empty string is %#v, want an empty string", v)
	}
	if u, s, _ := recs[0].Values[1].Decimal(); u != 1050 || s != 2 {
		t.Errorf("10.50 is %d×10^-%d", u, s)
	}
	if len(bads) != 2 {
		t.Fatalf("%d bad rows, want 2", len(bads))
	}
	for i, w := range []struct{ where, msg string }{
		{"in.csv:5", `field id: invalid int "x4"`},
		{"in.csv:6", `field ok: invalid bool "maybe"`},
	} {
		if bads[i].where != w.where || !strings.Contains(bads[i].err.Error(), w.msg) {
			t.Errorf("bad row %s: %v; want %s: %s", bads[i].where, bads[i].err, w.where, w.msg)
		}
		if !strings.HasPrefix(bads[i].raw, "x4,") && !strings.HasPrefix(bads[i].raw, "5,") {
			t.Errorf("raw line %q", bads[i].raw)
		}
	}
}

// passRecords is a processor that passes records on.
var passRecords = batch.ProcessorFunc[*record.Record, *record.Record](func(c *batch.Chunk, r *record.Record, emit func(*record.Record)) error {
	emit(r)
	return nil
})

// recordSink collects what is consumed, in commit order.
type recordSink struct{ got []*record.Record }

func (s *recordSink) Setup(t *batch.Task) error {
	t.OnCommit(func(c *batch.Chunk) error {
		out, _ := c.Values[s].([]*record.Record)
		s.got = append(s.got, out...)
		return nil
	})
	return nil
}

func (s *recordSink) Consume(c *batch.Chunk, items []*record.Record) error {
	c.Values[s] = append([]*record.Record(nil), items...)
	return nil
}

func TestCSVReaderRaggedRowsThroughRun(t *testing.T) {
	dir := t.TempDir()
	writeTemp(t, dir, "in.csv", "a,b,c\n1,2,3\n4,5\n6,7,8\n9,10,11,12\n13,14,15\n")
	open := func() *csvReader {
		r, err := newCSVReader(testConfig(dir, "csv", map[string]cty.Value{"path": cty.StringVal("in.csv")}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	t.Run("skipped", func(t *testing.T) {
		var skipped []batch.Skipped
		sink := &recordSink{}
		cnt, err := batch.Run[*record.Record, *record.Record](context.Background(), open(), passRecords, sink, batch.Options[*record.Record]{
			ChunkSize: 2,
			Skip:      batch.SkipPolicy{Limit: 5, Log: func(s batch.Skipped) error { skipped = append(skipped, s); return nil }},
		})
		if err != nil {
			t.Fatal(err)
		}
		if cnt.Read != 3 || cnt.Write != 3 || cnt.ReadSkip != 2 {
			t.Errorf("counters %+v", cnt)
		}
		var got []string
		for _, r := range sink.got {
			got = append(got, r.Where())
		}
		if want := []string{"in.csv:2", "in.csv:4", "in.csv:6"}; !reflect.DeepEqual(got, want) {
			t.Errorf("records from %v, want %v", got, want)
		}
		if len(skipped) != 2 || skipped[0].Where != "in.csv:3" || skipped[1].Where != "in.csv:5" ||
			skipped[0].Item != "4,5" || !strings.Contains(skipped[0].Err.Error(), "field c is missing") ||
			skipped[0].Stage != batch.StageRead {
			t.Errorf("skipped %+v", skipped)
		}
	})
	t.Run("not skipped", func(t *testing.T) {
		_, err := batch.Run[*record.Record, *record.Record](context.Background(), open(), passRecords, &recordSink{}, batch.Options[*record.Record]{ChunkSize: 2})
		var ie *batch.ItemError
		if !errors.As(err, &ie) || ie.Where != "in.csv:3" || !strings.Contains(err.Error(), "field c is missing") {
			t.Fatalf("error %v, want one at in.csv:3 naming field c", err)
		}
	})
	t.Run("skip limit", func(t *testing.T) {
		_, err := batch.Run[*record.Record, *record.Record](context.Background(), open(), passRecords, &recordSink{}, batch.Options[*record.Record]{
			ChunkSize: 2, Skip: batch.SkipPolicy{Limit: 1}})
		if err == nil || !strings.Contains(err.Error(), "skip limit 1 reached") || !strings.Contains(err.Error(), "in.csv:5") {
			t.Fatalf("error %v, want the skip limit at in.csv:5", err)
		}
	})
}

// genCSV makes rows with quoted, multi-line and comment lines among them.
func genCSV(rng *rand.Rand, n int) string {
	var b strings.Builder
	b.WriteString("id,name,note\n")
	for i := 0; i < n; i++ {
		switch rng.IntN(10) {
		case 0:
			fmt.Fprintf(&b, "%d,\"multi\nline %d\",\"with \"\"quotes\"\"\"\n", i, i)
		case 1:
			b.WriteString("# comment\n")
			fmt.Fprintf(&b, "%d,n%d,x\n", i, i)
		case 2:
			fmt.Fprintf(&b, "%d,\"a,b\",\r\n", i)
		case 3:
			fmt.Fprintf(&b, "%d,short\n", i) // ragged
		default:
			fmt.Fprintf(&b, "%d,name%d,note %d\n", i, i, rng.IntN(1000))
		}
	}
	return b.String()
}

type loaded struct {
	pos  []byte
	recs []*record.Record
}

func TestCSVReaderSeekRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	writeTemp(t, dir, "in.csv", genCSV(rng, 3000))
	attrs := map[string]cty.Value{"path": cty.StringVal("in.csv"), "comment": cty.StringVal("#"), "schema": strMap("id", "int")}
	open := func() *csvReader {
		r, err := newCSVReader(testConfig(dir, "csv", attrs))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	// Read everything in loads of random sizes, keeping the position
	// before each.
	skipAll := func(r *csvReader, max int) ([]*record.Record, error) {
		var out []*record.Record
		for len(out) < max {
			rec, bad, err := r.read()
			if err != nil {
				if err == io.EOF {
					break
				}
				return nil, err
			}
			if bad == nil {
				out = append(out, rec)
			}
		}
		return out, nil
	}
	r := open()
	var loads []loaded
	var all []*record.Record
	for {
		pos, err := r.Position()
		if err != nil {
			t.Fatal(err)
		}
		recs, err := skipAll(r, 1+rng.IntN(9))
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		loads = append(loads, loaded{pos, recs})
		all = append(all, recs...)
	}
	if _, total := r.Size(); r.in.offset != total {
		t.Errorf("offset at the end: %d of %d", r.in.offset, total)
	}
	if len(all) < 2500 {
		t.Fatalf("only %d records", len(all))
	}
	index := 0
	starts := make([]int, len(loads))
	for i, l := range loads {
		starts[i] = index
		index += len(l.recs)
	}
	for k := 0; k < 40; k++ {
		i := rng.IntN(len(loads))
		r2 := open()
		if err := r2.Seek(loads[i].pos); err != nil {
			t.Fatal(err)
		}
		var p filePosition
		_ = json.Unmarshal(loads[i].pos, &p)
		if done, _ := r2.Size(); done != p.Offset {
			t.Errorf("Size after Seek %d, want %d", done, p.Offset)
		}
		rest, err := skipAll(r2, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		want := all[starts[i]:]
		if len(rest) != len(want) {
			t.Fatalf("seek to %s: %d records, want %d", loads[i].pos, len(rest), len(want))
		}
		for j := range rest {
			if !rest[j].Equal(want[j]) || rest[j].Line != want[j].Line || rest[j].Offset != want[j].Offset {
				t.Fatalf("seek to %s: record %d is %v (line %d), want %v (line %d)", loads[i].pos, j, rowOf(rest[j]), rest[j].Line, rowOf(want[j]), want[j].Line)
			}
			if rest[j].Schema != r2.Schema() || rest[j].Schema.Fields[0].Kind != record.Int {
				t.Fatal("schema not kept")
			}
		}
	}
	for _, bad := range []string{`{`, `{"offset":0,"line":1}`, `{"offset":999999999,"line":5}`} {
		if err := open().Seek([]byte(bad)); err == nil {
			t.Errorf("Seek(%s) did not fail", bad)
		}
	}
}

func TestCSVReaderLongLine(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 65 MiB")
	}
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "in.csv"))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("a,b\n1,2\n")
	long := strings.Repeat("x", 1<<20)
	for i := 0; i < fileMaxLine>>20+1; i++ {
		_, _ = f.WriteString(long)
	}
	_, _ = f.WriteString(",y\n3,4\n")
	_ = f.Close()
	r, err := newCSVReader(testConfig(dir, "csv", map[string]cty.Value{"path": cty.StringVal("in.csv")}))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs, bads := drain(t, r)
	if len(recs) != 2 || recs[1].Line != 4 || len(bads) != 1 || bads[0].where != "in.csv:3" || !errors.Is(bads[0].err, errLineTooLong) {
		t.Fatalf("records %d, bad rows %v", len(recs), bads)
	}
}
