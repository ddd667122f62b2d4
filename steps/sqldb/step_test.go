package sqldb_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/flowtest"
	"github.com/flowbatch/flow/steps/sqldb"
)

// typesDDL is a table with a column of every mapped type.
func typesDDL(driver, table string) string {
	switch driver {
	case sqldb.Postgres:
		return "CREATE TABLE " + table + " (id BIGINT PRIMARY KEY, amount NUMERIC(14,2), name TEXT, ok BOOLEAN, at TIMESTAMP, ratio DOUBLE PRECISION, note TEXT)"
	case sqldb.MySQL:
		return "CREATE TABLE " + table + " (id BIGINT PRIMARY KEY, amount DECIMAL(14,2), name VARCHAR(100), ok BOOLEAN, at DATETIME(6), ratio DOUBLE, note VARCHAR(100))"
	}
	return "CREATE TABLE " + table + " (id INTEGER PRIMARY KEY, amount DECIMAL(14,2), name TEXT, ok BOOLEAN, at TIMESTAMP, ratio REAL, note TEXT)"
}

func TestStepTypes(t *testing.T) {
	eachDB(t, func(t *testing.T, db *testDB) {
		p := db.param
		res := db.mustRun(t, `
  sql "schema" {
    datasource = "db"
    statements = [`+jsonString(typesDDL(db.driver, "kinds"))+`]
  }
  sql "fill" {
    datasource = "db"
    statements = [
      { sql = "INSERT INTO kinds (id, amount, name, ok, at, ratio, note) VALUES (`+p(1)+`, `+p(2)+`, `+p(3)+`, `+p(4)+`, `+p(5)+`, `+p(6)+`, `+p(7)+`)",
        args = [1, "123456789012.50", "it's", true, "2026-11-20 10:00:00", 0.25, null] },
      { sql = "INSERT INTO kinds (id, amount, name, ok, at, ratio, note) VALUES (`+p(1)+`, `+p(2)+`, `+p(3)+`, `+p(4)+`, `+p(5)+`, `+p(6)+`, `+p(7)+`)",
        args = [2, -0.05, "b", false, "2026-01-02 03:04:05", -1.5, "n"] },
    ]
  }
  sql "q" {
    datasource = "db"
    query      = "SELECT id, amount, name, ok, at, ratio, note FROM kinds WHERE id >= `+p(1)+` ORDER BY id"
    args       = [1]
  }
  output "rows" { value = jsonencode(step.q.rows) }
  output "count" { value = step.q.row_count }
  output "affected" { value = step.fill.rows_affected }
  output "sum" { value = step.q.rows[0].amount + step.q.rows[1].amount }`, nil)
		ok1, ok2 := "true", "false"
		if db.driver == sqldb.MySQL {
			ok1, ok2 = "1", "0" // BOOLEAN is TINYINT(1) in MySQL
		}
		want := `[{"amount":123456789012.5,"at":"2026-11-20T10:00:00Z","id":1,"name":"it's","note":null,"ok":` + ok1 + `,"ratio":0.25},` +
			`{"amount":-0.05,"at":"2026-01-02T03:04:05Z","id":2,"name":"b","note":"n","ok":` + ok2 + `,"ratio":-1.5}]`
		if got := jsonOutput(t, res, "rows"); got != want {
			t.Errorf("rows:\n got %s\nwant %s", got, want)
		}
		if got := flowtest.Output(res, "count"); got != "2" {
			t.Errorf("row_count = %s", got)
		}
		if got := flowtest.Output(res, "affected"); got != "2" {
			t.Errorf("rows_affected = %s", got)
		}
		// Decimals are exact: no float rounding in the sum.
		if got := flowtest.Output(res, "sum"); got != "123456789012.45" {
			t.Errorf("sum = %s", got)
		}
	})
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func jsonOutput(t *testing.T, res *flow.Result, name string) string {
	t.Helper()
	v, ok := res.Outputs[name]
	if !ok {
		t.Fatalf("no output %s", name)
	}
	return v.AsString()
}

func TestStepScriptAndMaxRows(t *testing.T) {
	eachDB(t, func(t *testing.T, db *testDB) {
		res := db.mustRun(t, `
  sql "schema" {
    datasource = "db"
    statements = [file("schema.sql")]
  }
  sql "q" {
    datasource = "db"
    query      = "SELECT n FROM nums ORDER BY n"
    max_rows   = 2
  }
  sql "none" {
    datasource = "db"
    query      = "SELECT n FROM nums WHERE n > 100"
  }
  output "rows" { value = jsonencode(step.q.rows) }
  output "truncated" { value = step.q.truncated }
  output "empty" { value = length(step.none.rows) }`,
			map[string]string{"schema.sql": "CREATE TABLE nums (n INT);\nINSERT INTO nums VALUES (3);\nINSERT INTO nums VALUES (1);\nINSERT INTO nums VALUES (2);\n"})
		if got := jsonOutput(t, res, "rows"); got != `[{"n":1},{"n":2}]` {
			t.Errorf("rows = %s", got)
		}
		if got := flowtest.Output(res, "truncated"); got != "true" {
			t.Errorf("truncated = %s", got)
		}
		if got := flowtest.Output(res, "empty"); got != "0" {
			t.Errorf("rows of an empty result: %s", got)
		}
	})
}

// The statements of a step are all or nothing.
func TestStepStatementsAtomic(t *testing.T) {
	eachDB(t, func(t *testing.T, db *testDB) {
		db.exec(t, "CREATE TABLE a (n INT PRIMARY KEY)")
		res, _ := db.run(t, `
  sql "two" {
    datasource = "db"
    statements = ["INSERT INTO a VALUES (1)", "INSERT INTO a VALUES (1)"]
  }`, nil)
		if res.Status != flow.Failed {
			t.Fatalf("status %s, want FAILED", res.Status)
		}
		msg := res.Err.Error()
		for _, want := range []string{"main/two", "statement 2 of 2", `datasource "db"`, "main.flow.hcl:"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not name %q", msg, want)
			}
		}
		if n := db.count(t, "a"); n != 0 {
			t.Errorf("%d rows left by a failed step, want 0", n)
		}
	})
}

func TestStepStaticChecks(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`sql "x" {
    datasource = "nope"
    query = "SELECT 1"
  }`, `There is no datasource "nope" in flow t (declared: db)`},
		{`sql "x" {
    datasource = "db"
    query = "SELECT 1"
    statements = ["SELECT 1"]
  }`, "Both statements and query"},
		{`sql "x" {
    datasource = "db"
  }`, "Nothing to run"},
		{`sql "x" {
    datasource = "db"
    statements = ["SELECT 1"]
    args = [1]
  }`, "args without a query"},
		{`sql "x" {
    datasource = "db"
    query = "SELECT 1"
    transaction = "other"
  }`, `There is no datasource "other"`},
		{`batch "b" {
    transaction = "db"
    reader "sql" {
      datasource = "db"
      query = "SELECT 1 AS id"
    }
    writer "sql" {
      datasource = "db"
      table = "t"
    }
  }`, "A batch step cannot take a transaction"},
		{`batch "b" {
    reader "sql" {
      datasource = "dv"
      query = "SELECT 1 AS id"
    }
    writer "csv" { path = "out.csv" }
  }`, `main.flow.hcl:10,20-24: Unknown datasource; There is no datasource "dv" in flow t (declared: db)`},
		{`batch "b" {
    reader "csv" { path = "in.csv" }
    writer "sql" {
      datasource = "nope"
      table = "t"
    }
  }`, `main.flow.hcl:11,20-26: Unknown datasource; There is no datasource "nope" in flow t (declared: db)`},
	} {
		diags := flowtest.Diags(t, flowSrc(tc.body))
		if !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("diagnostics %q do not say %q", diags.Error(), tc.want)
		}
		if diags.HasErrors() && !strings.Contains(diags.Error(), "main.flow.hcl:") {
			t.Errorf("diagnostics %q name no position", diags.Error())
		}
	}
}

// A connection failure names the datasource and never shows the password.
func TestDatasourceErrorsHidePassword(t *testing.T) {
	for _, tc := range []struct{ driver, dsn string }{
		{sqldb.Postgres, "postgres://alice:s3cr3tpw@127.0.0.1:1/db?sslmode=disable&connect_timeout=2"},
		{sqldb.Postgres, "host=127.0.0.1 port=1 user=alice password=s3cr3tpw dbname=db sslmode=disable connect_timeout=2"},
		{sqldb.MySQL, "alice:s3cr3tpw@tcp(127.0.0.1:1)/db?timeout=2s"},
	} {
		t.Run(tc.driver, func(t *testing.T) {
			f := flowtest.Load(t, `flow "t" {
  param "driver" {}
  param "dsn" { sensitive = true }
  datasource "ledger" {
    driver = param.driver
    dsn    = param.dsn
  }
  sql "q" {
    datasource = "ledger"
    query = "SELECT 1"
  }
}`)
			res, _ := flowtest.RunFlow(t, t.Context(), f, map[string]ctyValue{"driver": str(tc.driver), "dsn": str(tc.dsn)})
			if res.Status != flow.Failed {
				t.Fatalf("status %s", res.Status)
			}
			msg := res.Err.Error()
			t.Log(msg)
			if strings.Contains(msg, "s3cr3tpw") {
				t.Errorf("the error shows the password: %s", msg)
			}
			if !strings.Contains(msg, `datasource "ledger"`) {
				t.Errorf("the error does not name the datasource: %s", msg)
			}
		})
	}
	for _, tc := range []struct{ driver, dsn, want string }{
		{sqldb.Postgres, "postgres://alice:s3cr3tpw@db:5432/x", "postgres://alice:xxxxx@db:5432/x"},
		{sqldb.Postgres, "host=db password='s3 cr3tpw' user=a", "host=db password=xxxxx user=a"},
		{sqldb.MySQL, "alice:s3cr3tpw@tcp(db:3306)/x", "alice:xxxxx@tcp(db:3306)/x"},
	} {
		if got := sqldb.RedactDSN(tc.driver, tc.dsn); got != tc.want {
			t.Errorf("RedactDSN(%q) = %q, want %q", tc.dsn, got, tc.want)
		}
	}
}

// SQLite paths, plain or file: URIs, are relative to the flow file.
func TestSQLitePathsRelativeToFlow(t *testing.T) {
	for _, dsn := range []string{"data/a.db", "file:data/b.db?cache=private"} {
		dir := flowtest.Write(t, map[string]string{"data/.keep": "", "main.flow.hcl": `flow "p" {
  param "dsn" {}
  datasource "db" { dsn = param.dsn }
  sql "s" {
    datasource = "db"
    statements = ["CREATE TABLE t (n INT)", "INSERT INTO t VALUES (1)"]
  }
}`})
		f, diags := flowtest.LoadFile(t, dir+"/main.flow.hcl")
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		res, _ := flowtest.RunFlow(t, t.Context(), f, map[string]ctyValue{"dsn": str(dsn)})
		if res.Status != flow.Completed {
			t.Fatalf("%s: %s %v", dsn, res.Status, res.Err)
		}
		name := strings.TrimPrefix(strings.SplitN(dsn, "?", 2)[0], "file:")
		if _, err := os.Stat(dir + "/" + name); err != nil {
			t.Errorf("%s: the database is not next to the flow: %v", dsn, err)
		}
	}
}

func TestStepQueryErrors(t *testing.T) {
	eachDB(t, func(t *testing.T, db *testDB) {
		db.exec(t, "CREATE TABLE a (id INT)", "CREATE TABLE b (id INT)", "INSERT INTO a VALUES (1)", "INSERT INTO b VALUES (1)")
		res, _ := db.run(t, `
  sql "q" {
    datasource = "db"
    query = "SELECT a.id, b.id FROM a JOIN b ON a.id = b.id"
  }`, nil)
		if res.Status != flow.Failed || !strings.Contains(res.Err.Error(), `two columns named "id"`) {
			t.Errorf("duplicate column names: %s %v", res.Status, res.Err)
		}
		// Lists and objects go as JSON text.
		text := "TEXT"
		if db.driver == sqldb.MySQL {
			text = "CHAR"
		}
		res = db.mustRun(t, `
  sql "q" {
    datasource = "db"
    query = "SELECT CAST(`+db.param(1)+` AS `+text+`) AS j"
    args = [{ a = [1, "x"] }]
  }
  output "j" { value = step.q.rows[0].j }`, nil)
		if got := jsonOutput(t, res, "j"); got != `{"a":[1,"x"]}` {
			t.Errorf("an object argument arrived as %s", got)
		}
	})
}
