package batch

import (
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch/record"
)

// Config is what a reader, processor or writer block says, evaluated when
// the batch step starts.
type Config struct {
	// Type is the block's first label ("csv"); Name its second, or the
	// type when left out (writer "jsonl" "big" → "big").
	Type, Name string
	// Attrs are the block's attributes, converted to their declared
	// types; absent ones hold their default (or null).
	Attrs map[string]cty.Value
	// Blocks are the nested blocks (such as record_format), evaluated.
	Blocks []*ConfigBlock
	// Dir is the flow file's directory: relative paths resolve against it.
	Dir string
	// Step is the batch step's path, for messages.
	Step   string
	Logger *slog.Logger
	// Exec is the batch step's execution, through which components reach
	// what the run shares (a datasource's connection pool, Exec.Resource);
	// nil outside a flow.
	Exec *flow.Exec
	// RunKey names this run of the step and stays the same across the
	// executions that resume it: made (execution id and a random suffix)
	// when the step starts from scratch, and kept in its progress. Writers
	// that mark what they committed in a store of their own (the SQL
	// writer's chunk markers) key the marks with it; see RunKeyed.
	RunKey string
}

// ConfigBlock is a nested block of a component's configuration.
type ConfigBlock struct {
	Type   string
	Labels []string
	Attrs  map[string]cty.Value
	Blocks []*ConfigBlock
	Where  string // file:line:col of the block
}

// String returns a string attribute ("" when null).
func (c *Config) String(name string) string { return attrString(c.Attrs, name) }

// Int returns a whole-number attribute (0 when null).
func (c *Config) Int(name string) int64 { return attrInt(c.Attrs, name) }

// Bool returns a bool attribute (false when null).
func (c *Config) Bool(name string) bool { return attrBool(c.Attrs, name) }

func attrString(m map[string]cty.Value, name string) string {
	v, ok := m[name]
	if !ok || v.IsNull() || v.Type() != cty.String {
		return ""
	}
	return v.AsString()
}

func attrInt(m map[string]cty.Value, name string) int64 {
	v, ok := m[name]
	if !ok || v.IsNull() || v.Type() != cty.Number {
		return 0
	}
	i, _ := v.AsBigFloat().Int64()
	return i
}

func attrBool(m map[string]cty.Value, name string) bool {
	v, ok := m[name]
	return ok && !v.IsNull() && v.Type() == cty.Bool && v.True()
}

// Reader is what a reader block makes: a resumable loader of records.
// It may also implement Setup (to register callbacks), io.Closer, and
// Sizer (for progress with an ETA).
type Reader interface {
	Loader[*record.Record]
	Seeker
}

// Sizer is implemented by readers that know how much input there is and
// how much of it they have read (bytes), for the progress display.
type Sizer interface {
	Size() (done, total int64)
}

// Writer is what a writer block makes: a consumer of records that commits
// exactly once. It buffers what Consume gets in c.Values and writes it in a
// Task.OnCommit callback registered from Setup, recording its position
// with Task.SetWriterState; on resume it gets that position back from
// Task.ResumeState and cuts its output there. Sync makes what it wrote
// durable (fsync) before a checkpoint that counts it is saved.
type Writer interface {
	Consumer[*record.Record]
	Setup
	Sync() error
	Close() error
}

// RecordProcessor is what a processor block makes.
type RecordProcessor = Processor[*record.Record, *record.Record]

// ReaderType, ProcessorType and WriterType describe a component that
// blocks of the batch step can name: reader "csv" { ... }.
type ReaderType struct {
	Name    string
	Summary string
	Attrs   []flow.Attr
	Blocks  []flow.BlockType
	New     func(c *Config) (Reader, error)
	// Check, when set, checks a reader block when the flow is loaded
	// (flow validate, and before a run): what its constant values say
	// that Attrs cannot, such as the types a schema names. b's attributes
	// have been checked against Attrs already.
	Check func(n *flow.Node, b *flow.Block) hcl.Diagnostics
}

// ProcessorType describes a processor.
type ProcessorType struct {
	Name    string
	Summary string
	Attrs   []flow.Attr
	New     func(c *Config) (RecordProcessor, error)
}

// WriterType describes a writer.
type WriterType struct {
	Name    string
	Summary string
	Attrs   []flow.Attr
	Blocks  []flow.BlockType
	New     func(c *Config) (Writer, error)
	// Check is ReaderType.Check for a writer block.
	Check func(n *flow.Node, b *flow.Block) hcl.Diagnostics
}

var registry = struct {
	sync.RWMutex
	readers    map[string]*ReaderType
	processors map[string]*ProcessorType
	writers    map[string]*WriterType
}{readers: map[string]*ReaderType{}, processors: map[string]*ProcessorType{}, writers: map[string]*WriterType{}}

// RegisterReader makes a reader type available to batch steps. It panics
// on a duplicate name, as database/sql.Register does.
func RegisterReader(t *ReaderType) { register(registry.readers, "reader", t.Name, t) }

// RegisterProcessor makes a processor type available to batch steps.
func RegisterProcessor(t *ProcessorType) { register(registry.processors, "processor", t.Name, t) }

// RegisterWriter makes a writer type available to batch steps.
func RegisterWriter(t *WriterType) { register(registry.writers, "writer", t.Name, t) }

func register[T any](m map[string]*T, kind, name string, t *T) {
	registry.Lock()
	defer registry.Unlock()
	if m[name] != nil {
		panic(fmt.Sprintf("batch: %s %q registered twice", kind, name))
	}
	m[name] = t
}

// RegisterFunc registers a Go function as a processor with no attributes:
// the simplest way to plug Go code into a batch step.
func RegisterFunc(name, summary string, fn func(c *Chunk, in *record.Record, emit func(*record.Record)) error) {
	RegisterProcessor(&ProcessorType{Name: name, Summary: summary,
		New: func(*Config) (RecordProcessor, error) { return ProcessorFunc[*record.Record, *record.Record](fn), nil }})
}

func lookupReader(name string) *ReaderType {
	registry.RLock()
	defer registry.RUnlock()
	return registry.readers[name]
}

func lookupProcessor(name string) *ProcessorType {
	registry.RLock()
	defer registry.RUnlock()
	return registry.processors[name]
}

func lookupWriter(name string) *WriterType {
	registry.RLock()
	defer registry.RUnlock()
	return registry.writers[name]
}

// ReaderTypes, ProcessorTypes and WriterTypes list the registered
// components by name, for documentation.
func ReaderTypes() []*ReaderType {
	registry.RLock()
	defer registry.RUnlock()
	return sorted(registry.readers, func(t *ReaderType) string { return t.Name })
}

// ProcessorTypes lists the registered processors.
func ProcessorTypes() []*ProcessorType {
	registry.RLock()
	defer registry.RUnlock()
	return sorted(registry.processors, func(t *ProcessorType) string { return t.Name })
}

// WriterTypes lists the registered writers.
func WriterTypes() []*WriterType {
	registry.RLock()
	defer registry.RUnlock()
	return sorted(registry.writers, func(t *WriterType) string { return t.Name })
}

func sorted[T any](m map[string]T, name func(T) string) []T {
	out := make([]T, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return name(out[i]) < name(out[j]) })
	return out
}

// Expressions compiles the small per-record expressions the batch step
// takes as text: writer filters and partition keys. The script package
// registers JavaScript; without it, using them is an error.
type Expressions interface {
	// Predicate compiles a boolean expression over item, such as
	// "item.amount > 5000". The function is called from the chunk's
	// worker (c.Worker) and must be safe to call from several workers.
	Predicate(src, where string) (func(c *Chunk, r *record.Record) (bool, error), error)
	// Key compiles a function of item that returns a partition key, such
	// as "item => item.account". It is called from one goroutine.
	Key(src, where string) (func(r *record.Record) (string, error), error)
}

var expressions Expressions

// RegisterExpressions sets the expression language of filters and keys.
func RegisterExpressions(e Expressions) {
	registry.Lock()
	expressions = e
	registry.Unlock()
}

func currentExpressions() Expressions {
	registry.RLock()
	defer registry.RUnlock()
	return expressions
}
