package batch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch/record"
)

// Step is the batch step of the flow language: a reader, processors and
// writers run by the chunk engine, checkpointed through the run's journal
// after every committed chunk.
var Step = &flow.StepType{
	Name: "batch",
	Summary: "Reads records in chunks, passes each through the processors (each may emit zero, one or many records) and gives each chunk to the writers. " +
		"A failed chunk is retried whole (retry block), then item by item; the skip block decides which bad items are skipped. " +
		"Progress is checkpointed after every committed chunk: a resumed run carries on from there and writes nothing twice.",
	Attrs: []flow.Attr{
		{Name: "chunk_size", Type: cty.Number, Default: cty.NumberIntVal(1000), Doc: "Records per chunk: the unit of commit, retry and checkpoint."},
		{Name: "concurrency", Type: cty.Number, Default: cty.NumberIntVal(1), Doc: "Workers sharing the reader. Above 1, chunks commit out of order."},
		{Name: "partition_by", Type: cty.String, Doc: "A field name: records with the same value are processed in input order, by one worker at a time (with concurrency above 1)."},
		{Name: "transaction_scope", Type: cty.String, Default: cty.StringVal("chunk"), OneOf: []string{"chunk", "consume", "none"},
			Doc: "What a database transaction spans when a writer uses one: the processing and writing of a chunk, only the writing, or nothing."},
		{Name: "partition_by_js", Type: cty.String, Doc: "A JavaScript function of the record that returns its partition key, such as \"item => item.account\" (instead of partition_by)."},
		{Name: "progress_interval", Type: cty.String, Default: cty.StringVal("1s"), Duration: true, Doc: "How often progress events are sent."},
		{Name: "checkpoint_lag", Type: cty.Number, Default: cty.NumberIntVal(DefaultCheckpointLag),
			Doc: "Committed chunks whose checkpoint may still be being saved (the writers' fsync, the store's commit) while the workers go on with the next chunks. " +
				"0 saves each checkpoint before its worker goes on: slower, and a kill then loses at most the chunks in flight; each chunk of lag adds one chunk a resume may have to do again."},
	},
	Blocks: []flow.BlockType{
		{Name: "reader", Labels: []string{"type"}, Min: 1, Max: 1, Doc: "Where records come from: reader \"csv\" { path = ... }.",
			Attrs: componentAttrs(func(n string) ([]flow.Attr, bool) {
				if t := lookupReader(n); t != nil {
					return t.Attrs, true
				}
				return nil, false
			}, "reader", func() []string { return names(ReaderTypes(), func(t *ReaderType) string { return t.Name }) }),
			Blocks: func(labels []string) []flow.BlockType {
				if t := lookupReader(first(labels)); t != nil {
					return t.Blocks
				}
				return nil
			}},
		{Name: "processor", Labels: []string{"type"}, Doc: "A step of record processing, in order: processor \"NAME\" { ... }.",
			Attrs: componentAttrs(func(n string) ([]flow.Attr, bool) {
				if t := lookupProcessor(n); t != nil {
					return t.Attrs, true
				}
				return nil, false
			}, "processor", func() []string { return names(ProcessorTypes(), func(t *ProcessorType) string { return t.Name }) })},
		{Name: "writer", Labels: []string{"type", "name"}, MinLabels: 1, Min: 1,
			Doc: "Where records go; several writers each get every chunk: writer \"csv\" { ... } or writer \"jsonl\" \"big\" { ... }.",
			Attrs: componentAttrs(func(n string) ([]flow.Attr, bool) {
				if t := lookupWriter(n); t != nil {
					return append(append([]flow.Attr(nil), t.Attrs...), filterAttr), true
				}
				return nil, false
			}, "writer", func() []string { return names(WriterTypes(), func(t *WriterType) string { return t.Name }) }),
			Blocks: func(labels []string) []flow.BlockType {
				if t := lookupWriter(first(labels)); t != nil {
					return t.Blocks
				}
				return nil
			}},
		{Name: "skip", Max: 1, Doc: "Which bad records may be skipped instead of failing the step.",
			Attrs: func([]string) ([]flow.Attr, error) { return skipAttrs, nil }},
	},
	Claims: []string{"retry"},
	Outputs: []flow.OutputDoc{
		{Name: "read_count", Type: "number", Doc: "Records read (skipped unreadable ones not included)."},
		{Name: "write_count", Type: "number", Doc: "Records given to the writers."},
		{Name: "filter_count", Type: "number", Doc: "Records for which the processors emitted nothing."},
		{Name: "commit_count", Type: "number", Doc: "Chunks committed."},
		{Name: "rollback_count", Type: "number", Doc: "Chunk attempts rolled back."},
		{Name: "read_skip_count", Type: "number", Doc: "Unreadable records skipped."},
		{Name: "process_skip_count", Type: "number", Doc: "Records skipped because processing failed."},
		{Name: "write_skip_count", Type: "number", Doc: "Records skipped because writing failed."},
		{Name: "skip_count", Type: "number", Doc: "All skipped records."},
	},
	Check: checkStep,
	New:   func(n *flow.Node) (flow.Step, hcl.Diagnostics) { return flow.StepFunc(runStep), nil },
}

// filterAttr is taken by every writer: which records it writes.
var filterAttr = flow.Attr{Name: "filter", Type: cty.String,
	Doc: "A JavaScript expression over item; the writer writes only the records for which it is true, such as \"item.amount > 5000\"."}

var skipAttrs = []flow.Attr{
	{Name: "limit", Type: cty.Number, Default: cty.NumberIntVal(0), Doc: "How many records may be skipped in all; one more fails the step."},
	{Name: "on", Type: cty.List(cty.String), Doc: "The stages whose failures may be skipped: read, process, write (default: all three)."},
	{Name: "log", Type: cty.String, Doc: "A JSONL file, relative to the flow file, that receives every skipped record with its position, data and error."},
}

func first(labels []string) string {
	if len(labels) == 0 {
		return ""
	}
	return labels[0]
}

func names[T any](ts []T, name func(T) string) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = name(t)
	}
	return out
}

func componentAttrs(lookup func(string) ([]flow.Attr, bool), kind string, have func() []string) func([]string) ([]flow.Attr, error) {
	return func(labels []string) ([]flow.Attr, error) {
		attrs, ok := lookup(first(labels))
		if !ok {
			return nil, fmt.Errorf("there is no %s type %q (available: %s)", kind, first(labels), strings.Join(have(), ", "))
		}
		return attrs, nil
	}
}

func checkStep(n *flow.Node) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if dc := n.Decorator("retry"); dc != nil {
		// A batch's retry block retries chunks; the step-level knobs that
		// make no sense there are refused rather than silently ignored.
		for _, name := range []string{"if", "jitter"} {
			if a := dc.Attrs[name]; a != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported retry setting",
					Detail:  fmt.Sprintf("A batch step's retry block retries failed chunks and takes max_attempts, strategy, min_interval and max_interval; %q is not supported there. To retry the whole step, wrap it: sequential \"x\" { retry { ... } batch \"...\" { ... } }.", name),
					Subject: a.NameRange.Ptr()})
			}
		}
	}
	seen := map[string]*flow.Block{}
	for _, w := range n.BlocksOf("writer") {
		name := w.Label(1)
		if prev := seen[name]; prev != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate writer name",
				Detail:  fmt.Sprintf("Two writers are named %q (the first at %s); name them: writer %q \"other_name\" { ... }.", name, flow.Pos(prev.Range), w.Label(0)),
				Subject: w.Range.Ptr()})
		}
		seen[name] = w
	}
	for _, s := range n.BlocksOf("skip") {
		if a := s.Attrs["on"]; a != nil && len(a.Expr.Variables()) == 0 {
			v, d := a.Expr.Value(nil)
			if !d.HasErrors() && v.CanIterateElements() {
				for it := v.ElementIterator(); it.Next(); {
					_, e := it.Element()
					if e.Type() == cty.String && !e.IsNull() {
						switch Stage(e.AsString()) {
						case StageRead, StageProcess, StageWrite:
						default:
							diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid skip stage",
								Detail: fmt.Sprintf("%q is not a stage; use \"read\", \"process\" or \"write\".", e.AsString()), Subject: a.Expr.Range().Ptr()})
						}
					}
				}
			}
		}
	}
	return append(diags, checkComponents(n)...)
}

// evalConfig evaluates a component block into its Config.
func evalConfig(x *flow.Exec, b *flow.Block, runKey string) (*Config, error) {
	attrs, err := evalAttrs(x, b)
	if err != nil {
		return nil, err
	}
	blocks, err := evalBlocks(x, b.Blocks)
	if err != nil {
		return nil, err
	}
	return &Config{Type: b.Label(0), Name: b.Label(1), Attrs: attrs, Blocks: blocks, Dir: x.Flow().Dir, Step: x.Path, Logger: x.Logger,
		Exec: x, RunKey: runKey}, nil
}

func evalAttrs(x *flow.Exec, b *flow.Block) (map[string]cty.Value, error) {
	attrs := map[string]cty.Value{}
	for _, spec := range b.Specs {
		v, err := x.BlockAttr(b, spec.Name)
		if err != nil {
			return nil, err
		}
		if !v.IsNull() && v.IsWhollyKnown() {
			if err := flow.CheckValue(v, &spec); err != nil {
				return nil, flow.Errorf(flow.KindEval, "%s: %s", flow.Pos(b.Attrs[spec.Name].Expr.Range()), err)
			}
		}
		attrs[spec.Name] = v
	}
	return attrs, nil
}

func evalBlocks(x *flow.Exec, bs []*flow.Block) ([]*ConfigBlock, error) {
	var out []*ConfigBlock
	for _, b := range bs {
		attrs, err := evalAttrs(x, b)
		if err != nil {
			return nil, err
		}
		nested, err := evalBlocks(x, b.Blocks)
		if err != nil {
			return nil, err
		}
		out = append(out, &ConfigBlock{Type: b.Type, Labels: b.Labels, Attrs: attrs, Blocks: nested, Where: flow.Pos(b.Range)})
	}
	return out, nil
}

// progress is what the step keeps in the journal.
type progress struct {
	Checkpoint Checkpoint `json:"checkpoint"`
	// Run is the step's run key (Config.RunKey), kept when a writer is
	// RunKeyed.
	Run string `json:"run,omitempty"`
}

// TxSource is implemented by readers and writers that work in database
// transactions (the SQL ones). The step runs the chunks in the
// transactions of the first writer, or else the reader, that offers some
// (opts.Tx, with the step's transaction_scope), and tells every TxSource
// which ones it chose, so that a reader on the same database can read in
// the chunk's transaction.
type TxSource interface {
	// TxBeginner returns the component's transactions, or nil.
	TxBeginner() TxBeginner
	// UseTx tells the component the transactions chunks run in (nil for
	// none) and their scope.
	UseTx(tx TxBeginner, scope TxScope)
}

// RunKeyed is implemented by writers that mark what they committed in a
// store of their own, keyed by Config.RunKey: the step makes that key
// durable in its progress before the first chunk, so that a resume finds
// the marks of a run that crashed before its first checkpoint.
type RunKeyed interface {
	KeyedByRun() bool
}

func runStep(ctx context.Context, x *flow.Exec) (cty.Value, error) {
	n := x.Node
	chunkSize, err := x.Int("chunk_size")
	if err != nil {
		return cty.NilVal, err
	}
	concurrency, err := x.Int("concurrency")
	if err != nil {
		return cty.NilVal, err
	}
	if chunkSize < 1 || concurrency < 1 {
		return cty.NilVal, flow.Errorf(flow.KindEval, "%s: chunk_size and concurrency must be at least 1", flow.Pos(n.Range))
	}
	lag, err := x.Int("checkpoint_lag")
	if err != nil {
		return cty.NilVal, err
	}
	if lag < 0 {
		return cty.NilVal, flow.Errorf(flow.KindEval, "%s: checkpoint_lag must not be negative", flow.Pos(n.Attr("checkpoint_lag").Expr.Range()))
	}
	partitionBy, err := x.String("partition_by")
	if err != nil {
		return cty.NilVal, err
	}
	scope, err := x.String("transaction_scope")
	if err != nil {
		return cty.NilVal, err
	}
	every, err := x.Duration("progress_interval")
	if err != nil {
		return cty.NilVal, err
	}
	opts := Options[*record.Record]{ChunkSize: chunkSize, Concurrency: concurrency, Scope: TxScope(scope), Stop: x.Stopping(),
		CheckpointLag: lag}
	if opts.Retry, err = retryPolicy(x); err != nil {
		return cty.NilVal, err
	}
	var closers []io.Closer
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			_ = closers[i].Close()
		}
	}()
	if skips := n.BlocksOf("skip"); len(skips) == 1 {
		sp, c, err := skipPolicy(x, skips[0])
		if err != nil {
			return cty.NilVal, err
		}
		opts.Skip = sp
		if c != nil {
			closers = append(closers, c)
		}
	}
	partitionJS, err := x.String("partition_by_js")
	if err != nil {
		return cty.NilVal, err
	}
	if partitionJS != "" {
		if partitionBy != "" {
			return cty.NilVal, flow.Errorf(flow.KindEval, "%s: give partition_by or partition_by_js, not both", flow.Pos(n.Range))
		}
		ex := currentExpressions()
		if ex == nil {
			return cty.NilVal, flow.Errorf(flow.KindFailed, "partition_by_js needs the JavaScript support (import github.com/flowbatch/flow/script)")
		}
		key, err := ex.Key(partitionJS, flow.Pos(n.Attr("partition_by_js").Expr.Range()))
		if err != nil {
			return cty.NilVal, err
		}
		opts.PartitionBy = key
	}
	if partitionBy != "" {
		field := partitionBy
		opts.PartitionBy = func(r *record.Record) (string, error) {
			v, ok := r.Get(field)
			if !ok {
				return "", fmt.Errorf("partition_by: the record has no field %q (fields: %s)", field, strings.Join(r.Schema.Names(), ", "))
			}
			return v.Text(), nil
		}
	}

	var p progress
	resumed, err := x.LoadProgress(&p)
	if err != nil {
		return cty.NilVal, err
	}
	runKey := p.Run
	if runKey == "" {
		// A start from scratch (a first run, or a retry of a step around
		// this one) gets a key of its own.
		var b [4]byte
		_, _ = rand.Read(b[:])
		runKey = x.RunID() + "-" + hex.EncodeToString(b[:])
	}

	// Components.
	rb := n.BlocksOf("reader")[0]
	rcfg, err := evalConfig(x, rb, runKey)
	if err != nil {
		return cty.NilVal, err
	}
	reader, err := lookupReader(rb.Label(0)).New(rcfg)
	if err != nil {
		return cty.NilVal, flow.Errorf(flow.KindFailed, "%s: reader %q: %v", flow.Pos(rb.Range), rb.Label(0), err)
	}
	if c, ok := reader.(io.Closer); ok {
		closers = append(closers, c)
	}
	var procs []RecordProcessor
	for _, pb := range n.BlocksOf("processor") {
		cfg, err := evalConfig(x, pb, runKey)
		if err != nil {
			return cty.NilVal, err
		}
		p, err := lookupProcessor(pb.Label(0)).New(cfg)
		if err != nil {
			return cty.NilVal, flow.Errorf(flow.KindFailed, "%s: processor %q: %v", flow.Pos(pb.Range), pb.Label(0), err)
		}
		procs = append(procs, p)
	}
	var writers []namedWriter
	for _, wb := range n.BlocksOf("writer") {
		cfg, err := evalConfig(x, wb, runKey)
		if err != nil {
			return cty.NilVal, err
		}
		w, err := lookupWriter(wb.Label(0)).New(cfg)
		if err != nil {
			return cty.NilVal, flow.Errorf(flow.KindFailed, "%s: writer %q: %v", flow.Pos(wb.Range), wb.Label(1), err)
		}
		closers = append(closers, w)
		nw := namedWriter{name: wb.Label(1), where: flow.Pos(wb.Range), w: w}
		if src := cfg.String("filter"); src != "" {
			ex := currentExpressions()
			if ex == nil {
				return cty.NilVal, flow.Errorf(flow.KindFailed, "writer %q: filter needs the JavaScript support (import github.com/flowbatch/flow/script)", nw.name)
			}
			if nw.filter, err = ex.Predicate(src, flow.Pos(wb.Attrs["filter"].Expr.Range())); err != nil {
				return cty.NilVal, err
			}
		}
		writers = append(writers, nw)
	}
	var txs []TxSource
	for _, w := range writers {
		if ts, ok := w.w.(TxSource); ok {
			txs = append(txs, ts)
		}
	}
	if ts, ok := reader.(TxSource); ok {
		txs = append(txs, ts)
	}
	for _, ts := range txs {
		if opts.Tx == nil {
			opts.Tx = ts.TxBeginner()
		}
	}
	for _, ts := range txs {
		ts.UseTx(opts.Tx, opts.Scope)
	}
	if p.Run == "" {
		for _, w := range writers {
			if k, ok := w.w.(RunKeyed); ok && k.KeyedByRun() {
				p.Run = runKey
				if err := x.Checkpoint(p); err != nil {
					return cty.NilVal, err
				}
				break
			}
		}
	}

	if resumed {
		opts.Resume = &p.Checkpoint
		x.Logger.Info("batch resumes from its checkpoint", "records_done", p.Checkpoint.Counters.Read, "from_item", p.Checkpoint.Seq)
	}
	durable := x.Durable()
	opts.OnCommit = func(cp Checkpoint) error {
		// What the writers appended must be durable before the checkpoint
		// that counts it. A run without a store keeps its checkpoints in
		// memory only, which a crash loses anyway: no fsync then.
		if durable {
			for _, w := range writers {
				if err := w.w.Sync(); err != nil {
					return fmt.Errorf("%s: writer %q: %w", w.where, w.name, err)
				}
			}
		}
		return x.Checkpoint(progress{Checkpoint: cp, Run: p.Run})
	}
	var last time.Time
	var lastMu sync.Mutex
	sizer, _ := reader.(Sizer)
	emit := func(c Counters, force bool) {
		lastMu.Lock()
		defer lastMu.Unlock()
		if !force && time.Since(last) < every {
			return
		}
		last = time.Now()
		e := flow.Event{Kind: flow.StepProgress, Counters: c.Map()}
		if sizer != nil {
			e.Done, e.Total = sizer.Size()
		}
		x.Emit(e)
	}
	opts.Progress = func(c Counters) { emit(c, false) }

	cnt, err := Run[*record.Record, *record.Record](ctx, reader, chain(procs), &tee{writers: writers}, opts)
	emit(cnt, true)
	for i := len(closers) - 1; i >= 0; i-- {
		if cerr := closers[i].Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	closers = nil
	switch {
	case errors.Is(err, ErrStopped):
		return cty.NilVal, &flow.Error{Kind: flow.KindCancelled, Msg: fmt.Sprintf("stopped after %d records", cnt.Read), Err: flow.ErrStopped}
	case err != nil:
		return cty.NilVal, itemError(err)
	}
	out := map[string]cty.Value{}
	for k, v := range cnt.Map() {
		out[k] = cty.NumberIntVal(v)
	}
	return cty.ObjectVal(out), nil
}

// itemError gives a failed item's error the kind a catch sees.
func itemError(err error) error {
	var ie *ItemError
	if errors.As(err, &ie) {
		return &flow.Error{Kind: flow.KindFailed, Msg: "batch", Err: err}
	}
	return err
}

func retryPolicy(x *flow.Exec) (RetryPolicy, error) {
	dc := x.Node.Decorator("retry")
	if dc == nil {
		return RetryPolicy{}, nil
	}
	get := func(name string) (cty.Value, error) { return x.AttrIn(x.Outer, dc.Attrs, dc.Type.Attrs, name) }
	var p RetryPolicy
	v, err := get("max_attempts")
	if err != nil {
		return p, err
	}
	if p.MaxAttempts, err = flow.ToInt(v, dc.Attrs["max_attempts"]); err != nil {
		return p, err
	}
	strategy, err := get("strategy")
	if err != nil {
		return p, err
	}
	minV, err := get("min_interval")
	if err != nil {
		return p, err
	}
	maxV, err := get("max_interval")
	if err != nil {
		return p, err
	}
	lo, err := flow.ToDuration(minV, dc.Attrs["min_interval"])
	if err != nil {
		return p, err
	}
	hi, err := flow.ToDuration(maxV, dc.Attrs["max_interval"])
	if err != nil {
		return p, err
	}
	s := strategy.AsString()
	p.Backoff = func(attempt int) time.Duration {
		d := lo
		switch s {
		case "linear":
			d = lo * time.Duration(attempt-1)
		case "exponential":
			for i := 2; i < attempt && d < hi; i++ {
				d *= 2
			}
		}
		return min(d, hi)
	}
	return p, nil
}

func skipPolicy(x *flow.Exec, b *flow.Block) (SkipPolicy, io.Closer, error) {
	var p SkipPolicy
	lim, err := x.BlockAttr(b, "limit")
	if err != nil {
		return p, nil, err
	}
	l, err := flow.ToInt(lim, b.Attrs["limit"])
	if err != nil {
		return p, nil, err
	}
	p.Limit = int64(l)
	on, err := x.BlockAttr(b, "on")
	if err != nil {
		return p, nil, err
	}
	if !on.IsNull() {
		for _, s := range on.AsValueSlice() {
			p.On = append(p.On, Stage(s.AsString()))
		}
	}
	logPath, err := x.BlockAttr(b, "log")
	if err != nil || logPath.IsNull() {
		return p, nil, err
	}
	path := logPath.AsString()
	if !filepath.IsAbs(path) {
		path = filepath.Join(x.Flow().Dir, path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return p, nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return p, nil, fmt.Errorf("skip log: %w", err)
	}
	var mu sync.Mutex
	p.Log = func(s Skipped) error {
		line, err := skipLine(x.Path, s)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		_, err = f.Write(line)
		return err
	}
	return p, f, nil
}

// skipLine renders a skipped record as one JSON line.
func skipLine(step string, s Skipped) ([]byte, error) {
	entry := map[string]any{"step": step, "stage": s.Stage, "error": s.Err.Error()}
	if s.Seq >= 0 {
		entry["item"] = s.Seq + 1
	}
	if s.Where != "" {
		entry["where"] = s.Where
	}
	switch it := s.Item.(type) {
	case *record.Record:
		b, err := record.AppendRecordJSON(nil, it)
		if err == nil {
			entry["record"] = json.RawMessage(b)
		}
	case string:
		entry["raw"] = it
	case []byte:
		entry["raw"] = string(it)
	}
	b, err := json.Marshal(entry)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// chain runs processors one after the other: what one emits, the next
// processes.
func chain(ps []RecordProcessor) RecordProcessor {
	switch len(ps) {
	case 0:
		return ProcessorFunc[*record.Record, *record.Record](func(c *Chunk, r *record.Record, emit func(*record.Record)) error {
			emit(r)
			return nil
		})
	case 1:
		return ps[0]
	}
	head, rest := ps[0], chain(ps[1:])
	return &chained{head: head, rest: rest}
}

type chained struct {
	head, rest RecordProcessor
}

func (p *chained) Setup(t *Task) error {
	for _, q := range []RecordProcessor{p.head, p.rest} {
		if s, ok := q.(Setup); ok {
			if err := s.Setup(t); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *chained) Process(c *Chunk, r *record.Record, emit func(*record.Record)) error {
	var inner error
	err := p.head.Process(c, r, func(out *record.Record) {
		if inner == nil {
			inner = p.rest.Process(c, out, emit)
		}
	})
	if err != nil {
		return err
	}
	return inner
}

type namedWriter struct {
	name   string
	where  string // the writer block's position in the flow file
	w      Writer
	filter func(c *Chunk, r *record.Record) (bool, error)
}

// tee gives every chunk to every writer.
type tee struct {
	writers []namedWriter
}

func (t *tee) Setup(task *Task) error {
	for _, w := range t.writers {
		if err := w.w.Setup(task); err != nil {
			return fmt.Errorf("%s: writer %q: %w", w.where, w.name, err)
		}
	}
	return nil
}

func (t *tee) Consume(c *Chunk, items []*record.Record) error {
	for _, w := range t.writers {
		mine := items
		if w.filter != nil {
			mine = make([]*record.Record, 0, len(items))
			for _, r := range items {
				ok, err := w.filter(c, r)
				if err != nil {
					return fmt.Errorf("writer %q filter at %s: %w", w.name, r.Where(), err)
				}
				if ok {
					mine = append(mine, r)
				}
			}
		}
		if err := w.w.Consume(c, mine); err != nil {
			return fmt.Errorf("writer %q: %w", w.name, err)
		}
	}
	return nil
}
