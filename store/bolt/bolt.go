// Package bolt is the default store.Store: one bbolt file, no server.
//
// bbolt lets one process at a time open a file; Open waits at most
// Options.Timeout (one second by default) and then fails with ErrInUse and
// a message naming the file and the process that holds it, which Open
// records beside the file in PATH.owner (JSON: pid, host, since, args)
// and Close removes.
//
// Layout: a "meta" bucket holds the schema version; instances and
// executions are JSON values under 8-byte big-endian ids from
// NextSequence; index buckets map a flow and key to its latest instance,
// an instance to its executions and a flow to its executions, so that
// Begin and History never scan the whole file; nested buckets hold each
// instance's states and each execution's step records (path → JSON).
// Commit writes an execution and all its step records in one write
// transaction: one fsync per Commit, so callers group small records.
//
// Because no other process can have the file open, an execution found
// live with an owner in another process is taken over when Alive is nil:
// that process has died.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/store"
)

// SchemaVersion is the version of the layout this package writes. Open
// refuses a file of a newer version.
const SchemaVersion = 1

// ErrInUse: another process (or another Open in this one) holds the file.
// Open returns it as an *InUseError.
var ErrInUse = errors.New("store in use")

// InUseError says who holds a store: Owner is nil when the owner file
// could not be read.
type InUseError struct {
	Path   string
	Owner  *OwnerInfo
	Waited time.Duration
}

func (e *InUseError) Error() string {
	if e.Owner == nil {
		return fmt.Sprintf("store %s is in use by another process (waited %s; no owner in %s)", e.Path, e.Waited, ownerFile(e.Path))
	}
	cmd := strings.Join(e.Owner.Args, " ")
	if len(cmd) > 200 {
		cmd = cmd[:200] + "..."
	}
	return fmt.Sprintf("store %s is in use by pid %d on host %s (%s) since %s",
		e.Path, e.Owner.PID, e.Owner.Host, cmd, e.Owner.Since.Local().Format("2006-01-02 15:04:05 MST"))
}

// Is makes errors.Is(err, ErrInUse) true.
func (e *InUseError) Is(target error) bool { return target == ErrInUse }

// Options tune Open; nil means the defaults.
type Options struct {
	// Timeout is how long Open waits for the process that holds the file;
	// 0 means one second.
	Timeout time.Duration
	// NoSync skips the fsync of each commit: much faster, but a crash of
	// the machine may lose recent commits or corrupt the file. For tests.
	NoSync bool
	// Args is the command recorded in the owner file; nil means os.Args.
	Args []string
}

// OwnerInfo is the content of the owner file, PATH.owner.
type OwnerInfo struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
	Args  []string  `json:"args"`
}

// Store is a job repository in one bbolt file.
type Store struct {
	db        *bbolt.DB
	path      string
	host      string
	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

var (
	bMeta          = []byte("meta")
	bInstances     = []byte("instances")
	bExecutions    = []byte("executions")
	bKeys          = []byte("instance_keys")  // flow \0 key → latest instance id
	bInstanceExecs = []byte("instance_execs") // instance id, execution id → ""
	bFlowExecs     = []byte("flow_execs")     // flow \0 execution id → ""
	bStates        = []byte("states")         // instance id → path → record
	bSteps         = []byte("steps")          // execution id → path → record
	kSchema        = []byte("schema")

	allBuckets = [][]byte{bInstances, bExecutions, bKeys, bInstanceExecs, bFlowExecs, bStates, bSteps}
)

// Open opens the store at path, creating it and its directory when
// missing.
func Open(path string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.Args == nil {
		o.Args = os.Args
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	if err := checkPages(path); err != nil {
		return nil, err
	}
	db, err := openFaultSafe(path, &bbolt.Options{Timeout: o.Timeout, NoSync: o.NoSync})
	if err != nil {
		var d *damagedError
		if errors.As(err, &d) {
			return nil, err
		}
		switch {
		case errors.Is(err, berrors.ErrTimeout):
			return nil, inUse(path, o.Timeout)
		case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
			return nil, fmt.Errorf("%s is not a flow store: not a bbolt database (%v)", path, err)
		}
		// bbolt reports a file too short to be a database in other words.
		if fi, serr := os.Stat(path); serr == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
			return nil, fmt.Errorf("%s is not a flow store: not a bbolt database (%v)", path, err)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := checkSize(db, path); err != nil {
		db.Close()
		return nil, err
	}
	host, _ := os.Hostname()
	s := &Store{db: db, path: path, host: host}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	info := OwnerInfo{PID: os.Getpid(), Host: host, Since: time.Now().UTC().Truncate(time.Second), Args: o.Args}
	if err := writeOwner(path, info); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// damagedError is a store file that bbolt cannot read safely.
type damagedError struct {
	path string
	why  string
}

func (e *damagedError) Error() string {
	return fmt.Sprintf("store %s is damaged: %s; restore it from a copy, or move it away to start a new store", e.path, e.why)
}

// openFaultSafe is bbolt.Open, with a fault reading the memory-mapped file
// (SIGBUS on a page past the end of a file cut short) an error instead of
// a crash.
func openFaultSafe(path string, opts *bbolt.Options) (db *bbolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, &damagedError{path, fmt.Sprintf("reading it failed (%v)", r)}
		}
	}()
	return bbolt.Open(path, 0o600, opts)
}

// checkPages reads the meta pages of an existing file as bbolt does (the
// valid one with the latest transaction wins) and refuses a file shorter
// than the pages that meta counts, before bbolt maps it: reading a missing
// page faults (SIGBUS), and a fault inside bbolt.Open leaves its file
// locked. A file without a valid meta page is left to bbolt to report.
func checkPages(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	// A page header (16 bytes), then the meta: magic, version, page size,
	// flags, root bucket (16), freelist, high-water page id, txid,
	// checksum (FNV-64a of the meta before it), in the machine's order.
	const metaOff, metaLen = 16, 64
	var best struct {
		ok         bool
		txid, need uint64
	}
	var pageSize uint64
	for i := 0; i < 2; i++ {
		off := int64(0)
		if i == 1 {
			if pageSize == 0 {
				pageSize = uint64(os.Getpagesize())
			}
			off = int64(pageSize)
		}
		b := make([]byte, metaOff+metaLen)
		if _, err := f.ReadAt(b, off); err != nil {
			continue
		}
		m := b[metaOff:]
		h := fnv.New64a()
		h.Write(m[:56])
		if binary.NativeEndian.Uint32(m[0:]) != 0xED0CDAED || binary.NativeEndian.Uint32(m[4:]) != 2 ||
			binary.NativeEndian.Uint64(m[56:]) != h.Sum64() {
			continue
		}
		ps := uint64(binary.NativeEndian.Uint32(m[8:]))
		if i == 0 {
			pageSize = ps
		}
		if txid := binary.NativeEndian.Uint64(m[48:]); !best.ok || txid > best.txid {
			best.ok, best.txid, best.need = true, txid, binary.NativeEndian.Uint64(m[40:])*ps
		}
	}
	if best.ok && uint64(fi.Size()) < best.need {
		return &damagedError{path, fmt.Sprintf("the file has %d bytes, but its pages take %d (was it cut short?)", fi.Size(), best.need)}
	}
	return nil
}

// checkSize refuses a file shorter than the pages its meta page counts:
// reading one of the missing pages later would crash the process.
func checkSize(db *bbolt.DB, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("store %s: %w", path, err)
	}
	var need int64
	if err := db.View(func(tx *bbolt.Tx) error { need = tx.Size(); return nil }); err != nil {
		return fmt.Errorf("store %s: %w", path, err)
	}
	if fi.Size() < need {
		return &damagedError{path, fmt.Sprintf("the file has %d bytes, but its pages take %d (was it cut short?)", fi.Size(), need)}
	}
	return nil
}

// Path is the file of the store.
func (s *Store) Path() string { return s.path }

func (s *Store) init() error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bMeta)
		if meta == nil {
			foreign := false
			_ = tx.ForEach(func([]byte, *bbolt.Bucket) error { foreign = true; return nil })
			if foreign {
				return fmt.Errorf("%s is not a flow store: a bbolt database of something else", s.path)
			}
			var err error
			if meta, err = tx.CreateBucket(bMeta); err != nil {
				return err
			}
			if err := meta.Put(kSchema, itob(SchemaVersion)); err != nil {
				return err
			}
		}
		v := meta.Get(kSchema)
		if len(v) != 8 {
			return fmt.Errorf("%s is not a flow store: no schema version", s.path)
		}
		if n := btoi(v); n > SchemaVersion {
			return fmt.Errorf("store %s has schema version %d, newer than this flow knows (%d): use a newer flow", s.path, n, SchemaVersion)
		}
		// Version 1 is the only one yet; later versions migrate here.
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
}

func ownerFile(path string) string { return path + ".owner" }

func writeOwner(path string, info OwnerInfo) error {
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	tmp := ownerFile(path) + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("store %s: owner file: %w", path, err)
	}
	if err := os.Rename(tmp, ownerFile(path)); err != nil {
		return fmt.Errorf("store %s: owner file: %w", path, err)
	}
	return nil
}

// inUse explains who holds the file, as far as the owner file tells.
func inUse(path string, waited time.Duration) error {
	e := &InUseError{Path: path, Waited: waited}
	b, err := os.ReadFile(ownerFile(path))
	var info OwnerInfo
	if err == nil && json.Unmarshal(b, &info) == nil && info.PID != 0 {
		e.Owner = &info
	}
	return e
}

// Close releases the file.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if err := os.Remove(ownerFile(s.path)); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.closeErr = err
		}
		if err := s.db.Close(); err != nil {
			s.closeErr = err
		}
	})
	return s.closeErr
}

// thisProcess is Alive when the caller gives none: no other process can
// have the file open, so only this one's owners can still run.
func (s *Store) thisProcess(o store.Owner) bool {
	return o.PID == os.Getpid() && o.Host == s.host
}

func itob(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func btoi(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

func id8(id int64) []byte { return itob(uint64(id)) }

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func flowKey(flowName, key string) []byte {
	return join([]byte(flowName), []byte{0}, []byte(key))
}

func flowPrefix(flowName string) []byte { return join([]byte(flowName), []byte{0}) }

// tx wraps a transaction with the buckets.
type tx struct {
	tx                                                          *bbolt.Tx
	instances, execs, keys, instExecs, flowExecs, states, steps *bbolt.Bucket
}

func wrap(t *bbolt.Tx) *tx {
	return &tx{
		tx:        t,
		instances: t.Bucket(bInstances),
		execs:     t.Bucket(bExecutions),
		keys:      t.Bucket(bKeys),
		instExecs: t.Bucket(bInstanceExecs),
		flowExecs: t.Bucket(bFlowExecs),
		states:    t.Bucket(bStates),
		steps:     t.Bucket(bSteps),
	}
}

func (s *Store) update(ctx context.Context, fn func(*tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(t *bbolt.Tx) error { return fn(wrap(t)) })
}

func (s *Store) view(ctx context.Context, fn func(*tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(func(t *bbolt.Tx) error { return fn(wrap(t)) })
}

func notFound(what string, id int64) error {
	return fmt.Errorf("%s %d: %w", what, id, store.ErrNotFound)
}

func (t *tx) instance(id int64) (*store.Instance, error) {
	v := t.instances.Get(id8(id))
	if v == nil {
		return nil, notFound("instance", id)
	}
	var in store.Instance
	if err := json.Unmarshal(v, &in); err != nil {
		return nil, fmt.Errorf("instance %d: %w", id, err)
	}
	return &in, nil
}

func (t *tx) execution(id int64) (*store.Execution, error) {
	v := t.execs.Get(id8(id))
	if v == nil {
		return nil, notFound("execution", id)
	}
	var e store.Execution
	if err := json.Unmarshal(v, &e); err != nil {
		return nil, fmt.Errorf("execution %d: %w", id, err)
	}
	return &e, nil
}

func (t *tx) putExecution(e *store.Execution) error {
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("execution %d: %w", e.ID, err)
	}
	return t.execs.Put(id8(e.ID), v)
}

// latest returns the latest execution of an instance, or nil.
func (t *tx) latest(instID int64) (*store.Execution, error) {
	c := t.instExecs.Cursor()
	prefix := id8(instID)
	k, _ := c.Seek(id8(instID + 1))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return nil, nil
	}
	return t.execution(int64(btoi(k[8:])))
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
	alive := req.Alive
	if alive == nil {
		alive = s.thisProcess
	}
	var out *store.Begun
	err := s.update(ctx, func(t *tx) error {
		var inst *store.Instance
		var prev *store.Execution
		if v := t.keys.Get(flowKey(req.Flow, req.Key)); v != nil {
			var err error
			if inst, err = t.instance(int64(btoi(v))); err != nil {
				return err
			}
			last, err := t.latest(inst.ID)
			if err != nil {
				return err
			}
			fresh, err := t.decide(last, req.Rerun, alive, now)
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
			seq, err := t.instances.NextSequence()
			if err != nil {
				return err
			}
			inst = &store.Instance{ID: int64(seq), Flow: req.Flow, Key: req.Key, Created: now}
			v, err := json.Marshal(inst)
			if err != nil {
				return err
			}
			if err := t.instances.Put(id8(inst.ID), v); err != nil {
				return err
			}
			if err := t.keys.Put(flowKey(req.Flow, req.Key), id8(inst.ID)); err != nil {
				return err
			}
		}
		var err error
		out, err = t.start(inst, prev, req.File, req.Params, req.Owner, now)
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
	if alive == nil {
		alive = s.thisProcess
	}
	var out *store.Begun
	err := s.update(ctx, func(t *tx) error {
		e, err := t.execution(id)
		if err != nil {
			return err
		}
		if err := checkBegin(e.Flow, owner); err != nil {
			return err
		}
		if e.Status == flow.Abandoned {
			return fmt.Errorf("execution %d: %w", id, store.ErrAbandoned)
		}
		inst, err := t.instance(e.InstanceID)
		if err != nil {
			return err
		}
		last, err := t.latest(inst.ID)
		if err != nil {
			return err
		}
		if last == nil {
			return notFound("execution", id)
		}
		if last.Status == flow.Abandoned {
			return fmt.Errorf("execution %d of the same instance: %w", last.ID, store.ErrAbandoned)
		}
		if _, err := t.decide(last, false, alive, now); err != nil {
			return err
		}
		out, err = t.start(inst, last, last.File, last.Params, owner, now)
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
func (t *tx) decide(last *store.Execution, rerun bool, alive func(store.Owner) bool, now time.Time) (fresh bool, err error) {
	fresh, tookOver, err := store.Decide(last, rerun, alive, now)
	if tookOver {
		if perr := t.putExecution(last); perr != nil {
			return false, perr
		}
	}
	return fresh, err
}

func (t *tx) start(inst *store.Instance, prev *store.Execution, file string, params map[string]string, owner store.Owner, now time.Time) (*store.Begun, error) {
	seq, err := t.execs.NextSequence()
	if err != nil {
		return nil, err
	}
	e := &store.Execution{
		ID:         int64(seq),
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
	if prev != nil {
		e.ResumedFrom = prev.ID
	}
	if err := t.putExecution(e); err != nil {
		return nil, err
	}
	if err := t.instExecs.Put(join(id8(inst.ID), id8(e.ID)), nil); err != nil {
		return nil, err
	}
	if err := t.flowExecs.Put(join(flowPrefix(e.Flow), id8(e.ID)), nil); err != nil {
		return nil, err
	}
	// Hand out a copy that the caller cannot share with the store's.
	var c store.Execution
	v, _ := json.Marshal(e)
	if err := json.Unmarshal(v, &c); err != nil {
		return nil, err
	}
	return &store.Begun{Instance: inst, Execution: &c, Previous: prev}, nil
}

// Execution implements store.Store.
func (s *Store) Execution(ctx context.Context, id int64) (*store.Execution, error) {
	var e *store.Execution
	err := s.view(ctx, func(t *tx) error {
		var err error
		e, err = t.execution(id)
		return err
	})
	return e, err
}

// History implements store.Store.
func (s *Store) History(ctx context.Context, f store.Filter) ([]*store.Execution, error) {
	var out []*store.Execution
	err := s.view(ctx, func(t *tx) error {
		keep := func(id int64) (bool, error) {
			e, err := t.execution(id)
			if err != nil {
				return false, err
			}
			if f.Status != "" && e.Status != f.Status {
				return true, nil
			}
			out = append(out, e)
			return f.Limit <= 0 || len(out) < f.Limit, nil
		}
		if f.Flow == "" {
			c := t.execs.Cursor()
			for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
				if more, err := keep(int64(btoi(k))); err != nil || !more {
					return err
				}
			}
			return nil
		}
		prefix := flowPrefix(f.Flow)
		c := t.flowExecs.Cursor()
		k, _ := c.Seek(join(prefix, itob(^uint64(0))))
		if k == nil {
			k, _ = c.Last()
		} else if !bytes.Equal(k, join(prefix, itob(^uint64(0)))) {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8; k, _ = c.Prev() {
			if more, err := keep(int64(btoi(k[len(prefix):]))); err != nil || !more {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Commit implements store.Store.
func (s *Store) Commit(ctx context.Context, execID int64, exec *store.Execution, steps []store.StepRecord) error {
	return s.update(ctx, func(t *tx) error {
		cur, err := t.execution(execID)
		if err != nil {
			return err
		}
		if err := store.CheckCommit(cur, exec); err != nil {
			return err
		}
		if exec != nil {
			if err := t.putExecution(store.MergeExecution(cur, exec)); err != nil {
				return err
			}
		}
		if len(steps) == 0 {
			return nil
		}
		byExec, err := t.steps.CreateBucketIfNotExists(id8(execID))
		if err != nil {
			return err
		}
		byInst, err := t.states.CreateBucketIfNotExists(id8(cur.InstanceID))
		if err != nil {
			return err
		}
		for _, r := range steps {
			if r.Path == "" {
				return errors.New("step record without path")
			}
			r.ExecutionID = execID
			v, err := json.Marshal(r)
			if err != nil {
				return fmt.Errorf("step %s: %w", r.Path, err)
			}
			if err := byExec.Put([]byte(r.Path), v); err != nil {
				return fmt.Errorf("step %s: %w", r.Path, err)
			}
			if err := byInst.Put([]byte(r.Path), v); err != nil {
				return fmt.Errorf("step %s: %w", r.Path, err)
			}
		}
		return nil
	})
}

func records(b *bbolt.Bucket) ([]store.StepRecord, error) {
	out := []store.StepRecord{}
	if b == nil {
		return out, nil
	}
	err := b.ForEach(func(k, v []byte) error {
		var r store.StepRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("step %s: %w", k, err)
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// States implements store.Store.
func (s *Store) States(ctx context.Context, instanceID int64) ([]store.StepRecord, error) {
	var out []store.StepRecord
	err := s.view(ctx, func(t *tx) error {
		if t.instances.Get(id8(instanceID)) == nil {
			return notFound("instance", instanceID)
		}
		var err error
		out, err = records(t.states.Bucket(id8(instanceID)))
		return err
	})
	return out, err
}

// Steps implements store.Store.
func (s *Store) Steps(ctx context.Context, execID int64) ([]store.StepRecord, error) {
	var out []store.StepRecord
	err := s.view(ctx, func(t *tx) error {
		if t.execs.Get(id8(execID)) == nil {
			return notFound("execution", execID)
		}
		var err error
		out, err = records(t.steps.Bucket(id8(execID)))
		return err
	})
	return out, err
}

// Heartbeat implements store.Store.
func (s *Store) Heartbeat(ctx context.Context, execID int64, token string, until time.Time) (bool, error) {
	var stop bool
	err := s.update(ctx, func(t *tx) error {
		e, err := t.execution(execID)
		if err != nil {
			return err
		}
		if err := store.CheckCommit(e, &store.Execution{Owner: store.Owner{Token: token}}); err != nil {
			return err
		}
		e.Owner.Until = until
		stop = e.StopRequested
		return t.putExecution(e)
	})
	return stop, err
}

// RequestStop implements store.Store.
func (s *Store) RequestStop(ctx context.Context, id int64) error {
	return s.update(ctx, func(t *tx) error {
		e, err := t.execution(id)
		if err != nil {
			return err
		}
		if !e.Live() {
			return fmt.Errorf("execution %d is %s: %w", id, e.Status, store.ErrNotLive)
		}
		e.StopRequested = true
		e.Status = flow.Stopping
		e.Updated = time.Now()
		return t.putExecution(e)
	})
}

// Abandon implements store.Store.
func (s *Store) Abandon(ctx context.Context, id int64) error {
	return s.update(ctx, func(t *tx) error {
		e, err := t.execution(id)
		if err != nil {
			return err
		}
		now := time.Now()
		switch {
		case e.Status == flow.Abandoned:
			return nil
		case e.Status == flow.Completed:
			return fmt.Errorf("execution %d: %w", id, store.ErrCompleted)
		case e.Live() && !e.OwnerGone(s.thisProcess, now):
			return fmt.Errorf("execution %d (%s): %w", id, e.Owner, store.ErrOwned)
		}
		if e.Ended.IsZero() {
			e.Ended = now
		}
		e.Status = flow.Abandoned
		e.ExitStatus = string(flow.Abandoned)
		e.Updated = now
		return t.putExecution(e)
	})
}

// Prune implements store.Store. It reads every execution: it is meant to
// run now and then, not in a hot path.
func (s *Store) Prune(ctx context.Context, before time.Time) (int, error) {
	n := 0
	err := s.update(ctx, func(t *tx) error {
		var gone []*store.Execution
		err := t.execs.ForEach(func(k, v []byte) error {
			var e store.Execution
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("execution %d: %w", btoi(k), err)
			}
			if !e.Live() && !e.Ended.IsZero() && e.Ended.Before(before) {
				gone = append(gone, &e)
			}
			return nil
		})
		if err != nil {
			return err
		}
		insts := map[int64]bool{}
		for _, e := range gone {
			if err := t.execs.Delete(id8(e.ID)); err != nil {
				return err
			}
			if err := t.instExecs.Delete(join(id8(e.InstanceID), id8(e.ID))); err != nil {
				return err
			}
			if err := t.flowExecs.Delete(join(flowPrefix(e.Flow), id8(e.ID))); err != nil {
				return err
			}
			if t.steps.Bucket(id8(e.ID)) != nil {
				if err := t.steps.DeleteBucket(id8(e.ID)); err != nil {
					return err
				}
			}
			insts[e.InstanceID] = true
		}
		n = len(gone)
		for id := range insts {
			if last, err := t.latest(id); err != nil || last != nil {
				continue
			}
			if err := t.dropInstance(id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// dropInstance deletes an instance without executions and its states; its
// key falls back on the newest other instance of the key, if any.
func (t *tx) dropInstance(id int64) error {
	in, err := t.instance(id)
	if err != nil {
		return err
	}
	if err := t.instances.Delete(id8(id)); err != nil {
		return err
	}
	if t.states.Bucket(id8(id)) != nil {
		if err := t.states.DeleteBucket(id8(id)); err != nil {
			return err
		}
	}
	k := flowKey(in.Flow, in.Key)
	if v := t.keys.Get(k); v == nil || int64(btoi(v)) != id {
		return nil
	}
	var other int64
	err = t.instances.ForEach(func(_, v []byte) error {
		var o store.Instance
		if err := json.Unmarshal(v, &o); err != nil {
			return err
		}
		if o.Flow == in.Flow && o.Key == in.Key && o.ID > other {
			other = o.ID
		}
		return nil
	})
	if err != nil {
		return err
	}
	if other == 0 {
		return t.keys.Delete(k)
	}
	return t.keys.Put(k, id8(other))
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
