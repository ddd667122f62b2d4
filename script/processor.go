package script

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/dop251/goja"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

// Processor is the "js" record processor of batch steps.
var Processor = &batch.ProcessorType{
	Name: "js",
	Summary: "Runs JavaScript for each record: item is the record, emit(x) outputs a record (any number of times), " +
		"returning an object outputs it, returning nothing filters the record out. ctx holds the chunk number, " +
		"the worker index, the concurrency, params and a per-worker state object; optional top-level functions " +
		"setup() and chunk_end() run once per worker and after each chunk. See docs/javascript.md.",
	Attrs: []flow.Attr{
		{Name: "code", Type: cty.String, Doc: "The body of the per-record function (give code or file)."},
		{Name: "file", Type: cty.String, Doc: "A .js file under the flow's directory that holds the body instead."},
		{Name: "timeout", Type: cty.String, Duration: true, Default: cty.StringVal(DefaultTimeout.String()),
			Doc: "How long one call (a record, setup, chunk_end) may run before it is interrupted and fails the record."},
		{Name: "params", Type: cty.DynamicPseudoType, Doc: "A value handed to the code as ctx.params (read-only)."},
	},
	New: newProcessor,
}

// processor runs a compiled unit in one runtime per worker.
type processor struct {
	h       *host
	timeout time.Duration
	params  cty.Value
	step    string

	wd          *watchdog
	concurrency int
	// workers is indexed by Chunk.Worker: each slot is only touched by
	// its worker's goroutine. It is sized by Setup; without Setup, extra
	// holds the runtimes under mu.
	workers []*pworker
	mu      sync.Mutex
	extra   map[int]*pworker
}

// siteOf finds the code of a component from its configuration, with its
// position when the static checks saw it.
func siteOf(cfg *batch.Config) (*site, error) {
	code, file := cfg.String("code"), cfg.String("file")
	switch {
	case code == "" && file == "":
		return nil, errors.New("give code or file")
	case code != "" && file != "":
		return nil, errors.New("give code or file, not both")
	case code != "":
		if s, ok := lookupSite(codeKey(cfg.Dir, code)); ok {
			return s, nil
		}
		return &site{code: code, origin: &origin{file: cfg.Step + " (js processor)"}, files: files{dir: cfg.Dir}}, nil
	}
	if s, ok := lookupSite(fileKey(cfg.Dir, file)); ok {
		return s, nil
	}
	return fileSite(files{dir: cfg.Dir}, file)
}

func newProcessor(cfg *batch.Config) (batch.RecordProcessor, error) {
	s, err := siteOf(cfg)
	if err != nil {
		return nil, err
	}
	u, serr := compileUnit(kindProcessor, "", s.code)
	if serr != nil {
		return nil, fmt.Errorf("%s: SyntaxError: %s", s.origin.where(serr.line, serr.col), serr.msg)
	}
	timeout := DefaultTimeout
	if t := cfg.String("timeout"); t != "" {
		if timeout, err = time.ParseDuration(t); err != nil || timeout <= 0 {
			return nil, fmt.Errorf("timeout %q is not a positive duration", t)
		}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	params := cfg.Attrs["params"]
	if params == cty.NilVal {
		params = cty.NullVal(cty.DynamicPseudoType)
	}
	return &processor{
		h: &host{main: u, origin: s.origin, files: s.files, mainDir: s.mainDir, logger: logger,
			hasFiles: true, schemas: &record.Schemas{}},
		timeout: timeout, params: params, step: cfg.Step,
		wd: newWatchdog(nil, timeout), concurrency: 1,
	}, nil
}

// Setup sizes the worker slots and registers the chunk_end hook.
func (p *processor) Setup(t *batch.Task) error {
	p.concurrency = max(t.Concurrency, 1)
	p.workers = make([]*pworker, p.concurrency)
	p.wd = newWatchdog(t.Context, p.timeout)
	t.OnChunkEnd(p.chunkEnded)
	return nil
}

// pworker is one worker's runtime and what the compiled code gave it.
type pworker struct {
	p        *processor
	rt       *rt
	fn       goja.Callable
	chunkEnd goja.Callable
	ctx      *goja.Object
	chunk    *batch.Chunk // the chunk ctx describes

	// the record being processed (its JS object is rt.itemJS), and where
	// outputs go
	cur     *record.Record
	out     func(*record.Record)
	emitted int
	args    [1]goja.Value
	// a record a rewritten literal built, on its way to return or emit
	pending   *record.Record
	pendingJS *goja.Object
	// the item object every record gets when the code cannot keep it
	item   *itemObj
	itemJS *goja.Object
}

func (p *processor) worker(c *batch.Chunk) (*pworker, error) {
	if i := c.Worker; i >= 0 && i < len(p.workers) {
		if w := p.workers[i]; w != nil {
			return w, nil
		}
		w, err := p.newWorker(c.Worker)
		if err == nil {
			p.workers[i] = w
		}
		return w, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if w := p.extra[c.Worker]; w != nil {
		return w, nil
	}
	w, err := p.newWorker(c.Worker)
	if err == nil {
		if p.extra == nil {
			p.extra = map[int]*pworker{}
		}
		p.extra[c.Worker] = w
	}
	return w, err
}

// newWorker makes a worker's runtime: it runs the compiled code, which
// returns the per-record function and the hooks, then setup().
func (p *processor) newWorker(index int) (w *pworker, err error) {
	r := newRT(p.h, p.wd)
	defer func() {
		if err != nil {
			p.wd.remove(r) // a runtime whose setup failed is dropped
		}
	}()
	w = &pworker{p: p, rt: r}
	vm := r.vm
	w.pendingJS = vm.NewDynamicObject(&pendingObj{w})
	w.ctx = vm.NewObject()
	_ = w.ctx.Set("worker", index)
	_ = w.ctx.Set("concurrency", p.concurrency)
	_ = w.ctx.Set("chunk", -1)
	_ = w.ctx.Set("attempt", 0)
	_ = w.ctx.Set("step", p.step)
	_ = w.ctx.Set("params", r.ctyToJS(p.params, true))
	_ = w.ctx.Set("state", vm.NewObject())
	_ = w.ctx.Set("where", func(goja.FunctionCall) goja.Value {
		if w.cur == nil {
			return goja.Null()
		}
		return vm.ToValue(w.cur.Where())
	})
	outer, err := vm.RunProgram(p.h.main.prog)
	if err != nil {
		return nil, r.jsError(err, "")
	}
	ofn, _ := goja.AssertFunction(outer)
	args := []goja.Value{vm.ToValue(w.emit), w.ctx}
	for _, l := range p.h.main.lits {
		args = append(args, vm.ToValue(w.literalHelper(l)))
	}
	parts, err := r.call(ofn, goja.Undefined(), args...)
	if err != nil {
		return nil, r.jsError(err, "")
	}
	po := parts.(*goja.Object)
	w.fn, _ = goja.AssertFunction(po.Get("0"))
	w.chunkEnd, _ = goja.AssertFunction(po.Get("2"))
	if setup, ok := goja.AssertFunction(po.Get("1")); ok {
		if _, err := r.call(setup, goja.Undefined(), w.ctx); err != nil {
			return nil, fmt.Errorf("setup: %w", r.jsError(err, ""))
		}
	}
	return w, nil
}

// emit is the JS emit(record) function.
func (w *pworker) emit(c goja.FunctionCall) goja.Value {
	if w.out == nil {
		panic(w.rt.vm.NewTypeError("emit() can only be called while a record is processed (not in setup or chunk_end)"))
	}
	rec, err := w.toRecord(c.Argument(0))
	if err != nil {
		panic(w.rt.vm.NewTypeError("emit: " + err.Error()))
	}
	w.emitted++
	w.out(rec)
	return goja.Undefined()
}

// toRecord reads what the code emitted or returned back into a record.
func (w *pworker) toRecord(v goja.Value) (*record.Record, error) {
	switch {
	case v == nil:
	case v == w.pendingJS && w.pending != nil:
		rec := w.pending
		w.pending = nil
		return rec, nil
	}
	if it, ok := w.rt.itemOf(v); ok {
		return it.record()
	}
	o, ok := v.(*goja.Object)
	if !ok {
		return nil, fmt.Errorf("expected an object (a record), got %s", typeName(v))
	}
	switch o.ExportType() {
	case typeMap:
		if o.ClassName() == "Object" {
			return w.rt.objectRecord(o, w.cur)
		}
	}
	return nil, fmt.Errorf("expected an object (a record), got %s", typeName(v))
}

// Process runs the code for one record.
func (p *processor) Process(c *batch.Chunk, rec *record.Record, emit func(*record.Record)) error {
	w, err := p.worker(c)
	if err != nil {
		return err
	}
	if w.chunk != c {
		w.chunk = c
		_ = w.ctx.Set("chunk", c.Seq)
		_ = w.ctx.Set("attempt", c.Attempt)
	}
	w.cur, w.out, w.emitted = rec, emit, 0
	err = w.process(rec, emit)
	w.cur, w.out, w.pending = nil, nil, nil
	w.rt.item, w.rt.itemJS = nil, nil
	return err
}

func (w *pworker) process(rec *record.Record, emit func(*record.Record)) error {
	r := w.rt
	r.current(rec)
	if w.p.h.main.itemLocal {
		if w.item == nil {
			w.item, w.itemJS = r.newItemObj(rec)
		}
		w.item.rec, w.item.set = rec, nil
		r.item, r.itemJS = w.item, w.itemJS
	} else {
		r.item, r.itemJS = r.newItemObj(rec)
	}
	w.args[0] = r.itemJS
	res, err := r.call(w.fn, goja.Undefined(), w.args[:]...)
	w.args[0] = nil
	w.out = nil // emit() after the call (a stored closure) is refused
	if err != nil {
		return r.jsError(err, rec.Where())
	}
	if res == nil || goja.IsUndefined(res) || goja.IsNull(res) {
		return nil
	}
	if res.ExportType() == typeBool && !res.ToBoolean() {
		return nil // return cond && {...}
	}
	if o, ok := res.(*goja.Object); ok && o.ExportType() == typeArray {
		n := o.Get("length").ToInteger()
		for i := int64(0); i < n; i++ {
			out, err := w.toRecord(o.Get(strconv.FormatInt(i, 10)))
			if err != nil {
				return w.resultError(fmt.Errorf("returned array [%d]: %w", i, err), rec)
			}
			emit(out)
		}
		return nil
	}
	out, err := w.toRecord(res)
	if err != nil {
		return w.resultError(fmt.Errorf("returned value: %w", err), rec)
	}
	emit(out)
	return nil
}

func (w *pworker) resultError(err error, rec *record.Record) error {
	return &Error{Message: "TypeError: " + err.Error() + " (return an object, an array of objects, or nothing)",
		Where: w.rt.h.origin.where(1, 1), Record: rec.Where()}
}

// chunkEnded calls the chunk_end hook of the worker that ran the chunk,
// after every attempt (committed or not), with what happened.
func (p *processor) chunkEnded(c *batch.Chunk, cerr error) {
	if c.Worker < 0 || c.Worker >= len(p.workers) {
		return
	}
	w := p.workers[c.Worker]
	if w == nil || w.chunkEnd == nil {
		return
	}
	vm := w.rt.vm
	info := vm.NewObject()
	_ = info.Set("chunk", c.Seq)
	_ = info.Set("attempt", c.Attempt)
	_ = info.Set("committed", cerr == nil)
	if cerr != nil {
		_ = info.Set("error", cerr.Error())
	} else {
		_ = info.Set("error", goja.Null())
	}
	if _, err := w.rt.call(w.chunkEnd, goja.Undefined(), info); err != nil {
		p.h.logger.Error("chunk_end failed", "worker", c.Worker, "chunk", c.Seq, "error", w.rt.jsError(err, "").Error())
	}
	w.chunk = nil
}
