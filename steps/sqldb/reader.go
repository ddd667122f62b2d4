package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

// Reader is the batch reader "sql".
var Reader = &batch.ReaderType{
	Name: "sql",
	Summary: "Reads the rows of a query in pages of the chunk size, in the order of a unique key, by keyset pagination (never OFFSET): " +
		"each page asks for the rows whose key is greater than the last one read, so a resumed run continues after the last committed key. " +
		"Record fields are typed from the columns' database types.",
	Attrs: []flow.Attr{
		{Name: "datasource", Type: cty.String, Required: true, Doc: "The name of a datasource of the flow."},
		{Name: "query", Type: cty.String, Required: true,
			Doc: "A SELECT whose rows are the records. It is read as a subquery, filtered and ordered by the key: it needs no ORDER BY and must return the key columns."},
		{Name: "args", Type: cty.DynamicPseudoType, Doc: "The query's bind parameters: ? in SQLite and MySQL, $1, $2, ... in PostgreSQL."},
		{Name: "key", Type: cty.List(cty.String), Default: cty.ListVal([]cty.Value{cty.StringVal("id")}),
			Doc: "Columns of the query that are unique together and never null: the reading order and the checkpoint."},
		{Name: "partitions", Type: cty.Number, Default: cty.NumberIntVal(1),
			Doc: "Splits the range of a single integer key into this many parts of equal width; the reader reads only part partition."},
		{Name: "partition", Type: cty.Number, Doc: "Which part this reader reads, from 0 to partitions - 1 (required with partitions)."},
		{Name: "key_range", Type: cty.List(cty.Number),
			Doc: "[min, max] of the key for partitioning. Without it, each reader takes MIN and MAX of the key when it starts, so readers on other machines split the same range only if the table does not change meanwhile."},
	},
	New:   newReader,
	Check: checkComponent,
}

type reader struct {
	ds    *Datasource
	query string
	args  []any
	key   []string
	parts int
	part  int
	kr    []int64 // key_range, or nil

	ctx         context.Context
	concurrency int
	join        *txBeginner // the chunks' transactions, when reading in them

	mu     sync.Mutex
	cols   []column
	schema *record.Schema
	keyIdx []int
	after  []record.Value // the last key read; nil at the start
	bounds *partBounds
	row    int64 // rows read, for Where
	done   bool
}

// partBounds are the keys a partition reads: lo <= key < hi, each bound
// absent at the ends of the range so that keys beyond the range measured
// at the start are read too.
type partBounds struct {
	Lo *int64 `json:"lo,omitempty"`
	Hi *int64 `json:"hi,omitempty"`
}

// readerPos is the reader's checkpoint.
type readerPos struct {
	After  []string    `json:"after,omitempty"`
	Kinds  []string    `json:"kinds,omitempty"`
	Bounds *partBounds `json:"bounds,omitempty"`
	Row    int64       `json:"row,omitempty"`
}

func newReader(c *batch.Config) (batch.Reader, error) {
	if c.Exec == nil {
		return nil, fmt.Errorf("the sql reader needs a flow (its datasource)")
	}
	ds, err := Open(c.Exec, c.String("datasource"))
	if err != nil {
		return nil, err
	}
	r := &reader{ds: ds, query: trimQuery(c.String("query")), parts: int(c.Int("partitions")), part: -1}
	if r.query == "" {
		return nil, fmt.Errorf("query is empty")
	}
	if r.args, err = ctyArgs(c.Attrs["args"]); err != nil {
		return nil, fmt.Errorf("args: %v", err)
	}
	if kv := c.Attrs["key"]; !kv.IsNull() {
		for _, k := range kv.AsValueSlice() {
			if k.IsNull() || k.AsString() == "" {
				return nil, fmt.Errorf("key names an empty column")
			}
			r.key = append(r.key, k.AsString())
		}
	}
	if len(r.key) == 0 {
		return nil, fmt.Errorf("key needs at least one column")
	}
	if pv, ok := c.Attrs["partition"]; ok && !pv.IsNull() {
		r.part = int(c.Int("partition"))
	}
	switch {
	case r.parts < 1:
		return nil, fmt.Errorf("partitions must be at least 1, not %d", r.parts)
	case r.parts == 1 && r.part > 0:
		return nil, fmt.Errorf("partition = %d without partitions", r.part)
	case r.parts > 1 && (r.part < 0 || r.part >= r.parts):
		return nil, fmt.Errorf("partitions = %d needs partition = 0 to %d (which part this reader reads)", r.parts, r.parts-1)
	case r.parts > 1 && len(r.key) != 1:
		return nil, fmt.Errorf("partitions need a single integer key column, not %d", len(r.key))
	}
	if kv, ok := c.Attrs["key_range"]; ok && !kv.IsNull() {
		for _, v := range kv.AsValueSlice() {
			i, acc := v.AsBigFloat().Int64()
			if acc != big.Exact {
				return nil, fmt.Errorf("key_range holds %s, not a whole number", v.AsBigFloat().String())
			}
			r.kr = append(r.kr, i)
		}
		if len(r.kr) != 2 || r.kr[0] > r.kr[1] {
			return nil, fmt.Errorf("key_range is [min, max] with min <= max")
		}
	}
	return r, nil
}

// trimQuery drops a trailing semicolon, which a subquery cannot have.
func trimQuery(q string) string {
	return strings.TrimRight(strings.TrimSpace(q), "; \t\r\n")
}

// Setup implements batch.Setup.
func (r *reader) Setup(t *batch.Task) error {
	r.ctx = t.Context
	r.concurrency = t.Concurrency
	t.OnTaskEnd(func(error) { r.unpark() })
	return nil
}

// TxBeginner implements batch.TxSource: a reader offers no transactions.
func (r *reader) TxBeginner() batch.TxBeginner { return nil }

// UseTx implements batch.TxSource: with transaction_scope "chunk" and the
// chunks' transactions on the reader's datasource, one worker reads in
// the chunk's transaction.
func (r *reader) UseTx(tx batch.TxBeginner, scope batch.TxScope) {
	if b, ok := tx.(*txBeginner); ok && b.ds == r.ds && scope == batch.ScopeChunk {
		r.join = b
	}
}

func (r *reader) unpark() {
	if r.join != nil {
		r.join.unpark()
	}
}

// Close rolls back a transaction the reader opened that no chunk took.
func (r *reader) Close() error {
	r.unpark()
	return nil
}

func (r *reader) context() context.Context {
	if r.ctx != nil {
		return r.ctx
	}
	return context.Background()
}

// Position implements batch.Seeker.
func (r *reader) Position() ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.measure(r.context()); err != nil {
		return nil, err
	}
	p := readerPos{Bounds: r.bounds, Row: r.row}
	for _, v := range r.after {
		p.After = append(p.After, v.Text())
		p.Kinds = append(p.Kinds, v.Kind().String())
	}
	return json.Marshal(p)
}

// Seek implements batch.Seeker.
func (r *reader) Seek(b []byte) error {
	var p readerPos
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("sql reader: invalid position %q: %v", b, err)
	}
	if len(p.After) != len(p.Kinds) || (len(p.After) > 0 && len(p.After) != len(r.key)) {
		return fmt.Errorf("sql reader: the position %s does not fit key %v (was the key changed since the checkpoint?)", b, r.key)
	}
	var after []record.Value
	for i, t := range p.After {
		k, err := record.ParseKind(p.Kinds[i])
		if err != nil {
			return fmt.Errorf("sql reader: position %s: %v", b, err)
		}
		v, err := record.Parse(k, t)
		if err != nil {
			return fmt.Errorf("sql reader: position %s: %v", b, err)
		}
		after = append(after, v)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.parts > 1 && p.Bounds == nil {
		return fmt.Errorf("sql reader: the position %s has no partition bounds (were partitions added since the checkpoint?)", b)
	}
	r.after, r.bounds, r.row, r.done = after, p.Bounds, p.Row, false
	return nil
}

// measure decides the partition's bounds, once: they are part of the
// position, so a resumed run reads the same part whatever the table
// holds by then.
func (r *reader) measure(ctx context.Context) error {
	if r.parts <= 1 || r.bounds != nil {
		return nil
	}
	lo, hi := int64(0), int64(0)
	if r.kr != nil {
		lo, hi = r.kr[0], r.kr[1]
	} else {
		d := r.ds.dialect
		k := d.quote(r.key[0])
		q := "SELECT MIN(" + k + "), MAX(" + k + ") FROM (" + r.query + ") flowbatch_q"
		var min, max any
		if err := r.ds.DB.QueryRowContext(ctx, q, r.args...).Scan(&min, &max); err != nil {
			return r.ds.wrap(err, "key range of the query")
		}
		if min != nil {
			a, err := toValue(record.Int, min)
			if err != nil {
				return fmt.Errorf("partitions need an integer key: MIN(%s): %v", r.key[0], err)
			}
			b, err := toValue(record.Int, max)
			if err != nil {
				return fmt.Errorf("partitions need an integer key: MAX(%s): %v", r.key[0], err)
			}
			lo, _ = a.Int()
			hi, _ = b.Int()
		}
	}
	r.bounds = splitRange(lo, hi, r.parts, r.part)
	return nil
}

// splitRange returns part i of n parts of equal width of [lo, hi]; the
// first part has no lower bound and the last no upper one.
func splitRange(lo, hi int64, n, i int) *partBounds {
	start := func(j int) int64 {
		span := new(big.Int).Sub(big.NewInt(hi), big.NewInt(lo))
		span.Add(span, big.NewInt(1))
		span.Mul(span, big.NewInt(int64(j)))
		span.Quo(span, big.NewInt(int64(n)))
		return span.Add(span, big.NewInt(lo)).Int64()
	}
	b := &partBounds{}
	if i > 0 {
		v := start(i)
		b.Lo = &v
	}
	if i < n-1 {
		v := start(i + 1)
		b.Hi = &v
	}
	return b
}

// page returns the SQL and arguments of the next page.
func (r *reader) page(max int) (string, []any) {
	d := r.ds.dialect
	args := append([]any(nil), r.args...)
	next := func(v any) string {
		args = append(args, v)
		return d.param(len(args))
	}
	var conds []string
	qk := make([]string, len(r.key))
	for i, k := range r.key {
		qk[i] = d.quote(k)
	}
	if r.after != nil {
		switch {
		case len(qk) == 1:
			conds = append(conds, qk[0]+" > "+next(arg(r.after[0])))
		case d.rowValues():
			ps := make([]string, len(qk))
			for i := range qk {
				ps[i] = next(arg(r.after[i]))
			}
			conds = append(conds, "("+strings.Join(qk, ", ")+") > ("+strings.Join(ps, ", ")+")")
		default:
			// k1 > a OR (k1 = a AND k2 > b) OR ...
			var ors []string
			for i := range qk {
				var ands []string
				for j := 0; j < i; j++ {
					ands = append(ands, qk[j]+" = "+next(arg(r.after[j])))
				}
				ands = append(ands, qk[i]+" > "+next(arg(r.after[i])))
				ors = append(ors, "("+strings.Join(ands, " AND ")+")")
			}
			conds = append(conds, "("+strings.Join(ors, " OR ")+")")
		}
	}
	if b := r.bounds; b != nil {
		if b.Lo != nil {
			conds = append(conds, qk[0]+" >= "+next(*b.Lo))
		}
		if b.Hi != nil {
			conds = append(conds, qk[0]+" < "+next(*b.Hi))
		}
	}
	var sb strings.Builder
	sb.WriteString("SELECT * FROM (")
	sb.WriteString(r.query)
	sb.WriteString(") flowbatch_q")
	if len(conds) > 0 {
		sb.WriteString(" WHERE ")
		sb.WriteString(strings.Join(conds, " AND "))
	}
	sb.WriteString(" ORDER BY ")
	sb.WriteString(strings.Join(qk, ", "))
	sb.WriteString(" LIMIT ")
	sb.WriteString(strconv.Itoa(max))
	return sb.String(), args
}

// Load implements batch.Loader: the next page of rows.
func (r *reader) Load(c *batch.Chunk, max int) ([]*record.Record, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx := c.Context()
	if err := r.measure(ctx); err != nil {
		return nil, err
	}
	for !r.done {
		recs, n, err := r.loadPage(ctx, c, max)
		if err != nil {
			return nil, err
		}
		if n < max {
			r.done = true
		}
		if len(recs) > 0 {
			return recs, nil
		}
		// A page of rows none of which could be read (skipped): the next.
	}
	r.unpark()
	return nil, nil
}

// loadPage reads one page; n counts its rows, read or not.
func (r *reader) loadPage(ctx context.Context, c *batch.Chunk, max int) (recs []*record.Record, n int, err error) {
	q, args := r.page(max)
	var e execer = r.ds.DB
	switch t := txFrom(ctx, r.ds); {
	case r.join != nil && r.concurrency == 1:
		ct, err := r.join.park(ctx)
		if err != nil {
			return nil, 0, err
		}
		ct.t.mu.Lock()
		defer ct.t.mu.Unlock()
		e = ct.t.tx
	case t != nil:
		t.mu.Lock()
		defer t.mu.Unlock()
		e = t.tx
	}
	rows, err := e.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, 0, r.ds.wrap(err, "read")
	}
	defer rows.Close()
	if r.cols == nil {
		if err := r.describe(rows); err != nil {
			return nil, 0, err
		}
	}
	raw := make([]any, len(r.cols))
	ptrs := make([]any, len(raw))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	var prev []record.Value
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, 0, r.ds.wrap(err, "read")
		}
		n++
		r.row++
		where := r.ds.Name + ":" + strconv.FormatInt(r.row, 10)
		key := make([]record.Value, len(r.keyIdx))
		for i, ki := range r.keyIdx {
			v, err := toValue(r.cols[ki].kind, raw[ki])
			if err != nil {
				return nil, 0, fmt.Errorf("%s: key column %s: %v", where, r.key[i], err)
			}
			if v.IsNull() {
				return nil, 0, fmt.Errorf("%s: key column %s is null: the key must be unique and never null", where, r.key[i])
			}
			key[i] = v
		}
		if prev != nil && equalKeys(prev, key) {
			return nil, 0, fmt.Errorf("%s: key %s appears twice: the key must be unique (add columns to key)", where, keyText(r.key, key))
		}
		prev = key
		r.after = key
		rec := &record.Record{Schema: r.schema, Values: make([]record.Value, len(r.cols)), Source: r.ds.Name, Line: r.row}
		var bad error
		for i, col := range r.cols {
			v, err := toValue(col.kind, raw[i])
			if err != nil {
				bad = fmt.Errorf("column %s (%s): %v", col.name, col.dbType, err)
				break
			}
			rec.Values[i] = v
		}
		if bad != nil {
			if err := c.ReadFailed(where, keyText(r.key, key), bad); err != nil {
				return nil, 0, err
			}
			continue
		}
		recs = append(recs, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, r.ds.wrap(err, "read")
	}
	return recs, n, nil
}

// describe makes the schema from the first page's columns.
func (r *reader) describe(rows *sql.Rows) error {
	cols, err := columnsOf(rows)
	if err != nil {
		return r.ds.wrap(err, "read")
	}
	fields := make([]record.Field, len(cols))
	for i, c := range cols {
		fields[i] = record.Field{Name: c.name, Kind: c.kind}
	}
	schema, err := record.NewSchema(fields...)
	if err != nil {
		return fmt.Errorf("the query's columns: %v (give them distinct names with AS)", err)
	}
	r.keyIdx = r.keyIdx[:0]
	for _, k := range r.key {
		i, ok := schema.Index(k)
		if !ok {
			return fmt.Errorf("the query returns no key column %q (columns: %s)", k, strings.Join(schema.Names(), ", "))
		}
		r.keyIdx = append(r.keyIdx, i)
	}
	r.cols, r.schema = cols, schema
	return nil
}

func equalKeys(a, b []record.Value) bool {
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

func keyText(names []string, vs []record.Value) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = names[i] + "=" + v.Text()
	}
	return strings.Join(parts, ", ")
}
