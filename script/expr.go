package script

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"

	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

// Expressions is the JavaScript expression language of the batch step:
// writer filters ("item.amount > 5000") and partition_by_js
// ("item => item.account"). Both are compiled once; filters run in one
// runtime per worker, keys in one runtime.
type Expressions struct {
	// Timeout bounds each call; DefaultTimeout when zero.
	Timeout time.Duration
}

var _ batch.Expressions = Expressions{}

// exprHost returns the host of an expression given with the position of
// its attribute, and its compiled unit.
func exprHost(kind unitKind, src, where string) (*host, error) {
	s, ok := lookupSite(exprKey(where))
	if !ok || s.code != src {
		s = &site{code: src, origin: exprOrigin(where)}
	}
	u, serr := compileUnit(kind, "", src)
	if serr != nil {
		return nil, fmt.Errorf("%s: SyntaxError: %s", s.origin.where(serr.line, serr.col), serr.msg)
	}
	return &host{main: u, origin: s.origin, logger: slog.New(slog.DiscardHandler), schemas: &record.Schemas{}}, nil
}

// Predicate compiles a filter: an expression over item, true to keep the
// record. The function is safe for concurrent use by distinct workers.
func (e Expressions) Predicate(src, where string) (func(c *batch.Chunk, r *record.Record) (bool, error), error) {
	h, err := exprHost(kindPredicate, src, where)
	if err != nil {
		return nil, err
	}
	p := &predicate{h: h, wd: newWatchdog(nil, e.Timeout)}
	p.rts.Store(&[]*exprRT{})
	return p.eval, nil
}

// exprRT is a runtime with the compiled expression's function.
type exprRT struct {
	rt *rt
	fn goja.Callable
}

func newExprRT(h *host, wd *watchdog) (*exprRT, error) {
	r := newRT(h, wd)
	v, err := r.vm.RunProgram(h.main.prog)
	if err != nil {
		return nil, r.jsError(err, "")
	}
	fn, _ := goja.AssertFunction(v)
	return &exprRT{rt: r, fn: fn}, nil
}

type predicate struct {
	h   *host
	wd  *watchdog
	mu  sync.Mutex
	rts atomic.Pointer[[]*exprRT] // by worker, copied on growth
}

func (p *predicate) runtime(worker int) (*exprRT, error) {
	if worker < 0 {
		worker = 0
	}
	if rts := *p.rts.Load(); worker < len(rts) && rts[worker] != nil {
		return rts[worker], nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	rts := *p.rts.Load()
	if worker < len(rts) && rts[worker] != nil {
		return rts[worker], nil
	}
	e, err := newExprRT(p.h, p.wd)
	if err != nil {
		return nil, err
	}
	grown := make([]*exprRT, max(len(rts), worker+1))
	copy(grown, rts)
	grown[worker] = e
	p.rts.Store(&grown)
	return e, nil
}

func (p *predicate) eval(c *batch.Chunk, rec *record.Record) (bool, error) {
	w := 0
	if c != nil {
		w = c.Worker
	}
	e, err := p.runtime(w)
	if err != nil {
		return false, err
	}
	v, err := e.rt.call(e.fn, goja.Undefined(), e.rt.newItem(rec))
	if err != nil {
		return false, e.rt.jsError(err, rec.Where())
	}
	return v.ToBoolean(), nil
}

// Key compiles a partition key: a function of item (item => item.account)
// or an expression over item (item.account). The key is the value's
// text; null and undefined are the empty key.
func (e Expressions) Key(src, where string) (func(r *record.Record) (string, error), error) {
	h, err := exprHost(kindKey, src, where)
	if err != nil {
		return nil, err
	}
	ex, err := newExprRT(h, newWatchdog(nil, e.Timeout))
	if err != nil {
		return nil, err
	}
	fn := ex.fn
	if h.main.fn {
		// The program returns the function.
		v, err := ex.rt.call(ex.fn, goja.Undefined())
		if err != nil {
			return nil, ex.rt.jsError(err, "")
		}
		var ok bool
		if fn, ok = goja.AssertFunction(v); !ok {
			return nil, fmt.Errorf("%s: partition_by_js must be a function of item, such as item => item.account", h.origin.where(1, 1))
		}
	}
	var mu sync.Mutex
	return func(rec *record.Record) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		r := ex.rt
		v, err := r.call(fn, goja.Undefined(), r.newItem(rec))
		if err != nil {
			return "", r.jsError(err, rec.Where())
		}
		if goja.IsUndefined(v) || goja.IsNull(v) {
			return "", nil
		}
		switch v.ExportType() {
		case typeString, typeInt64, typeFloat64, typeBool, typeBigInt:
			return v.String(), nil
		}
		return r.show(v), nil
	}, nil
}
