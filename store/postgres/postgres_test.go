package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/pgtest"
	"github.com/flowbatch/flow/store"
	"github.com/flowbatch/flow/store/postgres"
	"github.com/flowbatch/flow/store/storetest"
)

// schema makes a new schema and returns a DSN that uses it (see pgtest).
func schema(t testing.TB) string {
	t.Helper()
	dsn, _ := pgtest.Schema(t, "flowtest")
	return dsn
}

func open(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() }) // before the schema goes
	return s
}

func TestConformance(t *testing.T) {
	schema(t) // skip early without a database
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, schema(t))
	})
}

func TestConcurrentOpen(t *testing.T) {
	dsn := schema(t)
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			s, err := postgres.Open(context.Background(), dsn)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent Opens: %v", err)
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var count, max int
	if err := conn.QueryRow(t.Context(), `SELECT count(*), max(version) FROM flow_schema_migrations`).Scan(&count, &max); err != nil {
		t.Fatal(err)
	}
	if count != postgres.SchemaVersion || max != postgres.SchemaVersion {
		t.Fatalf("%d migrations up to version %d, want %d", count, max, postgres.SchemaVersion)
	}
}

func TestSchemaTooNew(t *testing.T) {
	dsn := schema(t)
	open(t, dsn).Close()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), `INSERT INTO flow_schema_migrations (version) VALUES ($1)`, postgres.SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	_, err = postgres.Open(t.Context(), dsn)
	want := fmt.Sprintf("schema version %d is newer than this flow knows (%d)", postgres.SchemaVersion+1, postgres.SchemaVersion)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Open of a newer schema: %v, want %q", err, want)
	}
}

// TestTwoProcesses shares one schema between two stores, as two
// processes would: one Begin wins, the other is refused; once the
// winner's lease ends the other takes over, and the winner's commits fail.
func TestTwoProcesses(t *testing.T) {
	dsn := schema(t)
	stores := []*postgres.Store{open(t, dsn), open(t, dsn)}
	now := time.Now().Truncate(time.Microsecond)
	req := func(i int, at time.Time) store.BeginRequest {
		return store.BeginRequest{
			Flow: "f", Key: "k", Now: at,
			Owner: store.Owner{Host: fmt.Sprint("host", i), PID: 100 + i, Token: fmt.Sprint("t", i, at.UnixNano()), Until: now.Add(time.Minute)},
		}
	}
	const n = 8
	var wg sync.WaitGroup
	results := make([]*store.Begun, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { results[i], errs[i] = stores[i%2].Begin(context.Background(), req(i, now)) })
	}
	wg.Wait()
	winner := -1
	for i := range n {
		switch {
		case errs[i] == nil && winner >= 0:
			t.Fatalf("Begins %d and %d both succeeded", winner, i)
		case errs[i] == nil:
			winner = i
		case !errors.Is(errs[i], store.ErrOwned):
			t.Fatalf("Begin %d: %v, want ErrOwned", i, errs[i])
		}
	}
	if winner < 0 {
		t.Fatal("no Begin succeeded")
	}
	won := results[winner].Execution
	other := stores[(winner+1)%2]

	later := now.Add(2 * time.Minute)
	b, err := other.Begin(t.Context(), req(99, later))
	if err != nil {
		t.Fatalf("Begin after the lease ended: %v", err)
	}
	if b.Previous == nil || b.Previous.ID != won.ID || b.Previous.Status != flow.Failed {
		t.Fatalf("takeover: previous %+v", b.Previous)
	}
	e := *won
	e.Status = flow.Completed
	err = stores[winner%2].Commit(t.Context(), won.ID, &e, []store.StepRecord{{Path: "main/a", Status: flow.Completed}})
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Commit by the old owner: %v, want ErrLeaseLost", err)
	}
}

func TestBadDSN(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("Open of an unreachable database succeeded")
	}
}

func BenchmarkCommit(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			s := open(b, schema(b))
			storetest.BenchmarkCommit(b, s, n)
		})
	}
}
