package batch

import "sync"

// committer saves checkpoints on a goroutine of its own, so that a worker
// goes on with its next chunk while the last one's checkpoint is made
// durable (the writers' fsync and the store's commit take longer than
// processing a chunk). At most lag chunk commits wait for their
// checkpoint; a worker that would exceed that waits. Checkpoints are
// cumulative, so those that pile up while one is being saved are replaced
// by the newest: one save covers them all.
type committer struct {
	save func(Checkpoint) error
	lag  int

	mu      sync.Mutex
	cond    *sync.Cond
	pending *Checkpoint
	waiting int // chunk commits not yet saved: in pending or being saved
	closed  bool
	err     error
	done    chan struct{}
}

func newCommitter(save func(Checkpoint) error, lag int) *committer {
	c := &committer{save: save, lag: lag, done: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	go c.loop()
	return c
}

// submit hands over the checkpoint of one more committed chunk. It waits
// while lag chunk commits are already waiting, and returns the error of a
// failed save (after which nothing more is saved).
func (c *committer) submit(cp Checkpoint) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.err == nil && c.waiting >= c.lag {
		c.cond.Wait()
	}
	if c.err != nil {
		return c.err
	}
	c.pending = &cp
	c.waiting++
	c.cond.Broadcast()
	return nil
}

func (c *committer) loop() {
	defer close(c.done)
	c.mu.Lock()
	defer c.mu.Unlock()
	// A save costs about the same whatever it covers (the fsyncs): wait
	// until half the lag has piled up, so that a fast pipeline makes a
	// few large saves rather than one per chunk. close saves what is left.
	batch := (c.lag + 1) / 2
	for {
		for (c.pending == nil || c.waiting < batch) && !c.closed {
			c.cond.Wait()
		}
		if c.pending == nil {
			return
		}
		cp, n := c.pending, c.waiting
		c.pending = nil
		c.mu.Unlock()
		err := c.save(*cp)
		c.mu.Lock()
		c.waiting -= n
		if err != nil {
			c.err = err
			c.cond.Broadcast()
			return
		}
		c.cond.Broadcast()
	}
}

// close saves what is pending, stops the goroutine and returns the error
// of a failed save.
func (c *committer) close() error {
	c.mu.Lock()
	c.closed = true
	c.cond.Broadcast()
	c.mu.Unlock()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}
