package files

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch"
)

// fileWriter holds the exactly-once mechanics the file writers share (csv,
// jsonl, fixed-width). A format writer embeds or holds one and uses it so:
//
//	fw, err := newFileWriter(c)                // New: name and path from the config
//	meta, err := fw.open(t)                    // Setup: open, truncate, register the commit
//	if meta == nil { fw.writeHeader(t, hdr) }  // fresh run: a header, written once (optional)
//	buf := fw.buffer(c)                        // Consume: this chunk's buffer...
//	buf = append(buf, encoded...)              //   ...the chunk's records, encoded
//	fw.keep(c, buf)                            //   ...kept in c.Values until the chunk commits
//	fw.sync() / fw.close()                     // Sync, Close
//
// open truncates the file on a fresh run (Task.ResumeState nil) and, on a
// resumed one, cuts it back to the committed offset kept in the checkpoint:
// bytes written by chunks whose checkpoint was never saved disappear and
// are written again when those chunks are re-run. The commit callback it
// registers appends each committed chunk's buffer in one write, advances
// the offset and records it with Task.SetWriterState as JSON
// ({"offset":N,"meta":...}). Commits are serialized by the engine, in
// commit order, so at concurrency 1 a resumed run's output is
// byte-identical to an uninterrupted one.
//
// A format may keep state of its own with the offset (setMeta): the CSV
// writer keeps the columns it chose from the first record, so that a
// resumed run writes the same columns. open returns the meta saved by the
// run being resumed (nil on a fresh run, or when it saved none).
//
// A header that is only known once the first record is seen is given to
// setPrefix: it is written with the first chunk that commits output.
type fileWriter struct {
	name    string // writer name: the key of its state in the checkpoint
	path    string // resolved path
	display string // path as configured, for messages

	mu      sync.Mutex
	f       *os.File
	regular bool // false for a device such as /dev/null: no truncation, no fsync
	offset  int64
	meta    json.RawMessage
	prefix  []byte
	pool    sync.Pool // of *[]byte: chunk buffers, reused after their commit
}

// fileWriterState is what a file writer keeps in the checkpoint.
type fileWriterState struct {
	Offset int64           `json:"offset"`
	Meta   json.RawMessage `json:"meta,omitempty"`
}

// newFileWriter reads the path attribute of a writer's config.
func newFileWriter(c *batch.Config) (*fileWriter, error) {
	p := c.String("path")
	if p == "" {
		return nil, fmt.Errorf("%s writer %q: path is required", c.Type, c.Name)
	}
	name := c.Name
	if name == "" {
		name = c.Type
	}
	return &fileWriter{name: name, path: filePath(c, p), display: p}, nil
}

// open opens the output for a run of t and registers the commit callback.
// It returns the meta of the run being resumed.
func (w *fileWriter) open(t *batch.Task) (json.RawMessage, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f != nil {
		return nil, fmt.Errorf("%s: writer %q is already open", w.display, w.name)
	}
	var st fileWriterState
	resumed := false
	if raw := t.ResumeState(w.name); raw != nil {
		if err := json.Unmarshal(raw, &st); err != nil {
			return nil, fmt.Errorf("%s: invalid writer state %q in the checkpoint: %v", w.display, raw, err)
		}
		if st.Offset < 0 {
			return nil, fmt.Errorf("%s: invalid writer state %q in the checkpoint", w.display, raw)
		}
		resumed = true
	}
	if err := os.MkdirAll(filepath.Dir(w.path), 0o755); err != nil {
		return nil, err
	}
	var f *os.File
	var err error
	if !resumed {
		f, err = os.OpenFile(w.path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, err
		}
	} else {
		f, err = os.OpenFile(w.path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	w.regular = fi.Mode().IsRegular()
	if resumed && w.regular {
		if fi.Size() < st.Offset {
			_ = f.Close()
			return nil, fmt.Errorf("%s: cannot resume: the file has %d bytes, fewer than the %d committed: it was changed or replaced since the checkpoint",
				w.display, fi.Size(), st.Offset)
		}
		if err := f.Truncate(st.Offset); err != nil {
			_ = f.Close()
			return nil, err
		}
	}
	w.f, w.offset, w.meta, w.prefix = f, st.Offset, st.Meta, nil
	t.OnCommit(func(c *batch.Chunk) error { return w.commit(t, c) })
	t.SetWriterState(w.name, w.stateLocked())
	return st.Meta, nil
}

// writeHeader writes b at once (a fresh run's header): it is part of the
// committed offset from the start.
func (w *fileWriter) writeHeader(t *batch.Task, b []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.writeLocked(b); err != nil {
		return err
	}
	t.SetWriterState(w.name, w.stateLocked())
	return nil
}

// setMeta sets the format's state kept with the offset from the next
// commit on.
func (w *fileWriter) setMeta(m json.RawMessage) {
	w.mu.Lock()
	w.meta = m
	w.mu.Unlock()
}

// setPrefix sets bytes written just before the next chunk that commits
// output (a header known from the first record).
func (w *fileWriter) setPrefix(b []byte) {
	w.mu.Lock()
	w.prefix = b
	w.mu.Unlock()
}

// buffer returns the chunk's buffer so far (empty at first).
func (w *fileWriter) buffer(c *batch.Chunk) []byte {
	if b, ok := c.Values[w].([]byte); ok {
		return b
	}
	if p, ok := w.pool.Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return make([]byte, 0, 64<<10)
}

// keep stores the chunk's encoded records until it commits.
func (w *fileWriter) keep(c *batch.Chunk, b []byte) { c.Values[w] = b }

func (w *fileWriter) commit(t *batch.Task, c *batch.Chunk) error {
	buf, _ := c.Values[w].([]byte)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return fmt.Errorf("%s: writer %q is closed", w.display, w.name)
	}
	if len(buf) > 0 {
		out := buf
		if len(w.prefix) > 0 {
			out = append(w.prefix, buf...)
		}
		if err := w.writeLocked(out); err != nil {
			return err
		}
		w.prefix = nil
		delete(c.Values, w)
		w.pool.Put(&buf)
	}
	t.SetWriterState(w.name, w.stateLocked())
	return nil
}

func (w *fileWriter) writeLocked(b []byte) error {
	if w.f == nil {
		return fmt.Errorf("%s: writer %q is not open", w.display, w.name)
	}
	var n int
	var err error
	if w.regular {
		n, err = w.f.WriteAt(b, w.offset)
	} else {
		n, err = w.f.Write(b) // a device has no offsets (a pipe refuses WriteAt)
	}
	if err != nil {
		// Cut what this write left past the offset (a full disk takes part
		// of it, and n may not count it), so that the file holds only
		// whole committed chunks; the next resume cuts it again, should
		// this fail too.
		if w.regular {
			_ = w.f.Truncate(w.offset)
		}
		return fmt.Errorf("write %s: %w", w.display, err)
	}
	w.offset += int64(n)
	return nil
}

func (w *fileWriter) stateLocked() []byte {
	b, _ := json.Marshal(fileWriterState{Offset: w.offset, Meta: w.meta})
	return b
}

// sync makes what was written durable. It does not hold the lock while
// the disk works: the checkpoint is saved on a goroutine of its own while
// the next chunk's commit appends to the file (Close waits for the run).
func (w *fileWriter) sync() error {
	w.mu.Lock()
	f := w.f
	regular := w.regular
	w.mu.Unlock()
	if f == nil || !regular {
		return nil // fsync of /dev/null fails with EINVAL
	}
	return f.Sync()
}

// close closes the file; closing twice is harmless.
func (w *fileWriter) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if errors.Is(err, fs.ErrClosed) {
		err = nil
	}
	return err
}

// --- configuration helpers shared by the csv and jsonl readers and writers ---

// filePath resolves a path of the config against the flow's directory.
func filePath(c *batch.Config, p string) string {
	if p == "" || filepath.IsAbs(p) || c.Dir == "" {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// fileAttrs returns the config's attributes with the defaults of specs
// for those left out, so that configs made in Go (without HCL) get the
// same defaults. Required attributes must be there.
func fileAttrs(c *batch.Config, kind string, specs []flow.Attr) (*batch.Config, error) {
	out := *c
	out.Attrs = make(map[string]cty.Value, len(specs))
	for k, v := range c.Attrs {
		out.Attrs[k] = v
	}
	for _, s := range specs {
		v, ok := out.Attrs[s.Name]
		if ok && !v.IsNull() {
			continue
		}
		if s.Required {
			return nil, fmt.Errorf("%s %s %q: %s is required", c.Type, kind, c.Name, s.Name)
		}
		if s.Default != cty.NilVal {
			out.Attrs[s.Name] = s.Default
		}
	}
	return &out, nil
}

// fileStrings reads a list of strings (nil when null).
func fileStrings(c *batch.Config, name string) ([]string, error) {
	v, ok := c.Attrs[name]
	if !ok || v.IsNull() {
		return nil, nil
	}
	if !v.IsKnown() || !v.CanIterateElements() || v.Type().IsMapType() || v.Type().IsObjectType() {
		return nil, fmt.Errorf("%s must be a list of strings", name)
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() || e.Type() != cty.String {
			return nil, fmt.Errorf("%s must be a list of strings", name)
		}
		out = append(out, e.AsString())
	}
	return out, nil
}

// fileStringMap reads a map of strings (nil when null).
func fileStringMap(c *batch.Config, name string) (map[string]string, error) {
	v, ok := c.Attrs[name]
	if !ok || v.IsNull() {
		return nil, nil
	}
	if !v.IsKnown() || !(v.Type().IsMapType() || v.Type().IsObjectType()) {
		return nil, fmt.Errorf("%s must be a map of strings", name)
	}
	out := map[string]string{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.IsNull() || e.Type() != cty.String {
			return nil, fmt.Errorf("%s: the value of %s must be a string", name, k.AsString())
		}
		out[k.AsString()] = e.AsString()
	}
	return out, nil
}

// fileByte reads a one-byte attribute (a delimiter or quote); "" is 0
// when allowEmpty.
func fileByte(c *batch.Config, name string, allowEmpty bool) (byte, error) {
	s := c.String(name)
	switch {
	case s == "" && allowEmpty:
		return 0, nil
	case len(s) != 1:
		return 0, fmt.Errorf("%s must be one ASCII character, not %q", name, s)
	case s[0] == '\n' || s[0] == '\r' || s[0] >= 0x80:
		return 0, fmt.Errorf("%s cannot be %q", name, s)
	}
	return s[0], nil
}
