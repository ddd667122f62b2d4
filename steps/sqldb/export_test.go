package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/flowbatch/flow/steps/batch/record"
)

// ChunkWriter drives a sql writer chunk by chunk without a batch step,
// for the tests of what it does on a connection.
type ChunkWriter struct{ w *writer }

// NewChunkWriter makes a writer of table as newWriter and Setup would,
// writing every field of the records.
func NewChunkWriter(ctx context.Context, ds *Datasource, table, mode string, key ...string) (*ChunkWriter, error) {
	w := &writer{name: "sql", ds: ds, d: ds.dialect, table: table, qtable: ds.dialect.quoteName(table), mode: mode, key: key,
		markers: ds.dialect.quoteName(DefaultMarkerTable), runKey: "run-" + table, step: "main/load", exec: "exec-1", hiMark: -1}
	if err := w.createMarkers(ctx); err != nil {
		return nil, err
	}
	if w.d == Postgres && w.mode == ModeInsert {
		w.pg = w.lookupPG(ctx)
	}
	return &ChunkWriter{w}, nil
}

// NoCopy makes the writer insert where it would COPY.
func (c *ChunkWriter) NoCopy() { c.w.noCopy = true }

// Copies says whether the writer would COPY records of these kinds to
// these columns.
func (c *ChunkWriter) Copies(cols []string, kinds []record.Kind) bool {
	s, err := record.Names(cols...)
	if err != nil {
		panic(err)
	}
	r := record.New(s)
	for i, k := range kinds {
		r.Values[i] = zeroOf(k)
	}
	tg := target{cols: cols}
	for i := range cols {
		tg.idx = append(tg.idx, i)
	}
	return c.w.canCopy(tg, []*record.Record{r})
}

func zeroOf(k record.Kind) record.Value {
	switch k {
	case record.String:
		return record.Str("")
	case record.Int:
		return record.IntVal(0)
	case record.Decimal:
		return record.Dec(0, 2)
	case record.Float:
		return record.FloatVal(0)
	case record.Bool:
		return record.BoolVal(false)
	case record.Time:
		return record.TimeVal(time.Unix(0, 0))
	case record.List:
		return record.ListVal(nil)
	}
	return record.Value{}
}

// WriteChunk writes one chunk of items seqs in a transaction of its own
// and commits it; cancel, when set, ends the transaction's context before
// the writing.
func (c *ChunkWriter) WriteChunk(ctx context.Context, seqs []int64, recs []*record.Record, cancel bool) error {
	tctx, stop := context.WithCancel(ctx)
	defer stop()
	t, err := c.w.ds.begin(tctx)
	if err != nil {
		return err
	}
	if cancel {
		stop()
		// Wait for database/sql to roll it back.
		for {
			if _, err := t.tx.ExecContext(ctx, "SELECT 1"); errors.Is(err, sql.ErrTxDone) {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	if err := c.w.write(ctx, t, seqs, recs); err != nil {
		_ = t.rollback()
		return err
	}
	return t.commit()
}

// Statement is a statement a connection keeps: its text and which
// prepared statement it is.
type Statement struct {
	Query string
	ID    string
}

// KeptStatements lists the statements one connection of ds keeps (nil for
// a connection that keeps none, PostgreSQL's).
func KeptStatements(ctx context.Context, ds *Datasource) ([]Statement, error) {
	conn, err := ds.DB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var out []Statement
	err = conn.Raw(func(dc any) error {
		if sc, ok := dc.(*stmtConn); ok {
			for _, cs := range sc.stmts {
				out = append(out, Statement{Query: cs.query, ID: fmt.Sprintf("%p", cs.st)})
			}
		}
		return nil
	})
	return out, err
}
