package sqldb

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/zclconf/go-cty/cty"
	"modernc.org/sqlite"

	"github.com/flowbatch/flow/flow"
)

// DatasourceBlock is the flow-level datasource "NAME" { ... } block.
var DatasourceBlock = flow.BlockType{
	Name: "datasource", Labels: []string{"name"},
	Doc: "A database the flow's sql steps, SQL readers and writers and transaction decorators use by name. " +
		"It is opened when a step first uses it, shared by the steps of one execution and closed at its end.",
	Attrs: func([]string) ([]flow.Attr, error) { return datasourceAttrs, nil },
}

var datasourceAttrs = []flow.Attr{
	{Name: "driver", Type: cty.String, Default: cty.StringVal(SQLite), OneOf: []string{SQLite, Postgres, MySQL, "mariadb"},
		Doc: "sqlite (embedded, pure Go: the default), postgres, or mysql (also MariaDB; \"mariadb\" is the same driver)."},
	{Name: "dsn", Type: cty.String, Required: true,
		Doc: "Where the database is. sqlite: a file path, relative to the flow file, or file:PATH?..., or :memory:. " +
			"postgres: postgres://user:pass@host:5432/db?sslmode=disable or key=value pairs. " +
			"mysql: user:pass@tcp(host:3306)/db. Use env() or a param to keep passwords out of the file."},
	{Name: "max_open_conns", Type: cty.Number, Default: cty.NumberIntVal(8),
		Doc: "The most connections the execution opens to the database (1 for sqlite :memory:)."},
}

// Datasource is a datasource opened for one execution: a connection pool
// and what the package needs to know about its database.
type Datasource struct {
	Name   string
	Driver string // SQLite, Postgres or MySQL
	DB     *sql.DB

	dialect dialect
	secret  string // the DSN's password: never printed
	shown   string // the DSN with its password replaced
}

// Close closes the connection pool.
func (d *Datasource) Close() error { return d.DB.Close() }

// DSN returns the datasource's DSN with its password hidden.
func (d *Datasource) DSN() string { return d.shown }

// Error is a database error, named by datasource, with the password of
// the DSN scrubbed from the driver's message.
type Error struct {
	Datasource string
	Op         string // what was being done: "query", "commit", ...
	msg        string
	err        error
}

func (e *Error) Error() string {
	if e.Op == "" {
		return fmt.Sprintf("datasource %q: %s", e.Datasource, e.msg)
	}
	return fmt.Sprintf("datasource %q: %s: %s", e.Datasource, e.Op, e.msg)
}

// Unwrap returns the driver's error (context.Canceled and the like stay
// recognisable).
func (e *Error) Unwrap() error { return e.err }

// wrap names the datasource in err and scrubs the password from it.
func (d *Datasource) wrap(err error, op string, args ...any) error {
	if err == nil {
		return nil
	}
	var de *Error
	if errors.As(err, &de) && de.Datasource == d.Name {
		return err
	}
	if len(args) > 0 {
		op = fmt.Sprintf(op, args...)
	}
	return &Error{Datasource: d.Name, Op: op, msg: scrub(err.Error(), d.secret), err: err}
}

func scrub(s, secret string) string {
	if len(secret) < 2 {
		return s
	}
	return strings.ReplaceAll(s, secret, "xxxxx")
}

// Open returns the datasource of that name of the flow x runs in, opening
// it on its first use in the execution. The pool is closed when the run
// ends.
func Open(x *flow.Exec, name string) (*Datasource, error) {
	f := x.Flow()
	var blk *flow.Block
	var names []string
	for _, b := range f.BlocksOf("datasource") {
		names = append(names, b.Label(0))
		if b.Label(0) != name {
			continue
		}
		if blk != nil {
			return nil, flow.Errorf(flow.KindFailed, "%s: a second datasource named %q (the first is at %s)", flow.Pos(b.Range), name, flow.Pos(blk.Range))
		}
		blk = b
	}
	if blk == nil {
		return nil, flow.Errorf(flow.KindFailed, "there is no datasource %q in flow %s (%s)", name, f.Name, declared(names))
	}
	c, err := x.Resource("datasource\x00"+f.Key()+"\x00"+name, func() (io.Closer, error) {
		ds, err := openBlock(x, blk)
		if err != nil {
			return nil, err
		}
		return ds, nil
	})
	if err != nil {
		return nil, err
	}
	return c.(*Datasource), nil
}

func declared(names []string) string {
	if len(names) == 0 {
		return "it declares none: add datasource \"NAME\" { driver = ..., dsn = ... }"
	}
	sort.Strings(names)
	return "declared: " + strings.Join(names, ", ")
}

func openBlock(x *flow.Exec, b *flow.Block) (*Datasource, error) {
	name := b.Label(0)
	get := func(attr string) (cty.Value, error) {
		v, err := x.FlowBlockAttr(b, attr)
		if err != nil {
			return cty.NilVal, fmt.Errorf("datasource %q: %w", name, err)
		}
		return v, nil
	}
	dv, err := get("driver")
	if err != nil {
		return nil, err
	}
	driver := SQLite
	if !dv.IsNull() {
		driver = dv.AsString()
	}
	sv, err := get("dsn")
	if err != nil {
		return nil, err
	}
	if sv.IsNull() || sv.AsString() == "" {
		return nil, flow.Errorf(flow.KindFailed, "datasource %q (%s): dsn is empty", name, flow.Pos(b.Range))
	}
	mv, err := get("max_open_conns")
	if err != nil {
		return nil, err
	}
	maxOpen := 8
	if !mv.IsNull() {
		if maxOpen, err = flow.ToInt(mv, b.Attrs["max_open_conns"]); err != nil {
			return nil, err
		}
	}
	return OpenDSN(name, driver, sv.AsString(), x.Flow().Dir, maxOpen)
}

// OpenDSN opens a datasource without a flow: name is for messages, dir is
// where relative SQLite paths resolve. The pool connects lazily: an
// unreachable database shows in the first statement, which a retry can
// repeat.
func OpenDSN(name, driver, dsn, dir string, maxOpen int) (*Datasource, error) {
	ds := &Datasource{Name: name}
	var sqlDriver, conn string
	var connector sqldriver.Connector // SQLite and MySQL: keeps the writer's statements
	memory := false
	switch driver {
	case SQLite:
		ds.Driver = SQLite
		conn, memory = sqliteDSN(dsn, dir)
		ds.shown = dsn
		c, err := sqlite.NewConnector(conn)
		if err != nil {
			return nil, ds.wrap(err, "open")
		}
		connector = stmtConnector{c}
	case Postgres, "postgresql":
		ds.Driver, sqlDriver = Postgres, "pgx"
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			// pgx leaves the password out of its parse errors.
			return nil, &Error{Datasource: name, Op: "dsn", msg: err.Error(), err: err}
		}
		ds.secret = cfg.Password
		conn = dsn
		ds.shown = redactURL(dsn)
	case MySQL, "mariadb":
		ds.Driver = MySQL
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return nil, &Error{Datasource: name, Op: "dsn", msg: scrub(err.Error(), mysqlPassword(dsn)), err: err}
		}
		ds.secret = cfg.Passwd
		// Times as time.Time in UTC, matched rather than changed rows in
		// rows_affected (as PostgreSQL and SQLite count them), and scripts
		// of several statements for the sql step.
		cfg.ParseTime = true
		cfg.ClientFoundRows = true
		cfg.MultiStatements = true
		c, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, ds.wrap(err, "open")
		}
		connector = stmtConnector{c}
		shown := *cfg
		if shown.Passwd != "" {
			shown.Passwd = "xxxxx"
		}
		ds.shown = shown.FormatDSN()
	default:
		return nil, flow.Errorf(flow.KindFailed, "datasource %q: unknown driver %q (use sqlite, postgres or mysql)", name, driver)
	}
	ds.dialect = dialect(ds.Driver)
	var db *sql.DB
	if connector != nil {
		db = sql.OpenDB(connector)
	} else {
		var err error
		if db, err = sql.Open(sqlDriver, conn); err != nil {
			return nil, ds.wrap(err, "open")
		}
	}
	if memory {
		// Every connection to :memory: is a database of its own: keep one,
		// for the whole run.
		maxOpen = 1
		db.SetConnMaxIdleTime(0)
		db.SetConnMaxLifetime(0)
	}
	if maxOpen > 0 {
		db.SetMaxOpenConns(maxOpen)
		db.SetMaxIdleConns(maxOpen)
	}
	ds.DB = db
	return ds, nil
}

// sqliteDSN turns a datasource's SQLite DSN into the driver's: paths
// relative to the flow's directory, and the defaults a batch engine needs
// (waiting on a busy database rather than failing at once, WAL so that
// readers do not block the writer, write transactions that take their lock
// when they begin, timestamps in SQLite's own format). The user's own
// parameters win.
func sqliteDSN(dsn, dir string) (conn string, memory bool) {
	path, query, _ := strings.Cut(dsn, "?")
	uri := strings.HasPrefix(path, "file:")
	if uri {
		path = strings.TrimPrefix(path, "file:")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		q = url.Values{}
	}
	memory = path == ":memory:" || q.Get("mode") == "memory"
	if !memory && path != "" && !filepath.IsAbs(path) && dir != "" {
		path = filepath.Join(dir, path)
	}
	// set sets a parameter the user did not set, by its key, an alias or
	// as a _pragma.
	set := func(key, value, pragma string, aliases ...string) {
		for _, k := range append([]string{key}, aliases...) {
			if q.Has(k) {
				return
			}
		}
		for _, p := range q["_pragma"] {
			if pragma != "" && strings.HasPrefix(strings.ToLower(strings.TrimSpace(p)), pragma) {
				return
			}
		}
		q.Set(key, value)
	}
	set("_busy_timeout", "10000", "busy_timeout", "_timeout")
	if !memory {
		set("_journal_mode", "WAL", "journal_mode", "_journal")
	}
	set("_txlock", "immediate", "")
	set("_time_format", "sqlite", "")
	conn = path
	if uri {
		conn = "file:" + path
	}
	return conn + "?" + q.Encode(), memory
}

var urlPassword = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@]*:)([^@]*)@`)
var kvPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// redactURL hides the password of a URL or key=value DSN.
func redactURL(dsn string) string {
	if m := urlPassword.FindStringSubmatchIndex(dsn); m != nil {
		return dsn[:m[3]] + "xxxxx" + dsn[m[5]:]
	}
	return kvPassword.ReplaceAllString(dsn, "${1}xxxxx")
}

// mysqlPassword finds the password of a MySQL DSN the driver could not
// parse, to scrub it from the driver's message.
func mysqlPassword(dsn string) string {
	at := strings.LastIndex(dsn, "@")
	if at < 0 {
		return ""
	}
	_, pass, ok := strings.Cut(dsn[:at], ":")
	if !ok {
		return ""
	}
	return pass
}

// RedactDSN returns dsn with its password replaced by xxxxx, for logs and
// messages.
func RedactDSN(driver, dsn string) string {
	switch driver {
	case MySQL, "mariadb":
		if cfg, err := mysql.ParseDSN(dsn); err == nil {
			if cfg.Passwd != "" {
				cfg.Passwd = "xxxxx"
			}
			return cfg.FormatDSN()
		}
		if p := mysqlPassword(dsn); p != "" {
			return strings.Replace(dsn, ":"+p+"@", ":xxxxx@", 1)
		}
		return dsn
	case SQLite:
		return dsn
	}
	return redactURL(dsn)
}

// execer runs statements: a pool, a connection or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}
