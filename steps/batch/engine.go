package batch

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/flowbatch/flow/steps/batch/record"
)

// item is a loaded item with its number in the input.
type item[T any] struct {
	v   T
	seq int64
}

// source hands chunks of items to workers.
type source[T any] interface {
	// next returns the next chunk's items and a release to call when the
	// chunk has ended; no items means the input is done.
	next(c *Chunk) ([]item[T], func(), error)
	close()
}

// loading wraps the loader with the bookkeeping both sources share: item
// numbers, load batches for the checkpoint, and dropping the items a
// resumed run had committed.
type loading[T any] struct {
	l      Loader[T]
	seeker Seeker
	r      *runner
	size   int
	resume *Checkpoint

	seq   int64
	batch int64
	ended bool
}

func (ld *loading[T]) load(c *Chunk) ([]item[T], error) {
	for !ld.ended {
		var pos []byte
		if ld.seeker != nil {
			p, err := ld.seeker.Position()
			if err != nil {
				return nil, fmt.Errorf("reader position: %w", err)
			}
			pos = p
		}
		c.readSkips = 0
		vs, err := ld.l.Load(c, ld.size)
		if err != nil {
			return nil, err
		}
		if len(vs) == 0 {
			ld.ended = true
			ld.r.mu.Lock()
			ld.r.nextBatch = loadBatch{index: ld.batch, from: ld.seq, to: ld.seq, position: pos}
			ld.r.cnt.ReadSkip += c.readSkips
			ld.r.mu.Unlock()
			return nil, nil
		}
		b := loadBatch{index: ld.batch, from: ld.seq, to: ld.seq + int64(len(vs)), position: pos, readSkips: c.readSkips}
		ld.batch++
		items := make([]item[T], 0, len(vs))
		var already []int64
		for _, v := range vs {
			if ld.resume != nil && contains(ld.resume.Done, ld.seq) {
				already = append(already, ld.seq)
			} else {
				items = append(items, item[T]{v: v, seq: ld.seq})
			}
			ld.seq++
		}
		// The next batch starts where this one ended: a checkpoint taken
		// when every loaded batch is committed resumes there.
		var after []byte
		if ld.seeker != nil {
			p, err := ld.seeker.Position()
			if err != nil {
				return nil, fmt.Errorf("reader position: %w", err)
			}
			after = p
		}
		ld.r.mu.Lock()
		ld.r.track.addBatch(b)
		ld.r.track.markDone(already)
		ld.r.nextBatch = loadBatch{index: ld.batch, from: ld.seq, to: ld.seq, position: after}
		ld.r.mu.Unlock()
		if len(items) > 0 {
			return items, nil
		}
	}
	return nil, nil
}

func newSource[T any](ctx context.Context, l Loader[T], opts Options[T], r *runner) (source[T], error) {
	ld := &loading[T]{l: l, r: r, size: opts.ChunkSize, resume: opts.Resume}
	if s, ok := l.(Seeker); ok {
		ld.seeker = s
	}
	if opts.Resume != nil {
		if ld.seeker == nil && (opts.Resume.Seq > 0 || len(opts.Resume.Done) > 0) {
			return nil, errors.New("cannot resume: the loader cannot seek")
		}
		if ld.seeker != nil && opts.Resume.Position != nil {
			if err := ld.seeker.Seek(opts.Resume.Position); err != nil {
				return nil, fmt.Errorf("resume the reader: %w", err)
			}
		}
		ld.seq, ld.batch = opts.Resume.Seq, opts.Resume.Batch
		// Items committed beyond the watermark stay committed even if this
		// run stops before it loads them again: later checkpoints keep them.
		for _, d := range opts.Resume.Done {
			r.track.done = insertRange(r.track.done, d)
		}
	}
	r.nextBatch = loadBatch{index: ld.batch, from: ld.seq, to: ld.seq}
	if ld.seeker != nil {
		if p, err := ld.seeker.Position(); err == nil {
			r.nextBatch.position = p
		}
	}
	if opts.PartitionBy == nil {
		if ra, ok := l.(ReadAhead); ok && ra.ReadAhead() {
			a := &ahead[T]{ld: ld, r: r, ch: make(chan aheadBatch[T], opts.Concurrency),
				stop: make(chan struct{}), done: make(chan struct{})}
			go a.fill()
			return a, nil
		}
		return &plain[T]{ld: ld}, nil
	}
	d := &dispatcher[T]{ld: ld, key: opts.PartitionBy, queues: map[uint32]*queue[T]{},
		limit: opts.ChunkSize * opts.Concurrency * 2, r: r, filled: make(chan struct{})}
	d.cond = sync.NewCond(&d.mu)
	go d.fill(ctx)
	return d, nil
}

// plain shares the loader between workers: each chunk is one Load.
type plain[T any] struct {
	mu sync.Mutex
	ld *loading[T]
}

func (p *plain[T]) next(c *Chunk) ([]item[T], func(), error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	items, err := p.ld.load(c)
	return items, func() {}, err
}

func (p *plain[T]) close() {}

// ahead loads on a goroutine of its own, a batch per worker ahead of the
// workers: reading and parsing the next chunk overlaps processing this one
// (with one worker, the only way to use a second core).
type ahead[T any] struct {
	ld   *loading[T]
	r    *runner
	ch   chan aheadBatch[T]
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type aheadBatch[T any] struct {
	items []item[T]
	err   error
}

func (a *ahead[T]) fill() {
	defer close(a.done)
	defer close(a.ch)
	c := &Chunk{Task: a.r.task, Seq: -1, Worker: -1, current: -1, run: a.r}
	for {
		select {
		case <-a.stop:
			return
		default:
		}
		items, err := a.ld.load(c)
		if err == nil && len(items) == 0 {
			return
		}
		select {
		case a.ch <- aheadBatch[T]{items: items, err: err}:
		case <-a.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

func (a *ahead[T]) next(c *Chunk) ([]item[T], func(), error) {
	select {
	case b, ok := <-a.ch:
		if !ok {
			return nil, func() {}, nil
		}
		return b.items, func() {}, b.err
	case <-a.stop:
		return nil, func() {}, nil
	}
}

// close stops the loading and waits for it: the reader is closed after
// the run, and must not be in use then.
func (a *ahead[T]) close() {
	a.once.Do(func() { close(a.stop) })
	<-a.done
}

// Partitions is the number of micro-queues items are hashed into.
const Partitions = 32768

// queue is a micro-queue: items[head:] wait. A queue is kept once made
// and its array reused (at most Partitions of them): making one per
// item and dropping it when drained cost two allocations per item.
type queue[T any] struct {
	items []item[T]
	head  int
	busy  bool
	ready bool // listed in dispatcher.ready
}

func (q *queue[T]) waiting() int { return len(q.items) - q.head }

// dispatcher keeps loaded items in micro-queues by the hash of their key.
// A worker takes items from queues no other worker holds and holds them
// until its chunk ends, so items with one key are processed in order while
// idle workers take other queues.
type dispatcher[T any] struct {
	ld  *loading[T]
	key func(T) (string, error)
	r   *runner

	mu       sync.Mutex
	cond     *sync.Cond
	queues   map[uint32]*queue[T]
	ready    []uint32
	buffered int
	limit    int
	done     bool
	closed   bool
	err      error
	filled   chan struct{} // closed when fill has returned
}

func partition(key string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return h.Sum32() % Partitions
}

// fill loads batches into the queues, keeping at most limit items waiting.
func (d *dispatcher[T]) fill(ctx context.Context) {
	defer close(d.filled)
	c := &Chunk{Task: d.r.task, Seq: -1, Worker: -1, current: -1, run: d.r}
	for {
		d.mu.Lock()
		for d.buffered >= d.limit && !d.closed {
			d.cond.Wait()
		}
		if d.closed {
			d.mu.Unlock()
			return
		}
		d.mu.Unlock()
		items, err := d.ld.load(c)
		var keys []uint32
		if err == nil {
			keys = make([]uint32, len(items))
			for i, it := range items {
				k, kerr := d.key(it.v)
				if kerr != nil {
					err = &ItemError{Stage: StageRead, Seq: it.seq, Where: where(it.v), Err: fmt.Errorf("partition key: %w", kerr)}
					break
				}
				keys[i] = partition(k)
			}
		}
		d.mu.Lock()
		switch {
		case err != nil:
			d.err = err
		case len(items) == 0:
			d.done = true
		default:
			for i, it := range items {
				q := d.queues[keys[i]]
				if q == nil {
					q = &queue[T]{}
					d.queues[keys[i]] = q
				}
				q.items = append(q.items, it)
				if !q.busy && !q.ready {
					q.ready = true
					d.ready = append(d.ready, keys[i])
				}
			}
			d.buffered += len(items)
		}
		stop := d.err != nil || d.done
		d.cond.Broadcast()
		d.mu.Unlock()
		if stop || ctx.Err() != nil {
			return
		}
	}
}

func (d *dispatcher[T]) next(c *Chunk) ([]item[T], func(), error) {
	max := c.Task.ChunkSize
	d.mu.Lock()
	defer d.mu.Unlock()
	for {
		if d.err != nil {
			return nil, func() {}, d.err
		}
		if d.closed {
			return nil, func() {}, nil
		}
		var got []item[T]
		var held []uint32
		for len(got) < max && len(d.ready) > 0 {
			id := d.ready[0]
			d.ready = d.ready[1:]
			q := d.queues[id]
			q.ready = false
			q.busy = true
			held = append(held, id)
			n := min(q.waiting(), max-len(got))
			got = append(got, q.items[q.head:q.head+n]...)
			clear(q.items[q.head : q.head+n]) // keep no item alive
			if q.head += n; q.head == len(q.items) {
				q.items, q.head = q.items[:0], 0
			}
		}
		if len(got) > 0 {
			d.buffered -= len(got)
			d.cond.Broadcast()
			return got, func() { d.release(held) }, nil
		}
		if d.done && d.buffered == 0 {
			return nil, func() {}, nil
		}
		d.cond.Wait()
	}
}

func (d *dispatcher[T]) release(held []uint32) {
	d.mu.Lock()
	for _, id := range held {
		q := d.queues[id]
		q.busy = false
		if q.waiting() > 0 && !q.ready {
			q.ready = true
			d.ready = append(d.ready, id)
		}
	}
	d.cond.Broadcast()
	d.mu.Unlock()
}

// close stops the loading and waits for it: the reader is closed after
// the run, and must not be in use then.
func (d *dispatcher[T]) close() {
	d.mu.Lock()
	d.closed = true
	d.cond.Broadcast()
	d.mu.Unlock()
	<-d.filled
}

type engine[T, R any] struct {
	r    *runner
	src  source[T]
	p    Processor[T, R]
	c    Consumer[R]
	opts Options[T]
}

func (e *engine[T, R]) run(ctx context.Context) error {
	var wg sync.WaitGroup
	for w := 0; w < e.opts.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.worker(ctx, w)
		}()
	}
	// Unblock workers waiting on the dispatcher when the run fails.
	go func() {
		<-ctx.Done()
		e.src.close()
	}()
	wg.Wait()
	e.src.close()
	switch {
	case e.r.firstErr != nil:
		return e.r.firstErr
	case e.r.stopped.Load():
		return ErrStopped
	}
	return ctx.Err()
}

func (e *engine[T, R]) stopRequested() bool {
	if e.opts.Stop == nil {
		return false
	}
	select {
	case <-e.opts.Stop:
		return true
	default:
		return false
	}
}

func (e *engine[T, R]) worker(ctx context.Context, w int) {
	alloc := &record.Alloc{}
	for {
		if e.stopRequested() {
			e.r.stopped.Store(true)
			return
		}
		if ctx.Err() != nil {
			return
		}
		c := &Chunk{Task: e.r.task, Seq: e.r.chunkSeq.Add(1) - 1, Worker: w, current: -1, run: e.r, alloc: alloc}
		e.r.task.mu.Lock()
		begins := e.r.task.onChunkBeg
		e.r.task.mu.Unlock()
		for _, f := range begins {
			f(c)
		}
		items, release, err := e.src.next(c)
		if err != nil {
			e.r.fail(err)
			return
		}
		if len(items) == 0 {
			return
		}
		err = e.chunk(ctx, c, items)
		release()
		if err != nil {
			e.r.fail(err)
			return
		}
	}
}

// chunk runs one chunk: whole, retried per the policy, then item by item.
func (e *engine[T, R]) chunk(ctx context.Context, c *Chunk, items []item[T]) error {
	c.seqs = make([]int64, len(items))
	for i, it := range items {
		c.seqs[i] = it.seq
	}
	max := e.opts.Retry.MaxAttempts
	if max < 1 {
		max = 1
	}
	var err error
	for a := 1; a <= max; a++ {
		c.Attempt = a
		var delta Counters
		delta, err = e.attempt(ctx, c, items)
		if err == nil {
			return e.commit(c, delta)
		}
		e.rolledBack(c, err)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if a == max || (e.opts.Retry.Retryable != nil && !e.opts.Retry.Retryable(err)) {
			break
		}
		if e.opts.Retry.Backoff != nil {
			t := time.NewTimer(e.opts.Retry.Backoff(a + 1))
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		}
	}
	if len(items) == 1 && e.r.skipPolicy.Limit == 0 {
		return err
	}
	// Isolate: one item at a time, so that only the bad ones are skipped.
	for i := range items {
		one := &Chunk{Task: c.Task, Seq: c.Seq, Worker: c.Worker, Attempt: 1, current: -1, run: e.r,
			seqs: []int64{items[i].seq}, alloc: c.alloc}
		delta, ierr := e.attempt(ctx, one, items[i:i+1])
		if ierr == nil {
			if err := e.commit(one, delta); err != nil {
				return err
			}
			continue
		}
		e.rolledBack(one, ierr)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		stage, cause := StageProcess, ierr
		var ie *ItemError
		if errors.As(ierr, &ie) {
			stage, cause = ie.Stage, ie.Err
		}
		if serr := e.r.skip(Skipped{Stage: stage, Seq: items[i].seq, Item: items[i].v, Where: where(items[i].v), Err: cause}); serr != nil {
			return serr
		}
		// The skipped item counts as read and as done.
		d := Counters{Read: 1}
		if stage == StageWrite {
			d.WriteSkip = 1
		} else {
			d.ProcessSkip = 1
		}
		if err := e.commitSkip(one, d); err != nil {
			return err
		}
	}
	return nil
}

func (e *engine[T, R]) rolledBack(c *Chunk, err error) {
	e.r.mu.Lock()
	e.r.cnt.Rollback++
	e.r.mu.Unlock()
	e.r.task.mu.Lock()
	ends := e.r.task.onChunkEnd
	e.r.task.mu.Unlock()
	for _, f := range ends {
		f(c, err)
	}
}

// attempt processes and consumes items once, inside a transaction when
// the run has one.
func (e *engine[T, R]) attempt(ctx context.Context, c *Chunk, items []item[T]) (d Counters, err error) {
	c.Values = map[any]any{}
	if e.opts.Tx != nil && e.opts.Scope == ScopeChunk {
		if c.Tx, err = e.opts.Tx.Begin(ctx); err != nil {
			return d, err
		}
		defer func() {
			if err != nil {
				_ = c.Tx.Rollback()
			}
			c.Tx = nil
		}()
	}
	outs := make([]R, 0, len(items))
	emit := func(r R) { outs = append(outs, r) }
	for i, it := range items {
		c.current = i
		n := len(outs)
		if perr := e.p.Process(c, it.v, emit); perr != nil {
			c.current = -1
			return d, &ItemError{Stage: StageProcess, Seq: it.seq, Where: where(it.v), Err: perr}
		}
		if len(outs) == n {
			d.Filter++
		}
	}
	c.current = -1
	if e.opts.Tx != nil && e.opts.Scope == ScopeConsume {
		if c.Tx, err = e.opts.Tx.Begin(ctx); err != nil {
			return d, err
		}
		defer func() {
			if err != nil {
				_ = c.Tx.Rollback()
			}
			c.Tx = nil
		}()
	}
	if len(outs) > 0 {
		if cerr := e.c.Consume(c, outs); cerr != nil {
			seq := int64(-1)
			if len(items) == 1 {
				seq = items[0].seq
			}
			return d, &ItemError{Stage: StageWrite, Seq: seq, Err: cerr}
		}
	}
	if c.Tx != nil {
		if err = c.Tx.Commit(); err != nil {
			return d, &ItemError{Stage: StageWrite, Seq: -1, Err: fmt.Errorf("commit: %w", err)}
		}
	}
	d.Read = int64(len(items))
	d.Write = int64(len(outs))
	d.Commit = 1
	return d, nil
}

func (e *engine[T, R]) commit(c *Chunk, d Counters) error {
	e.r.commitMu.Lock()
	defer e.r.commitMu.Unlock()
	e.r.task.mu.Lock()
	hooks := e.r.task.onCommit
	ends := e.r.task.onChunkEnd
	e.r.task.mu.Unlock()
	for _, f := range hooks {
		if err := f(c); err != nil {
			return err
		}
	}
	return e.record(c, d, ends)
}

// commitSkip marks a skipped item done, with no output to commit.
func (e *engine[T, R]) commitSkip(c *Chunk, d Counters) error {
	e.r.commitMu.Lock()
	defer e.r.commitMu.Unlock()
	return e.record(c, d, nil)
}

// record updates counters and checkpoint after a commit; the caller holds
// commitMu, so checkpoints leave in commit order.
func (e *engine[T, R]) record(c *Chunk, d Counters, ends []func(*Chunk, error)) error {
	r := e.r
	r.mu.Lock()
	r.cnt.add(d)
	r.track.markDone(c.seqs)
	r.cnt.ReadSkip += r.track.advance()
	cp := r.track.checkpoint(r.nextBatch)
	cp.Counters = r.cnt
	cp.Writers = r.task.writerStates()
	cnt := r.cnt
	r.mu.Unlock()
	for _, f := range ends {
		f(c, nil)
	}
	switch {
	case r.saver != nil:
		if err := r.saver.submit(cp); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	case r.onCommit != nil:
		if err := r.onCommit(cp); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	if r.progress != nil {
		r.progress(cnt)
	}
	return nil
}
