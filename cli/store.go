package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/flowbatch/flow/store"
	"github.com/flowbatch/flow/store/bolt"
	"github.com/flowbatch/flow/store/postgres"
)

// defaultStore is where executions are kept when neither --store nor
// FLOW_STORE says otherwise: relative to the working directory.
var defaultStore = filepath.Join(".flow", "flow.db")

// openTimeout bounds how long opening a PostgreSQL store may take.
const openTimeout = 15 * time.Second

// storeSpec is the store the command works with: --store, else FLOW_STORE,
// else .flow/flow.db.
func (c *cli) storeSpec() string {
	if c.storeFlag != "" {
		return c.storeFlag
	}
	if s := os.Getenv("FLOW_STORE"); s != "" {
		return s
	}
	return defaultStore
}

func isPostgres(spec string) bool {
	return strings.HasPrefix(spec, "postgres://") || strings.HasPrefix(spec, "postgresql://")
}

// lease is the execution lease: the hidden --lease flag, else FLOW_LEASE,
// else the store's default (0).
func (c *cli) lease() (time.Duration, error) {
	text, what := c.leaseFlag, "--lease"
	if text == "" {
		text, what = os.Getenv("FLOW_LEASE"), "FLOW_LEASE"
	}
	if text == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(text)
	if err != nil || d <= 0 {
		return 0, &exitError{exitUsage, fmt.Sprintf("%s %q: use a positive duration such as 30s", what, text)}
	}
	return d, nil
}

// openedStore is a store opened by a command, with what the messages need.
type openedStore struct {
	store.Store
	spec    string // as given, with any password hidden
	path    string // the bbolt file, or ""
	running string // the bbolt store's run file, or ""
}

// ownerGone reports whether e looks live but its owner has gone: its
// lease ended, its pid is dead on this host, or, for a bbolt store, the
// owner no longer holds the file (this command does).
func (s *openedStore) ownerGone(e *store.Execution) bool {
	if !e.Live() {
		return false
	}
	alive := store.Alive
	if s.path != "" {
		alive = func(store.Owner) bool { return false }
	}
	return e.OwnerGone(alive, time.Now())
}

// openStore opens the store. With mustExist, a missing bbolt file is a
// *noStoreError instead of a new store. Errors end the command
// with exit code 2: bbolt's as they are (*bolt.InUseError when another
// process holds the file), PostgreSQL's without the password.
func (c *cli) openStore(ctx context.Context, mustExist bool) (*openedStore, error) {
	spec := c.storeSpec()
	if isPostgres(spec) {
		shown := redactDSN(spec)
		ctx, cancel := context.WithTimeout(ctx, openTimeout)
		defer cancel()
		st, err := postgres.Open(ctx, spec)
		if err != nil {
			return nil, &exitError{exitUsage, fmt.Sprintf("cannot open store %s: %s", shown, redactIn(err.Error(), spec))}
		}
		return &openedStore{Store: st, spec: shown}, nil
	}
	if mustExist {
		if _, err := os.Stat(spec); errors.Is(err, os.ErrNotExist) {
			return nil, &noStoreError{spec}
		}
	}
	st, err := bolt.Open(spec, nil)
	if err != nil {
		// Its messages name the file (and the owner when in use); run
		// prints them with exit code 2.
		return nil, err
	}
	return &openedStore{Store: st, spec: spec, path: spec, running: spec + ".run"}, nil
}

// noStoreError: a command that only reads found no bbolt file.
type noStoreError struct{ path string }

func (e *noStoreError) Error() string {
	return fmt.Sprintf("no store at %s: nothing has run with it yet (--store or FLOW_STORE chooses another)", e.path)
}

// isMissing reports whether err is openStore's "no store" error.
func isMissing(err error) bool {
	var ne *noStoreError
	return errors.As(err, &ne)
}

// redactDSN shows a PostgreSQL URL without its password.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		// Do not echo what cannot be parsed: it may hold a password.
		i := strings.Index(dsn, "://")
		return dsn[:i+3] + "..."
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// redactIn hides the password of dsn wherever it appears in msg.
func redactIn(msg, dsn string) string {
	var secrets []string
	if u, err := url.Parse(dsn); err == nil {
		if pw, ok := u.User.Password(); ok {
			secrets = append(secrets, pw, url.UserPassword("", pw).String()[1:])
		}
		if pw := u.Query().Get("password"); pw != "" {
			secrets = append(secrets, pw, url.QueryEscape(pw))
		}
	} else if _, rest, ok := strings.Cut(dsn, "://"); ok {
		// An unparsable URL: hide whatever could be its user info.
		if userinfo, _, ok := strings.Cut(rest, "@"); ok {
			if _, pw, ok := strings.Cut(userinfo, ":"); ok {
				secrets = append(secrets, pw)
			}
		}
	}
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	return msg
}

// runFile is what a process running an execution of a bbolt store writes
// beside it (PATH.run), so that `flow stop` — which cannot open the file
// while that process holds it — knows which execution the holder runs.
type runFile struct {
	PID         int       `json:"pid"`
	Host        string    `json:"host"`
	ExecutionID int64     `json:"execution_id"`
	Flow        string    `json:"flow"`
	Since       time.Time `json:"since"`
}

func writeRunFile(path string, rf runFile) error {
	b, err := json.Marshal(rf)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readRunFile(path string) (*runFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rf runFile
	if err := json.Unmarshal(b, &rf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &rf, nil
}

var hostname = func() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}()
