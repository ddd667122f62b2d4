package sqldb_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/zclconf/go-cty/cty"

	_ "github.com/flowbatch/flow/decorators"
	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/flowtest"
	_ "github.com/flowbatch/flow/steps"
	"github.com/flowbatch/flow/steps/sqldb"
)

// The tests run against SQLite always, and against the PostgreSQL of
// FLOW_TEST_POSTGRES_DSN and the MySQL or MariaDB of FLOW_TEST_MYSQL_DSN
// (or the local defaults below). Each test works in a schema (PostgreSQL)
// or database (MySQL) of its own, dropped at its end. An unreachable server
// skips its tests, unless CI is set: then they fail.
const (
	defaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	defaultMySQL    = "root@tcp(127.0.0.1:3306)/test?parseTime=true"
)

var drivers = []string{sqldb.SQLite, sqldb.Postgres, sqldb.MySQL}

// testDB is a database of one test: the DSN a flow uses, and a pool for
// the test's own checks.
type testDB struct {
	driver string
	dsn    string
	dir    string // the flow's directory
	ds     *sqldb.Datasource
	db     *sql.DB
}

// eachDB runs fn against every database.
func eachDB(t *testing.T, fn func(t *testing.T, db *testDB)) {
	t.Helper()
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) { fn(t, openDB(t, d)) })
	}
}

func unreachable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func suffix() string { return fmt.Sprintf("%d_%08x", os.Getpid(), rand.Uint32()) }

func openDB(t testing.TB, driver string) *testDB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tdb := &testDB{driver: driver, dir: t.TempDir()}
	switch driver {
	case sqldb.SQLite:
		tdb.dsn = "test.db"
	case sqldb.Postgres:
		base := os.Getenv("FLOW_TEST_POSTGRES_DSN")
		if base == "" {
			base = defaultPostgres
		}
		admin, err := sql.Open("pgx", base)
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		if err := admin.PingContext(ctx); err != nil {
			unreachable(t, fmt.Sprintf("no PostgreSQL at %s (set FLOW_TEST_POSTGRES_DSN): %v", sqldb.RedactDSN(driver, base), err))
		}
		schema := "flowtest_sqldb_" + suffix()
		if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			a, err := sql.Open("pgx", base)
			if err != nil {
				t.Error(err)
				return
			}
			defer a.Close()
			if _, err := a.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
				t.Errorf("drop schema %s: %v", schema, err)
			}
		})
		tdb.dsn = withSearchPath(t, base, schema)
	case sqldb.MySQL:
		base := os.Getenv("FLOW_TEST_MYSQL_DSN")
		if base == "" {
			base = defaultMySQL
		}
		admin, err := sql.Open("mysql", base)
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		if err := admin.PingContext(ctx); err != nil {
			unreachable(t, fmt.Sprintf("no MySQL at %s (set FLOW_TEST_MYSQL_DSN): %v", sqldb.RedactDSN(driver, base), err))
		}
		name := "flowtest_sqldb_" + suffix()
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			a, err := sql.Open("mysql", base)
			if err != nil {
				t.Error(err)
				return
			}
			defer a.Close()
			if _, err := a.Exec("DROP DATABASE " + name); err != nil {
				t.Errorf("drop database %s: %v", name, err)
			}
		})
		cfg, err := mysql.ParseDSN(base)
		if err != nil {
			t.Fatal(err)
		}
		cfg.DBName = name
		tdb.dsn = cfg.FormatDSN()
	}
	ds, err := sqldb.OpenDSN("test", driver, tdb.dsn, tdb.dir, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ds.Close() }) // before the schema goes
	tdb.ds, tdb.db = ds, ds.DB
	return tdb
}

func withSearchPath(t testing.TB, dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

// exec runs statements for a test's setup.
func (d *testDB) exec(t testing.TB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := d.db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// count returns SELECT COUNT(*) of a query's FROM and WHERE part.
func (d *testDB) count(t testing.TB, from string, args ...any) int {
	t.Helper()
	var n int
	if err := d.db.QueryRow("SELECT COUNT(*) FROM "+from, args...).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", from, err)
	}
	return n
}

// ints returns the single int column of a query, in order.
func (d *testDB) ints(t testing.TB, q string, args ...any) []int64 {
	t.Helper()
	rows, err := d.db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// flowSrc wraps steps in a flow with datasource "db" from the dsn and
// driver params.
func flowSrc(body string) string {
	return `flow "t" {
  param "driver" { default = "sqlite" }
  param "dsn" {}
  datasource "db" {
    driver = param.driver
    dsn    = param.dsn
  }
` + body + "\n}\n"
}

func (d *testDB) params(extra map[string]cty.Value) map[string]cty.Value {
	p := map[string]cty.Value{"driver": cty.StringVal(d.driver), "dsn": cty.StringVal(d.dsn)}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

// load writes the flow into the database's directory and loads it.
func (d *testDB) load(t testing.TB, body string, files map[string]string) *flow.Flow {
	t.Helper()
	path := filepath.Join(d.dir, "main.flow.hcl")
	if err := os.WriteFile(path, []byte(flowSrc(body)), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(d.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, diags := flowtest.LoadFile(t, path)
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags.Error())
	}
	return f
}

// run runs a flow body against the database and returns the result.
func (d *testDB) run(t testing.TB, body string, files map[string]string) (*flow.Result, *flowtest.Recorder) {
	t.Helper()
	return flowtest.RunFlow(t, context.Background(), d.load(t, body, files), d.params(nil))
}

// mustRun runs a flow body that must complete.
func (d *testDB) mustRun(t testing.TB, body string, files map[string]string) *flow.Result {
	t.Helper()
	res, _ := d.run(t, body, files)
	if res.Status != flow.Completed {
		t.Fatalf("run %s: %v", res.Status, res.Err)
	}
	return res
}

// autoID is the column type of an auto-incremented primary key.
func (d *testDB) autoID() string {
	switch d.driver {
	case sqldb.Postgres:
		return "BIGSERIAL PRIMARY KEY"
	case sqldb.MySQL:
		return "BIGINT AUTO_INCREMENT PRIMARY KEY"
	}
	return "INTEGER PRIMARY KEY"
}

// param returns the n-th bind parameter of the database's SQL.
func (d *testDB) param(n int) string {
	if d.driver == sqldb.Postgres {
		return fmt.Sprintf("$%d", n)
	}
	return "?"
}

type ctyValue = cty.Value

func str(s string) cty.Value { return cty.StringVal(s) }

func flowtestLoad(t *testing.T, src string) *flow.Flow { return flowtest.Load(t, src) }

func flowtestRun(t *testing.T, f *flow.Flow) (*flow.Result, *flowtest.Recorder) {
	return flowtest.RunFlow(t, context.Background(), f, nil)
}
