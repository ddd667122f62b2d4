package files

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

func init() {
	batch.RegisterWriter(&batch.WriterType{
		Name:    "csv",
		Summary: "Writes records to a CSV file (RFC 4180), exactly once: a resumed run cuts the file back to its last checkpoint.",
		Attrs:   csvWriterAttrs,
		New:     func(c *batch.Config) (batch.Writer, error) { return newCSVWriter(c) },
		Check:   checkCSVWriter,
	})
}

var csvWriterAttrs = []flow.Attr{
	{Name: "path", Type: cty.String, Required: true,
		Doc: "The file to write (parent directories are made); a relative path is relative to the flow file's directory. A fresh run replaces it."},
	{Name: "header", Type: cty.Bool, Default: cty.True,
		Doc: "Whether to write a first row with the field names."},
	{Name: "columns", Type: cty.List(cty.String),
		Doc: "The fields to write, in order; a field a record lacks is written empty. Default: the fields of the first record, and then every record must have only fields among them."},
	{Name: "delimiter", Type: cty.String, Default: cty.StringVal(","),
		Doc: "The field separator: one character."},
	{Name: "quote_all", Type: cty.Bool, Default: cty.False,
		Doc: "Whether to quote every field; otherwise only fields holding the delimiter, a quote, a line break, or leading or trailing space are quoted."},
}

// csvWriter writes records as CSV rows through a fileWriter.
type csvWriter struct {
	fw       *fileWriter
	header   bool
	delim    byte
	quoteAll bool
	special  [256]bool // bytes that make a field need quotes

	mu      sync.Mutex
	columns []string // configured, or taken from the first record
	fixed   bool     // columns were configured
	indexes map[*record.Schema]csvIndex
}

// csvIndex maps the columns to a schema's fields (-1: the record lacks
// it), or says why the schema does not fit.
type csvIndex struct {
	idx []int
	err error
}

func newCSVWriter(cfg *batch.Config) (*csvWriter, error) {
	c, err := fileAttrs(cfg, "writer", csvWriterAttrs)
	if err != nil {
		return nil, err
	}
	fw, err := newFileWriter(c)
	if err != nil {
		return nil, err
	}
	w := &csvWriter{fw: fw, header: c.Bool("header"), quoteAll: c.Bool("quote_all"), indexes: map[*record.Schema]csvIndex{}}
	if w.delim, err = fileByte(c, "delimiter", false); err != nil {
		return nil, fmt.Errorf("csv writer %s: %w", fw.display, err)
	}
	if w.delim == '"' {
		return nil, fmt.Errorf("csv writer %s: the delimiter cannot be the quote", fw.display)
	}
	if w.columns, err = fileStrings(c, "columns"); err != nil {
		return nil, fmt.Errorf("csv writer %s: %w", fw.display, err)
	}
	w.fixed = len(w.columns) > 0
	for _, b := range []byte{w.delim, '"', '\r', '\n'} {
		w.special[b] = true
	}
	return w, nil
}

// Setup opens the file: a fresh run truncates it and writes the header
// (when the columns are known; otherwise it goes before the first chunk);
// a resumed run cuts it back to the committed offset and takes the
// columns it had.
func (w *csvWriter) Setup(t *batch.Task) error {
	meta, err := w.fw.open(t)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if meta != nil {
		var cols []string
		if err := json.Unmarshal(meta, &cols); err != nil {
			return fmt.Errorf("%s: invalid writer state in the checkpoint: %v", w.fw.display, err)
		}
		w.columns = cols
		w.indexes = map[*record.Schema]csvIndex{}
		return nil
	}
	if len(w.columns) > 0 {
		w.fw.setMeta(w.meta())
		if w.header {
			return w.fw.writeHeader(t, w.headerRow())
		}
	}
	return nil
}

func (w *csvWriter) meta() json.RawMessage {
	b, _ := json.Marshal(w.columns)
	return b
}

func (w *csvWriter) headerRow() []byte {
	var b []byte
	for i, c := range w.columns {
		if i > 0 {
			b = append(b, w.delim)
		}
		b = w.appendField(b, c, nil, len(w.columns))
	}
	return append(b, '\n')
}

// index returns how the columns map to a schema's fields, choosing the
// columns from it if none are yet.
func (w *csvWriter) index(s *record.Schema) csvIndex {
	w.mu.Lock()
	defer w.mu.Unlock()
	if x, ok := w.indexes[s]; ok {
		return x
	}
	if w.columns == nil {
		w.columns = s.Names()
		w.fw.setMeta(w.meta())
		if w.header {
			w.fw.setPrefix(w.headerRow())
		}
	}
	x := csvIndex{idx: make([]int, len(w.columns))}
	for i, c := range w.columns {
		j, ok := s.Index(c)
		if !ok {
			j = -1
		}
		x.idx[i] = j
	}
	if !w.fixed {
		for _, f := range s.Fields {
			if indexOf(w.columns, f.Name) < 0 {
				x.err = fmt.Errorf("field %s is not among the columns (%s) taken from the first record: list the fields to write in columns",
					f.Name, strings.Join(w.columns, ", "))
				break
			}
		}
	}
	w.indexes[s] = x
	return x
}

// Consume encodes the chunk's records; they are written when it commits.
func (w *csvWriter) Consume(c *batch.Chunk, items []*record.Record) error {
	buf := w.fw.buffer(c)
	var scratch []byte
	var last *record.Schema
	var x csvIndex
	for _, rec := range items {
		if rec.Schema != last {
			last, x = rec.Schema, w.index(rec.Schema)
		}
		if x.err != nil {
			if where := rec.Where(); where != "" {
				return fmt.Errorf("%s: record from %s: %w", w.fw.display, where, x.err)
			}
			return fmt.Errorf("%s: %w", w.fw.display, x.err)
		}
		for i, j := range x.idx {
			if i > 0 {
				buf = append(buf, w.delim)
			}
			if j < 0 {
				if w.quoteAll || len(x.idx) == 1 {
					buf = append(buf, '"', '"')
				}
				continue
			}
			mark := len(buf)
			buf = rec.Values[j].AppendText(buf)
			if w.quoteAll || w.needsQuotes(buf[mark:], len(x.idx)) {
				scratch = append(scratch[:0], buf[mark:]...)
				buf = w.appendQuoted(buf[:mark], scratch)
			}
		}
		buf = append(buf, '\n')
	}
	w.fw.keep(c, buf)
	return nil
}

// appendField appends a text field, quoted when it must be.
func (w *csvWriter) appendField(b []byte, s string, scratch []byte, nf int) []byte {
	mark := len(b)
	b = append(b, s...)
	if w.quoteAll || w.needsQuotes(b[mark:], nf) {
		scratch = append(scratch[:0], b[mark:]...)
		b = w.appendQuoted(b[:mark], scratch)
	}
	return b
}

// needsQuotes reports whether a field must be quoted: it holds the
// delimiter, a quote or a line break, starts or ends with a space, or is
// the only, empty field of a row (which would read as a blank line).
func (w *csvWriter) needsQuotes(f []byte, nf int) bool {
	if len(f) == 0 {
		return nf == 1
	}
	if f[0] == ' ' || f[0] == '\t' || f[len(f)-1] == ' ' || f[len(f)-1] == '\t' {
		return true
	}
	for _, c := range f {
		if w.special[c] {
			return true
		}
	}
	return false
}

func (w *csvWriter) appendQuoted(b, f []byte) []byte {
	b = append(b, '"')
	for _, c := range f {
		if c == '"' {
			b = append(b, '"')
		}
		b = append(b, c)
	}
	return append(b, '"')
}

// Sync makes what was written durable.
func (w *csvWriter) Sync() error { return w.fw.sync() }

// Close closes the file.
func (w *csvWriter) Close() error { return w.fw.close() }
