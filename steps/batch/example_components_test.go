package batch_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

// The schemas of the records the components make: made once, shared by
// every record.
var (
	numberSchema, _  = record.NewSchema(record.Field{Name: "n", Kind: record.Int})
	productSchema, _ = record.NewSchema(record.Field{Name: "n", Kind: record.Int}, record.Field{Name: "product", Kind: record.Int})
)

// numbers is a reader: the records n = from, from+1, ..., to. A reader is
// a Loader of records and a Seeker: Position says where the next Load
// starts, and a resumed run Seeks back there.
type numbers struct {
	next, to int64
}

func (r *numbers) Load(c *batch.Chunk, max int) ([]*record.Record, error) {
	var out []*record.Record
	for ; r.next <= r.to && len(out) < max; r.next++ {
		rec := record.New(numberSchema)
		rec.Values[0] = record.IntVal(r.next)
		rec.Line = r.next // where errors and skip logs point
		out = append(out, rec)
	}
	return out, nil // none: the input is done
}

func (r *numbers) Position() ([]byte, error) { return strconv.AppendInt(nil, r.next, 10), nil }

func (r *numbers) Seek(pos []byte) error {
	n, err := strconv.ParseInt(string(pos), 10, 64)
	r.next = n
	return err
}

// multiply is a processor with an attribute, factor: it emits the record
// with a field product added.
type multiply struct{ factor int64 }

func (m *multiply) Process(c *batch.Chunk, in *record.Record, emit func(*record.Record)) error {
	v, _ := in.Get("n")
	n, ok := v.Int()
	if !ok {
		return fmt.Errorf("field n: %s is not a whole number", v.Text())
	}
	out := record.New(productSchema)
	out.Values[0], out.Values[1] = v, record.IntVal(n*m.factor)
	out.Source, out.Line = in.Source, in.Line
	emit(out)
	return nil
}

// lineWriter is a writer: one "n product" line per record. It buffers a chunk
// in c.Values and writes it when the chunk commits, recording the file's
// committed length as its state; a resumed run cuts the file back to it.
// So a chunk that fails, or that a crash cut short, leaves nothing.
type lineWriter struct {
	name, path string
	f          *os.File
	offset     int64
}

func (w *lineWriter) Setup(t *batch.Task) error {
	flags := os.O_RDWR | os.O_CREATE | os.O_TRUNC // a fresh run
	if st := t.ResumeState(w.name); st != nil {
		off, err := strconv.ParseInt(string(st), 10, 64)
		if err != nil {
			return err
		}
		w.offset, flags = off, os.O_RDWR|os.O_CREATE
	}
	f, err := os.OpenFile(w.path, flags, 0o644)
	if err != nil {
		return err
	}
	w.f = f
	if err := f.Truncate(w.offset); err != nil {
		return err
	}
	t.OnCommit(func(c *batch.Chunk) error {
		buf, _ := c.Values[w].([]byte)
		n, err := w.f.WriteAt(buf, w.offset)
		w.offset += int64(n)
		if err != nil {
			return err
		}
		t.SetWriterState(w.name, strconv.AppendInt(nil, w.offset, 10))
		return nil
	})
	return nil
}

func (w *lineWriter) Consume(c *batch.Chunk, recs []*record.Record) error {
	buf, _ := c.Values[w].([]byte)
	for _, r := range recs {
		n, _ := r.Get("n")
		p, _ := r.Get("product")
		buf = fmt.Appendf(buf, "%s %s\n", n.Text(), p.Text())
	}
	c.Values[w] = buf
	return nil
}

func (w *lineWriter) Sync() error  { return w.f.Sync() } // before the checkpoint that counts the lineWriter
func (w *lineWriter) Close() error { return w.f.Close() }

func init() {
	batch.RegisterReader(&batch.ReaderType{
		Name:    "numbers",
		Summary: "The whole numbers from 1 to `to`, as field n.",
		Attrs:   []flow.Attr{{Name: "to", Type: cty.Number, Required: true, Doc: "The last number."}},
		New: func(c *batch.Config) (batch.Reader, error) {
			return &numbers{next: 1, to: c.Int("to")}, nil
		},
	})
	batch.RegisterProcessor(&batch.ProcessorType{
		Name:    "multiply",
		Summary: "Adds the field product: n times factor.",
		Attrs:   []flow.Attr{{Name: "factor", Type: cty.Number, Default: cty.NumberIntVal(2), Doc: "What n is multiplied by."}},
		New: func(c *batch.Config) (batch.RecordProcessor, error) {
			return &multiply{factor: c.Int("factor")}, nil
		},
	})
	batch.RegisterWriter(&batch.WriterType{
		Name:    "lines",
		Summary: "Writes n and product of each record on a line.",
		Attrs:   []flow.Attr{{Name: "path", Type: cty.String, Required: true, Doc: "The file, relative to the flow file."}},
		New: func(c *batch.Config) (batch.Writer, error) {
			// c.Name is the writer's name in the checkpoint: its second
			// label, or its type.
			return &lineWriter{name: c.Name, path: filepath.Join(c.Dir, c.String("path"))}, nil
		},
	})
}

const componentsFlow = `
flow "table" {
  batch "times" {
    chunk_size = 2

    reader "numbers" {
      to = 5
    }
    processor "multiply" {
      factor = 7
    }
    writer "lines" {
      path = "out.txt"
    }
  }
  output "written" {
    value = step.times.write_count
  }
}
`

// A reader, a processor with an attribute and a writer written in Go,
// registered with batch.RegisterReader, RegisterProcessor and
// RegisterWriter and used from a flow by their names. Their attributes
// are checked when the flow loads, like a step's; New builds each one when
// the batch step starts, from the evaluated block. A program that
// registers them and calls cli.Main has them in the flow command.
func Example_registerComponents() {
	dir, err := os.MkdirTemp("", "components")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "table.flow.hcl"), []byte(componentsFlow), 0o644); err != nil {
		log.Fatal(err)
	}

	set, diags := flow.Load(filepath.Join(dir, "table.flow.hcl"), nil)
	if diags.HasErrors() {
		log.Fatal(diags.Error())
	}
	f, _ := set.Only()
	res, err := flow.NewEngine(nil).Run(context.Background(), f, flow.RunOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Status, "written:", flow.FormatValue(res.Outputs["written"]))
	out, err := os.ReadFile(filepath.Join(dir, "out.txt"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(out))
	// Output:
	// COMPLETED written: 5
	// 1 7
	// 2 14
	// 3 21
	// 4 28
	// 5 35
}
