package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch"
)

// txState is an open database transaction on a connection of its own.
// The steps that join it (sql steps inside a transaction decorator, a
// parallel's branches among them) run their statements one at a time.
type txState struct {
	ds   *Datasource
	conn *sql.Conn
	tx   *sql.Tx
	ctx  context.Context // the transaction's: database/sql rolls it back when this ends

	mu        sync.Mutex // held while a statement runs and its rows are read
	savepoint int        // savepoints made so far, for their names
	done      bool
}

// begin opens a transaction. It is rolled back if ctx ends before it is
// committed.
func (d *Datasource) begin(ctx context.Context) (*txState, error) {
	conn, err := d.DB.Conn(ctx)
	if err != nil {
		return nil, d.wrap(err, "connect")
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		_ = conn.Close()
		return nil, d.wrap(err, "begin")
	}
	return &txState{ds: d, conn: conn, tx: tx, ctx: ctx}, nil
}

func (t *txState) commit() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return t.ds.wrap(sql.ErrTxDone, "commit")
	}
	t.done = true
	err := t.tx.Commit()
	_ = t.conn.Close()
	return t.ds.wrap(err, "commit")
}

func (t *txState) rollback() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return nil
	}
	t.done = true
	err := t.tx.Rollback()
	_ = t.conn.Close()
	if errors.Is(err, sql.ErrTxDone) {
		err = nil // rolled back already, when its context ended
	}
	return t.ds.wrap(err, "rollback")
}

// exec runs one statement in the transaction.
func (t *txState) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tx.ExecContext(ctx, query, args...)
}

// newSavepoint makes a savepoint and returns its name.
func (t *txState) newSavepoint(ctx context.Context) (string, error) {
	t.mu.Lock()
	t.savepoint++
	name := "flowbatch_sp_" + strconv.Itoa(t.savepoint)
	t.mu.Unlock()
	if _, err := t.exec(ctx, "SAVEPOINT "+name); err != nil {
		return "", t.ds.wrap(err, "savepoint")
	}
	return name, nil
}

func (t *txState) releaseSavepoint(ctx context.Context, name string) error {
	_, err := t.exec(ctx, "RELEASE SAVEPOINT "+name)
	return t.ds.wrap(err, "release savepoint")
}

func (t *txState) rollbackToSavepoint(ctx context.Context, name string) error {
	if _, err := t.exec(ctx, "ROLLBACK TO SAVEPOINT "+name); err != nil {
		return t.ds.wrap(err, "rollback to savepoint")
	}
	return t.releaseSavepoint(ctx, name)
}

// The open transactions travel to the steps inside a transaction
// decorator through the context, one per datasource.
type txKey struct{ ds *Datasource }
type anyTxKey struct{}

func withTx(ctx context.Context, t *txState) context.Context {
	return context.WithValue(context.WithValue(ctx, txKey{t.ds}, t), anyTxKey{}, t.ds.Name)
}

// txFrom returns the enclosing transaction on ds, or nil.
func txFrom(ctx context.Context, ds *Datasource) *txState {
	t, _ := ctx.Value(txKey{ds}).(*txState)
	return t
}

// inTransaction returns the datasource of an enclosing transaction decorator
// ("" when there is none).
func inTransaction(ctx context.Context) string {
	s, _ := ctx.Value(anyTxKey{}).(string)
	return s
}

// Transaction is the transaction decorator.
var Transaction = &flow.DecoratorType{
	Name: "transaction", Order: 60,
	Summary: "Runs the step in a database transaction on the named datasource: the sql steps inside it that use that datasource " +
		"join the transaction, which commits when the step succeeds and rolls back when it fails, times out or is cancelled. " +
		"A transaction inside another on the same datasource is a savepoint. With retry, every attempt is a transaction of its own. " +
		"A step resumed after a crash runs again from its start, since the crash rolled its transaction back.",
	Attr: flow.Attr{Name: "transaction", Type: cty.String, Doc: "The name of a datasource of the flow."},
	New:  newTransaction,
}

func newTransaction(d *flow.DecoratorConfig) (flow.Decorator, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	if d.Node != nil && d.Node.Type != nil && d.Node.Type.Name == "batch" {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "A batch step cannot take a transaction",
			Detail:  "A batch step commits every chunk in a transaction of its own (see transaction_scope); put the transaction decorator on the steps around it instead.",
			Subject: d.Range.Ptr()})
	}
	if d.Node != nil && d.Node.Flow != nil {
		diags = append(diags, checkDatasource(d.Node.Flow, d.Attr)...)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return flow.DecoratorFunc(func(next flow.Runner) flow.Runner {
		return func(ctx context.Context, x *flow.Exec) (cty.Value, error) {
			v, err := x.Eval(x.Outer, d.Attr.Expr, cty.String)
			if err != nil {
				return cty.NilVal, err
			}
			if v.IsNull() || v.AsString() == "" {
				return cty.NilVal, flow.Errorf(flow.KindEval, "%s: transaction names no datasource", flow.Pos(d.Attr.Expr.Range()))
			}
			ds, err := Open(x, v.AsString())
			if err != nil {
				return cty.NilVal, err
			}
			if x.Resumed() {
				// An earlier execution began the step and crashed: its
				// transaction was rolled back, so the steps inside that
				// completed then must run again, not be restored.
				if err := x.StartOver(); err != nil {
					return cty.NilVal, err
				}
			}
			if outer := txFrom(ctx, ds); outer != nil {
				return savepoint(ctx, x, outer, next)
			}
			t, err := ds.begin(ctx)
			if err != nil {
				return cty.NilVal, err
			}
			out, err := next(withTx(ctx, t), x)
			if err != nil {
				if rerr := t.rollback(); rerr != nil {
					x.Logger.Warn("rollback failed", "datasource", ds.Name, "error", rerr.Error())
				}
				return cty.NilVal, err
			}
			if err := t.commit(); err != nil {
				return cty.NilVal, err
			}
			return out, nil
		}
	}), nil
}

// savepoint runs a step with a transaction on a datasource that an
// enclosing step already holds a transaction on.
func savepoint(ctx context.Context, x *flow.Exec, t *txState, next flow.Runner) (cty.Value, error) {
	name, err := t.newSavepoint(ctx)
	if err != nil {
		return cty.NilVal, err
	}
	out, err := next(ctx, x)
	// The statements that undo or keep the savepoint run even when the
	// step's own context ended (a timeout on it): the enclosing
	// transaction goes on.
	cleanup := context.WithoutCancel(ctx)
	if err != nil {
		if rerr := t.rollbackToSavepoint(cleanup, name); rerr != nil {
			x.Logger.Warn("rollback to savepoint failed", "datasource", t.ds.Name, "error", rerr.Error())
		}
		return cty.NilVal, err
	}
	if err := t.releaseSavepoint(cleanup, name); err != nil {
		return cty.NilVal, err
	}
	return out, nil
}

// checkDatasource reports a datasource attribute that names, as a literal,
// no datasource of the flow.
func checkDatasource(f *flow.Flow, a *hcl.Attribute) hcl.Diagnostics {
	if a == nil || len(a.Expr.Variables()) > 0 {
		return nil
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() || v.Type() != cty.String {
		return nil
	}
	var names []string
	for _, b := range f.BlocksOf("datasource") {
		if b.Label(0) == v.AsString() {
			return nil
		}
		names = append(names, b.Label(0))
	}
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown datasource",
		Detail:  fmt.Sprintf("There is no datasource %q in flow %s (%s).", v.AsString(), f.Name, declared(names)),
		Subject: a.Expr.Range().Ptr()}}
}

// checkComponent is the load-time check of the sql reader and writer:
// their datasource must be one of the flow's.
func checkComponent(n *flow.Node, b *flow.Block) hcl.Diagnostics {
	if n.Flow == nil {
		return nil
	}
	return checkDatasource(n.Flow, b.Attrs["datasource"])
}

// txBeginner opens the transactions a batch step runs its chunks in, on
// one datasource. A SQL reader that reads in the chunk's transaction
// (transaction_scope "chunk", one worker) parks the one it read in, and
// the engine's next Begin takes it.
type txBeginner struct {
	ds *Datasource

	mu     sync.Mutex
	parked *chunkTx
}

// Begin implements batch.TxBeginner.
func (b *txBeginner) Begin(ctx context.Context) (batch.Tx, error) {
	b.mu.Lock()
	if p := b.parked; p != nil {
		b.parked = nil
		b.mu.Unlock()
		return p, nil
	}
	b.mu.Unlock()
	t, err := b.ds.begin(ctx)
	if err != nil {
		return nil, err
	}
	return &chunkTx{t}, nil
}

// park returns the transaction the next chunk will run in, opening it.
func (b *txBeginner) park(ctx context.Context) (*chunkTx, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.parked != nil {
		return b.parked, nil
	}
	t, err := b.ds.begin(ctx)
	if err != nil {
		return nil, err
	}
	b.parked = &chunkTx{t}
	return b.parked, nil
}

// unpark rolls back a parked transaction no chunk took.
func (b *txBeginner) unpark() {
	b.mu.Lock()
	p := b.parked
	b.parked = nil
	b.mu.Unlock()
	if p != nil {
		_ = p.Rollback()
	}
}

// chunkTx is a chunk's transaction.
type chunkTx struct{ t *txState }

func (c *chunkTx) Commit() error   { return c.t.commit() }
func (c *chunkTx) Rollback() error { return c.t.rollback() }
