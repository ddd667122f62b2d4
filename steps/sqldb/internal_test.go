package sqldb

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/flowbatch/flow/steps/batch/record"
)

func TestPageSQL(t *testing.T) {
	for _, tc := range []struct {
		d      dialect
		key    []string
		after  []record.Value
		bounds *partBounds
		want   string
		args   string
	}{
		{Postgres, []string{"id"}, nil, nil,
			`SELECT * FROM (SELECT * FROM t WHERE x = $1) flowbatch_q ORDER BY "id" LIMIT 100`, "[7]"},
		{Postgres, []string{"id"}, []record.Value{record.IntVal(42)}, nil,
			`SELECT * FROM (SELECT * FROM t WHERE x = $1) flowbatch_q WHERE "id" > $2 ORDER BY "id" LIMIT 100`, "[7 42]"},
		{SQLite, []string{"g", "id"}, []record.Value{record.Str("a"), record.IntVal(3)}, nil,
			`SELECT * FROM (SELECT * FROM t WHERE x = $1) flowbatch_q WHERE ("g", "id") > (?, ?) ORDER BY "g", "id" LIMIT 100`, "[7 a 3]"},
		{MySQL, []string{"g", "id"}, []record.Value{record.Str("a"), record.IntVal(3)}, nil,
			"SELECT * FROM (SELECT * FROM t WHERE x = $1) flowbatch_q WHERE ((`g` > ?) OR (`g` = ? AND `id` > ?)) ORDER BY `g`, `id` LIMIT 100", "[7 a a 3]"},
		{Postgres, []string{"id"}, []record.Value{record.IntVal(5)}, &partBounds{Lo: ptr(0), Hi: ptr(50)},
			`SELECT * FROM (SELECT * FROM t WHERE x = $1) flowbatch_q WHERE "id" > $2 AND "id" >= $3 AND "id" < $4 ORDER BY "id" LIMIT 100`, "[7 5 0 50]"},
	} {
		r := &reader{ds: &Datasource{dialect: tc.d}, query: "SELECT * FROM t WHERE x = $1", args: []any{7}, key: tc.key, after: tc.after, bounds: tc.bounds}
		q, args := r.page(100)
		if q != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.d, q, tc.want)
		}
		if got := fmt.Sprint(args); got != tc.args {
			t.Errorf("%s: args %s, want %s", tc.d, got, tc.args)
		}
		if strings.Contains(strings.ToUpper(q), "OFFSET") {
			t.Errorf("%s: a page uses OFFSET: %s", tc.d, q)
		}
	}
}

func ptr(i int64) *int64 { return &i }

// The parts of a range are disjoint, cover every key (also beyond the
// range) and are of equal width.
func TestSplitRange(t *testing.T) {
	in := func(b *partBounds, k int64) bool {
		return (b.Lo == nil || k >= *b.Lo) && (b.Hi == nil || k < *b.Hi)
	}
	for _, tc := range []struct {
		lo, hi int64
		n      int
	}{{1, 100, 4}, {10, 250, 4}, {0, 0, 3}, {5, 7, 5}, {-50, 50, 7}, {math.MinInt64, math.MaxInt64, 3}} {
		parts := make([]*partBounds, tc.n)
		for i := range parts {
			parts[i] = splitRange(tc.lo, tc.hi, tc.n, i)
		}
		for _, k := range []int64{tc.lo, tc.hi, tc.lo + (tc.hi-tc.lo)/2, tc.lo - 1, tc.hi + 1, math.MinInt64, math.MaxInt64} {
			owners := 0
			for _, p := range parts {
				if in(p, k) {
					owners++
				}
			}
			if owners != 1 {
				t.Errorf("[%d, %d] in %d: key %d is in %d parts", tc.lo, tc.hi, tc.n, k, owners)
			}
		}
	}
	b := splitRange(10, 250, 4, 1)
	if *b.Lo != 70 || *b.Hi != 130 {
		t.Errorf("part 1 of [10, 250] in 4: [%d, %d), want [70, 130)", *b.Lo, *b.Hi)
	}
}

func TestErrorsScrubThePassword(t *testing.T) {
	ds := &Datasource{Name: "ledger", secret: "hunter22"}
	err := ds.wrap(errors.New(`connect to alice:hunter22@db failed`), "query")
	if strings.Contains(err.Error(), "hunter22") || !strings.Contains(err.Error(), `datasource "ledger": query: connect to alice:xxxxx@db failed`) {
		t.Errorf("error %q", err)
	}
	if !errors.Is(ds.wrap(fmt.Errorf("x: %w", errSentinel), "q"), errSentinel) {
		t.Error("the driver's error is not kept for errors.Is")
	}
}

var errSentinel = errors.New("sentinel")

func TestSQLiteDSN(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a.db", "/flows/a.db?_busy_timeout=10000&_journal_mode=WAL&_time_format=sqlite&_txlock=immediate"},
		{"/abs/a.db?_journal_mode=DELETE&_txlock=deferred", "/abs/a.db?_busy_timeout=10000&_journal_mode=DELETE&_time_format=sqlite&_txlock=deferred"},
		{"file:a.db?mode=ro&_pragma=busy_timeout(1)", "file:/flows/a.db?_journal_mode=WAL&_pragma=busy_timeout%281%29&_time_format=sqlite&_txlock=immediate&mode=ro"},
		{":memory:", ":memory:?_busy_timeout=10000&_time_format=sqlite&_txlock=immediate"},
	} {
		got, _ := sqliteDSN(tc.in, "/flows")
		if got != tc.want {
			t.Errorf("sqliteDSN(%q)\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}

func TestKindOfType(t *testing.T) {
	for typ, want := range map[string]record.Kind{
		"INTEGER": record.Int, "BIGINT": record.Int, "INT4": record.Int, "UNSIGNED BIGINT": record.Int, "TINYINT": record.Int,
		"NUMERIC": record.Decimal, "DECIMAL(12,2)": record.Decimal, "DECIMAL": record.Decimal,
		"FLOAT8": record.Float, "DOUBLE": record.Float, "REAL": record.Float, "DOUBLE PRECISION": record.Float,
		"BOOL": record.Bool, "BOOLEAN": record.Bool,
		"TIMESTAMP": record.Time, "TIMESTAMPTZ": record.Time, "DATETIME": record.Time, "DATE": record.Time,
		"TEXT": record.String, "VARCHAR(20)": record.String, "UUID": record.String, "JSONB": record.String,
		"INTERVAL": record.String, "TIME": record.String, "BYTEA": record.String, "POINT": record.String,
		"": record.Null, "WHATEVER": record.Null,
	} {
		if got := kindOfType(typ); got != want {
			t.Errorf("kindOfType(%q) = %s, want %s", typ, got, want)
		}
	}
}
