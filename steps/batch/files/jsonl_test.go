package files

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

func TestJSONLReader(t *testing.T) {
	dir := t.TempDir()
	writeTemp(t, dir, "in.jsonl", "\xEF\xBB\xBF"+`{"id":1,"amount":"10.50","ts":"2026-11-20T10:00:00Z","n":2.5,"tags":["a"]}`+"\n"+
		"\n"+
		`{"id":"2","amount":3,"ts":null,"n":1}`+"\r\n"+
		`not json`+"\n"+
		`{"id":3,"amount":"abc"}`+"\n"+
		`[1,2]`+"\n"+
		`{"id":4} {"id":5}`+"\n"+
		`  {"amount":1.25,"id":6}  `)
	r, err := newJSONLReader(testConfig(dir, "jsonl", map[string]cty.Value{
		"path": cty.StringVal("in.jsonl"), "schema": strMap("id", "int", "amount", "decimal", "ts", "timestamp", "n", "string")}))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var skipped []batch.Skipped
	sink := &recordSink{}
	cnt, err := batch.Run[*record.Record, *record.Record](context.Background(), r, passRecords, sink, batch.Options[*record.Record]{
		ChunkSize: 2, Skip: batch.SkipPolicy{Limit: 10, Log: func(s batch.Skipped) error { skipped = append(skipped, s); return nil }}})
	if err != nil {
		t.Fatal(err)
	}
	if cnt.Read != 3 || cnt.ReadSkip != 4 {
		t.Errorf("counters %+v", cnt)
	}
	type rec struct {
		where string
		json  string
	}
	var got []rec
	for _, r := range sink.got {
		b, err := record.AppendRecordJSON(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rec{r.Where(), string(b)})
	}
	want := []rec{
		{"in.jsonl:1", `{"id":1,"amount":10.50,"ts":"2026-11-20T10:00:00Z","n":"2.5","tags":["a"]}`},
		{"in.jsonl:3", `{"id":2,"amount":3,"ts":null,"n":"1"}`},
		{"in.jsonl:8", `{"amount":1.25,"id":6}`},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%v\nwant\n%v", got, want)
	}
	if v, _ := sink.got[0].Get("ts"); v.Kind() != record.Time {
		t.Errorf("ts is a %s", v.Kind())
	}
	if v, _ := sink.got[1].Get("amount"); v.Kind() != record.Decimal {
		t.Errorf("amount is a %s", v.Kind())
	}
	wantSkips := []struct{ where, msg string }{
		{"in.jsonl:4", "invalid character"},
		{"in.jsonl:5", `field amount: invalid decimal "abc"`},
		{"in.jsonl:6", "expected a JSON object"},
		{"in.jsonl:7", "more than one JSON value"},
	}
	if len(skipped) != len(wantSkips) {
		t.Fatalf("skipped %+v", skipped)
	}
	for i, w := range wantSkips {
		if skipped[i].Where != w.where || !strings.Contains(skipped[i].Err.Error(), w.msg) {
			t.Errorf("skip %d: %s: %v; want %s: %s", i, skipped[i].Where, skipped[i].Err, w.where, w.msg)
		}
	}
	if done, total := r.Size(); done != total {
		t.Errorf("Size %d of %d", done, total)
	}
}

func TestJSONLConvert(t *testing.T) {
	for _, tc := range []struct {
		in   record.Value
		k    record.Kind
		want string
		err  string
	}{
		{record.IntVal(3), record.Decimal, "3", ""},
		{record.Dec(150, 2), record.Int, "", "a decimal cannot be a int"},
		{record.Dec(300, 2), record.Int, "3", ""},
		{record.IntVal(3), record.Float, "3", ""},
		{record.FloatVal(0.5), record.Decimal, "0.5", ""},
		{record.BoolVal(true), record.String, "true", ""},
		{record.BoolVal(true), record.Int, "", "a bool cannot be a int"},
		{record.Str("2026-11-20"), record.Time, "2026-11-20T00:00:00Z", ""},
		{record.Str(""), record.Int, "", ""},
		{record.Value{}, record.Int, "", ""},
	} {
		v, err := jsonlConvert(tc.in, tc.k)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v → %s: error %v, want %s", tc.in, tc.k, err, tc.err)
			}
			continue
		}
		if err != nil || v.Text() != tc.want || (!v.IsNull() && v.Kind() != tc.k) {
			t.Errorf("%v → %s: %v (%s), %v; want %s", tc.in, tc.k, v, v.Kind(), err, tc.want)
		}
	}
}

func TestJSONLReaderSeekRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	dir := t.TempDir()
	var b strings.Builder
	for i := 0; i < 2000; i++ {
		switch rng.IntN(10) {
		case 0:
			b.WriteString("\n")
		case 1:
			b.WriteString("{broken\n")
		}
		fmt.Fprintf(&b, `{"id":%d,"s":"line\n%d"}`+"\n", i, rng.IntN(100))
	}
	writeTemp(t, dir, "in.jsonl", b.String())
	open := func() *jsonlReader {
		r, err := newJSONLReader(testConfig(dir, "jsonl", map[string]cty.Value{"path": cty.StringVal("in.jsonl")}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	// Through Run, so that bad lines go to the skip policy; the sink keeps
	// the positions the engine asked for, through the checkpoints.
	r := open()
	var cps []batch.Checkpoint
	sink := &recordSink{}
	_, err := batch.Run[*record.Record, *record.Record](context.Background(), r, passRecords, sink, batch.Options[*record.Record]{
		ChunkSize: 13, Skip: batch.SkipPolicy{Limit: 1 << 20},
		OnCommit: func(cp batch.Checkpoint) error { cps = append(cps, cp); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	all := sink.got
	if len(all) != 2000 {
		t.Fatalf("%d records", len(all))
	}
	for k := 0; k < 20; k++ {
		cp := cps[rng.IntN(len(cps))]
		if cp.Position == nil {
			continue
		}
		r2 := open()
		if err := r2.Seek(cp.Position); err != nil {
			t.Fatal(err)
		}
		sink2 := &recordSink{}
		if _, err := batch.Run[*record.Record, *record.Record](context.Background(), r2, passRecords, sink2, batch.Options[*record.Record]{
			ChunkSize: 7, Skip: batch.SkipPolicy{Limit: 1 << 20}}); err != nil {
			t.Fatal(err)
		}
		rest := sink2.got
		want := all[cp.Seq:]
		if len(rest) != len(want) {
			t.Fatalf("seek to %s: %d records, want %d", cp.Position, len(rest), len(want))
		}
		for i := range rest {
			if !rest[i].Equal(want[i]) || rest[i].Line != want[i].Line {
				t.Fatalf("seek to %s: record %d differs", cp.Position, i)
			}
		}
	}
}

func TestJSONLWriterFields(t *testing.T) {
	s := mustSchema(t, record.Field{Name: "a"}, record.Field{Name: "b"}, record.Field{Name: "c"})
	recs := []*record.Record{
		{Schema: s, Values: []record.Value{record.Str("x\"y"), record.Dec(1050, 2), record.IntVal(1)}},
		{Schema: s, Values: []record.Value{{}, record.BoolVal(false), record.ListVal([]record.Value{record.IntVal(1)})}},
	}
	got, err := writeRecords(t, "jsonl", nil, recs)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":"x\"y","b":10.50,"c":1}` + "\n" + `{"a":null,"b":false,"c":[1]}` + "\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got, err = writeRecords(t, "jsonl", map[string]cty.Value{"fields": strList("c", "zz", "a")}, recs)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"c":1,"zz":null,"a":"x\"y"}` + "\n" + `{"c":[1],"zz":null,"a":null}` + "\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
