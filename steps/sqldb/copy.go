package sqldb

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/flowbatch/flow/steps/batch/record"
)

// On PostgreSQL, mode insert writes a run of records with COPY FROM STDIN
// (pgx's CopyFrom, binary) on the chunk's transaction, when COPY does what
// the INSERT would: the table is a plain or partitioned table with no
// rules (which COPY ignores) and no row-level security (which COPY FROM
// refuses), no column written is GENERATED ALWAYS AS IDENTITY (which COPY
// fills), and every value goes to a column whose type pgx encodes it for
// exactly as the INSERT's bind parameters would be read. Anything else (a
// view, a domain, an enum, a string for a timestamp column, which the
// server parses more liberally than pgx) takes the multi-row INSERT.

// pgTable is what Setup learnt of the table: its name for COPY and the
// type of each column.
type pgTable struct {
	name  pgx.Identifier
	types map[string]uint32 // column → type OID
}

// lookupPG reads the table's kind and column types. A table it cannot
// tell about (missing yet, a name PostgreSQL does not take) is written
// with INSERTs: nil, no error.
func (w *writer) lookupPG(ctx context.Context) *pgTable {
	q := `SELECT c.relkind::text, c.relhasrules, c.relrowsecurity, a.attname::text, a.atttypid::int8, a.attidentity = 'a'
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
WHERE c.oid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`
	rows, err := w.ds.DB.QueryContext(ctx, q, w.qtable)
	if err != nil {
		w.debug("the writer inserts rows: it could not read the table's columns", err)
		return nil
	}
	defer rows.Close()
	t := &pgTable{name: pgx.Identifier(strings.Split(w.table, ".")), types: map[string]uint32{}}
	for rows.Next() {
		var kind, col string
		var rules, rls, always bool
		var oid int64
		if err := rows.Scan(&kind, &rules, &rls, &col, &oid, &always); err != nil {
			w.debug("the writer inserts rows: it could not read the table's columns", err)
			return nil
		}
		if (kind != "r" && kind != "p") || rules || rls {
			return nil
		}
		if !always {
			// COPY fills a column GENERATED ALWAYS AS IDENTITY, which
			// the INSERT refuses: a run that writes one inserts.
			t.types[col] = uint32(oid)
		}
	}
	if err := rows.Err(); err != nil || len(t.types) == 0 {
		w.debug("the writer inserts rows: it could not read the table's columns", err)
		return nil
	}
	return t
}

func (w *writer) debug(msg string, err error) {
	if w.logger != nil {
		var e string
		if err != nil {
			e = err.Error()
		}
		w.logger.Debug(msg, "table", w.table, "error", e)
	}
}

// canCopy says whether COPY writes the run as the INSERT would.
func (w *writer) canCopy(tg target, recs []*record.Record) bool {
	if w.pg == nil || w.noCopy {
		return false
	}
	oids := make([]uint32, len(tg.cols))
	for i, c := range tg.cols {
		oid, ok := w.pg.types[c]
		if !ok {
			return false // the INSERT says what is wrong
		}
		oids[i] = oid
	}
	for _, r := range recs {
		for i, j := range tg.idx {
			if !copyExact(r.Values[j].Kind(), oids[i]) {
				return false
			}
		}
	}
	return true
}

// copyExact says whether COPY stores a value of kind k in a column of type
// oid exactly as the INSERT does. The INSERT sends strings and decimals as
// text, which the server parses, and the other kinds in pgx's binary
// encoding of the column's type; COPY sends everything in that binary
// encoding. So: the other kinds to types whose encoding pgx has, strings
// to types whose binary form is their text, decimals to numeric (as
// pgtype.Numeric, the same digits) and to text.
func copyExact(k record.Kind, oid uint32) bool {
	switch k {
	case record.Null:
		return true
	case record.String, record.List, record.Map: // lists and maps as JSON text
		switch oid {
		case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.JSONOID, pgtype.JSONBOID:
			return true
		}
	case record.Int:
		switch oid {
		case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.NumericOID, pgtype.Float8OID:
			return true
		}
	case record.Decimal:
		switch oid {
		case pgtype.NumericOID, pgtype.TextOID, pgtype.VarcharOID:
			return true
		}
	case record.Float:
		switch oid {
		case pgtype.Float4OID, pgtype.Float8OID, pgtype.NumericOID:
			return true
		}
	case record.Bool:
		return oid == pgtype.BoolOID
	case record.Time:
		switch oid {
		case pgtype.TimestampOID, pgtype.TimestamptzOID, pgtype.DateOID:
			return true
		}
	}
	return false
}

var errNoCopy = errors.New("the connection is not pgx's")

// copyRows writes recs with COPY on the chunk's transaction.
func (w *writer) copyRows(ctx context.Context, t *txState, tg target, recs []*record.Record) error {
	src := &copySource{recs: recs, idx: tg.idx, row: make([]any, len(tg.idx)), i: -1}
	var n int64
	err := t.onConn(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return errNoCopy
		}
		var err error
		n, err = c.Conn().CopyFrom(ctx, w.pg.name, tg.cols, src)
		return err
	})
	if err == nil && n != int64(len(recs)) {
		err = fmt.Errorf("COPY wrote %d rows of %d", n, len(recs))
	}
	if err != nil {
		return w.ds.wrap(err, "%s into %s (records %s)", w.mode, w.table, copyWhere(err, recs))
	}
	return nil
}

var copyLine = regexp.MustCompile(`\bline (\d+)\b`)

// copyWhere names the record of the line a COPY error names (its context
// says "COPY t, line 3, column c"), else the records of the COPY.
func copyWhere(err error, recs []*record.Record) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if m := copyLine.FindStringSubmatch(pe.Where); m != nil {
			if i, err := strconv.Atoi(m[1]); err == nil && i >= 1 && i <= len(recs) {
				return recs[i-1].Where()
			}
		}
	}
	s := recs[0].Where()
	if len(recs) > 1 {
		s += " to " + recs[len(recs)-1].Where()
	}
	return s
}

// copySource gives CopyFrom the rows of a run; pgx encodes a row before
// it asks for the next, so one slice serves them all.
type copySource struct {
	recs []*record.Record
	idx  []int
	row  []any
	i    int
}

func (s *copySource) Next() bool { s.i++; return s.i < len(s.recs) }

func (s *copySource) Values() ([]any, error) {
	r := s.recs[s.i]
	for c, j := range s.idx {
		v := r.Values[j]
		if v.Kind() == record.Decimal {
			s.row[c] = pgDecimal{v}
		} else {
			s.row[c] = arg(v)
		}
	}
	return s.row, nil
}

func (s *copySource) Err() error { return nil }

// pgDecimal is a decimal for COPY: to a numeric column its digits and
// scale as they are (numeric(14,2) rounds as it would the INSERT's text),
// to a text column its text.
type pgDecimal struct{ v record.Value }

func (d pgDecimal) NumericValue() (pgtype.Numeric, error) {
	u, s, _ := d.v.Decimal()
	return pgtype.Numeric{Int: big.NewInt(u), Exp: -s, Valid: true}, nil
}

func (d pgDecimal) TextValue() (pgtype.Text, error) {
	return pgtype.Text{String: d.v.Text(), Valid: true}, nil
}
