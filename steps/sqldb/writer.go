package sqldb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

// Writer modes.
const (
	ModeInsert = "insert"
	ModeUpsert = "upsert"
	ModeUpdate = "update"
)

// DefaultMarkerTable is where SQL writers keep their chunk markers.
const DefaultMarkerTable = "flowbatch_chunks"

// Writer is the batch writer "sql".
var Writer = &batch.WriterType{
	Name: "sql",
	Summary: "Writes records to a table: insert (multi-row INSERTs; COPY in PostgreSQL, where it stores the same), upsert (insert or update by key) or update. " +
		"Each chunk's rows are written in one database transaction together with a marker of the chunk (execution, step, items), " +
		"so that a resumed run recognises the chunks it already wrote: nothing is written twice, even though the checkpoint is kept elsewhere.",
	Attrs: []flow.Attr{
		{Name: "datasource", Type: cty.String, Required: true, Doc: "The name of a datasource of the flow."},
		{Name: "table", Type: cty.String, Required: true, Doc: "The table, possibly schema-qualified (schema.table); quoted as the database quotes names."},
		{Name: "mode", Type: cty.String, Default: cty.StringVal(ModeInsert), OneOf: []string{ModeInsert, ModeUpsert, ModeUpdate},
			Doc: "insert; upsert: insert, or update the row with the same key (ON CONFLICT in PostgreSQL and SQLite, ON DUPLICATE KEY in MySQL); update: update the row with the record's key, which must exist."},
		{Name: "key", Type: cty.List(cty.String),
			Doc: "The key columns of upsert and update: a primary key or unique constraint of the table."},
		{Name: "columns", Type: cty.DynamicPseudoType,
			Doc: "Which record fields are written to which columns: a map { field = \"column\" }, or a list of fields written to columns of the same name. Default: every field of the record, to the column of its name."},
		{Name: "marker_table", Type: cty.String, Default: cty.StringVal(DefaultMarkerTable),
			Doc: "The table, created when missing, where the writer marks the chunks it committed. A finished step deletes its markers."},
	},
	New:   newWriter,
	Check: checkComponent,
}

type writer struct {
	name    string
	ds      *Datasource
	d       dialect
	table   string
	qtable  string
	mode    string
	key     []string // columns
	fields  []string // record fields written, in order; nil: all of the record's
	cols    []string // the column of each field
	markers string   // quoted marker table
	runKey  string
	step    string // the step path as kept in markers
	exec    string
	tb      *txBeginner
	logger  *slog.Logger

	hiMark int64         // the end of the highest item an earlier execution marked, -1 for none
	before []batch.Range // the items earlier executions marked, merged
	mu     sync.Mutex
	mine   []batch.Range // items this execution committed

	sqlMu   sync.Mutex
	sqlText map[sqlKey]string // the INSERT statements, by columns and rows
	pg      *pgTable          // PostgreSQL, mode insert: what decides whether a run can COPY
	noCopy  bool              // tests: INSERT even where COPY would do
}

func newWriter(c *batch.Config) (batch.Writer, error) {
	if c.Exec == nil {
		return nil, fmt.Errorf("the sql writer needs a flow (its datasource)")
	}
	ds, err := Open(c.Exec, c.String("datasource"))
	if err != nil {
		return nil, err
	}
	w := &writer{name: c.Name, ds: ds, d: ds.dialect, table: c.String("table"), mode: c.String("mode"),
		runKey: c.RunKey, step: shorten(c.Step, 255), exec: c.Exec.RunID(), tb: &txBeginner{ds: ds}, logger: c.Logger, hiMark: -1}
	if w.name == "" {
		w.name = c.Type
	}
	w.name = shorten(w.name, 100)
	if w.table == "" {
		return nil, fmt.Errorf("table is empty")
	}
	w.qtable = w.d.quoteName(w.table)
	if w.mode == "" {
		w.mode = ModeInsert
	}
	mt := c.String("marker_table")
	if mt == "" {
		mt = DefaultMarkerTable
	}
	w.markers = w.d.quoteName(mt)
	if kv, ok := c.Attrs["key"]; ok && !kv.IsNull() {
		for _, k := range kv.AsValueSlice() {
			if k.IsNull() || k.AsString() == "" {
				return nil, fmt.Errorf("key names an empty column")
			}
			w.key = append(w.key, k.AsString())
		}
	}
	if (w.mode == ModeUpsert || w.mode == ModeUpdate) && len(w.key) == 0 {
		return nil, fmt.Errorf("mode %q needs key = [\"COLUMN\", ...]", w.mode)
	}
	if cv, ok := c.Attrs["columns"]; ok && !cv.IsNull() {
		if err := w.mapping(cv); err != nil {
			return nil, fmt.Errorf("columns: %v", err)
		}
	}
	if w.fields != nil {
		for _, k := range w.key {
			if !contains(w.cols, k) {
				return nil, fmt.Errorf("key column %q is not among the columns written (%s)", k, strings.Join(w.cols, ", "))
			}
		}
	}
	return w, nil
}

func (w *writer) mapping(v cty.Value) error {
	ty := v.Type()
	switch {
	case ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() || e.Type() != cty.String || e.AsString() == "" {
				return fmt.Errorf("a list of columns holds field names (strings)")
			}
			w.fields = append(w.fields, e.AsString())
			w.cols = append(w.cols, e.AsString())
		}
	case ty.IsMapType() || ty.IsObjectType():
		m := v.AsValueMap()
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, f := range names {
			col := m[f]
			if col.IsNull() || col.Type() != cty.String || col.AsString() == "" {
				return fmt.Errorf("field %q: the column is a name (a string)", f)
			}
			w.fields = append(w.fields, f)
			w.cols = append(w.cols, col.AsString())
		}
	default:
		return fmt.Errorf("expects a map { field = \"column\" } or a list of fields, not %s", ty.FriendlyName())
	}
	if len(w.fields) == 0 {
		return fmt.Errorf("no columns")
	}
	seen := map[string]bool{}
	for _, c := range w.cols {
		if seen[c] {
			return fmt.Errorf("column %q is written twice", c)
		}
		seen[c] = true
	}
	return nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// shorten keeps names within a column's width: a long one keeps its start
// and a hash of the whole.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	h := sha256.Sum256([]byte(s))
	tail := "#" + hex.EncodeToString(h[:16])
	return s[:n-len(tail)] + tail
}

// TxBeginner implements batch.TxSource.
func (w *writer) TxBeginner() batch.TxBeginner { return w.tb }

// UseTx implements batch.TxSource; the writer sees the chunk's
// transaction in Chunk.Tx.
func (w *writer) UseTx(batch.TxBeginner, batch.TxScope) {}

// KeyedByRun implements batch.RunKeyed.
func (w *writer) KeyedByRun() bool { return true }

// Setup implements batch.Setup: the marker table, and the markers an
// earlier execution of the step left.
func (w *writer) Setup(t *batch.Task) error {
	if ds := inTransaction(t.Context); ds != "" {
		return fmt.Errorf("a batch step with a sql writer cannot run inside transaction = %q: it commits every chunk on its own, "+
			"and a resume would run the transaction's steps, this one among them, again", ds)
	}
	ctx := t.Context
	if err := w.createMarkers(ctx); err != nil {
		return err
	}
	if err := w.loadMarkers(ctx); err != nil {
		return err
	}
	if w.d == Postgres && w.mode == ModeInsert {
		w.pg = w.lookupPG(ctx)
	}
	// A chunk written in the chunk's transaction counts as written once
	// that transaction committed: what the markers in the table said when
	// every chunk asked them, without asking.
	t.OnCommit(func(c *batch.Chunk) error {
		if c.Values[w] != inChunkTx {
			return nil // nothing written, or in a transaction of the writer's own: in mine already
		}
		w.mu.Lock()
		for _, r := range ranges(c.ItemSeqs()) {
			w.mine = insertRange(w.mine, r)
		}
		w.mu.Unlock()
		return nil
	})
	t.OnTaskEnd(func(err error) {
		if err != nil {
			return // kept for the resume
		}
		// Every chunk is in the step's checkpoint now: the markers have
		// done their work.
		q := "DELETE FROM " + w.markers + " WHERE run_key = " + w.d.param(1) + " AND step = " + w.d.param(2) + " AND writer = " + w.d.param(3)
		if _, err := w.ds.DB.ExecContext(context.WithoutCancel(ctx), q, w.runKey, w.step, w.name); err != nil && w.logger != nil {
			// Harmless but for the space: a later run has another key.
			w.logger.Warn("could not delete the chunk markers of a finished step", "table", w.markers, "run_key", w.runKey, "error", err.Error())
		}
	})
	return nil
}

// loadMarkers reads the markers earlier executions of the run left, once:
// what a resumed chunk checks against. Asking the table for every chunk
// cost a query returning every marker between the chunk's lowest and
// highest item, which with partition_by (a chunk's items scattered over
// the input, a marker per run of them) was most of the table each time.
// Markers this execution writes are kept in mine as their transactions
// commit.
func (w *writer) loadMarkers(ctx context.Context) error {
	q := "SELECT first_item, end_item FROM " + w.markers + " WHERE run_key = " + w.d.param(1) + " AND step = " + w.d.param(2) +
		" AND writer = " + w.d.param(3) + " ORDER BY first_item"
	rows, err := w.ds.DB.QueryContext(ctx, q, w.runKey, w.step, w.name)
	if err != nil {
		return w.ds.wrap(err, "read the chunk markers in %s", w.markers)
	}
	defer rows.Close()
	var before []batch.Range
	for rows.Next() {
		var r batch.Range
		if err := rows.Scan(&r.From, &r.To); err != nil {
			return w.ds.wrap(err, "read the chunk markers in %s", w.markers)
		}
		// In order of first_item: merge with the last range or append.
		if n := len(before); n > 0 && r.From <= before[n-1].To {
			before[n-1].To = max(before[n-1].To, r.To)
		} else {
			before = append(before, r)
		}
		w.hiMark = max(w.hiMark, r.To)
	}
	if err := rows.Err(); err != nil {
		return w.ds.wrap(err, "read the chunk markers in %s", w.markers)
	}
	w.before = before
	return nil
}

func (w *writer) createMarkers(ctx context.Context) error {
	ddl := "CREATE TABLE IF NOT EXISTS " + w.markers + ` (
	run_key VARCHAR(64) NOT NULL,
	step VARCHAR(255) NOT NULL,
	writer VARCHAR(100) NOT NULL,
	first_item BIGINT NOT NULL,
	end_item BIGINT NOT NULL,
	execution VARCHAR(64) NOT NULL,
	committed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
	PRIMARY KEY (run_key, step, writer, first_item)
)`
	_, err := w.ds.DB.ExecContext(ctx, ddl)
	if err != nil {
		// Two processes creating it at once: PostgreSQL lets one fail.
		if _, err2 := w.ds.DB.ExecContext(ctx, ddl); err2 == nil {
			return nil
		}
		return w.ds.wrap(err, "create the chunk marker table %s", w.markers)
	}
	return nil
}

// Sync implements batch.Writer: a committed transaction is durable.
func (w *writer) Sync() error { return nil }

// Close implements batch.Writer.
func (w *writer) Close() error { return nil }

// inChunkTx marks in Chunk.Values a chunk the writer wrote in the chunk's
// transaction.
const inChunkTx = "written in the chunk's transaction"

// errPartial fails a chunk that an earlier execution wrote in part: the
// engine then writes it item by item, each whole or not at all.
var errPartial = errors.New("an earlier execution wrote part of this chunk")

// Consume implements batch.Consumer: the chunk's rows and its marker, in
// the chunk's transaction when it runs in one on this datasource, else in
// a transaction of the writer's own.
func (w *writer) Consume(c *batch.Chunk, items []*record.Record) error {
	if len(items) == 0 {
		return nil
	}
	ctx := c.Context()
	seqs := c.ItemSeqs()
	var t *txState
	own := false
	if ct, ok := c.Tx.(*chunkTx); ok && ct.t.ds == w.ds {
		t = ct.t
	} else {
		var err error
		if t, err = w.ds.begin(ctx); err != nil {
			return err
		}
		own = true
	}
	err := w.write(ctx, t, seqs, items)
	if !own && err == nil {
		c.Values[w] = inChunkTx
	}
	if own {
		if err != nil {
			_ = t.rollback()
			return err
		}
		if err := t.commit(); err != nil {
			return err
		}
		w.mu.Lock()
		for _, r := range ranges(seqs) {
			w.mine = insertRange(w.mine, r)
		}
		w.mu.Unlock()
	}
	return err
}

func (w *writer) write(ctx context.Context, t *txState, seqs []int64, items []*record.Record) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return w.ds.wrap(sql.ErrTxDone, "write")
	}
	done := w.written(seqs)
	switch {
	case done == len(seqs):
		return nil // written and committed before: nothing to do
	case done > 0:
		return fmt.Errorf("%w (%d of its %d items)", errPartial, done, len(seqs))
	}
	// Runs of records that share a schema go in the same statements.
	for i := 0; i < len(items); {
		j := i + 1
		for j < len(items) && items[j].Schema == items[i].Schema {
			j++
		}
		if err := w.writeRun(ctx, t, items[i:j]); err != nil {
			return err
		}
		i = j
	}
	return w.mark(ctx, t, seqs)
}

// written counts the chunk's items that are already committed: by this
// execution in a transaction of the writer's own (a chunk retried after
// another writer failed), or by an earlier one (a resumed chunk).
func (w *writer) written(seqs []int64) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, s := range seqs {
		if (s < w.hiMark && inRanges(w.before, s)) || inRanges(w.mine, s) {
			n++
		}
	}
	return n
}

// mark records the chunk's items as written, in its transaction.
func (w *writer) mark(ctx context.Context, t *txState, seqs []int64) error {
	rs := ranges(seqs)
	row := func(args []any, i int) []any {
		return append(args, w.runKey, w.step, w.name, rs[i].From, rs[i].To, w.exec)
	}
	return w.insertRows(ctx, t, markerStmt, nil, len(rs), row, func(_, _ int, err error) error {
		return w.ds.wrap(err, "mark the chunk in %s", w.markers)
	})
}

// target is what a run of records with one schema writes: the index of
// each written field in the schema and its column.
type target struct {
	idx  []int
	cols []string
}

func (w *writer) target(r *record.Record) (target, error) {
	var t target
	if w.fields == nil {
		t.cols = r.Schema.Names()
		t.idx = make([]int, len(t.cols))
		for i := range t.idx {
			t.idx[i] = i
		}
		for _, k := range w.key {
			if !contains(t.cols, k) {
				return t, fmt.Errorf("record at %s has no key field %q (fields: %s)", r.Where(), k, strings.Join(t.cols, ", "))
			}
		}
		return t, nil
	}
	for i, f := range w.fields {
		j, ok := r.Schema.Index(f)
		if !ok {
			return t, fmt.Errorf("record at %s has no field %q (fields: %s)", r.Where(), f, strings.Join(r.Schema.Names(), ", "))
		}
		t.idx = append(t.idx, j)
		t.cols = append(t.cols, w.cols[i])
	}
	return t, nil
}

func (w *writer) writeRun(ctx context.Context, t *txState, recs []*record.Record) error {
	tg, err := w.target(recs[0])
	if err != nil {
		return err
	}
	if len(tg.cols) == 0 {
		return fmt.Errorf("record at %s has no fields", recs[0].Where())
	}
	switch w.mode {
	case ModeUpdate:
		return w.update(ctx, t, tg, recs)
	case ModeUpsert:
		recs = w.lastPerKey(tg, recs)
	case ModeInsert:
		if w.canCopy(tg, recs) {
			return w.copyRows(ctx, t, tg, recs)
		}
	}
	row := func(args []any, i int) []any {
		for _, j := range tg.idx {
			args = append(args, arg(recs[i].Values[j]))
		}
		return args
	}
	fail := func(i, n int, err error) error {
		where := recs[i].Where()
		if n > 1 {
			where += " to " + recs[i+n-1].Where()
		}
		return w.ds.wrap(err, "%s into %s (records %s)", w.mode, w.table, where)
	}
	return w.insertRows(ctx, t, rowStmt, tg.cols, len(recs), row, fail)
}

// The statements the writer inserts rows with.
const (
	rowStmt    = iota // the table's rows, by the writer's mode
	markerStmt        // chunk markers
)

// insertRows inserts n rows with multi-row statements of the row counts
// pieceRows gives, so that a few texts serve every chunk and each is
// prepared once per connection; row appends the bind values of row i,
// fail makes the error of the statement of rows i to i+k-1.
func (w *writer) insertRows(ctx context.Context, t *txState, kind int, cols []string, n int, row func(args []any, i int) []any, fail func(i, k int, err error) error) error {
	ncols := len(cols)
	if kind == markerStmt {
		ncols = len(markerCols)
	}
	var args []any
	for i := 0; i < n; {
		k := w.d.pieceRows(n-i, ncols)
		args = args[:0]
		for r := i; r < i+k; r++ {
			args = row(args, r)
		}
		if _, err := t.execPrepared(ctx, w.insertSQL(kind, cols, k), args); err != nil {
			return fail(i, k, err)
		}
		i += k
	}
	return nil
}

var markerCols = []string{"run_key", "step", "writer", "first_item", "end_item", "execution"}

type sqlKey struct {
	kind int
	cols string
	rows int
}

// insertSQL returns the statement that inserts rows rows into cols (the
// markers' own for markerStmt), made once per writer.
func (w *writer) insertSQL(kind int, cols []string, rows int) string {
	key := sqlKey{kind: kind, cols: strings.Join(cols, "\x00"), rows: rows}
	w.sqlMu.Lock()
	q, ok := w.sqlText[key]
	w.sqlMu.Unlock()
	if ok {
		return q
	}
	d := w.d
	table := w.qtable
	if kind == markerStmt {
		table, cols = w.markers, markerCols
	}
	var sb strings.Builder
	sb.WriteString("INSERT INTO ")
	sb.WriteString(table)
	sb.WriteString(" (")
	for i, c := range cols {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(d.quote(c))
	}
	sb.WriteString(") VALUES ")
	n := 0
	for r := 0; r < rows; r++ {
		if r > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('(')
		for i := range cols {
			if i > 0 {
				sb.WriteString(", ")
			}
			n++
			sb.WriteString(d.param(n))
		}
		sb.WriteByte(')')
	}
	if kind == rowStmt && w.mode == ModeUpsert {
		var set []string
		for _, c := range cols {
			if contains(w.key, c) {
				continue
			}
			if d == MySQL {
				set = append(set, d.quote(c)+" = VALUES("+d.quote(c)+")")
			} else {
				set = append(set, d.quote(c)+" = excluded."+d.quote(c))
			}
		}
		if d == MySQL {
			if len(set) == 0 {
				set = append(set, d.quote(w.key[0])+" = "+d.quote(w.key[0]))
			}
			sb.WriteString(" ON DUPLICATE KEY UPDATE ")
		} else {
			qk := make([]string, len(w.key))
			for i, k := range w.key {
				qk[i] = d.quote(k)
			}
			sb.WriteString(" ON CONFLICT (" + strings.Join(qk, ", ") + ")")
			if len(set) == 0 {
				sb.WriteString(" DO NOTHING")
			} else {
				sb.WriteString(" DO UPDATE SET ")
			}
		}
		sb.WriteString(strings.Join(set, ", "))
	}
	q = sb.String()
	w.sqlMu.Lock()
	if w.sqlText == nil {
		w.sqlText = map[sqlKey]string{}
	}
	w.sqlText[key] = q
	w.sqlMu.Unlock()
	return q
}

// lastPerKey keeps the last of records with the same key, in order: one
// upsert statement cannot touch a row twice (PostgreSQL refuses).
func (w *writer) lastPerKey(tg target, recs []*record.Record) []*record.Record {
	ki := w.keyIndexes(tg)
	last := make(map[string]int, len(recs))
	var b []byte
	keys := make([]string, len(recs))
	for i, r := range recs {
		b = b[:0]
		for _, j := range ki {
			v := r.Values[j]
			b = append(b, byte(v.Kind()))
			b = v.AppendText(b)
			b = append(b, 0)
		}
		keys[i] = string(b)
		last[keys[i]] = i
	}
	if len(last) == len(recs) {
		return recs
	}
	out := make([]*record.Record, 0, len(last))
	for i, r := range recs {
		if last[keys[i]] == i {
			out = append(out, r)
		}
	}
	return out
}

// keyIndexes returns the schema indexes of the key columns.
func (w *writer) keyIndexes(tg target) []int {
	ki := make([]int, len(w.key))
	for i, k := range w.key {
		for j, c := range tg.cols {
			if c == k {
				ki[i] = tg.idx[j]
			}
		}
	}
	return ki
}

// update updates one row per record, by key; a record whose row does not
// exist fails the chunk (and, alone, is a write error for the skip policy).
func (w *writer) update(ctx context.Context, t *txState, tg target, recs []*record.Record) error {
	d := w.d
	var set, where []string
	var setIdx, keyIdx []int
	n := 0
	for i, c := range tg.cols {
		if contains(w.key, c) {
			continue
		}
		n++
		set = append(set, d.quote(c)+" = "+d.param(n))
		setIdx = append(setIdx, tg.idx[i])
	}
	if len(set) == 0 {
		return fmt.Errorf("update: the records have no field besides the key %v", w.key)
	}
	ki := w.keyIndexes(tg)
	for i, k := range w.key {
		n++
		where = append(where, d.quote(k)+" = "+d.param(n))
		keyIdx = append(keyIdx, ki[i])
	}
	q := "UPDATE " + w.qtable + " SET " + strings.Join(set, ", ") + " WHERE " + strings.Join(where, " AND ")
	args := make([]any, n)
	for _, r := range recs {
		for i, j := range setIdx {
			args[i] = arg(r.Values[j])
		}
		for i, j := range keyIdx {
			args[len(setIdx)+i] = arg(r.Values[j])
		}
		c, err := t.execPrepared(ctx, q, args)
		if err != nil {
			return w.ds.wrap(err, "update %s (record at %s)", w.table, r.Where())
		}
		if c == 0 {
			vals := make([]record.Value, len(keyIdx))
			for i, j := range keyIdx {
				vals[i] = r.Values[j]
			}
			return fmt.Errorf("update %s: no row with %s (record at %s)", w.table, keyText(w.key, vals), r.Where())
		}
	}
	return nil
}

// ranges turns item numbers into sorted ranges.
func ranges(seqs []int64) []batch.Range {
	s := append([]int64(nil), seqs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var out []batch.Range
	for _, v := range s {
		if n := len(out); n > 0 && out[n-1].To >= v {
			out[n-1].To = max(out[n-1].To, v+1)
			continue
		}
		out = append(out, batch.Range{From: v, To: v + 1})
	}
	return out
}

func insertRange(rs []batch.Range, r batch.Range) []batch.Range {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].To >= r.From })
	j := i
	for j < len(rs) && rs[j].From <= r.To {
		r.From = min(r.From, rs[j].From)
		r.To = max(r.To, rs[j].To)
		j++
	}
	out := append(rs[:i:i], r)
	return append(out, rs[j:]...)
}

func inRanges(rs []batch.Range, s int64) bool {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].To > s })
	return i < len(rs) && rs[i].From <= s
}
