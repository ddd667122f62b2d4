// The settlement example runs here as `flow exec` does (cli.Main, with a
// store of its own), against SQLite always and against PostgreSQL when one
// is reachable, and its ledger is compared with what this test computes
// from data/2026-11-20.csv by itself.
package settlement_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowbatch/flow/cli"
	"github.com/flowbatch/flow/steps/sqldb"
)

const (
	flowFile        = "settlement.flow.hcl"
	bizDate         = "2026-11-20"
	defaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

// txRow is a row of the transactions table.
type txRow struct {
	BizDate, Account, Branch, Kind string
	BookedAt                       time.Time
	Cents                          int64
}

// settlement is a row of the settlements table.
type settlement struct {
	Credits, Debits, Net, Count int64
}

// ledger is what a settled day must leave: the rows, the settlement of
// each account, the totals by branch, and what the load skipped.
type ledger struct {
	tx        map[int64]txRow
	accounts  map[string]settlement
	branches  map[string]int64
	skipWhere []string // file:line of every skipped row, sorted
	filtered  int
}

var (
	accountRE = regexp.MustCompile(`^ACC-\d{4}$`)
	amountRE  = regexp.MustCompile(`^(\d+)(?:\.(\d{1,2}))?$`)
)

// expected settles the day's CSV file with the rules of the flow's
// processor, written again in Go.
func expected(t *testing.T) ledger {
	t.Helper()
	path := filepath.Join("data", bizDate+".csv")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := ledger{tx: map[int64]txRow{}, accounts: map[string]settlement{}, branches: map[string]int64{}}
	skip := func(i int) { want.skipWhere = append(want.skipWhere, fmt.Sprintf("data/%s.csv:%d", bizDate, i+1)) }
	for i, row := range rows[1:] {
		i++ // rows[0] is the header: row i is on line i+1
		if len(row) != 9 {
			skip(i)
			continue
		}
		id, err1 := strconv.ParseInt(row[0], 10, 64)
		at, err2 := time.Parse(time.RFC3339, row[1])
		m := amountRE.FindStringSubmatch(row[5])
		if err1 != nil || err2 != nil || m == nil {
			skip(i)
			continue
		}
		if row[7] == "void" {
			want.filtered++
			continue
		}
		units, _ := strconv.ParseInt(m[1], 10, 64)
		frac, _ := strconv.ParseInt((m[2] + "00")[:2], 10, 64)
		cents := units*100 + frac
		account, branch, kind := row[2], row[3], row[4]
		if !accountRE.MatchString(account) || !slices.Contains([]string{"harbour", "north", "south"}, branch) ||
			row[6] != "EUR" || at.UTC().Format(time.DateOnly) != bizDate || cents <= 0 ||
			(kind != "credit" && kind != "debit") {
			skip(i)
			continue
		}
		s := want.accounts[account]
		if kind == "debit" {
			s.Debits += cents
			cents = -cents
		} else {
			s.Credits += cents
		}
		s.Net += cents
		s.Count++
		want.accounts[account] = s
		want.branches[branch] += cents
		want.tx[id] = txRow{BizDate: bizDate, Account: account, Branch: branch, Kind: kind, BookedAt: at, Cents: cents}
	}
	slices.Sort(want.skipWhere)
	// The file is made to hold these: a change to it or to the rules above
	// shows here first.
	if len(want.tx) != 287 || len(want.skipWhere) != 7 || want.filtered != 6 {
		t.Fatalf("%s: %d good rows, %d bad, %d void; want 287, 7, 6", path, len(want.tx), len(want.skipWhere), want.filtered)
	}
	return want
}

// result is what `flow exec -o json` prints.
type result struct {
	Status  string `json:"status"`
	Outputs struct {
		Loaded   int64 `json:"loaded"`
		Skipped  int64 `json:"skipped"`
		Filtered int64 `json:"filtered"`
		Totals   struct {
			Accounts     int64 `json:"accounts"`
			Transactions int64 `json:"transactions"`
			Credits      int64 `json:"credits_cents"`
			Debits       int64 `json:"debits_cents"`
			Net          int64 `json:"net_cents"`
		} `json:"totals"`
		ByAccount map[string]int64 `json:"by_account"`
		ByBranch  map[string]int64 `json:"by_branch"`
		Verdict   string           `json:"verdict"`
	} `json:"outputs"`
	Error *struct {
		Step, Message string
	} `json:"error"`
}

// flowExec runs the flow command line in this process and returns its exit
// code, stdout and stderr.
func flowExec(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := cli.Main(append([]string{"exec"}, args...), strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// settle runs the flow to completion with the store st and returns its
// result.
func settle(t *testing.T, st string, args ...string) result {
	t.Helper()
	code, stdout, stderr := flowExec(append([]string{"--store", st, "-o", "json", flowFile}, args...)...)
	var res result
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("exit code %d, stdout %q: %v\n%s", code, stdout, err, stderr)
	}
	if code != 0 || res.Status != "COMPLETED" {
		t.Fatalf("exit code %d, status %s, error %+v\n%s", code, res.Status, res.Error, stderr)
	}
	return res
}

// checkOutputs compares the flow's outputs with the ledger expected.
func checkOutputs(t *testing.T, res result, want ledger) {
	t.Helper()
	o := res.Outputs
	if o.Loaded != int64(len(want.tx)) || o.Skipped != int64(len(want.skipWhere)) || o.Filtered != int64(want.filtered) {
		t.Errorf("loaded %d, skipped %d, filtered %d; want %d, %d, %d",
			o.Loaded, o.Skipped, o.Filtered, len(want.tx), len(want.skipWhere), want.filtered)
	}
	var credits, debits, net int64
	nets := map[string]int64{}
	for a, s := range want.accounts {
		credits += s.Credits
		debits += s.Debits
		net += s.Net
		nets[a] = s.Net
	}
	tot := o.Totals
	if tot.Accounts != int64(len(want.accounts)) || tot.Transactions != int64(len(want.tx)) ||
		tot.Credits != credits || tot.Debits != debits || tot.Net != net || credits-debits != net {
		t.Errorf("totals %+v; want %d accounts, %d transactions, credits %d, debits %d, net %d",
			tot, len(want.accounts), len(want.tx), credits, debits, net)
	}
	if fmt.Sprint(o.ByAccount) != fmt.Sprint(nets) {
		t.Errorf("by_account %v\nwant       %v", o.ByAccount, nets)
	}
	if fmt.Sprint(o.ByBranch) != fmt.Sprint(want.branches) {
		t.Errorf("by_branch %v, want %v", o.ByBranch, want.branches)
	}
	if v := fmt.Sprintf("%d rows skipped", len(want.skipWhere)); o.Verdict != v {
		t.Errorf("verdict %q, want %q", o.Verdict, v)
	}
}

// checkLedger compares the tables with the ledger expected.
func checkLedger(t *testing.T, db *sql.DB, want ledger) {
	t.Helper()
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, "SELECT id, biz_date, booked_at, account, branch, kind, cents FROM transactions")
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]txRow{}
	for rows.Next() {
		var id int64
		var r txRow
		if err := rows.Scan(&id, &r.BizDate, &r.BookedAt, &r.Account, &r.Branch, &r.Kind, &r.Cents); err != nil {
			t.Fatal(err)
		}
		if _, dup := got[id]; dup {
			t.Errorf("transaction %d twice", id)
		}
		got[id] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	bad := 0
	for id, w := range want.tx {
		if bad >= 10 {
			t.Errorf("... and more")
			break
		}
		g, ok := got[id]
		if ok && g.BookedAt.Equal(w.BookedAt) {
			g.BookedAt = w.BookedAt
		}
		if g == w {
			continue
		}
		bad++
		switch {
		case !ok:
			t.Errorf("transaction %d is missing", id)
		case !g.BookedAt.Equal(w.BookedAt):
			t.Errorf("transaction %d booked at %v, want %v", id, g.BookedAt, w.BookedAt)
		default:
			t.Errorf("transaction %d: %+v, want %+v", id, g, w)
		}
	}
	for id := range got {
		if _, ok := want.tx[id]; !ok {
			t.Errorf("transaction %d should not be in the ledger: %+v", id, got[id])
		}
	}

	rows, err = db.QueryContext(ctx, "SELECT account, credits_cents, debits_cents, net_cents, tx_count FROM settlements WHERE biz_date = $1", bizDate)
	if err != nil {
		t.Fatal(err)
	}
	settled := map[string]settlement{}
	for rows.Next() {
		var a string
		var s settlement
		if err := rows.Scan(&a, &s.Credits, &s.Debits, &s.Net, &s.Count); err != nil {
			t.Fatal(err)
		}
		settled[a] = s
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if fmt.Sprint(settled) != fmt.Sprint(want.accounts) {
		t.Errorf("settlements:\n%v\nwant\n%v", settled, want.accounts)
	}

	// A completed batch step deletes its chunk markers.
	var markers int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM flowbatch_chunks").Scan(&markers); err != nil {
		t.Fatal(err)
	}
	if markers != 0 {
		t.Errorf("%d chunk markers left", markers)
	}
}

// checkSkipLog reads the skip log of the date: each bad row once, with
// its position and a reason.
func checkSkipLog(t *testing.T, out string, want ledger) {
	t.Helper()
	f, err := os.Open(filepath.Join(out, "skipped-"+bizDate+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var where []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var s struct{ Stage, Where, Error string }
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("skip log: %v: %s", err, sc.Text())
		}
		if (s.Stage != "read" && s.Stage != "process") || s.Error == "" {
			t.Errorf("skip log: %s", sc.Text())
		}
		where = append(where, s.Where)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(where)
	if !slices.Equal(where, want.skipWhere) {
		t.Errorf("skip log: rows %v, want %v", where, want.skipWhere)
	}
}

// database is a ledger for one test: the env the flow runs with, and a
// pool for the test's checks.
type database struct {
	env map[string]string // LEDGER_DRIVER, LEDGER_DSN
	db  *sql.DB
}

func unreachable(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// postgres makes a schema of the test's own in the PostgreSQL of
// FLOW_TEST_POSTGRES_DSN, dropped at the end, and points LEDGER_DSN at it
// with search_path.
func postgres(t *testing.T) database {
	base := os.Getenv("FLOW_TEST_POSTGRES_DSN")
	if base == "" {
		base = defaultPostgres
	}
	admin, err := sqldb.OpenDSN("admin", sqldb.Postgres, base, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.DB.PingContext(ctx); err != nil {
		unreachable(t, fmt.Sprintf("no PostgreSQL at %s (set FLOW_TEST_POSTGRES_DSN): %v", sqldb.RedactDSN(sqldb.Postgres, base), err))
	}
	schema := fmt.Sprintf("flowtest_settlement_%d_%08x", os.Getpid(), rand.Uint32())
	if _, err := admin.DB.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a, err := sqldb.OpenDSN("admin", sqldb.Postgres, base, "", 1)
		if err != nil {
			t.Error(err)
			return
		}
		defer a.Close()
		if _, err := a.DB.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	var dsn string
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		dsn = u.String()
	} else {
		dsn = base + " search_path=" + schema
	}
	ds, err := sqldb.OpenDSN("ledger", sqldb.Postgres, dsn, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ds.Close() }) // before the schema goes
	return database{env: map[string]string{"LEDGER_DRIVER": "postgres", "LEDGER_DSN": dsn}, db: ds.DB}
}

// TestSettlement settles the day twice in a fresh store: the second exec
// is refused (the instance completed), and with --rerun it leaves the
// ledger as it was.
func TestSettlement(t *testing.T) {
	want := expected(t)
	for _, driver := range []string{sqldb.SQLite, sqldb.Postgres} {
		t.Run(driver, func(t *testing.T) {
			tmp := t.TempDir()
			out := filepath.Join(tmp, "out")
			st := filepath.Join(tmp, "flow.db")
			// SQLite is the flow's default; PostgreSQL comes through the
			// env vars, as in the README.
			t.Setenv("LEDGER_DRIVER", "")
			t.Setenv("LEDGER_DSN", "")
			os.Unsetenv("LEDGER_DRIVER")
			os.Unsetenv("LEDGER_DSN")
			var db *sql.DB
			if driver == sqldb.Postgres {
				pg := postgres(t)
				for k, v := range pg.env {
					t.Setenv(k, v)
				}
				db = pg.db
			}

			res := settle(t, st, "-p", "out="+out)
			checkOutputs(t, res, want)
			checkSkipLog(t, out, want)
			if driver == sqldb.SQLite {
				ds, err := sqldb.OpenDSN("ledger", sqldb.SQLite, filepath.Join(out, "ledger.db"), "", 2)
				if err != nil {
					t.Fatal(err)
				}
				defer ds.Close()
				db = ds.DB
			} else if _, err := os.Stat(filepath.Join(out, "ledger.db")); err == nil {
				t.Error("the PostgreSQL run made a SQLite ledger")
			}
			checkLedger(t, db, want)

			code, _, stderr := flowExec("--store", st, flowFile, "-p", "out="+out)
			if code != 2 || !strings.Contains(stderr, "already completed") {
				t.Errorf("exec of a completed instance: exit code %d, %s", code, stderr)
			}

			res = settle(t, st, "--rerun", "-p", "out="+out)
			checkOutputs(t, res, want)
			checkSkipLog(t, out, want) // a fresh log, not appended to
			checkLedger(t, db, want)
		})
	}
}

// TestPostgresNeedsDSN: -p driver=postgres without a DSN fails before
// anything touches a database.
func TestPostgresNeedsDSN(t *testing.T) {
	t.Setenv("LEDGER_DSN", "")
	tmp := t.TempDir()
	code, stdout, stderr := flowExec("--store", filepath.Join(tmp, "flow.db"), "-o", "json", flowFile,
		"-p", "driver=postgres", "-p", "out="+filepath.Join(tmp, "out"))
	var res result
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("exit code %d, stdout %q: %v\n%s", code, stdout, err, stderr)
	}
	if code != 1 || res.Error == nil || res.Error.Step != "main/no_dsn" || !strings.Contains(res.Error.Message, "LEDGER_DSN") {
		t.Errorf("exit code %d, result %s", code, stdout)
	}
	if _, err := os.Stat(filepath.Join(tmp, "out")); err == nil {
		t.Error("the flow went on after no_dsn")
	}
}
