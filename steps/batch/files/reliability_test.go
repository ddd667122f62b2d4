package files

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

// Bytes that are not UTF-8 (a Latin-1 file) were read as text: the CSV
// writer passed them on, the JSONL writer and JavaScript turned them into
// U+FFFD, PostgreSQL refused them with no position. They are now a bad
// row, with the line and the field (found by the bad-input corpus,
// testdata/bad at the repository root).
func TestCSVReaderInvalidUTF8(t *testing.T) {
	dir := t.TempDir()
	writeTemp(t, dir, "in.csv", "id,name,city\n1,Anna,Köln\n2,M\xfcller,Bonn\n3,\"Z\xe9 \"\"Q\"\"\",x\n4,\"a\nb\xff\",c\n5,ok,ok\n")
	r, err := newCSVReader(testConfig(dir, "csv", map[string]cty.Value{"path": cty.StringVal("in.csv")}))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs, bads := drain(t, r)
	if len(recs) != 2 || recs[0].Line != 2 || recs[1].Line != 7 {
		for _, r := range recs {
			t.Errorf("record %s: %v", r.Where(), r.Values)
		}
	}
	want := []struct{ where, msg string }{
		{"in.csv:3", "field name: byte 2 (0xFC) is not UTF-8"},
		{"in.csv:4", "field name: byte 2 (0xE9) is not UTF-8"},
		{"in.csv:5", "field name: byte 4 (0xFF) is not UTF-8"},
	}
	if len(bads) != len(want) {
		t.Fatalf("bad rows %+v", bads)
	}
	for i, w := range want {
		if bads[i].where != w.where || !strings.Contains(bads[i].err.Error(), w.msg) {
			t.Errorf("bad row %s: %v; want %s: %s", bads[i].where, bads[i].err, w.where, w.msg)
		}
	}
}

func TestJSONLReaderInvalidUTF8(t *testing.T) {
	dir := t.TempDir()
	writeTemp(t, dir, "in.jsonl", "{\"name\":\"K\xf6ln\"}\n{\"name\":\"ok\"}\n")
	r, err := newJSONLReader(testConfig(dir, "jsonl", map[string]cty.Value{"path": cty.StringVal("in.jsonl")}))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var skipped []batch.Skipped
	sink := &recordSink{}
	_, err = batch.Run[*record.Record, *record.Record](context.Background(), r, passRecords, sink, batch.Options[*record.Record]{
		Skip: batch.SkipPolicy{Limit: 10, Log: func(s batch.Skipped) error { skipped = append(skipped, s); return nil }}})
	if err != nil {
		t.Fatal(err)
	}
	if len(sink.got) != 1 || len(skipped) != 1 || skipped[0].Where != "in.jsonl:1" ||
		!strings.Contains(skipped[0].Err.Error(), "byte 11 (0xF6) is not UTF-8") {
		t.Errorf("read %v, skipped %+v", sink.got, skipped)
	}
}

// A device as the output (/dev/null, to discard it): fsync failed with
// EINVAL after the first chunk, and a resume failed to truncate it (found
// by the store-full fault test, internal/faults).
func TestFileWriterToDevice(t *testing.T) {
	if _, err := os.Stat(os.DevNull); err != nil {
		t.Skip(err)
	}
	s := mustSchema(t, record.Field{Name: "a"})
	recs := []*record.Record{{Schema: s, Values: []record.Value{record.Str("x")}}}
	for _, resume := range []*batch.Checkpoint{nil, {Writers: map[string][]byte{"csv": []byte(`{"offset":100}`)}}} {
		w, err := newCSVWriter(testConfig(t.TempDir(), "csv", map[string]cty.Value{"path": cty.StringVal(os.DevNull)}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = batch.Run[*record.Record, *record.Record](context.Background(), &sliceLoader{recs: recs}, passRecords, w,
			batch.Options[*record.Record]{Resume: resume})
		if err != nil {
			t.Errorf("resume %v: %v", resume != nil, err)
		}
		if err := w.Sync(); err != nil {
			t.Errorf("resume %v: sync: %v", resume != nil, err)
		}
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	}
}
