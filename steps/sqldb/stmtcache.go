package sqldb

import (
	"context"
	"database/sql/driver"
	"errors"
)

// The sql writer runs the same few statements chunk after chunk: a
// multi-row INSERT of a handful of row counts, its marker insert. Parsing
// them again for every chunk cost SQLite most of a chunk's time, and MySQL
// a prepare and a close per statement. So the SQLite and MySQL
// connections of a datasource keep the writer's prepared statements, for
// as long as the connection lives; database/sql cannot, since it ties a
// statement prepared in a transaction to that transaction, and a
// pool-wide one needs a free connection to prepare on (with
// max_open_conns busy in chunk transactions, it would wait for ever).
// PostgreSQL needs none of this: pgx keeps its statements per connection
// itself.

// stmtCacheSize is how many statements a connection keeps, the least
// recently used dropped first.
const stmtCacheSize = 16

// stmtConnector opens connections that keep prepared statements.
type stmtConnector struct{ driver.Connector }

func (c stmtConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &stmtConn{Conn: conn}, nil
}

type cachedStmt struct {
	query string
	st    driver.Stmt
	used  uint64
}

// stmtConn is a driver connection with a cache of prepared statements.
// database/sql uses one connection from one goroutine at a time, and the
// writer reaches it only through sql.Conn.Raw, which holds it the same
// way: the cache needs no lock of its own.
type stmtConn struct {
	driver.Conn
	stmts []*cachedStmt
	clock uint64
	args  []driver.NamedValue
}

// errNoExec is a statement the driver cannot execute with a context.
var errNoExec = errors.New("the driver's statement cannot execute with a context")

// exec runs query, prepared once on this connection, with args, which are
// driver values already (see arg). A statement that fails is dropped, and
// prepared afresh when next used: a retry does not reuse what the error
// may have left behind.
func (c *stmtConn) exec(ctx context.Context, query string, args []any) (driver.Result, error) {
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	ex, ok := cs.st.(driver.StmtExecContext)
	if !ok {
		return nil, errNoExec
	}
	c.args = c.args[:0]
	for i, a := range args {
		c.args = append(c.args, driver.NamedValue{Ordinal: i + 1, Value: a})
	}
	res, err := ex.ExecContext(ctx, c.args)
	clear(c.args) // keep no strings alive between chunks
	if err != nil {
		c.drop(cs)
		return nil, err
	}
	return res, nil
}

// stmt returns query's statement, preparing it if the cache has none.
func (c *stmtConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	c.clock++
	for _, cs := range c.stmts {
		if cs.query == query {
			cs.used = c.clock
			return cs, nil
		}
	}
	var st driver.Stmt
	var err error
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = c.Conn.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	if len(c.stmts) >= stmtCacheSize {
		lru := c.stmts[0]
		for _, cs := range c.stmts[1:] {
			if cs.used < lru.used {
				lru = cs
			}
		}
		c.drop(lru)
	}
	cs := &cachedStmt{query: query, st: st, used: c.clock}
	c.stmts = append(c.stmts, cs)
	return cs, nil
}

func (c *stmtConn) drop(cs *cachedStmt) {
	for i, x := range c.stmts {
		if x == cs {
			c.stmts = append(c.stmts[:i], c.stmts[i+1:]...)
			_ = cs.st.Close()
			return
		}
	}
}

// Close closes the kept statements, then the connection.
func (c *stmtConn) Close() error {
	for _, cs := range c.stmts {
		_ = cs.st.Close()
	}
	c.stmts = nil
	return c.Conn.Close()
}

// The rest passes database/sql's optional interfaces through to the
// driver's connection, each answering as database/sql does for a driver
// without it.

func (c *stmtConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.Conn.Prepare(query)
}

func (c *stmtConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	if opts.Isolation != 0 || opts.ReadOnly {
		return nil, errors.New("sql: driver does not support non-default isolation level or read-only transactions")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.Conn.Begin() //lint:ignore SA1019 the driver has no other way
}

func (c *stmtConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if e, ok := c.Conn.(driver.ExecerContext); ok {
		return e.ExecContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

func (c *stmtConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if q, ok := c.Conn.(driver.QueryerContext); ok {
		return q.QueryContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

func (c *stmtConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *stmtConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *stmtConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *stmtConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// execPrepared runs one of the writer's statements in the transaction,
// prepared once per connection where the connection keeps statements
// (else through the transaction: pgx keeps them itself), and returns the
// rows it affected, -1 when the driver does not say. args are driver
// values (see arg); t.mu is held.
func (t *txState) execPrepared(ctx context.Context, query string, args []any) (int64, error) {
	var res interface{ RowsAffected() (int64, error) }
	kept := false
	err := t.onConn(func(dc any) error {
		sc, ok := dc.(*stmtConn)
		if !ok {
			return nil
		}
		kept = true
		r, err := sc.exec(ctx, query, args)
		res = r
		return err
	})
	if !kept && err == nil {
		res, err = t.tx.ExecContext(ctx, query, args...)
	}
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return -1, nil
	}
	return n, nil
}

// onConn runs f with the driver connection of the transaction, on which
// the transaction is open: what f runs there is part of it. f must not
// use t.tx (the connection is held).
func (t *txState) onConn(f func(dc any) error) error {
	return t.conn.Raw(func(dc any) error {
		// database/sql rolls the transaction back when its context ends,
		// and needs the connection to: once this one holds it, a
		// transaction whose context has not ended is still open, and
		// stays open until f returns. Past its end, what f ran would
		// commit on its own.
		if err := t.ctx.Err(); err != nil {
			return err
		}
		return f(dc)
	})
}
