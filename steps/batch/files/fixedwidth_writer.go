package files

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

// FixedWriterOptions are the settings of a FixedWriter besides its format.
type FixedWriterOptions struct {
	// Name is the writer's name, the key of its state in the checkpoint
	// (default "fixed").
	Name string
	// HeaderValues are the header's field values; TrailerValues constant
	// values of trailer fields (count and sum fields are computed).
	HeaderValues, TrailerValues map[string]record.Value
}

// FixedWriter writes body records as a FixedFormat describes, exactly once
// across restarts (through the shared fileWriter): the header is written
// once, on a fresh run; each chunk's records are encoded when it is
// consumed and appended when it commits; the trailer, with the record
// count and sums, is written when the task completes. The count and sums
// of the committed records are kept with the committed offset, so that a
// resumed run's trailer counts the records of the runs before it; a
// resumed run cuts the file back to the committed offset, which never
// includes the trailer.
//
// A record's fields are found by name; a record without one of the body's
// fields (other than fillers and constants) is an error, as is a value
// that does not fit its field: nothing is cut short.
type FixedWriter struct {
	fw     *fileWriter
	format *FixedFormat
	opts   FixedWriterOptions
	sep    string
	header []byte
	// sumPos holds, for each trailer sum field, the position of the body
	// field it adds up.
	sumPos []int

	mu     sync.Mutex
	count  int64
	sums   []fixedSum
	endErr error
}

// fixedDelta is what a chunk adds to the totals.
type fixedDelta struct {
	n    int64
	sums []fixedSum
}

// fixedTotals is what the writer keeps with its offset.
type fixedTotals struct {
	Count int64    `json:"count"`
	Sums  []string `json:"sums,omitempty"`
}

// NewFixedWriter makes a writer of the file at path; display is how
// messages name it. The format must have been through Init.
func NewFixedWriter(path, display string, format *FixedFormat, opts FixedWriterOptions) (*FixedWriter, error) {
	if display == "" {
		display = path
	}
	if opts.Name == "" {
		opts.Name = "fixed"
	}
	w := &FixedWriter{fw: &fileWriter{name: opts.Name, path: path, display: display},
		format: format, opts: opts, sep: format.Separator, sums: make([]fixedSum, len(format.sumFields()))}
	for _, sf := range format.sumFields() {
		for i := range format.Body.Fields {
			if format.Body.valueIdx[i] == sf.sumIdx {
				w.sumPos = append(w.sumPos, i)
			}
		}
	}
	if format.Header != nil {
		b, err := w.encodeFixed(nil, format.Header, opts.HeaderValues)
		if err != nil {
			return nil, fmt.Errorf("%s: header: %w", display, err)
		}
		w.header = b
	} else if len(opts.HeaderValues) > 0 {
		return nil, fmt.Errorf("%s: header values are given but the format has no header", display)
	}
	if format.Trailer != nil {
		if _, err := w.trailerBytes(); err != nil {
			return nil, fmt.Errorf("%s: %w", display, err)
		}
	} else if len(opts.TrailerValues) > 0 {
		return nil, fmt.Errorf("%s: trailer values are given but the format has no trailer", display)
	}
	return w, nil
}

// encodeFixed encodes a header or trailer record from values by name.
func (w *FixedWriter) encodeFixed(dst []byte, r *FixedRecord, vals map[string]record.Value) ([]byte, error) {
	for _, f := range r.Fields {
		var err error
		if dst, err = f.encode(dst, vals[f.Name], w.sep); err != nil {
			return nil, fmt.Errorf("field %s: %w", f.Name, err)
		}
	}
	return append(dst, w.sep...), nil
}

// Setup opens the file: a fresh run truncates it and writes the header; a
// resumed run cuts it back to the committed offset and takes up the count
// and sums it had.
func (w *FixedWriter) Setup(t *batch.Task) error {
	// Registered before the fileWriter's commit, so that the totals it
	// saves with the offset include the chunk it writes.
	t.OnCommit(w.precommit)
	meta, err := w.fw.open(t)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.count, w.sums, w.endErr = 0, make([]fixedSum, len(w.sums)), nil
	if t.ResumeState(w.fw.name) != nil {
		var tot fixedTotals
		if meta == nil {
			return fmt.Errorf("%s: the checkpoint has no record count for this file; it was not written by a fixed writer", w.fw.display)
		}
		if err := json.Unmarshal(meta, &tot); err != nil || len(tot.Sums) != len(w.sums) || tot.Count < 0 {
			return fmt.Errorf("%s: invalid writer state in the checkpoint: %s", w.fw.display, meta)
		}
		for i, s := range tot.Sums {
			if err := w.sums[i].parse(s); err != nil {
				return fmt.Errorf("%s: invalid writer state in the checkpoint: %w", w.fw.display, err)
			}
		}
		w.count = tot.Count
	} else {
		w.fw.setMeta(w.totalsLocked())
		if w.header != nil {
			if err := w.fw.writeHeader(t, w.header); err != nil {
				return err
			}
		}
	}
	t.OnTaskEnd(w.end)
	return nil
}

func (w *FixedWriter) totalsLocked() json.RawMessage {
	tot := fixedTotals{Count: w.count}
	for _, s := range w.sums {
		tot.Sums = append(tot.Sums, s.String())
	}
	b, _ := json.Marshal(tot)
	return b
}

func (w *FixedWriter) precommit(c *batch.Chunk) error {
	d, _ := c.Values[w].(*fixedDelta)
	if d == nil || d.n == 0 {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	sums := append([]fixedSum(nil), w.sums...)
	for i := range sums {
		sv, err := d.sums[i].value()
		if err == nil {
			err = sums[i].add(sv)
		}
		if err != nil {
			return fmt.Errorf("%s: the sum of %s: %w", w.fw.display, w.format.sums[i].SumOf, err)
		}
	}
	w.count += d.n
	w.sums = sums
	w.fw.setMeta(w.totalsLocked())
	return nil
}

// Consume encodes the chunk's records; they are written when it commits.
func (w *FixedWriter) Consume(c *batch.Chunk, items []*record.Record) error {
	if len(items) == 0 {
		return nil
	}
	buf := w.fw.buffer(c)
	d, _ := c.Values[w].(*fixedDelta)
	if d == nil {
		d = &fixedDelta{sums: make([]fixedSum, len(w.sumPos))}
	}
	body := w.format.Body
	var schema *record.Schema
	var idx []int
	for _, rec := range items {
		if rec.Schema != schema {
			schema, idx = rec.Schema, w.index(rec.Schema)
		}
		start := len(buf)
		var err error
		buf, err = w.encodeBody(buf, rec, idx)
		if err == nil {
			for k, pos := range w.sumPos {
				f := body.Fields[pos]
				var v record.Value
				if v, err = f.decode(buf[start+f.Offset : start+f.Offset+f.Length]); err == nil {
					err = d.sums[k].add(v)
				}
				if err != nil {
					err = fmt.Errorf("the sum of %s: %w", f.Name, err)
					break
				}
			}
		}
		if err != nil {
			if where := rec.Where(); where != "" {
				return fmt.Errorf("%s: record from %s: %w", w.fw.display, where, err)
			}
			return fmt.Errorf("%s: %w", w.fw.display, err)
		}
		buf = append(buf, w.sep...)
		d.n++
	}
	w.fw.keep(c, buf)
	c.Values[w] = d
	return nil
}

// index maps the body's fields to the positions of a schema's fields (-1
// for fillers, constants and fields the schema lacks).
func (w *FixedWriter) index(s *record.Schema) []int {
	fs := w.format.Body.Fields
	idx := make([]int, len(fs))
	for i, f := range fs {
		idx[i] = -1
		if !f.filler() && f.Value == nil {
			if j, ok := s.Index(f.Name); ok {
				idx[i] = j
			}
		}
	}
	return idx
}

func (w *FixedWriter) encodeBody(dst []byte, rec *record.Record, idx []int) ([]byte, error) {
	for i, f := range w.format.Body.Fields {
		var v record.Value
		if j := idx[i]; j >= 0 {
			v = rec.Values[j]
		} else if !f.filler() && f.Value == nil {
			return dst, fmt.Errorf("field %s: the record has no such field (it has %s)", f.Name, strings.Join(rec.Schema.Names(), ", "))
		}
		var err error
		if dst, err = f.encode(dst, v, w.sep); err != nil {
			return dst, fmt.Errorf("field %s: %w", f.Name, err)
		}
	}
	return dst, nil
}

// trailerBytes encodes the trailer with the totals so far.
func (w *FixedWriter) trailerBytes() ([]byte, error) {
	t := w.format.Trailer
	vals := make(map[string]record.Value, len(t.Fields))
	for k, v := range w.opts.TrailerValues {
		vals[k] = v
	}
	for i, f := range w.format.sumFields() {
		v, err := w.sums[i].value()
		if err != nil {
			return nil, fmt.Errorf("trailer: field %s: %w", f.Name, err)
		}
		vals[f.Name] = v
	}
	for _, f := range t.Fields {
		if f.Check == "count" {
			vals[f.Name] = record.IntVal(w.count)
		}
	}
	b, err := w.encodeFixed(nil, t, vals)
	if err != nil {
		return nil, fmt.Errorf("trailer: %w", err)
	}
	return b, nil
}

// end writes the trailer when the task completed.
func (w *FixedWriter) end(err error) {
	if err != nil || w.format.Trailer == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	b, terr := w.trailerBytes()
	if terr == nil {
		terr = fixedWriteTrailer(w.fw, b)
	}
	if terr != nil {
		w.endErr = fmt.Errorf("%s: %w", w.fw.display, terr)
	}
}

// writeTrailer writes b after the committed records and makes it
// durable, without moving the committed offset: a resumed run cuts it
// off and writes it again at its own end.
func fixedWriteTrailer(w *fileWriter, b []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return fmt.Errorf("writer %q is not open", w.name)
	}
	if _, err := w.f.WriteAt(b, w.offset); err != nil {
		return err
	}
	return w.f.Sync()
}

// Sync makes what was written durable.
func (w *FixedWriter) Sync() error { return w.fw.sync() }

// Close closes the file; it returns the error of writing the trailer, if
// that failed.
func (w *FixedWriter) Close() error {
	err := w.fw.close()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.endErr != nil {
		return w.endErr
	}
	return err
}
