package script

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/big"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch/record"
)

// Types of goja values, as ExportType reports them: comparing them is how
// values are told apart without exporting (copying) them.
var (
	typeInt64   = reflect.TypeOf(int64(0))
	typeFloat64 = reflect.TypeOf(float64(0))
	typeString  = reflect.TypeOf("")
	typeBool    = reflect.TypeOf(true)
	typeBigInt  = reflect.TypeOf((*big.Int)(nil))
	typeMap     = reflect.TypeOf(map[string]any(nil))
	typeArray   = reflect.TypeOf([]any(nil))
	typeTime    = reflect.TypeOf(time.Time{})
	typeDecimal = reflect.TypeOf((*decimalObj)(nil))
	typeItem    = reflect.TypeOf((*itemObj)(nil))
)

// maxCallStack bounds recursion: deeper calls throw a RangeError instead
// of growing the Go heap without end.
const maxCallStack = 2000

// DefaultTimeout bounds each call into JavaScript (a record, a hook, a
// filter) unless the flow sets another.
const DefaultTimeout = 5 * time.Second

// files is where require reads modules: the flow's directory, never
// outside it.
type files struct {
	fsys fs.FS  // the loader's file system; nil for the OS
	dir  string // the flow's directory
}

func flowFiles(f *flow.Flow) files {
	var fsys fs.FS
	if l := f.Loader(); l != nil {
		fsys = l.FS()
	}
	return files{fsys: fsys, dir: f.Dir}
}

// clean resolves name (slash-separated, relative to from, itself relative
// to the flow's directory) and refuses what would leave the directory.
func clean(from, name string) (string, error) {
	if path.IsAbs(name) || filepath.IsAbs(name) || strings.Contains(name, "\\") || strings.HasPrefix(name, "~") {
		return "", fmt.Errorf("%q is not a relative path", name)
	}
	p := path.Clean(path.Join(from, name))
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("%q is outside the flow's directory", name)
	}
	return p, nil
}

// read reads a file relative to the flow's directory. On the OS it goes
// through os.Root, which refuses symbolic links that lead outside.
func (f files) read(rel string) ([]byte, error) {
	if f.fsys != nil {
		return fs.ReadFile(f.fsys, path.Join(f.dir, rel))
	}
	dir := f.dir
	if dir == "" {
		dir = "."
	}
	file, err := os.OpenInRoot(dir, filepath.FromSlash(rel))
	if err != nil {
		return nil, err
	}
	defer file.Close()
	return io.ReadAll(file)
}

// display is how a file under the flow's directory is named in messages.
func (f files) display(rel string) string {
	if f.fsys != nil {
		return path.Join(f.dir, rel)
	}
	return filepath.Join(f.dir, filepath.FromSlash(rel))
}

// host is what the runtimes of one use of a script share: the main unit
// and where its positions are, the files require may read, the log.
type host struct {
	main   *unit
	origin *origin
	files  files
	// mainDir is the directory (relative to the flow's) that require in
	// the main code resolves against.
	mainDir string
	logger  *slog.Logger
	// hasFiles is false where require is refused (filters, keys).
	hasFiles bool
	// schemas caches output schemas by key set, shared by the runtimes so
	// that records of one shape share one schema.
	schemas *record.Schemas
}

// Call states of a runtime, for interrupts.
const (
	idle int32 = iota
	running
	interrupting
	interrupted
)

// rt is one goja runtime with the sandbox's globals. It is used by one
// goroutine at a time; only the watchdog touches it from another, through
// Interrupt.
type rt struct {
	vm       *goja.Runtime
	h        *host
	decProto *goja.Object
	itemKeys map[*record.Schema][]string // cached field names
	shapes   []*shape                    // output schemas, most recent first
	valSlab  []record.Value
	recSlab  []record.Record
	// the fields of the record being processed, as converted for JS
	cacheRec *record.Record
	cache    []goja.Value
	// the item of the record being processed, and the decimals made
	// last: known without Export, which allocates
	item      *itemObj
	itemJS    *goja.Object
	decObjs   [decRing]*goja.Object
	decVals   [decRing]*decimalObj
	decNext   int
	decSlab   []decimalObj
	freeze    goja.Callable
	stringify goja.Callable
	dateCtor  goja.Value
	modules   map[string]*goja.Object // module objects by path

	state atomic.Int32
	gen   atomic.Uint64
	wd    *watchdog
	// watchdog bookkeeping, touched by the watchdog goroutine only
	seen  uint64
	since time.Time
}

// newRT makes a sandboxed runtime: ECMAScript, console, decimal and (with
// files) require. Nothing else reaches outside: goja itself has no file,
// network, process or timer functions.
func newRT(h *host, wd *watchdog) *rt {
	vm := goja.New()
	vm.SetMaxCallStackSize(maxCallStack)
	r := &rt{vm: vm, h: h, wd: wd, modules: map[string]*goja.Object{}, itemKeys: map[*record.Schema][]string{}}
	obj := vm.Get("Object").(*goja.Object)
	r.freeze, _ = goja.AssertFunction(obj.Get("freeze"))
	r.stringify, _ = goja.AssertFunction(vm.Get("JSON").(*goja.Object).Get("stringify"))
	r.dateCtor = vm.Get("Date")
	r.initDecimal()
	r.initConsole()
	_ = vm.Set("require", r.requireFrom(h.mainDir))
	if wd != nil {
		wd.add(r)
	}
	return r
}

func (r *rt) initConsole() {
	console := r.vm.NewObject()
	for name, level := range map[string]slog.Level{
		"log": slog.LevelInfo, "info": slog.LevelInfo, "debug": slog.LevelDebug,
		"warn": slog.LevelWarn, "error": slog.LevelError,
	} {
		_ = console.Set(name, func(c goja.FunctionCall) goja.Value {
			if r.h.logger == nil || !r.h.logger.Enabled(context.Background(), level) {
				return goja.Undefined()
			}
			parts := make([]string, len(c.Arguments))
			for i, a := range c.Arguments {
				parts[i] = r.show(a)
			}
			attrs := []any{"source", "js"}
			if frames := r.vm.CaptureCallStack(2, nil); len(frames) > 1 {
				if w := r.frameWhere(&frames[1]); w != "" {
					attrs = append(attrs, "at", w)
				}
			}
			r.h.logger.Log(context.Background(), level, strings.Join(parts, " "), attrs...)
			return goja.Undefined()
		})
	}
	_ = r.vm.Set("console", console)
}

// show renders a value for console: strings as they are, decimals as
// their text, errors with their message, the rest as JSON.
func (r *rt) show(v goja.Value) string {
	if v == nil || goja.IsUndefined(v) {
		return "undefined"
	}
	switch v.ExportType() {
	case typeString, typeInt64, typeFloat64, typeBool:
		return v.String()
	case typeDecimal:
		if d, ok := r.decimalOf(v); ok {
			return d.d.String()
		}
	}
	if o, ok := v.(*goja.Object); ok {
		if o.ClassName() == "Error" || o.ClassName() == "Function" {
			return o.String()
		}
		var s goja.Value
		if ex := r.vm.Try(func() { s, _ = r.stringify(goja.Undefined(), v) }); ex == nil && s != nil && !goja.IsUndefined(s) {
			return s.String()
		}
	}
	return v.String()
}

// requireFrom returns the require function of code in directory dir
// (relative to the flow's directory).
func (r *rt) requireFrom(dir string) func(goja.FunctionCall) goja.Value {
	return func(c goja.FunctionCall) goja.Value {
		name := c.Argument(0)
		if name.ExportType() != typeString {
			panic(r.vm.NewTypeError("require: expected a path such as \"./lib/util.js\""))
		}
		exports, err := r.require(dir, name.String())
		if err != nil {
			panic(r.errorObject("Error", err.Error()))
		}
		return exports
	}
}

// require loads a CommonJS module: a .js file under the flow's directory,
// named by a path relative to the requiring code. Each file is compiled
// once per process and run once per runtime.
func (r *rt) require(dir, name string) (goja.Value, error) {
	if !r.h.hasFiles {
		return nil, fmt.Errorf("require(%q): modules cannot be required here", name)
	}
	if !strings.HasPrefix(name, "./") && !strings.HasPrefix(name, "../") {
		return nil, fmt.Errorf("require(%q): only .js files under the flow's directory can be required, by a path starting with ./ or ../ (there are no built-in modules)", name)
	}
	rel, err := clean(dir, name)
	if err != nil {
		return nil, fmt.Errorf("require(%q): %v", name, err)
	}
	switch path.Ext(rel) {
	case ".js":
	case "":
		rel += ".js"
	default:
		return nil, fmt.Errorf("require(%q): only .js files can be required", name)
	}
	if m, ok := r.modules[rel]; ok {
		return m.Get("exports"), nil
	}
	src, err := r.h.files.read(rel)
	if err != nil {
		return nil, fmt.Errorf("require(%q): %v", name, sandboxed(err))
	}
	display := r.h.files.display(rel)
	u, serr := compileUnit(kindModule, display, string(src))
	if serr != nil {
		return nil, fmt.Errorf("%s:%d:%d: SyntaxError: %s", display, serr.line, serr.col, serr.msg)
	}
	fnv, err := r.vm.RunProgram(u.prog)
	if err != nil {
		return nil, err
	}
	fn, _ := goja.AssertFunction(fnv)
	module := r.vm.NewObject()
	exports := r.vm.NewObject()
	_ = module.Set("exports", exports)
	_ = module.Set("id", rel)
	r.modules[rel] = module // before running: cycles see the partial exports
	mdir := path.Dir(rel)
	if _, err := fn(goja.Undefined(), exports, r.vm.ToValue(r.requireFrom(mdir)), module, r.vm.ToValue(rel), r.vm.ToValue(mdir)); err != nil {
		delete(r.modules, rel)
		panic(err) // rethrown as it was, with its stack (or an interrupt)
	}
	return module.Get("exports"), nil
}

// sandboxed rewords file errors so that they do not show absolute paths.
func sandboxed(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

func (r *rt) errorObject(ctor, msg string) *goja.Object {
	o, err := r.vm.New(r.vm.Get(ctor), r.vm.ToValue(msg))
	if err != nil {
		return r.vm.NewTypeError(msg)
	}
	return o
}

// enter and leave bracket every call into JavaScript, for the watchdog.
func (r *rt) enter() {
	r.gen.Add(1)
	r.state.Store(running)
	if w := r.wd; w != nil && !w.active.Load() {
		w.start()
	}
}

func (r *rt) leave() {
	if r.state.CompareAndSwap(running, idle) {
		return
	}
	for r.state.Load() == interrupting {
		runtime.Gosched()
	}
	r.vm.ClearInterrupt()
	r.state.Store(idle)
}

// call calls fn with the watchdog watching.
func (r *rt) call(fn goja.Callable, this goja.Value, args ...goja.Value) (goja.Value, error) {
	r.enter()
	v, err := fn(this, args...)
	r.leave()
	return v, err
}

// TimeoutError is the cause of a call into JavaScript that ran out of time.
type TimeoutError struct {
	Limit time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("timed out after %s (an endless loop?)", e.Limit)
}

// watchdog interrupts the calls of its runtimes that run longer than the
// timeout, or all of them when its context ends. It runs only while calls
// are under way: a call starting with no watchdog running starts one,
// which ends after two idle ticks.
type watchdog struct {
	timeout time.Duration
	tick    time.Duration
	ctx     context.Context

	mu     sync.Mutex
	rts    []*rt
	active atomic.Bool
}

func newWatchdog(ctx context.Context, timeout time.Duration) *watchdog {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tick := min(max(timeout/10, time.Millisecond), 100*time.Millisecond)
	return &watchdog{timeout: timeout, tick: tick, ctx: ctx}
}

func (w *watchdog) add(r *rt) {
	w.mu.Lock()
	w.rts = append(w.rts, r)
	w.mu.Unlock()
}

func (w *watchdog) remove(r *rt) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, x := range w.rts {
		if x == r {
			// A new slice: scans under way keep reading the old one.
			w.rts = append(append([]*rt(nil), w.rts[:i]...), w.rts[i+1:]...)
			return
		}
	}
}

func (w *watchdog) start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.active.Load() {
		return
	}
	w.active.Store(true)
	go w.loop()
}

func (w *watchdog) loop() {
	t := time.NewTicker(w.tick)
	defer t.Stop()
	var done <-chan struct{}
	if w.ctx != nil {
		done = w.ctx.Done()
	}
	idleTicks := 0
	for {
		select {
		case <-t.C:
		case <-done:
			done = nil
		}
		var cancel error
		if w.ctx != nil {
			cancel = w.ctx.Err()
		}
		if w.scan(cancel) {
			idleTicks = 0
			continue
		}
		if idleTicks++; idleTicks < 2 {
			continue
		}
		w.mu.Lock()
		w.active.Store(false)
		w.mu.Unlock()
		if !w.busy() {
			return
		}
		// A call began as we stopped: carry on, unless it started a new
		// watchdog already.
		w.mu.Lock()
		if w.active.Load() {
			w.mu.Unlock()
			return
		}
		w.active.Store(true)
		w.mu.Unlock()
		idleTicks = 0
	}
}

func (w *watchdog) runtimes() []*rt {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rts
}

func (w *watchdog) busy() bool {
	for _, r := range w.runtimes() {
		if r.state.Load() == running {
			return true
		}
	}
	return false
}

// scan interrupts the calls over time; it reports whether any call is
// under way.
func (w *watchdog) scan(cancel error) bool {
	now := time.Now()
	busy := false
	for _, r := range w.runtimes() {
		if r.state.Load() != running {
			r.seen = 0
			continue
		}
		busy = true
		if g := r.gen.Load(); g != r.seen {
			r.seen, r.since = g, now
		}
		if cancel == nil && now.Sub(r.since) < w.timeout {
			continue
		}
		if r.state.CompareAndSwap(running, interrupting) {
			var why any = &TimeoutError{Limit: w.timeout}
			if cancel != nil {
				why = cancel
			}
			r.vm.Interrupt(why)
			r.state.Store(interrupted)
		}
	}
	return busy
}
