package files

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync/atomic"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

func init() {
	batch.RegisterReader(&batch.ReaderType{
		Name:    "jsonl",
		Summary: "Reads a JSON Lines file: one JSON object per line, its members the record's fields in order.",
		Attrs:   jsonlReaderAttrs,
		New:     func(c *batch.Config) (batch.Reader, error) { return newJSONLReader(c) },
		Check:   checkSchema,
	})
	batch.RegisterWriter(&batch.WriterType{
		Name:    "jsonl",
		Summary: "Writes records to a JSON Lines file, one object per line, exactly once: a resumed run cuts the file back to its last checkpoint.",
		Attrs:   jsonlWriterAttrs,
		New:     func(c *batch.Config) (batch.Writer, error) { return newJSONLWriter(c) },
	})
}

// checkSchema is the load-time check of the jsonl reader: the types its
// schema names.
func checkSchema(_ *flow.Node, b *flow.Block) hcl.Diagnostics {
	return batch.CheckSchema(b.Attrs["schema"])
}

var jsonlReaderAttrs = []flow.Attr{
	{Name: "path", Type: cty.String, Required: true,
		Doc: "The file to read; a relative path is relative to the flow file's directory."},
	{Name: "schema", Type: cty.Map(cty.String),
		Doc: "Field types by field name: string, int, decimal, float, bool or timestamp. A string member is parsed as its type (such as an RFC 3339 timestamp); numbers are converted between int, decimal and float. Fields not listed keep their JSON type: integers are ints, other numbers exact decimals."},
}

var jsonlWriterAttrs = []flow.Attr{
	{Name: "path", Type: cty.String, Required: true,
		Doc: "The file to write (parent directories are made); a relative path is relative to the flow file's directory. A fresh run replaces it."},
	{Name: "fields", Type: cty.List(cty.String),
		Doc: "The fields to write, in order (a field a record lacks is written as null). Default: every field of each record, in its order."},
}

// jsonlReader reads one JSON object per line.
type jsonlReader struct {
	path    string
	f       *os.File
	in      *fileLines
	size    int64
	done    atomic.Int64
	schemas record.Schemas
	kinds   map[string]record.Kind
}

func newJSONLReader(cfg *batch.Config) (*jsonlReader, error) {
	c, err := fileAttrs(cfg, "reader", jsonlReaderAttrs)
	if err != nil {
		return nil, err
	}
	r := &jsonlReader{path: c.String("path")}
	types, err := fileStringMap(c, "schema")
	if err != nil {
		return nil, fmt.Errorf("jsonl reader %s: %w", r.path, err)
	}
	if len(types) > 0 {
		r.kinds = map[string]record.Kind{}
		for name, tn := range types {
			k, err := record.ParseKind(tn)
			if err != nil {
				return nil, fmt.Errorf("jsonl reader %s: schema: field %s: %w", r.path, name, err)
			}
			r.kinds[name] = k
		}
	}
	if r.f, err = os.Open(filePath(c, r.path)); err != nil {
		return nil, fmt.Errorf("jsonl reader: %w", err)
	}
	fi, err := r.f.Stat()
	if err != nil {
		_ = r.f.Close()
		return nil, fmt.Errorf("jsonl reader: %w", err)
	}
	r.size = fi.Size()
	r.in = newFileLines(r.f, 256<<10)
	if err := r.in.skipBOM(); err != nil {
		_ = r.f.Close()
		return nil, fmt.Errorf("jsonl reader %s: %w", r.path, err)
	}
	r.done.Store(r.in.offset)
	return r, nil
}

// Load reads up to max records.
// ReadAhead implements batch.ReadAhead: Load uses only c.ReadFailed.
func (r *jsonlReader) ReadAhead() bool { return true }

func (r *jsonlReader) Load(c *batch.Chunk, max int) ([]*record.Record, error) {
	out := make([]*record.Record, 0, min(max, 4096))
	for len(out) < max {
		off, ln := r.in.offset, r.in.line
		line, err := r.in.next()
		if err == io.EOF {
			break
		}
		where := r.path + ":" + strconv.FormatInt(ln, 10)
		var rec *record.Record
		switch {
		case err == errLineTooLong:
		case err != nil:
			return nil, fmt.Errorf("read %s: %w", r.path, err)
		default:
			body := bytes.TrimSpace(line)
			if len(body) == 0 {
				continue
			}
			if !utf8.Valid(body) {
				// encoding/json would read it as U+FFFD: text lost unseen.
				i := invalidUTF8(string(body))
				err = fmt.Errorf("byte %d (0x%02X) is not UTF-8: convert the file to UTF-8", i+1, body[i])
			} else if rec, err = record.DecodeJSON(body, &r.schemas); err == nil {
				err = r.convert(rec)
			}
			line = body
		}
		if err != nil {
			if ferr := c.ReadFailed(where, string(line), err); ferr != nil {
				return nil, ferr
			}
			continue
		}
		rec.Source, rec.Line, rec.Offset = r.path, ln, off
		out = append(out, rec)
	}
	r.done.Store(r.in.offset)
	return out, nil
}

// convert gives the schema's fields their types.
func (r *jsonlReader) convert(rec *record.Record) error {
	if r.kinds == nil {
		return nil
	}
	for i, f := range rec.Schema.Fields {
		k, ok := r.kinds[f.Name]
		if !ok {
			continue
		}
		v, err := jsonlConvert(rec.Values[i], k)
		if err != nil {
			return fmt.Errorf("field %s: %w", f.Name, err)
		}
		rec.Values[i] = v
	}
	return nil
}

// jsonlConvert converts a decoded JSON value to kind k.
func jsonlConvert(v record.Value, k record.Kind) (record.Value, error) {
	if v.IsNull() || v.Kind() == k {
		return v, nil
	}
	if v.Kind() == record.String {
		return record.Parse(k, v.Str())
	}
	switch k {
	case record.String:
		switch v.Kind() {
		case record.Int, record.Decimal, record.Float, record.Bool:
			return record.Str(v.Text()), nil
		}
	case record.Decimal:
		if u, s, ok := v.Decimal(); ok {
			return record.Dec(u, s), nil
		}
		if v.Kind() == record.Float {
			return record.ParseDecimal(v.Text())
		}
	case record.Int:
		if i, ok := v.Int(); ok {
			return record.IntVal(i), nil
		}
	case record.Float:
		if f, ok := v.Float(); ok {
			return record.FloatVal(f), nil
		}
	}
	return record.Value{}, fmt.Errorf("a %s cannot be a %s", v.Kind(), k)
}

// Position returns where the next record starts, as JSON
// {"offset":bytes,"line":n}.
func (r *jsonlReader) Position() ([]byte, error) {
	return json.Marshal(filePosition{Offset: r.in.offset, Line: r.in.line})
}

// Seek goes to a position Position returned.
func (r *jsonlReader) Seek(pos []byte) error {
	start := int64(0)
	if bytes.Equal(r.peekBOM(), utf8BOM) {
		start = int64(len(utf8BOM))
	}
	p, err := fileSeekTarget(r.path, pos, start, 1, r.size)
	if err != nil {
		return err
	}
	if err := r.in.seek(p.Offset, p.Line); err != nil {
		return fmt.Errorf("jsonl reader %s: %w", r.path, err)
	}
	r.done.Store(p.Offset)
	return nil
}

func (r *jsonlReader) peekBOM() []byte {
	b := make([]byte, len(utf8BOM))
	n, _ := r.f.ReadAt(b, 0)
	return b[:n]
}

// Size reports bytes read and the file's size.
func (r *jsonlReader) Size() (done, total int64) { return r.done.Load(), r.size }

// Close closes the file.
func (r *jsonlReader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// jsonlWriter writes records as JSON objects, one a line.
type jsonlWriter struct {
	fw     *fileWriter
	fields []string
	names  [][]byte // "name": for each field
}

func newJSONLWriter(cfg *batch.Config) (*jsonlWriter, error) {
	c, err := fileAttrs(cfg, "writer", jsonlWriterAttrs)
	if err != nil {
		return nil, err
	}
	fw, err := newFileWriter(c)
	if err != nil {
		return nil, err
	}
	w := &jsonlWriter{fw: fw}
	if w.fields, err = fileStrings(c, "fields"); err != nil {
		return nil, fmt.Errorf("jsonl writer %s: %w", fw.display, err)
	}
	for _, f := range w.fields {
		b, _ := json.Marshal(f)
		w.names = append(w.names, append(b, ':'))
	}
	return w, nil
}

// Setup opens the file: truncated on a fresh run, cut back to the
// committed offset on a resumed one.
func (w *jsonlWriter) Setup(t *batch.Task) error {
	_, err := w.fw.open(t)
	return err
}

// Consume encodes the chunk's records; they are written when it commits.
func (w *jsonlWriter) Consume(c *batch.Chunk, items []*record.Record) error {
	buf := w.fw.buffer(c)
	var err error
	for _, rec := range items {
		mark := len(buf)
		if w.fields == nil {
			buf, err = record.AppendRecordJSON(buf, rec)
		} else {
			buf, err = w.appendFields(buf, rec)
		}
		if err != nil {
			buf = buf[:mark]
			if where := rec.Where(); where != "" {
				return fmt.Errorf("%s: record from %s: %w", w.fw.display, where, err)
			}
			return fmt.Errorf("%s: %w", w.fw.display, err)
		}
		buf = append(buf, '\n')
	}
	w.fw.keep(c, buf)
	return nil
}

func (w *jsonlWriter) appendFields(b []byte, rec *record.Record) ([]byte, error) {
	b = append(b, '{')
	for i, f := range w.fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, w.names[i]...)
		v, _ := rec.Get(f)
		var err error
		if b, err = record.AppendJSON(b, v); err != nil {
			return b, fmt.Errorf("field %s: %w", f, err)
		}
	}
	return append(b, '}'), nil
}

// Sync makes what was written durable.
func (w *jsonlWriter) Sync() error { return w.fw.sync() }

// Close closes the file.
func (w *jsonlWriter) Close() error { return w.fw.close() }
