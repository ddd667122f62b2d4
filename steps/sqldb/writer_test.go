package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
	"github.com/flowbatch/flow/steps/sqldb"
)

func init() {
	batch.RegisterReader(&batch.ReaderType{
		Name:  "test_kinds",
		Attrs: []flow.Attr{{Name: "count", Type: cty.Number, Required: true}},
		New: func(c *batch.Config) (batch.Reader, error) {
			return &kindsGen{n: int(c.Int("count"))}, nil
		},
	})
}

// kindsSchema has a field of every kind for each column type the COPY
// path takes it to; the field is named after the column.
var kindsSchema = mustSchema("id",
	"s_text", "s_varchar", "s_bpchar", "s_json", "s_jsonb",
	"i_int2", "i_int4", "i_int8", "i_numeric", "i_float8",
	"d_numeric", "d_numeric2", "d_text", "d_varchar",
	"f_float4", "f_float8", "f_numeric",
	"b_bool", "t_ts", "t_tstz", "t_date",
	"l_jsonb", "m_json", "m_text")

const kindsDDL = `(id BIGINT PRIMARY KEY,
	s_text TEXT, s_varchar VARCHAR(200), s_bpchar CHAR(12), s_json JSON, s_jsonb JSONB,
	i_int2 SMALLINT, i_int4 INTEGER, i_int8 BIGINT, i_numeric NUMERIC, i_float8 DOUBLE PRECISION,
	d_numeric NUMERIC, d_numeric2 NUMERIC(14,2), d_text TEXT, d_varchar VARCHAR(40),
	f_float4 REAL, f_float8 DOUBLE PRECISION, f_numeric NUMERIC,
	b_bool BOOLEAN, t_ts TIMESTAMP, t_tstz TIMESTAMPTZ, t_date DATE,
	l_jsonb JSONB, m_json JSON, m_text TEXT)`

var pairSchema = mustSchema("k", "n")

// kindsRecord is record i of test_kinds: every ninth is null but for its
// id.
func kindsRecord(i int) *record.Record {
	r := record.New(kindsSchema)
	set := func(name string, v record.Value) {
		if err := r.Set(name, v); err != nil {
			panic(err)
		}
	}
	set("id", record.IntVal(int64(i)))
	r.Source, r.Line = "kinds", int64(i)
	if i%9 == 0 {
		return r
	}
	s := fmt.Sprintf("it's \"%d\" \\ é\t\n ✓", i)
	set("s_text", record.Str(s))
	set("s_varchar", record.Str(s))
	set("s_bpchar", record.Str(fmt.Sprintf("c%d", i)))
	set("s_json", record.Str(fmt.Sprintf(`{"n": %d,  "s": "x\u00e9"}`, i)))
	set("s_jsonb", record.Str(fmt.Sprintf(`{"n": %d,  "s": "x\u00e9"}`, i)))
	set("i_int2", record.IntVal(int64(i*7-100)))
	set("i_int4", record.IntVal(int64(i)*1_000_003-20_000_000))
	set("i_int8", record.IntVal(1<<62-int64(i)*1_000_000_007))
	set("i_numeric", record.IntVal(-(1<<62)+int64(i)))
	set("i_float8", record.IntVal(1<<53+int64(i))) // odd ones round
	set("d_numeric", record.Dec(int64(i)*123457-2_000_000, int32(i%5)))
	set("d_numeric2", record.Dec(int64(i)*1005*int64(1-2*(i%2)), 3)) // rounds half away from zero
	set("d_text", record.Dec(int64(i)*125, 2))
	set("d_varchar", record.Dec(-int64(i), 4))
	set("f_float4", record.FloatVal(float64(i)*0.1))
	f8 := 1e-5 / float64(i)
	if i == 5 {
		f8 = math.NaN()
	}
	set("f_float8", record.FloatVal(f8))
	set("f_numeric", record.FloatVal(float64(i)*1.5e10+0.25))
	set("b_bool", record.BoolVal(i%2 == 0))
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Hour + time.Duration(i)*1234567*time.Nanosecond)
	if i == 3 {
		at = time.Date(1969, 7, 20, 20, 17, 40, 123456789, time.UTC)
	}
	set("t_ts", record.TimeVal(at))
	set("t_tstz", record.TimeVal(at))
	set("t_date", record.TimeVal(at))
	set("l_jsonb", record.ListVal([]record.Value{record.IntVal(int64(i)), record.Str(`a"b`), record.Dec(150, 2)}))
	m := record.New(pairSchema)
	m.Values[0], m.Values[1] = record.Str("ké"), record.IntVal(int64(i))
	set("m_json", record.MapVal(m))
	set("m_text", record.MapVal(m))
	return r
}

type kindsGen struct {
	mu      sync.Mutex
	next, n int
}

func (g *kindsGen) Load(c *batch.Chunk, max int) ([]*record.Record, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []*record.Record
	for len(out) < max && g.next < g.n {
		g.next++
		out = append(out, kindsRecord(g.next))
	}
	return out, nil
}

func (g *kindsGen) Position() ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return fmt.Appendf(nil, "%d", g.next), nil
}

func (g *kindsGen) Seek(p []byte) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, err := fmt.Sscanf(string(p), "%d", &g.next)
	return err
}

// On PostgreSQL, mode insert writes with COPY: every value must come out
// as the INSERT of mode upsert writes it (exact decimals, rounding of a
// narrower numeric, timestamps to the microsecond, nulls, JSON), and the
// statements must be the ones expected.
func TestWriterCopyMatchesInsert(t *testing.T) {
	db := openDB(t, sqldb.Postgres)
	db.exec(t, "CREATE TABLE cp "+kindsDDL, "CREATE TABLE ins "+kindsDDL,
		"CREATE TABLE cmdlog (tbl TEXT, cmd TEXT)",
		`CREATE FUNCTION logcmd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO cmdlog VALUES (TG_TABLE_NAME, lower(split_part(ltrim(current_query()), ' ', 1)));
	RETURN NULL;
END $$`,
		"CREATE TRIGGER cp_log AFTER INSERT ON cp FOR EACH STATEMENT EXECUTE FUNCTION logcmd()",
		"CREATE TRIGGER ins_log AFTER INSERT ON ins FOR EACH STATEMENT EXECUTE FUNCTION logcmd()")
	const n = 40
	db.mustRun(t, fmt.Sprintf(`
  batch "load" {
    chunk_size = 7
    reader "test_kinds" { count = %d }
    writer "sql" "cp" {
      datasource = "db"
      table      = "cp"
    }
    writer "sql" "ins" {
      datasource = "db"
      table      = "ins"
      mode       = "upsert"
      key        = ["id"]
    }
  }`, n), nil)
	if got := db.count(t, "cp"); got != n {
		t.Fatalf("%d rows copied, want %d", got, n)
	}
	rows, err := db.db.Query(`SELECT cp.id, row_to_json(cp)::text, row_to_json(ins)::text FROM cp FULL JOIN ins USING (id)
WHERE row_to_json(cp)::text IS DISTINCT FROM row_to_json(ins)::text ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int
		var a, b string
		if err := rows.Scan(&id, &a, &b); err != nil {
			t.Fatal(err)
		}
		t.Errorf("record %d differs:\n COPY   %s\n INSERT %s", id, a, b)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var cmds []string
	crows, err := db.db.Query("SELECT DISTINCT tbl || ' ' || cmd FROM cmdlog ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	defer crows.Close()
	for crows.Next() {
		var s string
		if err := crows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, s)
	}
	if got := strings.Join(cmds, ", "); got != "cp copy, ins insert" {
		t.Errorf("statements: %s, want cp copy, ins insert", got)
	}
	// And the values are the records', not only the same both ways.
	var d, d2, ts, tstz, date, s string
	var nulls int
	err = db.db.QueryRow("SELECT d_numeric::text, d_numeric2::text, t_ts::text, t_tstz AT TIME ZONE 'UTC' || '', t_date::text, s_text FROM cp WHERE id = 3").
		Scan(&d, &d2, &ts, &tstz, &date, &s)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"-1629.629", "-3.02", "1969-07-20 20:17:40.123456", "1969-07-20 20:17:40.123456", "1969-07-20", "it's \"3\" \\ é\t\n ✓"}
	if got := []string{d, d2, ts, tstz, date, s}; fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
		t.Errorf("record 3 copied as %q, want %q", got, want)
	}
	if err := db.db.QueryRow("SELECT count(*) FROM cp WHERE id % 9 = 0 AND s_text IS NULL AND d_numeric IS NULL AND t_ts IS NULL AND m_json IS NULL").Scan(&nulls); err != nil || nulls != n/9 {
		t.Errorf("%d rows of nulls, want %d (%v)", nulls, n/9, err)
	}
}

// COPY only where it does what the INSERT does: a view, a table with a
// rule (COPY ignores rules), one with row-level security, a domain, a
// string for a timestamp (the server parses it, pgx would not) take the
// INSERT; a plain or partitioned table of the usual types the COPY.
func TestWriterCopyFallback(t *testing.T) {
	db := openDB(t, sqldb.Postgres)
	cols := "(id BIGINT, amount NUMERIC(14,2), name TEXT, ok BOOLEAN, at TIMESTAMP, note TEXT)"
	db.exec(t, "CREATE TABLE base "+cols, "CREATE TABLE vbase "+cols, "CREATE VIEW v AS SELECT * FROM vbase",
		"CREATE TABLE ruled "+cols, "CREATE TABLE audit (id BIGINT)",
		"CREATE RULE ruled_audit AS ON INSERT TO ruled DO ALSO INSERT INTO audit VALUES (NEW.id)",
		"CREATE TABLE rls "+cols, "ALTER TABLE rls ENABLE ROW LEVEL SECURITY",
		"CREATE DOMAIN positive AS BIGINT CHECK (VALUE > 0)",
		"CREATE TABLE dom (id positive, amount NUMERIC(14,2), name TEXT, ok BOOLEAN, at TIMESTAMP, note TEXT)",
		"CREATE TABLE parted "+strings.TrimSuffix(cols, ")")+") PARTITION BY RANGE (id)",
		"CREATE TABLE parted_low PARTITION OF parted FOR VALUES FROM (MINVALUE) TO (5)",
		"CREATE TABLE parted_high PARTITION OF parted FOR VALUES FROM (5) TO (MAXVALUE)",
		"CREATE TABLE stamps (id BIGINT, at TIMESTAMPTZ)",
		"CREATE TABLE ident (id BIGINT GENERATED ALWAYS AS IDENTITY, amount NUMERIC(14,2), name TEXT, ok BOOLEAN, at TIMESTAMP, note TEXT)")
	ctx := context.Background()
	genKinds := []record.Kind{record.Int, record.Decimal, record.String, record.Bool, record.Time, record.String}
	genCols := []string{"id", "amount", "name", "ok", "at", "note"}
	for _, tc := range []struct {
		table  string
		copies bool
	}{
		{"base", true}, {"parted", true}, {"v", false}, {"ruled", false}, {"rls", false}, {"dom", false}, {"missing", false},
	} {
		t.Run(tc.table, func(t *testing.T) {
			cw, err := sqldb.NewChunkWriter(ctx, db.ds, tc.table, sqldb.ModeInsert)
			if err != nil {
				t.Fatal(err)
			}
			if got := cw.Copies(genCols, genKinds); got != tc.copies {
				t.Fatalf("copies %v, want %v", got, tc.copies)
			}
			if tc.table == "missing" {
				return
			}
			var recs []*record.Record
			var seqs []int64
			for i := 1; i <= 9; i++ {
				recs = append(recs, genRecord(i, i))
				seqs = append(seqs, int64(i-1))
			}
			if err := cw.WriteChunk(ctx, seqs, recs, false); err != nil {
				t.Fatal(err)
			}
			from := tc.table
			if tc.table == "v" {
				from = "vbase"
			}
			var want []string
			for i := 1; i <= 9; i++ {
				want = append(want, wantRow(db.driver, i, i))
			}
			res := db.mustRun(t, `
  sql "q" {
    datasource = "db"
    query = "SELECT id, amount, name, ok, at, note FROM `+from+` ORDER BY id"
  }
  output "rows" { value = jsonencode(step.q.rows) }`, nil)
			if got := jsonOutput(t, res, "rows"); got != "["+strings.Join(want, ",")+"]" {
				t.Errorf("rows:\n got %s\nwant %s", got, "["+strings.Join(want, ",")+"]")
			}
			if tc.table == "ruled" {
				if n := db.count(t, "audit"); n != 9 {
					t.Errorf("the rule saw %d rows, want 9", n)
				}
			}
		})
	}
	t.Run("identity always", func(t *testing.T) {
		cw, err := sqldb.NewChunkWriter(ctx, db.ds, "ident", sqldb.ModeInsert)
		if err != nil {
			t.Fatal(err)
		}
		if cw.Copies(genCols, genKinds) {
			t.Fatal("a value for a GENERATED ALWAYS column would be copied")
		}
		if !cw.Copies(genCols[1:], genKinds[1:]) {
			t.Fatal("the other columns would not be copied")
		}
		seqs, recs := genChunk(1, 3, same)
		if err := cw.WriteChunk(ctx, seqs, recs, false); err == nil || !strings.Contains(err.Error(), "non-DEFAULT value") {
			t.Fatalf("error %v, want the INSERT's refusal", err)
		}
	})
	t.Run("string to timestamptz", func(t *testing.T) {
		cw, err := sqldb.NewChunkWriter(ctx, db.ds, "stamps", sqldb.ModeInsert)
		if err != nil {
			t.Fatal(err)
		}
		if cw.Copies([]string{"id", "at"}, []record.Kind{record.Int, record.String}) {
			t.Fatal("a string for a timestamptz column would be copied")
		}
		if !cw.Copies([]string{"id", "at"}, []record.Kind{record.Int, record.Time}) {
			t.Fatal("a timestamp for a timestamptz column would not be copied")
		}
		r := record.New(mustSchema("id", "at"))
		r.Values[0], r.Values[1] = record.IntVal(1), record.Str("2026-11-20T10:00:00+01:00")
		if err := cw.WriteChunk(ctx, []int64{0}, []*record.Record{r}, false); err != nil {
			t.Fatal(err)
		}
		var at time.Time
		if err := db.db.QueryRow("SELECT at FROM stamps").Scan(&at); err != nil || !at.Equal(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)) {
			t.Errorf("at %v %v, want 09:00 UTC", at, err)
		}
	})
}

// genChunk is gen's records from..to (ids as given by id), and their item
// numbers.
func genChunk(from, to int, id func(i int) int) ([]int64, []*record.Record) {
	var seqs []int64
	var recs []*record.Record
	for i := from; i <= to; i++ {
		seqs = append(seqs, int64(i-1))
		recs = append(recs, genRecord(i, id(i)))
	}
	return seqs, recs
}

func same(i int) int { return i }

// oneConn opens the test's database again with a single connection, so
// that what the connection keeps can be looked at between chunks.
func oneConn(t *testing.T, db *testDB) *sqldb.Datasource {
	t.Helper()
	ds, err := sqldb.OpenDSN("one", db.driver, db.dsn, db.dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ds.Close() })
	return ds
}

func keptIDs(t *testing.T, ds *sqldb.Datasource) map[string]string {
	t.Helper()
	kept, err := sqldb.KeptStatements(context.Background(), ds)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, s := range kept {
		m[s.Query] = s.ID
	}
	return m
}

// SQLite and MySQL connections keep the writer's statements: the chunks
// after the first prepare nothing. 300 rows are one statement in MySQL,
// 256 + 32 + 8 + 4 in SQLite; the marker is one more.
func TestWriterKeepsStatements(t *testing.T) {
	for _, d := range []string{sqldb.SQLite, sqldb.MySQL} {
		t.Run(d, func(t *testing.T) {
			db := openDB(t, d)
			db.exec(t, genDDL(d, "dst", ""))
			ds := oneConn(t, db)
			ctx := context.Background()
			cw, err := sqldb.NewChunkWriter(ctx, ds, "dst", sqldb.ModeInsert)
			if err != nil {
				t.Fatal(err)
			}
			var first map[string]string
			for c := 0; c < 3; c++ {
				seqs, recs := genChunk(c*300+1, c*300+300, same)
				if err := cw.WriteChunk(ctx, seqs, recs, false); err != nil {
					t.Fatal(err)
				}
				kept := keptIDs(t, ds)
				if c == 0 {
					first = kept
					want := map[string]int{sqldb.SQLite: 5, sqldb.MySQL: 2}[d]
					if len(kept) != want {
						t.Fatalf("%d statements kept, want %d", len(kept), want)
					}
					continue
				}
				if fmt.Sprint(kept) != fmt.Sprint(first) {
					t.Errorf("chunk %d: statements %v, want the first chunk's %v", c+1, kept, first)
				}
			}
			if n, dn := db.count(t, "dst"), db.count(t, "(SELECT DISTINCT id FROM dst) d"); n != 900 || dn != 900 {
				t.Errorf("%d rows, %d distinct, want 900", n, dn)
			}
		})
	}
}

// A statement that fails is dropped: the next chunk prepares it again,
// and its rows go in. The error names the records of the statement (of
// the COPY line in PostgreSQL).
func TestWriterStatementAfterError(t *testing.T) {
	for _, tc := range []struct {
		driver string
		noCopy bool
		where  string // in the error
	}{
		{sqldb.SQLite, false, "records gen:589 to gen:596"}, // the 8-row statement of 256 + 32 + 8 + 4
		{sqldb.MySQL, false, "records gen:301 to gen:600"},
		{sqldb.Postgres, false, "records gen:590"},
		{sqldb.Postgres, true, "records gen:589 to gen:596"},
	} {
		name := tc.driver
		if tc.noCopy {
			name += "/insert"
		}
		t.Run(name, func(t *testing.T) {
			db := openDB(t, tc.driver)
			db.exec(t, genDDL(tc.driver, "dst", " PRIMARY KEY"))
			ds := oneConn(t, db)
			ctx := context.Background()
			cw, err := sqldb.NewChunkWriter(ctx, ds, "dst", sqldb.ModeInsert)
			if err != nil {
				t.Fatal(err)
			}
			if tc.noCopy {
				cw.NoCopy()
			}
			seqs, recs := genChunk(1, 300, same)
			if err := cw.WriteChunk(ctx, seqs, recs, false); err != nil {
				t.Fatal(err)
			}
			before := keptIDs(t, ds)
			// Record 590 repeats id 5.
			seqs, recs = genChunk(301, 600, func(i int) int {
				if i == 590 {
					return 5
				}
				return i
			})
			err = cw.WriteChunk(ctx, seqs, recs, false)
			if err == nil || !strings.Contains(err.Error(), tc.where) {
				t.Fatalf("error %v, want one naming %s", err, tc.where)
			}
			failed := keptIDs(t, ds)
			dropped := 0
			for q, id := range before {
				if failed[q] != id {
					dropped++
				}
			}
			if want := map[bool]int{true: 1, false: 0}[len(before) > 0]; dropped != want || len(failed) != len(before)-want {
				t.Errorf("after the error %d of %d statements dropped (%d kept), want %d", dropped, len(before), len(failed), want)
			}
			seqs, recs = genChunk(301, 600, same)
			if err := cw.WriteChunk(ctx, seqs, recs, false); err != nil {
				t.Fatalf("the chunk again: %v", err)
			}
			if after := keptIDs(t, ds); len(after) != len(before) {
				t.Errorf("%d statements kept after the retry, want %d", len(after), len(before))
			}
			if n, dn := db.count(t, "dst"), db.count(t, "(SELECT DISTINCT id FROM dst) d"); n != 600 || dn != 600 {
				t.Errorf("%d rows, %d distinct, want 600", n, dn)
			}
		})
	}
}

// Once the chunk's transaction has ended (database/sql rolls it back when
// its context ends), the writer runs nothing on its connection: what it
// ran would commit on its own, without a marker.
func TestWriterAfterTransactionEnded(t *testing.T) {
	eachDB(t, func(t *testing.T, db *testDB) {
		db.exec(t, genDDL(db.driver, "dst", ""))
		ctx := context.Background()
		cw, err := sqldb.NewChunkWriter(ctx, db.ds, "dst", sqldb.ModeInsert)
		if err != nil {
			t.Fatal(err)
		}
		seqs, recs := genChunk(1, 10, same)
		// (database/sql keeps the connection, or closes it.)
		if err := cw.WriteChunk(ctx, seqs, recs, true); !errors.Is(err, context.Canceled) && !errors.Is(err, sql.ErrConnDone) {
			t.Fatalf("error %v, want context.Canceled or sql.ErrConnDone", err)
		}
		if n := db.count(t, "dst"); n != 0 {
			t.Errorf("%d rows written outside the transaction", n)
		}
		if err := cw.WriteChunk(ctx, seqs, recs, false); err != nil {
			t.Fatal(err)
		}
		if n := db.count(t, "dst"); n != 10 {
			t.Errorf("%d rows, want 10", n)
		}
	})
}

// Chunks whose size is no multiple of a statement's rows: 2,300 records
// in chunks of 1,000 (1,000 rows are 256 × 3 + 128 + 64 + 32 + 8 in
// SQLite, 512 + 256 + ... in PostgreSQL without COPY, one statement in
// MySQL; 300 are 256 + 32 + 8 + 4).
func TestWriterChunkPieces(t *testing.T) {
	eachDB(t, func(t *testing.T, db *testDB) {
		db.exec(t, genDDL(db.driver, "dst", " PRIMARY KEY"), genDDL(db.driver, "up", " PRIMARY KEY"))
		res := db.mustRun(t, `
  batch "load" {
    chunk_size = 1000
    reader "test_gen" { count = 2300 }
    writer "sql" "ins" {
      datasource = "db"
      table      = "dst"
    }
    writer "sql" "up" {
      datasource = "db"
      table      = "up"
      mode       = "upsert"
      key        = ["id"]
    }
  }
  sql "q" {
    datasource = "db"
    query = "SELECT id, amount, name, ok, at, note FROM dst WHERE id IN (1, 256, 257, 999, 1000, 1001, 2048, 2299, 2300) ORDER BY id"
  }
  output "rows" { value = jsonencode(step.q.rows) }`, nil)
		var want []string
		for _, i := range []int{1, 256, 257, 999, 1000, 1001, 2048, 2299, 2300} {
			want = append(want, wantRow(db.driver, i, i))
		}
		if got := jsonOutput(t, res, "rows"); got != "["+strings.Join(want, ",")+"]" {
			t.Errorf("rows:\n got %s\nwant %s", got, "["+strings.Join(want, ",")+"]")
		}
		for _, table := range []string{"dst", "up"} {
			var sum int64
			if err := db.db.QueryRow("SELECT SUM(id) FROM " + table).Scan(&sum); err != nil || sum != 2300*2301/2 {
				t.Errorf("%s: sum of ids %d %v, want %d", table, sum, err, 2300*2301/2)
			}
			if n := db.count(t, table); n != 2300 {
				t.Errorf("%s: %d rows, want 2300", table, n)
			}
		}
	})
}

// A chunk that fails on a row is retried item by item on the same
// connections: the bad record is skipped, every other one written once.
func TestWriterRetryAfterWriteError(t *testing.T) {
	eachDB(t, func(t *testing.T, db *testDB) {
		db.exec(t, genDDL(db.driver, "dst", " PRIMARY KEY"), "INSERT INTO dst (id, name) VALUES (5, 'there before')")
		res := db.mustRun(t, `
  batch "load" {
    chunk_size = 4
    reader "test_gen" { count = 10 }
    writer "sql" {
      datasource = "db"
      table      = "dst"
    }
    skip {
      limit = 1
      log   = "skipped.jsonl"
    }
  }
  output "skips" { value = step.load.write_skip_count }`, nil)
		if got := outputString(res, "skips"); got != "1" {
			t.Errorf("write skips %s, want 1", got)
		}
		if got := fmt.Sprint(db.ints(t, "SELECT id FROM dst ORDER BY id")); got != "[1 2 3 4 5 6 7 8 9 10]" {
			t.Errorf("ids %s", got)
		}
		var name string
		if err := db.db.QueryRow("SELECT name FROM dst WHERE id = 5").Scan(&name); err != nil || name != "there before" {
			t.Errorf("row 5: %q %v", name, err)
		}
	})
}
