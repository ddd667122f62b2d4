package files

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

var jsonlWhereRE = regexp.MustCompile(`^in\.jsonl:(\d+)$`)

// FuzzJSONLReader reads arbitrary bytes as a JSON Lines file, with and
// without a typed schema, through the chunk engine with every bad line
// skipped: no panic or hang; every skipped line carries its position
// (in.jsonl:LINE, a line of the file) and every failure names the file;
// each non-blank line is either read or skipped, records come in file
// order, and each one written back as JSON reads back with the same
// fields; a reader sought to a record's position reads that record again
// (what a resumed run does).
func FuzzJSONLReader(f *testing.F) {
	f.Add([]byte(`{"id":1,"amount":"10.50","ts":"2026-11-20T10:00:00Z","name":"a","ok":true,"f":1.5}`+"\n"), true)
	f.Add([]byte("\xEF\xBB\xBF{\"a\":1}\r\n\n  {\"b\":[1,{\"c\":null}]}  \nnot json\n[1]\n{\"a\":1} {\"a\":2}\n{\"a\":"), false)
	f.Add([]byte("{\"id\":\"x\"}\n{\"amount\":1e400}\n{\"ts\":12}\n{\"ok\":\"maybe\"}\n{\"f\":\"1e999\"}\n"), true)
	f.Add([]byte("{}\n{\"\":1}\n{\"a\\u0000b\":1}\n{\"a\":1,\"b\":2}\n{\"a\":1,\"a\":2}\n"), false)
	f.Add([]byte("{\"s\":\"\xff\xfe\"}\n{\"n\":0e2000000000}\n{\"id\":9223372036854775808}\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, typed bool) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "in.jsonl"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		attrs := map[string]cty.Value{"path": cty.StringVal("in.jsonl")}
		if typed {
			attrs["schema"] = strMap("id", "int", "amount", "decimal", "ts", "timestamp", "name", "string", "ok", "bool", "f", "float")
		}
		open := func() *jsonlReader {
			r, err := newJSONLReader(testConfig(dir, "jsonl", attrs))
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		r := open()
		defer r.Close()
		skips := &fixedSkips{}
		sink := &recordSink{}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cnt, err := batch.Run[*record.Record, *record.Record](ctx, r, passRecords, sink,
			batch.Options[*record.Record]{ChunkSize: 3, Skip: batch.SkipPolicy{Limit: 1 << 40, Log: skips.log}})
		if ctx.Err() != nil {
			t.Fatalf("the read did not end: %v", err)
		}
		if err != nil {
			t.Fatalf("with every bad line skipped, the read failed: %v", err)
		}
		body := bytes.TrimPrefix(data, utf8BOM)
		lines := bytes.Split(body, []byte("\n"))
		nonBlank := 0
		for _, l := range lines {
			if len(bytes.TrimSpace(l)) > 0 {
				nonBlank++
			}
		}
		for _, sk := range skips.list {
			m := jsonlWhereRE.FindStringSubmatch(sk.Where)
			if m == nil {
				t.Fatalf("skipped line without its position: %q (%v)", sk.Where, sk.Err)
			}
			if n, _ := strconv.Atoi(m[1]); n < 1 || n > len(lines) {
				t.Fatalf("skipped line %s of a file of %d lines", sk.Where, len(lines))
			}
			if sk.Err == nil {
				t.Fatalf("skipped %s without an error", sk.Where)
			}
		}
		if int(cnt.Read)+len(skips.list) != nonBlank || cnt.Read != int64(len(sink.got)) || cnt.ReadSkip != int64(len(skips.list)) {
			t.Fatalf("%d non-blank lines, %d read (%d records), %d skipped (read_skip %d)",
				nonBlank, cnt.Read, len(sink.got), len(skips.list), cnt.ReadSkip)
		}
		if done, total := r.Size(); done != total {
			t.Fatalf("read %d of %d bytes", done, total)
		}
		var prevLine, prevOff int64 = 0, -1
		for _, rec := range sink.got {
			if rec.Line <= prevLine || rec.Offset <= prevOff || rec.Line > int64(len(lines)) || rec.Offset >= int64(len(data)) {
				t.Fatalf("record at line %d offset %d after line %d offset %d", rec.Line, rec.Offset, prevLine, prevOff)
			}
			if want := fmt.Sprintf("in.jsonl:%d", rec.Line); rec.Where() != want {
				t.Fatalf("record at %q, want %q", rec.Where(), want)
			}
			prevLine, prevOff = rec.Line, rec.Offset
			if len(rec.Values) != len(rec.Schema.Fields) {
				t.Fatalf("%s: %d values, %d fields", rec.Where(), len(rec.Values), len(rec.Schema.Fields))
			}
			out, err := record.AppendRecordJSON(nil, rec)
			if err != nil {
				t.Fatalf("%s: read, but cannot be written: %v", rec.Where(), err)
			}
			if !json.Valid(out) {
				t.Fatalf("%s written as %s: not JSON", rec.Where(), out)
			}
			back, err := record.DecodeJSON(out, &record.Schemas{})
			if err != nil || !slices.Equal(back.Schema.Names(), rec.Schema.Names()) {
				t.Fatalf("%s written as %s, read back as %v, %v", rec.Where(), out, back, err)
			}
		}
		// Resume at each record's position: the record is read again.
		for i, rec := range sink.got {
			if i > 3 {
				break
			}
			r2 := open()
			pos, _ := json.Marshal(filePosition{Offset: rec.Offset, Line: rec.Line})
			if err := r2.Seek(pos); err != nil {
				r2.Close()
				t.Fatalf("seek to %s (%s): %v", pos, rec.Where(), err)
			}
			c := &batch.Chunk{}
			got, err := r2.Load(c, 1)
			r2.Close()
			if err != nil || len(got) != 1 || got[0].Line != rec.Line || got[0].Offset != rec.Offset || !got[0].Equal(rec) {
				t.Fatalf("after seeking to %s: %v, %v; want the record of %s", pos, got, err, rec.Where())
			}
		}
	})
}
