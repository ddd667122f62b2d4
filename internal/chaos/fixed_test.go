package chaos_test

import (
	"bytes"
	"context"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowbatch/flow/internal/gen"
	"github.com/flowbatch/flow/store"
	"github.com/flowbatch/flow/store/bolt"
)

var (
	fixedKills   = flag.Int("chaos.fixed.kills", 4, "the least number of SIGKILLs TestFixedSQLChaos sends")
	fixedRecords = flag.Int("chaos.fixed.records", 50000, "how many records the input of TestFixedSQLChaos has")
)

// fixedChaosFlow loads a fixed-width bank file (gen.WriteFixed: header,
// body, trailer with count and sum) into a table through the standard
// transform: fixed reader, Go processor, SQL writer. Its params are those
// of sqlChaosFlow, so that sqlDriver runs it.
var fixedChaosFlow = strings.Replace(sqlChaosFlow, `    reader "csv" {
      path   = param.in
      schema = { id = "int", amount = "decimal" }
    }`, `    reader "fixed" {
      path = param.in
`+gen.FixedReaderModel+`
    }`, 1)

// TestFixedSQLChaos kills a batch step that loads a fixed-width file of
// 50k records into SQLite at random moments, runs it again until it
// completes, and checks that the table holds exactly the rows of an
// uninterrupted run: none missing, none twice (the table has no key). The
// reader checks the trailer's count and sum at the end of every run that
// completes, resumed ones included.
func TestFixedSQLChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a 50k-record batch")
	}
	s := *seed
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("reproduce with: go test ./internal/chaos -run 'TestFixedSQLChaos' -chaos.seed=%d -chaos.fixed.kills=%d -chaos.fixed.records=%d", s, *fixedKills, *fixedRecords)
		}
	})
	bin := flowxBin(t)
	base := t.TempDir()
	inSeed := int64(s % (1 << 31))
	in := filepath.Join(base, "in.dat")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := gen.WriteFixed(f, *fixedRecords, inSeed); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// The rows T makes of the same records, from their CSV form.
	var csvIn, want bytes.Buffer
	if err := gen.WriteCSV(&csvIn, *fixedRecords, inSeed); err != nil {
		t.Fatal(err)
	}
	if _, err := gen.Baseline(&csvIn, &want); err != nil {
		t.Fatal(err)
	}
	rows := bytes.Count(want.Bytes(), []byte("\n")) - 1
	flowFile := filepath.Join(base, "fixed.flow.hcl")
	if err := os.WriteFile(flowFile, []byte(fixedChaosFlow), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("input: %d records (seed %d), %d kept by the transform", *fixedRecords, inSeed, rows)

	db, dsn := chaosDB(t, "sqlite", base)
	d := &sqlDriver{bin: bin, flow: flowFile, in: in, driver: "sqlite", dsn: dsn, db: db, concurrency: 1}
	start := time.Now()
	if err := d.round(t, t.TempDir(), nil); err != nil {
		t.Fatalf("uninterrupted run: %v", err)
	}
	span := time.Since(start)
	if err := d.check(want.Bytes()); err != nil {
		t.Fatalf("uninterrupted run: %v", err)
	}
	t.Logf("uninterrupted run: %s", span.Round(time.Millisecond))

	rng := rand.New(rand.NewPCG(s, 4))
	var total struct{ rounds, kills, resumes, rows int }
	for total.kills < *fixedKills {
		if total.rounds > 3*(*fixedKills)+5 {
			t.Fatalf("only %d kills landed in %d rounds", total.kills, total.rounds)
		}
		total.rounds++
		var delays []time.Duration
		for range 1 + rng.IntN(3) {
			delays = append(delays, time.Duration(rng.Int64N(int64(span))))
		}
		dir := t.TempDir()
		var landed int
		if err := d.round(t, dir, func(k int) (time.Duration, bool) {
			if k >= len(delays) {
				return 0, false
			}
			return delays[k], true
		}, &landed); err != nil {
			t.Fatalf("round %d (kills after %v): %v", total.rounds, delays, err)
		}
		// check fails on a row missing or twice: past it, none was.
		if err := d.check(want.Bytes()); err != nil {
			t.Fatalf("round %d (kills after %v, %d landed): %v", total.rounds, delays, landed, err)
		}
		resumes, err := countResumes(filepath.Join(dir, "flow.db"))
		if err != nil {
			t.Fatalf("round %d: %v", total.rounds, err)
		}
		total.kills += landed
		total.resumes += resumes
		total.rows += rows
	}
	t.Logf("fixed-width to SQLite: %d rounds, %d kills, %d resumes, %d table rows checked, 0 lost, 0 duplicated; seed %d",
		total.rounds, total.kills, total.resumes, total.rows, s)
}

// countResumes counts the executions of a store that resumed another.
func countResumes(path string) (int, error) {
	st, err := bolt.Open(path, nil)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	execs, err := st.History(context.Background(), store.Filter{})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range execs {
		if e.ResumedFrom != 0 {
			n++
		}
	}
	return n, nil
}

// The table check of TestSQLChaos and TestFixedSQLChaos catches a row
// missing, twice or changed, through the SQLite dump.
func TestSQLCheck(t *testing.T) {
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	const want = "id,account,cents,currency,big\n1,A,1000,eur,false\n2,B,600000,usd,true\n3,A,2000,eur,false\n"
	insert := "INSERT INTO payments VALUES (1,'A',1000,'eur',false), (3,'A',2000,'eur',false), (2,'B',600000,'usd',true)"
	for _, tt := range []struct {
		name, sql string
		ok        bool
	}{
		{"same rows in another order", "", true},
		{"a row twice", "INSERT INTO payments VALUES (2,'B',600000,'usd',true)", false},
		{"a row missing", "DELETE FROM payments WHERE id = 3", false},
		{"a row changed", "UPDATE payments SET big = true WHERE id = 1", false},
		{"a row more", "INSERT INTO payments VALUES (4,'C',1000,'eur',false)", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, dsn := chaosDB(t, "sqlite", t.TempDir())
			for _, q := range []string{insert, tt.sql} {
				if q == "" {
					continue
				}
				if _, err := db.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			d := &sqlDriver{bin: flowBin, driver: "sqlite", dsn: dsn, db: db}
			if err := d.check([]byte(want)); (err == nil) != tt.ok {
				t.Errorf("check: %v, want ok %v", err, tt.ok)
			}
		})
	}
}
