package sqldb

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch/record"
)

// Step is the sql step.
var Step = &flow.StepType{
	Name: "sql",
	Summary: "Runs SQL on a datasource: statements (DDL or DML, in order) or a query with bind parameters, whose rows become the step's output. " +
		"Inside a transaction decorator on the same datasource it joins that transaction; otherwise its statements run in a transaction of their own " +
		"(unless autocommit), so the step does all of them or none.",
	Attrs: []flow.Attr{
		{Name: "datasource", Type: cty.String, Required: true, Doc: "The name of a datasource of the flow."},
		{Name: "statements", Type: cty.DynamicPseudoType,
			Doc: "A list of statements run in order. Each is a string, which may hold several statements separated by semicolons " +
				"(such as file(\"schema.sql\")), or an object { sql = \"...\", args = [...] } with bind parameters."},
		{Name: "query", Type: cty.String, Doc: "One statement whose rows are the step's output (a SELECT, or DML with RETURNING)."},
		{Name: "args", Type: cty.DynamicPseudoType,
			Doc: "The query's bind parameters, in order: ? in SQLite and MySQL, $1, $2, ... in PostgreSQL. Values are never spliced into the SQL text."},
		{Name: "max_rows", Type: cty.Number, Default: cty.NumberIntVal(1000),
			Doc: "The most rows kept in the rows output; truncated tells whether the query had more."},
		{Name: "autocommit", Type: cty.Bool, Default: cty.False,
			Doc: "Run each statement on its own instead of all in one transaction (for statements a transaction cannot hold, such as PostgreSQL's CREATE INDEX CONCURRENTLY)."},
	},
	Outputs: []flow.OutputDoc{
		{Name: "rows", Type: "list(object)", Doc: "The query's rows, one object per row with a field per column: numbers (decimals exact), bools, strings, timestamps as RFC 3339 text in UTC, null."},
		{Name: "row_count", Type: "number", Doc: "Rows in rows."},
		{Name: "truncated", Type: "bool", Doc: "Whether the query returned more than max_rows rows (the rest were not read)."},
		{Name: "rows_affected", Type: "number", Doc: "Rows the statements changed, as the driver counts them (0 for a query)."},
	},
	Check: checkStep,
	New:   func(n *flow.Node) (flow.Step, hcl.Diagnostics) { return flow.StepFunc(runStep), nil },
}

func checkStep(n *flow.Node) hcl.Diagnostics {
	var diags hcl.Diagnostics
	stmts, query := n.Attr("statements"), n.Attr("query")
	switch {
	case stmts == nil && query == nil:
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Nothing to run",
			Detail: "A sql step takes statements = [...] or query = \"...\".", Subject: n.Range.Ptr()})
	case stmts != nil && query != nil:
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Both statements and query",
			Detail: "A sql step takes statements or a query, not both: use two steps.", Subject: query.Range.Ptr()})
	}
	if a := n.Attr("args"); a != nil && query == nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "args without a query",
			Detail:  "args binds the query's parameters; give a statement its own with statements = [{ sql = \"...\", args = [...] }].",
			Subject: a.Range.Ptr()})
	}
	if n.Flow != nil {
		diags = append(diags, checkDatasource(n.Flow, n.Attr("datasource"))...)
	}
	return diags
}

// statement is one entry of statements.
type statement struct {
	sql  string
	args []any
}

func runStep(ctx context.Context, x *flow.Exec) (cty.Value, error) {
	name, err := x.String("datasource")
	if err != nil {
		return cty.NilVal, err
	}
	ds, err := Open(x, name)
	if err != nil {
		return cty.NilVal, err
	}
	out := map[string]cty.Value{
		"rows": cty.ListValEmpty(cty.EmptyObject), "row_count": cty.Zero,
		"truncated": cty.False, "rows_affected": cty.Zero,
	}
	if a := x.Node.Attr("query"); a != nil {
		q, err := x.String("query")
		if err != nil {
			return cty.NilVal, err
		}
		argv, err := x.Attr("args")
		if err != nil {
			return cty.NilVal, err
		}
		args, err := ctyArgs(argv)
		if err != nil {
			return cty.NilVal, flow.Errorf(flow.KindEval, "%s: args: %v", flow.Pos(x.Node.Attr("args").Expr.Range()), err)
		}
		max, err := x.Int("max_rows")
		if err != nil {
			return cty.NilVal, err
		}
		if max < 0 {
			return cty.NilVal, flow.Errorf(flow.KindEval, "%s: max_rows is negative", flow.Pos(x.Node.Attr("max_rows").Expr.Range()))
		}
		var rows cty.Value
		var n int
		var more bool
		err = ds.run(ctx, func(e execer) error {
			rs, err := e.QueryContext(ctx, q, args...)
			if err != nil {
				return err
			}
			defer rs.Close()
			rows, n, more, err = readRows(rs, max)
			return err
		})
		if err != nil {
			return cty.NilVal, &flow.Error{Kind: flow.KindFailed, Msg: "query at " + flow.Pos(a.Expr.Range()), Err: ds.wrap(err, "query")}
		}
		if more {
			x.Logger.Warn("query returned more rows than max_rows; the rest were not read", "max_rows", max)
		}
		out["rows"], out["row_count"], out["truncated"] = rows, cty.NumberIntVal(int64(n)), cty.BoolVal(more)
		return cty.ObjectVal(out), nil
	}
	sv, err := x.Attr("statements")
	if err != nil {
		return cty.NilVal, err
	}
	pos := flow.Pos(x.Node.Attr("statements").Expr.Range())
	stmts, err := statementsOf(sv)
	if err != nil {
		return cty.NilVal, flow.Errorf(flow.KindEval, "%s: statements: %v", pos, err)
	}
	autocommit, err := x.Bool("autocommit")
	if err != nil {
		return cty.NilVal, err
	}
	var affected int64
	runAll := func(e execer) error {
		for i, s := range stmts {
			res, err := e.ExecContext(ctx, s.sql, s.args...)
			if err != nil {
				return fmt.Errorf("statement %d of %d: %w", i+1, len(stmts), ds.wrap(err, "exec"))
			}
			if n, err := res.RowsAffected(); err == nil {
				affected += n
			}
		}
		return nil
	}
	switch {
	case txFrom(ctx, ds) != nil || autocommit || len(stmts) == 1:
		err = ds.run(ctx, runAll)
	default:
		var t *txState
		if t, err = ds.begin(ctx); err != nil {
			break
		}
		t.mu.Lock()
		err = runAll(t.tx)
		t.mu.Unlock()
		if err != nil {
			_ = t.rollback()
			break
		}
		err = t.commit()
	}
	if err != nil {
		return cty.NilVal, &flow.Error{Kind: flow.KindFailed, Msg: "statements at " + pos, Err: err}
	}
	out["rows_affected"] = cty.NumberIntVal(affected)
	return cty.ObjectVal(out), nil
}

// run calls fn with the enclosing transaction on d, or else with the pool.
func (d *Datasource) run(ctx context.Context, fn func(e execer) error) error {
	if t := txFrom(ctx, d); t != nil {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.done {
			return sql.ErrTxDone
		}
		return fn(t.tx)
	}
	return fn(d.DB)
}

func ctyArgs(v cty.Value) ([]any, error) {
	if v.IsNull() {
		return nil, nil
	}
	if !v.Type().IsListType() && !v.Type().IsTupleType() && !v.Type().IsSetType() {
		return nil, fmt.Errorf("expects a list, not %s", v.Type().FriendlyName())
	}
	var out []any
	i := 0
	for it := v.ElementIterator(); it.Next(); i++ {
		_, e := it.Element()
		a, err := ctyArg(e)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %v", i+1, err)
		}
		out = append(out, a)
	}
	return out, nil
}

func statementsOf(v cty.Value) ([]statement, error) {
	if v.IsNull() {
		return nil, nil
	}
	if v.Type() == cty.String {
		return []statement{{sql: v.AsString()}}, nil
	}
	if !v.Type().IsListType() && !v.Type().IsTupleType() {
		return nil, fmt.Errorf("expects a list of statements, not %s", v.Type().FriendlyName())
	}
	var out []statement
	i := 0
	for it := v.ElementIterator(); it.Next(); i++ {
		_, e := it.Element()
		switch {
		case e.IsNull():
			return nil, fmt.Errorf("statement %d is null", i+1)
		case e.Type() == cty.String:
			out = append(out, statement{sql: e.AsString()})
		case e.Type().IsObjectType() || e.Type().IsMapType():
			m := e.AsValueMap()
			s, ok := m["sql"]
			if !ok || s.IsNull() || s.Type() != cty.String {
				return nil, fmt.Errorf("statement %d: an object statement needs sql = \"...\"", i+1)
			}
			for k := range m {
				if k != "sql" && k != "args" {
					return nil, fmt.Errorf("statement %d: unknown field %q (use sql and args)", i+1, k)
				}
			}
			st := statement{sql: s.AsString()}
			if a, ok := m["args"]; ok {
				args, err := ctyArgs(a)
				if err != nil {
					return nil, fmt.Errorf("statement %d: args %v", i+1, err)
				}
				st.args = args
			}
			out = append(out, st)
		default:
			return nil, fmt.Errorf("statement %d is a %s: give a string or { sql = \"...\", args = [...] }", i+1, e.Type().FriendlyName())
		}
	}
	return out, nil
}

// readRows reads up to max rows into a list of objects, and whether there
// were more.
func readRows(rs *sql.Rows, max int) (cty.Value, int, bool, error) {
	cols, err := columnsOf(rs)
	if err != nil {
		return cty.NilVal, 0, false, err
	}
	seen := map[string]bool{}
	for _, c := range cols {
		if seen[c.name] {
			return cty.NilVal, 0, false, fmt.Errorf("the query returns two columns named %q: give them distinct names with AS", c.name)
		}
		seen[c.name] = true
	}
	raw := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	var data [][]record.Value
	more := false
	for rs.Next() {
		if len(data) == max {
			more = true
			break
		}
		if err := rs.Scan(ptrs...); err != nil {
			return cty.NilVal, 0, false, err
		}
		row := make([]record.Value, len(cols))
		for i, c := range cols {
			v, err := toValue(c.kind, raw[i])
			if err != nil {
				return cty.NilVal, 0, false, fmt.Errorf("row %d, column %s (%s): %v", len(data)+1, c.name, c.dbType, err)
			}
			row[i] = v
		}
		data = append(data, row)
	}
	if err := rs.Err(); err != nil {
		return cty.NilVal, 0, false, err
	}
	// One HCL type per column: from its database type, or, when the
	// database did not say, from its values (text when they differ).
	types := make([]cty.Type, len(cols))
	asText := make([]bool, len(cols))
	for i, c := range cols {
		types[i] = ctyType(c.kind)
		if c.kind != record.Null {
			continue
		}
		kind := record.Null
		for _, row := range data {
			k := row[i].Kind()
			switch {
			case k == record.Null:
			case kind == record.Null:
				kind = k
			case ctyType(kind) != ctyType(k):
				asText[i] = true
			}
		}
		types[i] = ctyType(kind)
		if kind == record.Null || asText[i] {
			types[i] = cty.String
		}
	}
	cells := make([][]cty.Value, len(data))
	for r, row := range data {
		cells[r] = make([]cty.Value, len(cols))
		for i, v := range row {
			if v.IsNull() || asText[i] {
				continue
			}
			cv := ctyValue(v)
			if cv.Type() != types[i] { // NaN, a decimal cty cannot parse
				asText[i], types[i] = true, cty.String
			}
			cells[r][i] = cv
		}
	}
	attrs := map[string]cty.Type{}
	for i, c := range cols {
		attrs[c.name] = types[i]
	}
	objType := cty.Object(attrs)
	if len(data) == 0 {
		return cty.ListValEmpty(objType), 0, false, nil
	}
	objs := make([]cty.Value, len(data))
	for r, row := range data {
		m := make(map[string]cty.Value, len(cols))
		for i, c := range cols {
			switch {
			case row[i].IsNull():
				m[c.name] = cty.NullVal(types[i])
			case asText[i]:
				m[c.name] = cty.StringVal(row[i].Text())
			default:
				m[c.name] = cells[r][i]
			}
		}
		objs[r] = cty.ObjectVal(m)
	}
	return cty.ListVal(objs), len(data), more, nil
}
