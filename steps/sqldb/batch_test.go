package sqldb_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

// The test components: a reader of generated typed records, and
// processors that count, fail or change records.
func init() {
	batch.RegisterReader(&batch.ReaderType{
		Name: "test_gen",
		Attrs: []flow.Attr{
			{Name: "count", Type: cty.Number, Required: true},
			{Name: "dup_every", Type: cty.Number, Default: cty.NumberIntVal(0)},
		},
		New: func(c *batch.Config) (batch.Reader, error) {
			return &gen{n: int(c.Int("count")), dupEvery: int(c.Int("dup_every"))}, nil
		},
	})
	batch.RegisterWriter(&batch.WriterType{Name: "test_flaky",
		New: func(*batch.Config) (batch.Writer, error) { return flaky{}, nil }})
	batch.RegisterProcessor(&batch.ProcessorType{Name: "test_fail_first_batch",
		New: func(*batch.Config) (batch.RecordProcessor, error) { return &failFirstBatch{}, nil }})
	batch.RegisterFunc("test_count", "counts records", func(c *batch.Chunk, r *record.Record, emit func(*record.Record)) error {
		processed.Add(1)
		emit(r)
		return nil
	})
	batch.RegisterFunc("test_fail_once", "fails once at the record with id 37", func(c *batch.Chunk, r *record.Record, emit func(*record.Record)) error {
		if v, ok := r.Get("id"); ok {
			if i, _ := v.Int(); i == 37 && failOnce.CompareAndSwap(true, false) {
				return fmt.Errorf("failing once at id 37")
			}
		}
		emit(r)
		return nil
	})
	batch.RegisterFunc("test_double", "doubles amount and adds a field", func(c *batch.Chunk, r *record.Record, emit func(*record.Record)) error {
		out := record.New(doubled)
		for _, f := range r.Schema.Fields {
			v, _ := r.Get(f.Name)
			_ = out.Set(f.Name, v)
		}
		if v, ok := r.Get("amount"); ok && !v.IsNull() {
			u, s, _ := v.Decimal()
			_ = out.Set("amount", record.Dec(u*2, s))
		}
		_ = out.Set("source", record.Str("batch"))
		out.Source, out.Line = r.Source, r.Line
		emit(out)
		return nil
	})
}

// flaky is a writer that fails once, at the chunk with the record of id 17.
type flaky struct{}

func (flaky) Setup(*batch.Task) error { return nil }
func (flaky) Sync() error             { return nil }
func (flaky) Close() error            { return nil }
func (flaky) Consume(c *batch.Chunk, recs []*record.Record) error {
	for _, r := range recs {
		if v, _ := r.Get("id"); v.Text() == "17" && failOnce.CompareAndSwap(true, false) {
			return fmt.Errorf("flaky writer fails once")
		}
	}
	return nil
}

// failFirstBatch fails at the record of id 37 in the first batch run of
// the process (since batchRuns was reset), and never after.
type failFirstBatch struct{ first bool }

var batchRuns atomic.Int64

func (p *failFirstBatch) Setup(*batch.Task) error {
	p.first = batchRuns.Add(1) == 1
	return nil
}

func (p *failFirstBatch) Process(c *batch.Chunk, r *record.Record, emit func(*record.Record)) error {
	if v, _ := r.Get("id"); p.first && v.Text() == "37" {
		return fmt.Errorf("the first batch run fails at id 37")
	}
	emit(r)
	return nil
}

var (
	processed atomic.Int64
	failOnce  atomic.Bool
	doubled   = mustSchema("id", "grp", "amount", "source")
)

func mustSchema(names ...string) *record.Schema {
	s, err := record.Names(names...)
	if err != nil {
		panic(err)
	}
	return s
}

var genSchema, _ = record.NewSchema(
	record.Field{Name: "id", Kind: record.Int}, record.Field{Name: "amount", Kind: record.Decimal},
	record.Field{Name: "name", Kind: record.String}, record.Field{Name: "ok", Kind: record.Bool},
	record.Field{Name: "at", Kind: record.Time}, record.Field{Name: "note", Kind: record.String})

// gen generates records 1..n with one field of every kind; with dupEvery,
// every dupEvery-th record repeats the id before it (for upserts).
type gen struct {
	mu       sync.Mutex
	next, n  int
	dupEvery int
}

func genRecord(i, id int) *record.Record {
	r := record.New(genSchema)
	r.Values[0] = record.IntVal(int64(id))
	r.Values[1] = record.Dec(int64(i)*125-500, 2) // exact: -3.75, -2.50, ...
	r.Values[2] = record.Str(fmt.Sprintf("it's %d é", i))
	r.Values[3] = record.BoolVal(i%2 == 0)
	r.Values[4] = record.TimeVal(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour))
	if i%3 != 0 {
		r.Values[5] = record.Str("n" + strconv.Itoa(i))
	}
	r.Source, r.Line = "gen", int64(i)
	return r
}

func (g *gen) Load(c *batch.Chunk, max int) ([]*record.Record, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []*record.Record
	for len(out) < max && g.next < g.n {
		g.next++
		id := g.next
		if g.dupEvery > 0 && g.next%g.dupEvery == 0 {
			id--
		}
		out = append(out, genRecord(g.next, id))
	}
	return out, nil
}

func (g *gen) Position() ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return []byte(strconv.Itoa(g.next)), nil
}

func (g *gen) Seek(p []byte) error {
	n, err := strconv.Atoi(string(p))
	g.mu.Lock()
	g.next = n
	g.mu.Unlock()
	return err
}

// genDDL is a table for gen's records.
func genDDL(driver, table, extra string) string {
	switch driver {
	case "postgres":
		return "CREATE TABLE " + table + " (id BIGINT" + extra + ", amount NUMERIC(14,2), name TEXT, ok BOOLEAN, at TIMESTAMP, note TEXT)"
	case "mysql":
		return "CREATE TABLE " + table + " (id BIGINT" + extra + ", amount DECIMAL(14,2), name VARCHAR(100), ok BOOLEAN, at DATETIME(6), note VARCHAR(100))"
	}
	return "CREATE TABLE " + table + " (id INTEGER" + extra + ", amount DECIMAL(14,2), name TEXT, ok BOOLEAN, at TIMESTAMP, note TEXT)"
}

// wantRow is gen's record i (with id) as a sql step's query shows it.
func wantRow(driver string, i, id int) string {
	r := genRecord(i, id)
	ok := "false"
	if b, _ := r.Values[3].Bool(); b {
		ok = "true"
	}
	if driver == "mysql" {
		ok = map[string]string{"true": "1", "false": "0"}[ok]
	}
	amount := strings.TrimRight(strings.TrimRight(r.Values[1].Text(), "0"), ".")
	if amount == "" || amount == "-" {
		amount = "0"
	}
	note := "null"
	if !r.Values[5].IsNull() {
		note = `"` + r.Values[5].Str() + `"`
	}
	return fmt.Sprintf(`{"amount":%s,"at":%q,"id":%d,"name":%q,"note":%s,"ok":%s}`, amount, r.Values[4].Text(), id, r.Values[2].Str(), note, ok)
}

func TestWriterInsertTypes(t *testing.T) {
	eachDB(t, func(t *testing.T, db *testDB) {
		db.exec(t, genDDL(db.driver, "dst", " PRIMARY KEY"))
		res := db.mustRun(t, `
  batch "load" {
    chunk_size = 4
    reader "test_gen" { count = 10 }
    writer "sql" {
      datasource = "db"
      table      = "dst"
    }
  }
  sql "q" {
    datasource = "db"
    query = "SELECT id, amount, name, ok, at, note FROM dst ORDER BY id"
  }
  output "rows" { value = jsonencode(step.q.rows) }
  output "written" { value = step.load.write_count }`, nil)
		var want []string
		for i := 1; i <= 10; i++ {
			want = append(want, wantRow(db.driver, i, i))
		}
		if got := jsonOutput(t, res, "rows"); got != "["+strings.Join(want, ",")+"]" {
			t.Errorf("rows:\n got %s\nwant %s", got, "["+strings.Join(want, ",")+"]")
		}
		// A finished step leaves no markers.
		if n := db.count(t, "flowbatch_chunks"); n != 0 {
			t.Errorf("%d chunk markers left", n)
		}
	})
}

func TestWriterUpsertAndUpdate(t *testing.T) {
	eachDB(t, func(t *testing.T, db *testDB) {
		db.exec(t, genDDL(db.driver, "dst", " PRIMARY KEY"),
			"INSERT INTO dst (id, name) VALUES (2, 'old two')",
			"INSERT INTO dst (id, name) VALUES (50, 'untouched')")
		// Records 1..9; every third repeats the id before it (3→2, 6→5,
		// 9→8): the later one wins, inside a chunk and across chunks.
		res := db.mustRun(t, `
  batch "up" {
    chunk_size = 4
    reader "test_gen" {
      count     = 9
      dup_every = 3
    }
    writer "sql" {
      datasource = "db"
      table      = "dst"
      mode       = "upsert"
      key        = ["id"]
    }
  }
  output "rollbacks" { value = step.up.rollback_count }`, nil)
		if got := outputString(res, "rollbacks"); got != "0" {
			t.Errorf("%s chunk rollbacks, want 0: an upsert of one key twice in a chunk must work whole", got)
		}
		q := "SELECT id FROM dst ORDER BY id"
		if got := fmt.Sprint(db.ints(t, q)); got != "[1 2 4 5 7 8 50]" {
			t.Errorf("ids after upsert: %s", got)
		}
		var name string
		if err := db.db.QueryRow("SELECT name FROM dst WHERE id = 2").Scan(&name); err != nil || name != "it's 3 é" {
			t.Errorf("row 2 after upsert: %q %v, want the last record's", name, err)
		}
		// update: only name and ok, by the mapping; a missing row fails.
		res, _ = db.run(t, `
  batch "upd" {
    chunk_size = 4
    reader "test_gen" { count = 9 }
    writer "sql" {
      datasource = "db"
      table      = "dst"
      mode       = "update"
      key        = ["id"]
      columns    = { id = "id", name = "name" }
    }
  }`, nil)
		if res.Status != flow.Failed || !strings.Contains(res.Err.Error(), "no row with id=3") || !strings.Contains(res.Err.Error(), "gen:3") {
			t.Fatalf("update of a missing row: %s %v", res.Status, res.Err)
		}
		// With a skip limit, the missing rows are skipped and the rest
		// updated.
		res, _ = db.run(t, `
  batch "upd" {
    chunk_size = 4
    reader "test_gen" { count = 9 }
    writer "sql" {
      datasource = "db"
      table      = "dst"
      mode       = "update"
      key        = ["id"]
      columns    = ["id", "name"]
    }
    skip {
      limit = 5
      log   = "skipped.jsonl"
    }
  }
  output "skips" { value = step.upd.write_skip_count }`, nil)
		if res.Status != flow.Completed {
			t.Fatalf("update with skips: %s %v", res.Status, res.Err)
		}
		if got := outputString(res, "skips"); got != "3" {
			t.Errorf("write skips %s, want 3 (ids 3, 6, 9)", got)
		}
		if err := db.db.QueryRow("SELECT name FROM dst WHERE id = 2").Scan(&name); err != nil || name != "it's 2 é" {
			t.Errorf("row 2 after update: %q %v", name, err)
		}
	})
}

func outputString(res *flow.Result, name string) string {
	v, ok := res.Outputs[name]
	if !ok {
		return "<missing>"
	}
	return strings.TrimSpace(flow.FormatValue(v))
}

// SQL to SQL: keyset pages of a composite key, typed records through a
// processor, a column mapping.
func TestReaderToWriter(t *testing.T) {
	eachDB(t, func(t *testing.T, db *testDB) {
		db.exec(t, "CREATE TABLE src (grp INT NOT NULL, id INT NOT NULL, amount DECIMAL(12,2), PRIMARY KEY (grp, id))",
			"CREATE TABLE dst (grp INT, ident INT, amount DECIMAL(12,2), origin VARCHAR(20))")
		var vals []string
		for i := 0; i < 53; i++ {
			vals = append(vals, fmt.Sprintf("(%d, %d, %d.%02d)", i%4, 100-i, i, i))
		}
		db.exec(t, "INSERT INTO src (grp, id, amount) VALUES "+strings.Join(vals, ", "))
		before := processed.Load()
		res := db.mustRun(t, `
  batch "copy" {
    chunk_size = 5
    reader "sql" {
      datasource = "db"
      query      = "SELECT grp, id, amount FROM src WHERE id > `+db.param(1)+`"
      args       = [0]
      key        = ["grp", "id"]
    }
    processor "test_count" {}
    processor "test_double" {}
    writer "sql" {
      datasource = "db"
      table      = "dst"
      columns    = { grp = "grp", id = "ident", amount = "amount", source = "origin" }
    }
  }
  output "read" { value = step.copy.read_count }`, nil)
		if got := outputString(res, "read"); got != "53" {
			t.Errorf("read_count %s", got)
		}
		if n := processed.Load() - before; n != 53 {
			t.Errorf("%d records processed, want 53", n)
		}
		if n := db.count(t, "dst"); n != 53 {
			t.Errorf("%d rows written, want 53", n)
		}
		// amount doubled exactly (decimal), origin set.
		if n := db.count(t, "dst d JOIN src s ON s.grp = d.grp AND s.id = d.ident WHERE d.amount = 2 * s.amount AND d.origin = 'batch'"); n != 53 {
			t.Errorf("%d rows carry the doubled amount, want 53", n)
		}
	})
}

// A key that is not unique is an error, not a silently skipped row.
func TestReaderKeyNotUnique(t *testing.T) {
	eachDB(t, func(t *testing.T, db *testDB) {
		db.exec(t, "CREATE TABLE src (id INT, v INT)", "INSERT INTO src VALUES (1, 1), (2, 2), (2, 3), (3, 4)")
		res, _ := db.run(t, `
  batch "copy" {
    chunk_size = 10
    reader "sql" {
      datasource = "db"
      query      = "SELECT id, v FROM src"
    }
    writer "sql" {
      datasource = "db"
      table      = "src"
    }
  }`, nil)
		if res.Status != flow.Failed || !strings.Contains(res.Err.Error(), "key id=2 appears twice") || !strings.Contains(res.Err.Error(), "db:3") {
			t.Fatalf("status %s: %v", res.Status, res.Err)
		}
	})
}

// partitions split the key range: the parts are disjoint and cover every
// row, also the rows beyond the range measured (the open ends).
func TestReaderPartitions(t *testing.T) {
	eachDB(t, func(t *testing.T, db *testDB) {
		db.exec(t, "CREATE TABLE src (id INT PRIMARY KEY, v INT)",
			"CREATE TABLE dst (id INT, v INT, part INT)")
		var vals []string
		for i := 1; i <= 100; i++ {
			vals = append(vals, fmt.Sprintf("(%d, %d)", i*3, i))
		}
		db.exec(t, "INSERT INTO src VALUES "+strings.Join(vals, ", "))
		res := db.mustRun(t, `
  fork "parts" {
    for_each = [0, 1, 2, 3]
    batch "copy" {
      chunk_size = 7
      reader "sql" {
        datasource = "db"
        query      = "SELECT id, v, `+strconv.Itoa(0)+` + 0 AS part FROM src"
        partitions = 4
        partition  = each.value
        key_range  = [10, 250]
      }
      writer "sql" {
        datasource = "db"
        table      = "dst"
      }
    }
  }
  output "reads" { value = jsonencode([for r in step.parts.results : r.copy.read_count]) }`, nil)
		if n := db.count(t, "dst"); n != 100 {
			t.Errorf("%d rows, want 100", n)
		}
		if n := db.count(t, "(SELECT DISTINCT id FROM dst) d"); n != 100 {
			t.Errorf("%d distinct ids, want 100", n)
		}
		// [10, 250] in 4: <70, [70, 130), [130, 190), >= 190.
		if got := jsonOutput(t, res, "reads"); got != "[23,20,20,37]" {
			t.Errorf("rows per partition %s", got)
		}
	})
}

// progressOf decodes the commit count of a batch checkpoint in a step's
// journaled progress.
func progressOf(st flow.StepState) (commits int64, ok bool) {
	var p struct {
		Checkpoint *batch.Checkpoint `json:"checkpoint"`
	}
	if len(st.Progress) == 0 || json.Unmarshal(st.Progress, &p) != nil || p.Checkpoint == nil {
		return 0, false
	}
	return p.Checkpoint.Counters.Commit, true
}

// With transaction_scope "chunk" and the reader on the writer's
// datasource, a chunk is read, processed and written in one transaction
// (PostgreSQL shows it: the reader's txid_current() is the writer's).
func TestReadInChunkTransaction(t *testing.T) {
	db := openDB(t, "postgres")
	db.exec(t, "CREATE TABLE src (id INT PRIMARY KEY)",
		"INSERT INTO src SELECT generate_series(1, 25)",
		"CREATE TABLE dst (id INT, read_tx BIGINT, write_tx BIGINT DEFAULT txid_current())")
	for _, tc := range []struct {
		attrs string
		same  bool
	}{{`transaction_scope = "chunk"`, true}, {`transaction_scope = "consume"`, false}, {`concurrency = 2`, false}} {
		db.exec(t, "DELETE FROM dst")
		db.mustRun(t, `
  batch "copy" {
    chunk_size = 10
    `+tc.attrs+`
    reader "sql" {
      datasource = "db"
      query      = "SELECT id, txid_current() AS read_tx FROM src"
    }
    writer "sql" {
      datasource = "db"
      table      = "dst"
    }
  }`, nil)
		same := db.count(t, "dst WHERE read_tx = write_tx")
		if tc.same && same != 25 {
			t.Errorf("%s: %d of 25 rows read in the transaction that wrote them", tc.attrs, same)
		}
		if !tc.same && same != 0 {
			t.Errorf("%s: %d rows read in the writing transaction, want none", tc.attrs, same)
		}
		if n := db.count(t, "(SELECT DISTINCT write_tx FROM dst) d"); n != 3 {
			t.Errorf("%s: %d write transactions, want 3 (one per chunk)", tc.attrs, n)
		}
	}
}

// An in-memory SQLite database is one connection for the whole run.
func TestSQLiteMemory(t *testing.T) {
	f := flowtestLoad(t, `flow "m" {
  datasource "mem" { dsn = ":memory:" }
  sql "schema" {
    datasource = "mem"
    statements = ["CREATE TABLE src (id INTEGER PRIMARY KEY, v TEXT)", "INSERT INTO src VALUES (1, 'a'), (2, 'b'), (3, 'c')", "CREATE TABLE dst (id INTEGER, v TEXT)"]
  }
  batch "copy" {
    chunk_size  = 2
    concurrency = 2
    reader "sql" {
      datasource = "mem"
      query      = "SELECT id, v FROM src"
    }
    writer "sql" {
      datasource = "mem"
      table      = "dst"
    }
  }
  sql "q" {
    datasource = "mem"
    query      = "SELECT group_concat(v, '') AS vs FROM (SELECT v FROM dst ORDER BY id)"
  }
  output "vs" { value = step.q.rows[0].vs }
}`)
	res, _ := flowtestRun(t, f)
	if res.Status != flow.Completed {
		t.Fatalf("%s: %v", res.Status, res.Err)
	}
	if got := outputString(res, "vs"); got != `"abc"` {
		t.Errorf("dst holds %s", got)
	}
}

// A value that does not fit its column's type is a read error, with the
// row's position, which the skip policy may skip.
func TestReaderBadValue(t *testing.T) {
	db := openDB(t, "sqlite")
	db.exec(t, "CREATE TABLE src (id INTEGER PRIMARY KEY, n INT)", "INSERT INTO src VALUES (1, 10), (2, 'abc'), (3, 30)",
		"CREATE TABLE dst (id INTEGER, n INT)")
	body := func(skip string) string {
		return `
  batch "copy" {
    chunk_size = 2
    reader "sql" {
      datasource = "db"
      query      = "SELECT id, n FROM src"
    }
    writer "sql" {
      datasource = "db"
      table      = "dst"
    }
    ` + skip + `
  }`
	}
	res, _ := db.run(t, body(""), nil)
	if res.Status != flow.Failed || !strings.Contains(res.Err.Error(), "db:2") || !strings.Contains(res.Err.Error(), `invalid int "abc"`) {
		t.Fatalf("%s: %v", res.Status, res.Err)
	}
	res = db.mustRun(t, body(`skip {
      limit = 1
      on    = ["read"]
    }`)+`
  output "skips" { value = step.copy.read_skip_count }`, nil)
	if got := outputString(res, "skips"); got != "1" {
		t.Errorf("read_skip_count %s", got)
	}
	if got := fmt.Sprint(db.ints(t, "SELECT id FROM dst ORDER BY id")); got != "[1 3]" {
		t.Errorf("dst ids %s", got)
	}
}
