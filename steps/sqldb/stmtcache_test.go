package sqldb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/flowbatch/flow/steps/batch/record"
)

func TestPieceRows(t *testing.T) {
	for _, tc := range []struct {
		d     dialect
		n     int
		ncols int
		want  string
	}{
		{SQLite, 1000, 6, "[256 256 256 128 64 32 8]"},
		{SQLite, 300, 6, "[256 32 8 4]"},
		{SQLite, 1, 6, "[1]"},
		{SQLite, 256, 6, "[256]"},
		{SQLite, 700, 200, "[128 128 128 128 128 32 16 8 4]"}, // 32766 / 200 = 163 rows at most
		{SQLite, 3, 40000, "[1 1 1]"},                         // more columns than parameters: one row each
		{Postgres, 1000, 6, "[512 256 128 64 32 8]"},
		{Postgres, 1300, 6, "[512 512 256 16 4]"},
		{MySQL, 1000, 6, "[1000]"},
		{MySQL, 2300, 6, "[1000 1000 300]"},
		{MySQL, 700, 100, "[655 45]"}, // 65535 / 100
	} {
		var got []int
		for left := tc.n; left > 0; {
			k := tc.d.pieceRows(left, tc.ncols)
			if k < 1 || k > left || k*tc.ncols > tc.d.maxParams() && k > 1 {
				t.Fatalf("%s %d×%d: a piece of %d rows", tc.d, left, tc.ncols, k)
			}
			got = append(got, k)
			left -= k
		}
		if fmt.Sprint(got) != tc.want {
			t.Errorf("%s %d rows of %d columns: %v, want %s", tc.d, tc.n, tc.ncols, got, tc.want)
		}
	}
}

// fakeConn is a driver connection that counts what it prepares and closes;
// a statement fails when its args hold "fail".
type fakeConn struct {
	prepared, closed int
	open             map[*fakeStmt]bool
	connClosed       bool
}

type fakeStmt struct {
	c     *fakeConn
	query string
}

func (c *fakeConn) Prepare(q string) (driver.Stmt, error) {
	if strings.Contains(q, "bad syntax") {
		return nil, errors.New("syntax error")
	}
	c.prepared++
	s := &fakeStmt{c: c, query: q}
	if c.open == nil {
		c.open = map[*fakeStmt]bool{}
	}
	c.open[s] = true
	return s, nil
}
func (c *fakeConn) Close() error              { c.connClosed = true; return nil }
func (c *fakeConn) Begin() (driver.Tx, error) { return nil, errors.New("no transactions") }

func (s *fakeStmt) Close() error {
	s.c.closed++
	delete(s.c.open, s)
	return nil
}
func (s *fakeStmt) NumInput() int { return -1 }
func (s *fakeStmt) Exec([]driver.Value) (driver.Result, error) {
	return nil, errors.New("not with a context")
}
func (s *fakeStmt) Query([]driver.Value) (driver.Rows, error) { return nil, io.EOF }
func (s *fakeStmt) ExecContext(_ context.Context, args []driver.NamedValue) (driver.Result, error) {
	for i, a := range args {
		if a.Ordinal != i+1 {
			return nil, fmt.Errorf("arg %d has ordinal %d", i, a.Ordinal)
		}
		if a.Value == "fail" {
			return nil, errors.New("constraint failed")
		}
	}
	return driver.RowsAffected(len(args)), nil
}

func TestStmtConn(t *testing.T) {
	ctx := context.Background()
	fc := &fakeConn{}
	c := &stmtConn{Conn: fc}
	// The same text is prepared once.
	for i := 0; i < 3; i++ {
		res, err := c.exec(ctx, "INSERT a", []any{int64(1), "x"})
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 2 {
			t.Fatalf("%d args reached the statement", n)
		}
	}
	if fc.prepared != 1 {
		t.Fatalf("prepared %d times, want once", fc.prepared)
	}
	// A statement that fails is closed and dropped, and prepared again
	// when next used.
	if _, err := c.exec(ctx, "INSERT a", []any{"fail"}); err == nil {
		t.Fatal("no error")
	}
	if fc.closed != 1 || len(c.stmts) != 0 {
		t.Fatalf("after a failure: %d closed, %d kept", fc.closed, len(c.stmts))
	}
	if _, err := c.exec(ctx, "INSERT a", nil); err != nil || fc.prepared != 2 {
		t.Fatalf("after a failure: %v, prepared %d times", err, fc.prepared)
	}
	// One that does not prepare is not kept.
	if _, err := c.exec(ctx, "bad syntax", nil); err == nil || len(c.stmts) != 1 {
		t.Fatalf("bad syntax: %v, %d kept", err, len(c.stmts))
	}
	// The least recently used goes first.
	for i := 0; i < stmtCacheSize+4; i++ {
		if _, err := c.exec(ctx, fmt.Sprintf("INSERT %d", i), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := c.exec(ctx, "INSERT a", nil); err != nil { // kept in use
			t.Fatal(err)
		}
	}
	if len(c.stmts) != stmtCacheSize || len(fc.open) != stmtCacheSize {
		t.Fatalf("%d kept, %d open, want %d", len(c.stmts), len(fc.open), stmtCacheSize)
	}
	kept := map[string]bool{}
	for _, cs := range c.stmts {
		kept[cs.query] = true
	}
	want := map[string]bool{"INSERT a": true}
	for i := 4 + 1; i < stmtCacheSize+4; i++ {
		want[fmt.Sprintf("INSERT %d", i)] = true
	}
	if fmt.Sprint(kept) != fmt.Sprint(want) {
		t.Errorf("kept %v, want %v", kept, want)
	}
	if fc.prepared != 2+stmtCacheSize+4 {
		t.Errorf("prepared %d times, want %d", fc.prepared, 2+stmtCacheSize+4)
	}
	// Close closes every statement, then the connection.
	if err := c.Close(); err != nil || len(fc.open) != 0 || !fc.connClosed {
		t.Fatalf("close: %v, %d open, conn closed %v", err, len(fc.open), fc.connClosed)
	}
	// What the driver's connection does not implement, database/sql is
	// told to do its own way.
	if _, err := c.ExecContext(ctx, "x", nil); err != driver.ErrSkip {
		t.Errorf("ExecContext: %v, want ErrSkip", err)
	}
	if _, err := c.QueryContext(ctx, "x", nil); err != driver.ErrSkip {
		t.Errorf("QueryContext: %v, want ErrSkip", err)
	}
	if err := c.CheckNamedValue(&driver.NamedValue{Value: 1}); err != driver.ErrSkip {
		t.Errorf("CheckNamedValue: %v, want ErrSkip", err)
	}
	if _, err := c.BeginTx(ctx, driver.TxOptions{ReadOnly: true}); err == nil {
		t.Error("BeginTx read-only: no error")
	}
	if !c.IsValid() || c.Ping(ctx) != nil || c.ResetSession(ctx) != nil {
		t.Error("IsValid, Ping or ResetSession failed")
	}
}

func TestCopyWhere(t *testing.T) {
	var recs []*record.Record
	for i := 1; i <= 5; i++ {
		r := &record.Record{}
		r.Source, r.Line = "in.csv", int64(i+1)
		recs = append(recs, r)
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&pgconn.PgError{Message: "null value", Where: "COPY dst, line 3, column amount: null input"}, "in.csv:4"},
		{fmt.Errorf("wrapped: %w", &pgconn.PgError{Where: "COPY dst, line 1"}), "in.csv:2"},
		{&pgconn.PgError{Where: "COPY dst, line 9"}, "in.csv:2 to in.csv:6"}, // past the records
		{errors.New("broken pipe"), "in.csv:2 to in.csv:6"},
	} {
		if got := copyWhere(tc.err, recs); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.err, got, tc.want)
		}
	}
}
