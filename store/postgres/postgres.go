// Package postgres is the store.Store for several processes and machines:
// a PostgreSQL database reached with pgx.
//
// Open applies the schema migrations the database lacks, under a session
// advisory lock so that processes opening it at once do not race; the
// versions applied are kept in flow_schema_migrations, and a database of
// a newer version than this package knows is refused. The tables are
// flow_instances, flow_executions, flow_step_records (per execution) and
// flow_states (per instance, the latest record of each path); all names
// start with flow_ so that they can share a database and schema with
// others (put search_path in the DSN for a schema of their own).
//
// Begin and Resume lock the instance's row (and Begin first a transaction
// advisory lock on the flow and key, for an instance yet to be made), so
// two processes cannot both start an execution of one instance. A live
// execution whose owner's lease has ended, or whose owner Alive reports
// dead, is taken over: marked FAILED, then resumed. Commit locks the
// execution's row and checks it is still live and owned by the token.
//
// It uses pgxpool rather than database/sql with pgx/stdlib: one layer
// less, json and timestamptz handled natively, advisory session locks on
// a connection of the pool's (Acquire), and batches, which send the many
// step records of one commit in one round trip.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/store"
)

// Advisory lock keys: migrations take a session lock on migrationLock;
// Begin takes a transaction lock on (keyLockSpace, hash of flow and key).
const (
	migrationLock = 0x666c6f775f6d6967 // "flow_mig"
	keyLockSpace  = 0x666c6f77         // "flow"
)

// migrations are the schema versions, in order: migrations[i] makes
// version i+1. Never change one that was released; add another.
var migrations = []string{
	`CREATE TABLE flow_instances (
		id      bigserial PRIMARY KEY,
		flow    text NOT NULL,
		key     text NOT NULL,
		created timestamptz NOT NULL
	);
	CREATE INDEX flow_instances_key ON flow_instances (flow, key, id);

	CREATE TABLE flow_executions (
		id             bigserial PRIMARY KEY,
		instance_id    bigint NOT NULL REFERENCES flow_instances (id) ON DELETE CASCADE,
		flow           text NOT NULL,
		file           text NOT NULL DEFAULT '',
		params         jsonb,
		status         text NOT NULL,
		exit_status    text NOT NULL DEFAULT '',
		created        timestamptz NOT NULL,
		started        timestamptz,
		ended          timestamptz,
		updated        timestamptz,
		failed_step    text NOT NULL DEFAULT '',
		error          text NOT NULL DEFAULT '',
		owner_host     text NOT NULL DEFAULT '',
		owner_pid      integer NOT NULL DEFAULT 0,
		owner_token    text NOT NULL,
		owner_until    timestamptz,
		stop_requested boolean NOT NULL DEFAULT false,
		outputs        json,
		resumed_from   bigint
	);
	CREATE INDEX flow_executions_instance ON flow_executions (instance_id, id);
	CREATE INDEX flow_executions_flow ON flow_executions (flow, id);
	CREATE INDEX flow_executions_ended ON flow_executions (ended) WHERE ended IS NOT NULL;

	CREATE TABLE flow_step_records (
		execution_id bigint NOT NULL REFERENCES flow_executions (id) ON DELETE CASCADE,
		path         text COLLATE "C" NOT NULL,
		type         text NOT NULL DEFAULT '',
		status       text NOT NULL DEFAULT '',
		attempt      integer NOT NULL DEFAULT 0,
		started      timestamptz,
		ended        timestamptz,
		outputs      json,
		assigned     json,
		progress     json,
		counters     jsonb,
		error_kind   text NOT NULL DEFAULT '',
		error        text NOT NULL DEFAULT '',
		PRIMARY KEY (execution_id, path)
	);

	-- The latest record of each path of an instance. execution_id has no
	-- foreign key: the states written by a pruned execution stay.
	CREATE TABLE flow_states (
		instance_id  bigint NOT NULL REFERENCES flow_instances (id) ON DELETE CASCADE,
		path         text COLLATE "C" NOT NULL,
		execution_id bigint NOT NULL,
		type         text NOT NULL DEFAULT '',
		status       text NOT NULL DEFAULT '',
		attempt      integer NOT NULL DEFAULT 0,
		started      timestamptz,
		ended        timestamptz,
		outputs      json,
		assigned     json,
		progress     json,
		counters     jsonb,
		error_kind   text NOT NULL DEFAULT '',
		error        text NOT NULL DEFAULT '',
		PRIMARY KEY (instance_id, path)
	);`,
}

// SchemaVersion is the schema version Open brings a database to.
var SchemaVersion = len(migrations)

// Store is a job repository in PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database of dsn (a URL or key=value string, as
// pgx takes them) and migrates its schema.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres store %s@%s/%s: %w", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return err
	}
	defer func() {
		// A lock left by a broken connection goes with the connection.
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrationLock)); err != nil {
			conn.Conn().Close(context.Background())
		}
	}()
	_, err = conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS flow_schema_migrations (
		version integer PRIMARY KEY,
		applied timestamptz NOT NULL DEFAULT now()
	)`)
	if err != nil {
		return err
	}
	var have int
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM flow_schema_migrations`).Scan(&have); err != nil {
		return err
	}
	if have > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this flow knows (%d): use a newer flow", have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO flow_schema_migrations (version) VALUES ($1)`, v)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration to version %d: %w", v, err)
		}
	}
	return nil
}

// Close closes the connections.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

const execCols = `id, instance_id, flow, file, params, status, exit_status, created, started, ended, updated,
	failed_step, error, owner_host, owner_pid, owner_token, owner_until, stop_requested, outputs, resumed_from`

func scanExec(row pgx.Row) (*store.Execution, error) {
	var (
		e                              store.Execution
		started, ended, updated, until *time.Time
		outputs                        []byte
		resumed                        *int64
		status                         string
	)
	err := row.Scan(&e.ID, &e.InstanceID, &e.Flow, &e.File, &e.Params, &status, &e.ExitStatus, &e.Created,
		&started, &ended, &updated, &e.FailedStep, &e.Error, &e.Owner.Host, &e.Owner.PID, &e.Owner.Token,
		&until, &e.StopRequested, &outputs, &resumed)
	if err != nil {
		return nil, err
	}
	e.Status = flow.Status(status)
	e.Started, e.Ended, e.Updated, e.Owner.Until = tv(started), tv(ended), tv(updated), tv(until)
	if outputs != nil {
		e.Outputs = json.RawMessage(outputs)
	}
	if resumed != nil {
		e.ResumedFrom = *resumed
	}
	return &e, nil
}

// tv is the time t points to, or the zero time.
func tv(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// tn is t for a nullable column: NULL for the zero time.
func tn(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// jn is m for a json column: NULL when empty.
func jn(m json.RawMessage) any {
	if len(m) == 0 {
		return nil
	}
	return m
}

func notFound(what string, id int64) error {
	return fmt.Errorf("%s %d: %w", what, id, store.ErrNotFound)
}

// execution reads an execution, locked FOR UPDATE when lock is set.
func execution(ctx context.Context, q pgx.Tx, id int64, lock bool) (*store.Execution, error) {
	sql := `SELECT ` + execCols + ` FROM flow_executions WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	e, err := scanExec(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("execution", id)
	}
	return e, err
}

// latest reads and locks the latest execution of an instance, or nil.
func latest(ctx context.Context, tx pgx.Tx, instID int64) (*store.Execution, error) {
	e, err := scanExec(tx.QueryRow(ctx, `SELECT `+execCols+` FROM flow_executions WHERE instance_id = $1
		ORDER BY id DESC LIMIT 1 FOR UPDATE`, instID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return e, err
}

// keyLock is the advisory lock of a flow and key.
func keyLock(flowName, key string) int32 {
	h := fnv.New32a()
	h.Write([]byte(flowName))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return int32(h.Sum32())
}

// Begin implements store.Store.
func (s *Store) Begin(ctx context.Context, req store.BeginRequest) (*store.Begun, error) {
	if err := checkBegin(req.Flow, req.Owner); err != nil {
		return nil, err
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	var out *store.Begun
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, int32(keyLockSpace), keyLock(req.Flow, req.Key)); err != nil {
			return err
		}
		inst := &store.Instance{Flow: req.Flow, Key: req.Key}
		err := tx.QueryRow(ctx, `SELECT id, created FROM flow_instances WHERE flow = $1 AND key = $2
			ORDER BY id DESC LIMIT 1 FOR NO KEY UPDATE`, req.Flow, req.Key).Scan(&inst.ID, &inst.Created)
		var prev *store.Execution
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			inst = nil
		case err != nil:
			return err
		default:
			last, err := latest(ctx, tx, inst.ID)
			if err != nil {
				return err
			}
			fresh, err := decide(ctx, tx, last, req.Rerun, req.Alive, now)
			if err != nil {
				return err
			}
			if fresh {
				inst = nil
			} else {
				prev = last
			}
		}
		if inst == nil {
			inst = &store.Instance{Flow: req.Flow, Key: req.Key, Created: now}
			err := tx.QueryRow(ctx, `INSERT INTO flow_instances (flow, key, created) VALUES ($1, $2, $3) RETURNING id`,
				req.Flow, req.Key, now).Scan(&inst.ID)
			if err != nil {
				return err
			}
		}
		out, err = start(ctx, tx, inst, prev, req.File, req.Params, req.Owner, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Resume implements store.Store.
func (s *Store) Resume(ctx context.Context, id int64, owner store.Owner, alive func(store.Owner) bool, now time.Time) (*store.Begun, error) {
	if now.IsZero() {
		now = time.Now()
	}
	var out *store.Begun
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		e, err := execution(ctx, tx, id, false)
		if err != nil {
			return err
		}
		if err := checkBegin(e.Flow, owner); err != nil {
			return err
		}
		if e.Status == flow.Abandoned {
			return fmt.Errorf("execution %d: %w", id, store.ErrAbandoned)
		}
		inst := &store.Instance{ID: e.InstanceID}
		err = tx.QueryRow(ctx, `SELECT flow, key, created FROM flow_instances WHERE id = $1 FOR NO KEY UPDATE`,
			inst.ID).Scan(&inst.Flow, &inst.Key, &inst.Created)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("execution", id) // pruned meanwhile
		} else if err != nil {
			return err
		}
		last, err := latest(ctx, tx, inst.ID)
		if err != nil {
			return err
		}
		if last == nil {
			return notFound("execution", id)
		}
		if last.Status == flow.Abandoned {
			return fmt.Errorf("execution %d of the same instance: %w", last.ID, store.ErrAbandoned)
		}
		if _, err := decide(ctx, tx, last, false, alive, now); err != nil {
			return err
		}
		out, err = start(ctx, tx, inst, last, last.File, last.Params, owner, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decide applies the Begin rules to the latest execution of an instance:
// fresh reports whether a new instance must be made. A live execution of a
// gone owner is marked FAILED.
func decide(ctx context.Context, tx pgx.Tx, last *store.Execution, rerun bool, alive func(store.Owner) bool, now time.Time) (fresh bool, err error) {
	fresh, tookOver, err := store.Decide(last, rerun, alive, now)
	if tookOver {
		_, perr := tx.Exec(ctx, `UPDATE flow_executions SET status = $2, exit_status = $3, ended = $4, updated = $4, error = $5
			WHERE id = $1`, last.ID, string(last.Status), last.ExitStatus, now, last.Error)
		if perr != nil {
			return false, perr
		}
	}
	return fresh, err
}

func start(ctx context.Context, tx pgx.Tx, inst *store.Instance, prev *store.Execution, file string, params map[string]string, owner store.Owner, now time.Time) (*store.Begun, error) {
	e := &store.Execution{
		InstanceID: inst.ID,
		Flow:       inst.Flow,
		File:       file,
		Params:     params,
		Status:     flow.Started,
		Created:    now,
		Started:    now,
		Updated:    now,
		Owner:      owner,
	}
	var resumed *int64
	if prev != nil {
		e.ResumedFrom = prev.ID
		resumed = &prev.ID
	}
	err := tx.QueryRow(ctx, `INSERT INTO flow_executions (instance_id, flow, file, params, status, created, started, updated,
			owner_host, owner_pid, owner_token, owner_until, resumed_from)
		VALUES ($1, $2, $3, $4, $5, $6, $6, $6, $7, $8, $9, $10, $11) RETURNING id`,
		inst.ID, e.Flow, e.File, e.Params, string(e.Status), now, owner.Host, owner.PID, owner.Token, tn(owner.Until), resumed).Scan(&e.ID)
	if err != nil {
		return nil, err
	}
	// Read it back: what the caller gets is what is stored.
	if e, err = execution(ctx, tx, e.ID, false); err != nil {
		return nil, err
	}
	return &store.Begun{Instance: inst, Execution: e, Previous: prev}, nil
}

// Execution implements store.Store.
func (s *Store) Execution(ctx context.Context, id int64) (*store.Execution, error) {
	e, err := scanExec(s.pool.QueryRow(ctx, `SELECT `+execCols+` FROM flow_executions WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("execution", id)
	}
	return e, err
}

// History implements store.Store.
func (s *Store) History(ctx context.Context, f store.Filter) ([]*store.Execution, error) {
	var where []string
	var args []any
	if f.Flow != "" {
		args = append(args, f.Flow)
		where = append(where, fmt.Sprintf("flow = $%d", len(args)))
	}
	if f.Status != "" {
		args = append(args, string(f.Status))
		where = append(where, fmt.Sprintf("status = $%d", len(args)))
	}
	sql := `SELECT ` + execCols + ` FROM flow_executions`
	if len(where) > 0 {
		sql += ` WHERE ` + strings.Join(where, " AND ")
	}
	sql += ` ORDER BY id DESC`
	if f.Limit > 0 {
		args = append(args, f.Limit)
		sql += fmt.Sprintf(" LIMIT $%d", len(args))
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Execution
	for rows.Next() {
		e, err := scanExec(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Commit implements store.Store.
func (s *Store) Commit(ctx context.Context, execID int64, exec *store.Execution, steps []store.StepRecord) error {
	for _, r := range steps {
		if r.Path == "" {
			return errors.New("step record without path")
		}
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := execution(ctx, tx, execID, true)
		if err != nil {
			return err
		}
		if err := store.CheckCommit(cur, exec); err != nil {
			return err
		}
		if exec != nil {
			e := store.MergeExecution(cur, exec)
			_, err := tx.Exec(ctx, `UPDATE flow_executions SET file = $2, params = $3, status = $4, exit_status = $5,
					started = $6, ended = $7, updated = $8, failed_step = $9, error = $10, owner_host = $11, owner_pid = $12,
					owner_until = $13, stop_requested = $14, outputs = $15
				WHERE id = $1`,
				execID, e.File, e.Params, string(e.Status), e.ExitStatus, tn(e.Started), tn(e.Ended), tn(e.Updated),
				e.FailedStep, e.Error, e.Owner.Host, e.Owner.PID, tn(e.Owner.Until), e.StopRequested, jn(e.Outputs))
			if err != nil {
				return fmt.Errorf("execution %d: %w", execID, err)
			}
		}
		if len(steps) == 0 {
			return nil
		}
		b := &pgx.Batch{}
		for _, r := range steps {
			rec := []any{r.Path, r.Type, string(r.Status), r.Attempt, tn(r.Started), tn(r.Ended),
				jn(r.Outputs), jn(r.Assigned), jn(r.Progress), r.Counters, r.ErrorKind, r.Error}
			b.Queue(upsertStep, append([]any{execID}, rec...)...)
			b.Queue(upsertState, append([]any{execID, cur.InstanceID}, rec...)...)
		}
		br := tx.SendBatch(ctx, b)
		for i := range b.Len() {
			if _, err := br.Exec(); err != nil {
				br.Close()
				return fmt.Errorf("step %s: %w", steps[i/2].Path, err)
			}
		}
		return br.Close()
	})
}

// upsertStep and upsertState write a step record: $1 is the execution id,
// then (upsertState) $2 the instance id, then the record's columns.
const (
	upsertStep = `INSERT INTO flow_step_records (execution_id, path, type, status, attempt, started, ended,
			outputs, assigned, progress, counters, error_kind, error)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (execution_id, path) DO UPDATE SET type = $3, status = $4, attempt = $5, started = $6,
			ended = $7, outputs = $8, assigned = $9, progress = $10, counters = $11, error_kind = $12, error = $13`
	upsertState = `INSERT INTO flow_states (execution_id, instance_id, path, type, status, attempt, started, ended,
			outputs, assigned, progress, counters, error_kind, error)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (instance_id, path) DO UPDATE SET execution_id = $1, type = $4, status = $5, attempt = $6,
			started = $7, ended = $8, outputs = $9, assigned = $10, progress = $11, counters = $12,
			error_kind = $13, error = $14`
)

const recordCols = `path, execution_id, type, status, attempt, started, ended, outputs, assigned, progress, counters, error_kind, error`

func (s *Store) records(ctx context.Context, exists, query string, id int64, what string) ([]store.StepRecord, error) {
	var out []store.StepRecord
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		var ok bool
		if err := tx.QueryRow(ctx, exists, id).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return notFound(what, id)
		}
		rows, err := tx.Query(ctx, query, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		out = []store.StepRecord{}
		for rows.Next() {
			var (
				r                           store.StepRecord
				status                      string
				started, ended              *time.Time
				outputs, assigned, progress []byte
			)
			err := rows.Scan(&r.Path, &r.ExecutionID, &r.Type, &status, &r.Attempt, &started, &ended,
				&outputs, &assigned, &progress, &r.Counters, &r.ErrorKind, &r.Error)
			if err != nil {
				return err
			}
			r.Status = flow.Status(status)
			r.Started, r.Ended = tv(started), tv(ended)
			if outputs != nil {
				r.Outputs = outputs
			}
			if assigned != nil {
				r.Assigned = assigned
			}
			if progress != nil {
				r.Progress = progress
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// States implements store.Store.
func (s *Store) States(ctx context.Context, instanceID int64) ([]store.StepRecord, error) {
	return s.records(ctx, `SELECT EXISTS (SELECT 1 FROM flow_instances WHERE id = $1)`,
		`SELECT `+recordCols+` FROM flow_states WHERE instance_id = $1 ORDER BY path`, instanceID, "instance")
}

// Steps implements store.Store.
func (s *Store) Steps(ctx context.Context, execID int64) ([]store.StepRecord, error) {
	return s.records(ctx, `SELECT EXISTS (SELECT 1 FROM flow_executions WHERE id = $1)`,
		`SELECT `+recordCols+` FROM flow_step_records WHERE execution_id = $1 ORDER BY path`, execID, "execution")
}

const liveStatuses = `('STARTING', 'STARTED', 'STOPPING')`

// Heartbeat implements store.Store.
func (s *Store) Heartbeat(ctx context.Context, execID int64, token string, until time.Time) (bool, error) {
	var stop bool
	err := s.pool.QueryRow(ctx, `UPDATE flow_executions SET owner_until = $3
		WHERE id = $1 AND owner_token = $2 AND status IN `+liveStatuses+` RETURNING stop_requested`,
		execID, token, tn(until)).Scan(&stop)
	if errors.Is(err, pgx.ErrNoRows) {
		e, err := s.Execution(ctx, execID)
		if err != nil {
			return false, err
		}
		if !e.Live() {
			return false, fmt.Errorf("execution %d has ended (%s): %w", execID, e.Status, store.ErrLeaseLost)
		}
		return false, fmt.Errorf("execution %d is owned by %s: %w", execID, e.Owner, store.ErrLeaseLost)
	}
	return stop, err
}

// RequestStop implements store.Store.
func (s *Store) RequestStop(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE flow_executions SET stop_requested = true, status = 'STOPPING', updated = $2
		WHERE id = $1 AND status IN `+liveStatuses, id, time.Now())
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	e, err := s.Execution(ctx, id)
	if err != nil {
		return err
	}
	return fmt.Errorf("execution %d is %s: %w", id, e.Status, store.ErrNotLive)
}

// Abandon implements store.Store.
func (s *Store) Abandon(ctx context.Context, id int64) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		e, err := execution(ctx, tx, id, true)
		if err != nil {
			return err
		}
		now := time.Now()
		switch {
		case e.Status == flow.Abandoned:
			return nil
		case e.Status == flow.Completed:
			return fmt.Errorf("execution %d: %w", id, store.ErrCompleted)
		case e.Live() && !e.OwnerGone(nil, now):
			return fmt.Errorf("execution %d (%s): %w", id, e.Owner, store.ErrOwned)
		}
		ended := e.Ended
		if ended.IsZero() {
			ended = now
		}
		_, err = tx.Exec(ctx, `UPDATE flow_executions SET status = $2, exit_status = $2, ended = $3, updated = $4 WHERE id = $1`,
			id, string(flow.Abandoned), ended, now)
		return err
	})
}

// Prune implements store.Store.
func (s *Store) Prune(ctx context.Context, before time.Time) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		const old = `ended IS NOT NULL AND ended < $1 AND status NOT IN ` + liveStatuses
		rows, err := tx.Query(ctx, `SELECT DISTINCT instance_id FROM flow_executions WHERE `+old, before)
		if err != nil {
			return err
		}
		insts, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil || len(insts) == 0 {
			return err
		}
		// Lock the instances first, as Begin and Resume do, against
		// deadlocks; then the executions go, and the instances left
		// without any (a statement sees what committed before it).
		if _, err := tx.Exec(ctx, `SELECT id FROM flow_instances WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`, insts); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM flow_executions WHERE instance_id = ANY($2) AND `+old, before, insts)
		if err != nil {
			return err
		}
		n = int(tag.RowsAffected())
		_, err = tx.Exec(ctx, `DELETE FROM flow_instances i WHERE i.id = ANY($1)
			AND NOT EXISTS (SELECT 1 FROM flow_executions e WHERE e.instance_id = i.id)`, insts)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func checkBegin(flowName string, o store.Owner) error {
	switch {
	case flowName == "":
		return errors.New("begin: no flow name")
	case strings.ContainsRune(flowName, 0):
		return fmt.Errorf("begin: flow name %q holds a NUL", flowName)
	case o.Token == "":
		return errors.New("begin: the owner has no token")
	}
	return nil
}
