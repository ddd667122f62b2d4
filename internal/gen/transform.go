package gen

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

// OutHeader is the header of T's output.
var OutHeader = []string{"id", "account", "cents", "currency", "big"}

// OutSchema is the schema of every record Transform returns: one schema
// shared by all of them, as a reader's records share theirs. id keeps the
// kind it had in the input (string, or int when the reader's schema says so).
var OutSchema = func() *record.Schema {
	s, err := record.NewSchema(
		record.Field{Name: "id"},
		record.Field{Name: "account", Kind: record.String},
		record.Field{Name: "cents", Kind: record.Int},
		record.Field{Name: "currency", Kind: record.String},
		record.Field{Name: "big", Kind: record.Bool},
	)
	if err != nil {
		panic(err)
	}
	return s
}()

// Thresholds of T, in cents.
const (
	MinCents = 1000   // amounts below 10 are dropped
	BigCents = 500000 // amounts above 5000 are big
)

// ProcessorSummary documents the "standard" processor that Process makes.
const ProcessorSummary = "The standard transform of the batch tests: drops records with amount < 10 and emits " +
	"id, account, cents (the amount in integer cents, exactly), currency (lower case) and big (amount > 5000). " +
	"The input needs the fields id, account, amount (decimal, or text holding one) and currency."

// Process is T as a batch processor: it emits Transform's record, or
// nothing when the record is dropped. Register it with
// batch.RegisterFunc("standard", gen.ProcessorSummary, gen.Process).
func Process(c *batch.Chunk, in *record.Record, emit func(*record.Record)) error {
	out, err := transform(in, c.Alloc())
	if err != nil {
		return err
	}
	if out != nil {
		emit(out)
	}
	return nil
}

// JSTransform is T in JavaScript, as the benchmarks and the chaos tests
// run it (processor "js"): the amount as an exact decimal (the decimal
// API of docs/javascript.md), never a float. The returned object literal
// opens on the line of its first key.
const JSTransform = `const amount = decimal.field(item, "amount");
if (amount.lt(10)) return;
return { id: item.id,
  account:  item.account,
  cents:    amount.toCents(),
  currency: item.currency.toLowerCase(),
  big:      amount.gt(5000),
};`

// JSTransformMultiline is JSTransform with the literal's first key on its
// own line: script compiles both into a direct build of the record (the
// benchmarks check that it stays as fast).
const JSTransformMultiline = `const amount = decimal.field(item, "amount");
if (amount.lt(10)) return;
return {
  id:       item.id,
  account:  item.account,
  cents:    amount.toCents(),
  currency: item.currency.toLowerCase(),
  big:      amount.gt(5000),
};`

// inFields are the positions of T's input fields in a schema.
type inFields struct {
	schema                        *record.Schema
	id, account, amount, currency int
}

// lastFields caches the positions for the schema seen last: a reader
// shares one schema between its records, so this is found once per run.
var lastFields atomic.Pointer[inFields]

func fieldsOf(s *record.Schema) (*inFields, error) {
	if f := lastFields.Load(); f != nil && f.schema == s {
		return f, nil
	}
	f := &inFields{schema: s}
	for _, x := range []struct {
		name string
		at   *int
	}{{"id", &f.id}, {"account", &f.account}, {"amount", &f.amount}, {"currency", &f.currency}} {
		i, ok := s.Index(x.name)
		if !ok {
			return nil, fmt.Errorf("the record has no field %q (fields: %s)", x.name, strings.Join(s.Names(), ", "))
		}
		*x.at = i
	}
	lastFields.Store(f)
	return f, nil
}

// Transform is T over one record: nil (and no error) when the record is
// dropped, else a new record of OutSchema that keeps the input's position
// (Source, Line, Offset).
func Transform(in *record.Record) (*record.Record, error) {
	return transform(in, nil)
}

// transform is Transform making its record with a (nil: alone).
func transform(in *record.Record, a *record.Alloc) (*record.Record, error) {
	f, err := fieldsOf(in.Schema)
	if err != nil {
		return nil, err
	}
	cents, err := valueCents(in.Values[f.amount])
	if err != nil {
		return nil, fmt.Errorf("field amount: %w", err)
	}
	if cents < MinCents {
		return nil, nil
	}
	cur := in.Values[f.currency]
	if cur.Kind() != record.String {
		return nil, fmt.Errorf("field currency: want text, got %s %q", cur.Kind(), cur.Text())
	}
	var out *record.Record
	if a != nil {
		out = a.New(OutSchema)
	} else {
		out = record.New(OutSchema)
	}
	out.Source, out.Line, out.Offset = in.Source, in.Line, in.Offset
	out.Values[0] = in.Values[f.id]
	out.Values[1] = in.Values[f.account]
	out.Values[2] = record.IntVal(cents)
	out.Values[3] = record.Str(strings.ToLower(cur.Str()))
	out.Values[4] = record.BoolVal(cents > BigCents)
	return out, nil
}

var errFraction = errors.New("has a fraction of a cent")

// valueCents converts an amount to cents exactly.
func valueCents(v record.Value) (int64, error) {
	switch v.Kind() {
	case record.Null:
		return 0, errors.New("missing")
	case record.String:
		d, err := record.ParseDecimal(v.Str())
		if err != nil {
			return 0, err
		}
		v = d
	case record.Float:
		return 0, fmt.Errorf("%s is a float, not an exact decimal (declare amount = \"decimal\" in the reader's schema)", v.Text())
	}
	units, scale, ok := v.Decimal()
	if !ok {
		return 0, fmt.Errorf("want a decimal, got %s %q", v.Kind(), v.Text())
	}
	switch {
	case scale <= 2:
		for ; scale < 2; scale++ {
			if units > math.MaxInt64/10 || units < math.MinInt64/10 {
				return 0, fmt.Errorf("%s: %w", v.Text(), record.ErrRange)
			}
			units *= 10
		}
		return units, nil
	default:
		p := int64(1)
		for ; scale > 2; scale-- {
			p *= 10
		}
		if units%p != 0 {
			return 0, fmt.Errorf("%s %w", v.Text(), errFraction)
		}
		return units / p, nil
	}
}

// Baseline is T over plain strings, with encoding/csv: what a hand-written
// Go program does, for comparison with the batch step. It reads a CSV with
// a header naming at least id, account, amount and currency, writes
// OutHeader and a row per kept record, and returns how many records it
// read. Its output is the same as a batch step running Process with a csv
// reader (amount typed decimal) and a csv writer.
func Baseline(in io.Reader, out io.Writer) (records int, err error) {
	r := csv.NewReader(bufio.NewReaderSize(in, 64<<10))
	r.ReuseRecord = true
	head, err := r.Read()
	if err == io.EOF {
		return 0, errors.New("no header")
	}
	if err != nil {
		return 0, err
	}
	pos := map[string]int{}
	for i, h := range head {
		pos[h] = i
	}
	var ix [4]int
	for i, name := range []string{"id", "account", "amount", "currency"} {
		p, ok := pos[name]
		if !ok {
			return 0, fmt.Errorf("line 1: no %s column in the header (%s)", name, strings.Join(head, ","))
		}
		ix[i] = p
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	w := csv.NewWriter(bw)
	if err := w.Write(OutHeader); err != nil {
		return 0, err
	}
	row := make([]string, 5)
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return records, err // a csv.ParseError names the line and column
		}
		records++
		cents, err := textCents(rec[ix[2]])
		if err != nil {
			line, _ := r.FieldPos(ix[2])
			return records, fmt.Errorf("line %d: field amount: %w", line, err)
		}
		if cents < MinCents {
			continue
		}
		row[0], row[1] = rec[ix[0]], rec[ix[1]]
		row[2] = strconv.FormatInt(cents, 10)
		row[3] = strings.ToLower(rec[ix[3]])
		row[4] = strconv.FormatBool(cents > BigCents)
		if err := w.Write(row); err != nil {
			return records, err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return records, err
	}
	return records, bw.Flush()
}

// textCents reads a decimal amount ("-12.5", "3", "7.250") as cents,
// digit by digit: the baseline's own parser, independent of the record
// package's. Unlike record.ParseDecimal, it takes no exponent (1e3).
func textCents(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("missing")
	}
	t := s
	neg := false
	switch t[0] {
	case '-':
		neg, t = true, t[1:]
	case '+':
		t = t[1:]
	}
	whole, frac, _ := strings.Cut(t, ".")
	if whole == "" && frac == "" {
		return 0, fmt.Errorf("invalid decimal %q", s)
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > 2 {
		return 0, fmt.Errorf("%s %w", s, errFraction)
	}
	var c int64
	for _, part := range []string{whole, frac + "00"[len(frac):]} {
		for i := 0; i < len(part); i++ {
			d := part[i]
			if d < '0' || d > '9' {
				return 0, fmt.Errorf("invalid decimal %q", s)
			}
			if c > (math.MaxInt64-int64(d-'0'))/10 {
				return 0, fmt.Errorf("decimal %q: %w", s, record.ErrRange)
			}
			c = c*10 + int64(d-'0')
		}
	}
	if neg {
		c = -c
	}
	return c, nil
}
