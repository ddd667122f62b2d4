package files

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

// FixedFormat is the file model of a fixed-width or binary record file, in
// the spirit of NopRecord's file models: an optional header record (the
// first), body records (what a reader emits and a writer is given) and an
// optional trailer record (the last), each a sequence of fields of fixed
// length. The same model reads and writes a file.
//
// In a flow it is declared inside the reader or writer block. A record's
// fields are field blocks (and filler blocks), in order, or — more compact,
// one field a line — a fields list of objects (an object with no name is a
// filler). HCL takes only one attribute in a one-line block, so a field
// block with several attributes spans lines:
//
//	reader "fixed" {
//	  path             = "in/bank.dat"
//	  record_separator = "\n"   # "" for binary files; "\n" also reads CRLF lines
//
//	  header {
//	    fields = [
//	      { name = "tag",  length = 1, value = "H" },   # a constant: checked on read, written as is
//	      { name = "bank", length = 4 },
//	      { name = "date", length = 8, type = "timestamp", format = "20060102" },
//	      { length = 29 },                               # a filler
//	    ]
//	  }
//	  body {
//	    length = 42                                      # optional: checked against the fields
//	    field "tag" {
//	      length = 1
//	      value  = "D"
//	    }
//	    field "account" { length = 10 }
//	    field "amount" {
//	      length = 12
//	      type   = "decimal"
//	      scale  = 2                                     # "000000012345" is 123.45
//	      pad    = "0"
//	    }
//	    field "count" { codec = "int32be" }              # binary codecs imply their length
//	    filler { length = 15 }
//	  }
//	  trailer {
//	    fields = [
//	      { name = "tag",   length = 1,  value = "T" },
//	      { name = "count", length = 9,  type = "int", pad = "0", check = "count" },
//	      { name = "total", length = 15, type = "decimal", scale = 2, pad = "0", sum_of = "amount" },
//	      { length = 17 },
//	    ]
//	  }
//	}
//
// A writer "fixed" takes the same blocks, plus header_values and
// trailer_values (maps of field name to value, such as
// { bank = "B001", date = param.biz_date }).
//
// Field attributes:
//
//   - length: bytes; required for text and packed fields, implied by the
//     binary integer and float codecs.
//   - type: string (default for text), int (default for integer codecs),
//     decimal (default for packed), float (default for float codecs),
//     bool or timestamp.
//   - codec: text (default), int8, uint8, int16be, int16le, uint16be,
//     uint16le, int32be, int32le, uint32be, uint32le, int64be, int64le,
//     float32be, float32le, float64be, float64le, or packed (packed BCD,
//     COBOL COMP-3: two digits a byte, the last nibble the sign).
//   - align: left or right (default: right for numbers, left otherwise).
//   - pad: one ASCII character filling the rest of a text field (default
//     " "). Numbers padded with "0" must be right-aligned; a negative one
//     is written "-0001234". An all-zero number reads as 0, an all-blank
//     one as null.
//   - scale: implied decimal places of a decimal ("000001234" with scale 2
//     is 12.34); with an integer or packed codec, the integer's units (an
//     int32 of cents). Text with a point is read as written, brought to
//     the scale. Without a scale, text decimals are written with a point.
//   - format: a Go time layout for timestamps (default "20060102").
//   - trim: strip the padding of strings when reading (default true).
//   - bool_values: the two texts of true and false (default
//     ["true", "false"]; ["Y", "N"] fits a one-byte field). Integer codecs
//     hold bools as 1 and 0.
//   - value: a constant. Reading checks the field holds it (record type
//     tags); writing writes it whatever the record says.
//   - check = "count" (trailer only): the number of body records. A
//     reader fails when the trailer's count differs from the number of
//     body records in the file (readable or not); a writer writes the
//     number it wrote.
//   - sum_of = "FIELD" (trailer only): the exact sum of an int or decimal
//     body field, checked by a reader (unless unreadable records were
//     skipped: then it logs a warning) and written by a writer.
//
// A filler { length = N  pad = " " } is a span a reader ignores and a
// writer fills with pad.
//
// Records end with record_separator (default "\n"; at most 8 bytes; the
// last record may lack it). With a separator and only text fields, a
// reader reads the file line by line, so a record of the wrong length is
// caught and the next one read; with binary fields, or with no separator,
// records are read by their lengths (and, with a separator, a record whose
// separator is not where it should be is skipped up to the next one). The
// trailer is the last record of the file.
//
// Unreadable body records — a truncated last record, a record of the
// wrong length, a non-numeric character in a numeric field, bytes that are
// not UTF-8 in a text field, a constant that does not match — go to the
// skip policy with their position, "in/bank.dat@128 (record 3)" (the byte
// offset and the record's number in the file, header included: its line
// number in a text file), and the field with its bytes in the record. A
// bad header or trailer, or a trailer whose count or sum does not match,
// fails the read, naming the file and byte offset.
//
// A writer encodes each record field by field: a record lacking a body
// field (other than fillers and constants), or a value that does not fit
// its field — too long, too many decimal places, out of an integer
// codec's range, holding the separator — is an item error naming the
// field, for the skip policy; nothing is cut short.
type FixedFormat struct {
	// Separator ends every record ("" for none).
	Separator string
	// Header and Trailer are optional; Body is required.
	Header, Body, Trailer *FixedRecord

	sums []*FixedField // the trailer's sum_of fields
}

// FixedRecord is one kind of record of a FixedFormat.
type FixedRecord struct {
	// Role is "header", "body" or "trailer", for messages.
	Role   string
	Fields []*FixedField
	// Length is the record's length in bytes, without the separator.
	Length int

	schema *record.Schema
	// valueIdx maps a field to its index in the schema (-1 for fillers).
	valueIdx []int
	binary   bool
}

// Schema returns the schema of the records it decodes (fillers left out).
func (r *FixedRecord) Schema() *record.Schema { return r.schema }

// FixedField is one field of a FixedRecord; a filler when Name is empty.
// The zero values of the optional settings are the defaults of the HCL
// attributes.
type FixedField struct {
	Name   string
	Length int         // bytes; 0 with a binary codec: the codec's size
	Kind   record.Kind // record.Null: the codec's default (string, int, float, decimal)
	Codec  string      // "" is text
	Align  string      // "left" or "right"; "": right for numbers, left otherwise
	Pad    string      // one ASCII character; "" is a space
	// Scale is the number of implied decimal places (0: text decimals are
	// written with their point).
	Scale       int
	Format      string // Go time layout; "" is 20060102
	KeepPadding bool   // trim = false
	BoolValues  [2]string
	// Value is a constant: checked on read, written whatever the record holds.
	Value *record.Value
	// Check is "count" for a trailer field holding the body record count.
	Check string
	// SumOf names the body field whose sum a trailer field holds.
	SumOf string

	// Offset is the field's start in its record, set by Init.
	Offset int

	right  bool
	pad    byte
	codec  fixedCodec
	sumIdx int // index of the SumOf field in the body schema
}

func (f *FixedField) filler() bool { return f.Name == "" }

func (f *FixedField) label() string {
	if f.filler() {
		return fmt.Sprintf("filler (bytes %d-%d)", f.Offset+1, f.Offset+f.Length)
	}
	return fmt.Sprintf("field %s (bytes %d-%d)", f.Name, f.Offset+1, f.Offset+f.Length)
}

// fixedCodec is how a field's bytes hold its value.
type fixedCodec struct {
	name   string
	size   int  // bytes; 0 for text and packed, whose length the field gives
	kind   byte // 't' text, 'i' signed integer, 'u' unsigned, 'f' float, 'p' packed decimal
	little bool
}

var fixedCodecs = func() map[string]fixedCodec {
	m := map[string]fixedCodec{
		"text":   {name: "text", kind: 't'},
		"packed": {name: "packed", kind: 'p'},
		"int8":   {name: "int8", size: 1, kind: 'i'},
		"uint8":  {name: "uint8", size: 1, kind: 'u'},
	}
	for _, bits := range []int{16, 32, 64} {
		for _, end := range []string{"be", "le"} {
			n := fmt.Sprintf("int%d%s", bits, end)
			m[n] = fixedCodec{name: n, size: bits / 8, kind: 'i', little: end == "le"}
			if bits < 64 {
				n = "u" + n
				m[n] = fixedCodec{name: n, size: bits / 8, kind: 'u', little: end == "le"}
			}
			if bits > 16 {
				n = fmt.Sprintf("float%d%s", bits, end)
				m[n] = fixedCodec{name: n, size: bits / 8, kind: 'f', little: end == "le"}
			}
		}
	}
	return m
}()

func fixedCodecNames() []string {
	return []string{"text", "int8", "uint8", "int16be", "int16le", "uint16be", "uint16le", "int32be", "int32le",
		"uint32be", "uint32le", "int64be", "int64le", "float32be", "float32le", "float64be", "float64le", "packed"}
}

// Attribute specs of the HCL blocks.

var fixedFieldAttrs = []flow.Attr{
	{Name: "length", Type: cty.Number, Doc: "The field's length in bytes. Required for text and packed fields; binary integer and float codecs imply it (giving it anyway is checked)."},
	{Name: "type", Type: cty.String, OneOf: []string{"string", "int", "decimal", "float", "bool", "timestamp"},
		Doc: "The value's type: string (the default for text), int (the default for integer codecs), decimal (exact), float (the default for float codecs), bool or timestamp."},
	{Name: "codec", Type: cty.String, Default: cty.StringVal("text"), OneOf: fixedCodecNames(),
		Doc: "How the bytes hold the value: text, a big- or little-endian integer (int8 … int64le, unsigned uint8 … uint32le), an IEEE float (float32be … float64le), or packed (packed BCD, COMP-3)."},
	{Name: "align", Type: cty.String, OneOf: []string{"left", "right"},
		Doc: "Where a text value sits in its field: left or right. Default: right for numbers, left for the rest."},
	{Name: "pad", Type: cty.String, Default: cty.StringVal(" "),
		Doc: "The one ASCII character that fills the rest of a text field. Numbers padded with \"0\" must be right-aligned."},
	{Name: "scale", Type: cty.Number,
		Doc: "Implied decimal places of a decimal written without a point (\"000001234\" with scale 2 is 12.34); also for integer and packed codecs holding decimals. Writers write decimals this way when it is set."},
	{Name: "format", Type: cty.String, Default: cty.StringVal("20060102"), Doc: "The Go time layout of a timestamp field, such as \"20060102\" or \"2006-01-02T15:04:05\"."},
	{Name: "trim", Type: cty.Bool, Default: cty.True, Doc: "Strip the padding of string values when reading (numbers are always stripped)."},
	{Name: "bool_values", Type: cty.List(cty.String), Doc: "The texts of true and false, such as [\"Y\", \"N\"]; default [\"true\", \"false\"]."},
	{Name: "value", Type: cty.String, Doc: "A constant, such as a record type tag: a reader checks the field holds it, a writer writes it."},
	{Name: "check", Type: cty.String, OneOf: []string{"count"},
		Doc: "\"count\" (trailer fields only): the number of body records, checked by a reader and written by a writer."},
	{Name: "sum_of", Type: cty.String, Doc: "The name of a numeric body field (trailer fields only): this field holds its sum, checked by a reader and written by a writer."},
}

var fixedFillerAttrs = []flow.Attr{
	{Name: "length", Type: cty.Number, Required: true, Doc: "The filler's length in bytes."},
	{Name: "pad", Type: cty.String, Default: cty.StringVal(" "), Doc: "The ASCII character a writer fills it with."},
}

var fixedRecordAttrs = []flow.Attr{
	{Name: "length", Type: cty.Number, Doc: "The record's length in bytes without the separator; when given, it must be the sum of the field lengths."},
	{Name: "fields", Type: cty.DynamicPseudoType,
		Doc: "The fields as a list of objects, one line each, instead of field blocks: [{ name = \"account\", length = 10 }, { length = 2 }, ...]. An object takes the attributes of a field block plus name; one without a name is a filler."},
}

func fixedRecordBlock(name, doc string, min int) flow.BlockType {
	return flow.BlockType{Name: name, Min: min, Max: 1, Doc: doc,
		Attrs: func([]string) ([]flow.Attr, error) { return fixedRecordAttrs, nil },
		Blocks: func([]string) []flow.BlockType {
			return []flow.BlockType{
				{Name: "field", Labels: []string{"name"}, Doc: "A field of the record, in order: field \"amount\" { length = 12  type = \"decimal\"  scale = 2 }.",
					Attrs: func([]string) ([]flow.Attr, error) { return fixedFieldAttrs, nil }},
				{Name: "filler", Doc: "Bytes between fields that a reader ignores and a writer fills: filler { length = 2 }.",
					Attrs: func([]string) ([]flow.Attr, error) { return fixedFillerAttrs, nil }},
			}
		}}
}

// FixedBlocks are the nested blocks of a fixed reader or writer.
var FixedBlocks = []flow.BlockType{
	fixedRecordBlock("header", "The first record of the file (optional).", 0),
	fixedRecordBlock("body", "The body records: what a reader emits and a writer writes.", 1),
	fixedRecordBlock("trailer", "The last record of the file (optional), often with a count and sums.", 0),
}

var fixedSeparatorAttr = flow.Attr{Name: "record_separator", Type: cty.String, Default: cty.StringVal("\n"),
	Doc: "What ends each record: \"\\n\" (the default; CRLF lines read too), \"\\r\\n\", or \"\" for binary files whose records follow each other."}

var fixedReaderAttrs = []flow.Attr{
	{Name: "path", Type: cty.String, Required: true, Doc: "The file to read, relative to the flow file."},
	fixedSeparatorAttr,
}

var fixedWriterAttrs = []flow.Attr{
	{Name: "path", Type: cty.String, Required: true, Doc: "The file to write, relative to the flow file; its directory is made if missing."},
	fixedSeparatorAttr,
	{Name: "header_values", Type: cty.DynamicPseudoType, Doc: "The header's field values, a map such as { bank = \"B001\", date = param.biz_date }; fields left out are blank unless they have a value."},
	{Name: "trailer_values", Type: cty.DynamicPseudoType, Doc: "Constant values of trailer fields, as header_values; count and sum fields are computed."},
}

func init() {
	batch.RegisterReader(&batch.ReaderType{
		Name:    "fixed",
		Summary: "Reads a fixed-width or binary record file (header, body and trailer records of fixed-length fields with padding, alignment and text or binary codecs); emits the body records.",
		Attrs:   fixedReaderAttrs,
		Blocks:  FixedBlocks,
		Check:   checkFixed,
		New: func(cfg *batch.Config) (batch.Reader, error) {
			c, err := fileAttrs(cfg, "reader", fixedReaderAttrs)
			if err != nil {
				return nil, err
			}
			f, err := FixedFormatFromConfig(c)
			if err != nil {
				return nil, fmt.Errorf("fixed reader %s: %w", c.String("path"), err)
			}
			return NewFixedReader(filePath(c, c.String("path")), c.String("path"), f, c.Logger), nil
		},
	})
	batch.RegisterWriter(&batch.WriterType{
		Name:    "fixed",
		Summary: "Writes a fixed-width or binary record file: a header once, the records, and a trailer with counts and sums when the step completes; exactly once across restarts.",
		Attrs:   fixedWriterAttrs,
		Blocks:  FixedBlocks,
		Check:   checkFixed,
		New: func(cfg *batch.Config) (batch.Writer, error) {
			c, err := fileAttrs(cfg, "writer", fixedWriterAttrs)
			if err != nil {
				return nil, err
			}
			path := c.String("path")
			f, err := FixedFormatFromConfig(c)
			if err != nil {
				return nil, fmt.Errorf("fixed writer %s: %w", path, err)
			}
			opts := FixedWriterOptions{Name: c.Name}
			if opts.Name == "" {
				opts.Name = c.Type
			}
			if opts.HeaderValues, err = fixedValues(c.Attrs["header_values"], f.Header, "header"); err != nil {
				return nil, fmt.Errorf("fixed writer %s: %w", path, err)
			}
			if opts.TrailerValues, err = fixedValues(c.Attrs["trailer_values"], f.Trailer, "trailer"); err != nil {
				return nil, fmt.Errorf("fixed writer %s: %w", path, err)
			}
			return NewFixedWriter(filePath(c, path), path, f, opts)
		},
	})
}

// FixedFormatFromConfig builds the file model a reader or writer block
// declares.
func FixedFormatFromConfig(c *batch.Config) (*FixedFormat, error) {
	f := &FixedFormat{Separator: "\n"}
	if v, ok := c.Attrs["record_separator"]; ok && !v.IsNull() {
		f.Separator = v.AsString()
	}
	var recs [3]*FixedRecord
	for _, b := range c.Blocks {
		r, err := fixedRecordFromBlock(b)
		if err != nil {
			return nil, err
		}
		switch b.Type {
		case "header":
			recs[0] = r
		case "body":
			recs[1] = r
		case "trailer":
			recs[2] = r
		}
	}
	f.Header, f.Body, f.Trailer = recs[0], recs[1], recs[2]
	if err := f.Init(); err != nil {
		return nil, err
	}
	return f, nil
}

func fixedRecordFromBlock(b *batch.ConfigBlock) (*FixedRecord, error) {
	r := &FixedRecord{Role: b.Type}
	for _, fb := range b.Blocks {
		var f *FixedField
		var err error
		switch fb.Type {
		case "field":
			name := ""
			if len(fb.Labels) > 0 {
				name = fb.Labels[0]
			}
			if name == "" {
				err = fmt.Errorf("a field needs a name: field \"NAME\" { ... }")
				break
			}
			f, err = fixedFieldFromAttrs(name, fb.Attrs)
		case "filler":
			f = &FixedField{Length: int(fixedAttrInt(fb.Attrs, "length", 0)), Pad: fixedAttrString(fb.Attrs, "pad", " ")}
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", fb.Where, b.Type, err)
		}
		r.Fields = append(r.Fields, f)
	}
	if v, ok := b.Attrs["fields"]; ok && !v.IsNull() {
		if len(r.Fields) > 0 {
			return nil, fmt.Errorf("%s: %s: give the fields as field blocks or as a fields list, not both", b.Where, b.Type)
		}
		fs, err := fixedFieldList(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", b.Where, b.Type, err)
		}
		r.Fields = fs
	}
	if v := fixedAttrInt(b.Attrs, "length", -1); v != -1 {
		if v < 1 {
			return nil, fmt.Errorf("%s: %s: length must be a whole number of bytes", b.Where, b.Type)
		}
		r.Length = int(v)
	}
	return r, nil
}

// fixedFieldList reads the fields attribute: a list of objects.
func fixedFieldList(v cty.Value) ([]*FixedField, error) {
	ty := v.Type()
	if !v.IsWhollyKnown() || !(ty.IsListType() || ty.IsTupleType()) {
		return nil, fmt.Errorf("fields must be a list of objects, such as [{ name = \"id\", length = 8 }]")
	}
	var out []*FixedField
	i := 0
	for it := v.ElementIterator(); it.Next(); i++ {
		_, e := it.Element()
		f, _, err := fixedFieldFromValue(e)
		if err != nil {
			if errors.Is(err, errFieldNotObject) {
				return nil, fmt.Errorf("fields[%d] %w", i, err)
			}
			return nil, fmt.Errorf("fields[%d]: %w", i, err)
		}
		out = append(out, f)
	}
	return out, nil
}

var errFieldNotObject = errors.New("must be an object, such as { name = \"id\", length = 8 }")

// fixedFieldFromValue reads one object of a fields list. key names the
// attribute at fault, when the error is about one.
func fixedFieldFromValue(e cty.Value) (f *FixedField, key string, err error) {
	et := e.Type()
	if e.IsNull() || !(et.IsObjectType() || et.IsMapType()) {
		return nil, "", errFieldNotObject
	}
	attrs := map[string]cty.Value{}
	name := ""
	for eit := e.ElementIterator(); eit.Next(); {
		k, ev := eit.Element()
		key := k.AsString()
		if key == "name" {
			if ev.IsNull() || ev.Type() != cty.String {
				return nil, key, fmt.Errorf("name must be a string")
			}
			name = ev.AsString()
			continue
		}
		var spec *flow.Attr
		for j := range fixedFieldAttrs {
			if fixedFieldAttrs[j].Name == key {
				spec = &fixedFieldAttrs[j]
			}
		}
		if spec == nil {
			return nil, key, fmt.Errorf("unknown attribute %q (a field takes name, %s)", key, strings.Join(fixedFieldAttrNames(), ", "))
		}
		if ev.IsNull() {
			continue
		}
		cv, err := convert.Convert(ev, spec.Type)
		if err == nil {
			err = flow.CheckValue(cv, spec)
		}
		if err != nil {
			return nil, key, fmt.Errorf("%s: %v", key, err)
		}
		attrs[key] = cv
	}
	if name == "" {
		for k := range attrs {
			if k != "length" && k != "pad" {
				return nil, k, fmt.Errorf("a filler (an object with no name) takes only length and pad, not %s", k)
			}
		}
		return &FixedField{Length: int(fixedAttrInt(attrs, "length", 0)), Pad: fixedAttrString(attrs, "pad", " ")}, "", nil
	}
	f, err = fixedFieldFromAttrs(name, attrs)
	return f, "", err
}

func fixedFieldAttrNames() []string {
	out := make([]string, len(fixedFieldAttrs))
	for i, a := range fixedFieldAttrs {
		out[i] = a.Name
	}
	return out
}

func fixedAttrString(m map[string]cty.Value, name, def string) string {
	v, ok := m[name]
	if !ok || v.IsNull() || v.Type() != cty.String {
		return def
	}
	return v.AsString()
}

// fixedAttrInt returns a whole number attribute, def when absent, and -2
// when it is not whole (the range checks then report it).
func fixedAttrInt(m map[string]cty.Value, name string, def int64) int64 {
	v, ok := m[name]
	if !ok || v.IsNull() || v.Type() != cty.Number {
		return def
	}
	i, acc := v.AsBigFloat().Int64()
	if acc != big.Exact {
		return -2
	}
	return i
}

func fixedFieldFromAttrs(name string, m map[string]cty.Value) (*FixedField, error) {
	f := &FixedField{Name: name,
		Length: int(fixedAttrInt(m, "length", 0)),
		Codec:  fixedAttrString(m, "codec", ""),
		Align:  fixedAttrString(m, "align", ""),
		Pad:    fixedAttrString(m, "pad", " "),
		Format: fixedAttrString(m, "format", ""),
		Check:  fixedAttrString(m, "check", ""),
		SumOf:  fixedAttrString(m, "sum_of", ""),
	}
	if v, ok := m["trim"]; ok && !v.IsNull() && v.Type() == cty.Bool {
		f.KeepPadding = v.False()
	}
	if v := fixedAttrInt(m, "scale", 0); v != 0 {
		if v < 0 || v > 18 {
			return nil, fmt.Errorf("field %s: scale must be a whole number from 0 to 18", name)
		}
		f.Scale = int(v)
	}
	if t := fixedAttrString(m, "type", ""); t != "" {
		k, err := record.ParseKind(t)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", name, err)
		}
		f.Kind = k
	}
	if v, ok := m["bool_values"]; ok && !v.IsNull() {
		if !v.CanIterateElements() || v.LengthInt() != 2 {
			return nil, fmt.Errorf("field %s: bool_values takes two texts, for true and false", name)
		}
		for i, e := range v.AsValueSlice() {
			if e.IsNull() || e.Type() != cty.String {
				return nil, fmt.Errorf("field %s: bool_values takes two texts, for true and false", name)
			}
			f.BoolValues[i] = e.AsString()
		}
	}
	if v, ok := m["value"]; ok && !v.IsNull() && v.Type() == cty.String {
		c := record.Str(v.AsString()) // converted to the field's type by Init
		f.Value = &c
	}
	return f, nil
}

// Init checks the model and completes it (offsets, defaults, schemas).
// Call it on a FixedFormat built in Go; FixedFormatFromConfig calls it.
func (ff *FixedFormat) Init() error {
	if len(ff.Separator) > 8 {
		return fmt.Errorf("record_separator is %d bytes; at most 8", len(ff.Separator))
	}
	if ff.Body == nil || len(ff.Body.Fields) == 0 {
		return fmt.Errorf("a fixed file model needs a body block with at least one field")
	}
	roles := []string{"header", "body", "trailer"}
	for i, r := range []*FixedRecord{ff.Header, ff.Body, ff.Trailer} {
		if r == nil {
			continue
		}
		r.Role = roles[i]
		if err := r.init(ff.Separator); err != nil {
			return fmt.Errorf("%s: %w", r.Role, err)
		}
	}
	for _, r := range []*FixedRecord{ff.Header, ff.Body} {
		if r == nil {
			continue
		}
		for _, f := range r.Fields {
			if f.Check != "" || f.SumOf != "" {
				return fmt.Errorf("%s: field %s: check and sum_of belong in the trailer", r.Role, f.Name)
			}
		}
	}
	ff.sums = nil
	if ff.Trailer == nil {
		return nil
	}
	for _, f := range ff.Trailer.Fields {
		if f.Check != "" && f.Check != "count" {
			return fmt.Errorf("trailer: field %s: check must be \"count\", not %q", f.Name, f.Check)
		}
		if f.Check != "" && f.SumOf != "" {
			return fmt.Errorf("trailer: field %s: give check or sum_of, not both", f.Name)
		}
		if (f.Check != "" || f.SumOf != "") && f.Kind != record.Int && f.Kind != record.Decimal {
			return fmt.Errorf("trailer: field %s: a count or sum must be of type int or decimal, not %s", f.Name, f.Kind)
		}
		if (f.Check != "" || f.SumOf != "") && f.Value != nil {
			return fmt.Errorf("trailer: field %s: a count or sum cannot also have a value", f.Name)
		}
		if f.SumOf != "" {
			i, ok := ff.Body.schema.Index(f.SumOf)
			if !ok {
				return fmt.Errorf("trailer: field %s: sum_of names %q, which is not a body field (body fields: %s)",
					f.Name, f.SumOf, strings.Join(ff.Body.schema.Names(), ", "))
			}
			if k := ff.Body.schema.Fields[i].Kind; k != record.Int && k != record.Decimal {
				return fmt.Errorf("trailer: field %s: sum_of needs an int or decimal body field; %s is %s", f.Name, f.SumOf, k)
			}
			f.sumIdx = i
			ff.sums = append(ff.sums, f)
		}
	}
	return nil
}

func (r *FixedRecord) init(sep string) error {
	if len(r.Fields) == 0 {
		return fmt.Errorf("no fields")
	}
	var fields []record.Field
	off := 0
	r.valueIdx = make([]int, len(r.Fields))
	r.binary = false
	for i, f := range r.Fields {
		if err := f.init(); err != nil {
			if f.filler() {
				return fmt.Errorf("filler %d: %w", i+1, err)
			}
			return fmt.Errorf("field %s: %w", f.Name, err)
		}
		f.Offset = off
		off += f.Length
		r.valueIdx[i] = -1
		if !f.filler() {
			r.valueIdx[i] = len(fields)
			fields = append(fields, record.Field{Name: f.Name, Kind: f.Kind})
		}
		if f.codec.kind != 't' {
			r.binary = true
		}
		if sep != "" && f.codec.kind == 't' {
			var b []byte
			if f.Value != nil {
				b, _ = f.encode(nil, *f.Value, "")
			} else if f.filler() {
				b = []byte{f.pad}
			}
			if strings.Contains(string(b), sep) || (len(sep) == 1 && f.pad == sep[0]) {
				return fmt.Errorf("%s: its value or padding contains the record separator", f.label())
			}
		}
	}
	if off > 1<<24 {
		return fmt.Errorf("the record is %d bytes long; at most 16 MiB", off)
	}
	if r.Length > 0 && r.Length != off {
		return fmt.Errorf("length is %d but the fields add up to %d bytes", r.Length, off)
	}
	r.Length = off
	s, err := record.NewSchema(fields...)
	if err != nil {
		return err
	}
	r.schema = s
	return nil
}

func (f *FixedField) init() error {
	if f.Codec == "" {
		f.Codec = "text"
	}
	c, ok := fixedCodecs[f.Codec]
	if !ok {
		return fmt.Errorf("unknown codec %q (use %s)", f.Codec, strings.Join(fixedCodecNames(), ", "))
	}
	f.codec = c
	switch {
	case f.Pad == "":
		f.pad = ' '
	case len(f.Pad) == 1 && f.Pad[0] < utf8.RuneSelf:
		f.pad = f.Pad[0]
	default:
		return fmt.Errorf("pad must be one ASCII character, not %q", f.Pad)
	}
	if f.filler() {
		if f.Length <= 0 {
			return fmt.Errorf("length must be at least 1")
		}
		if c.kind != 't' {
			return fmt.Errorf("a filler is text")
		}
		f.Kind = record.Null
		return nil
	}
	if f.Format == "" {
		f.Format = "20060102"
	}
	if f.Kind == record.Null {
		switch c.kind {
		case 'i', 'u':
			f.Kind = record.Int
		case 'f':
			f.Kind = record.Float
		case 'p':
			f.Kind = record.Decimal
		default:
			f.Kind = record.String
		}
	}
	switch f.Kind {
	case record.String, record.Int, record.Decimal, record.Float, record.Bool, record.Time:
	default:
		return fmt.Errorf("type %s cannot be held in a fixed field", f.Kind)
	}
	numeric := f.Kind == record.Int || f.Kind == record.Decimal || f.Kind == record.Float
	switch f.Align {
	case "":
		f.right = numeric
	case "left", "right":
		f.right = f.Align == "right"
	default:
		return fmt.Errorf("align must be left or right, not %q", f.Align)
	}
	switch {
	case c.size > 0:
		if f.Length != 0 && f.Length != c.size {
			return fmt.Errorf("codec %s is %d bytes, but length is %d", c.name, c.size, f.Length)
		}
		f.Length = c.size
	case f.Length <= 0:
		return fmt.Errorf("length is required and must be at least 1 (a %s field)", c.name)
	}
	if f.Length > 1<<20 {
		return fmt.Errorf("length %d is too long (at most 1 MiB)", f.Length)
	}
	switch c.kind {
	case 'i', 'u':
		if f.Kind != record.Int && f.Kind != record.Decimal && f.Kind != record.Bool {
			return fmt.Errorf("codec %s holds an int, a decimal (with scale) or a bool, not a %s", c.name, f.Kind)
		}
	case 'f':
		if f.Kind != record.Float {
			return fmt.Errorf("codec %s holds a float, not a %s (floats are not exact: for money use an integer codec with a scale)", c.name, f.Kind)
		}
	case 'p':
		if f.Kind != record.Int && f.Kind != record.Decimal {
			return fmt.Errorf("codec packed holds an int or a decimal, not a %s", f.Kind)
		}
		if 2*f.Length-1 > 18 {
			return fmt.Errorf("a packed field holds at most 18 digits (length 9); length %d would hold %d", f.Length, 2*f.Length-1)
		}
	}
	if f.Scale < 0 || f.Scale > 18 {
		return fmt.Errorf("scale must be from 0 to 18")
	}
	if f.Scale > 0 && f.Kind != record.Decimal {
		return fmt.Errorf("scale is for decimal fields; this one is %s", f.Kind)
	}
	if c.kind == 't' && numeric && f.pad == '0' && !f.right {
		return fmt.Errorf("a number padded with \"0\" must be right-aligned (left-aligned, 12 and 120 would look alike)")
	}
	if f.Kind == record.Bool {
		if f.BoolValues[0] == "" && f.BoolValues[1] == "" {
			f.BoolValues = [2]string{"true", "false"}
		}
		if f.BoolValues[0] == "" || f.BoolValues[1] == "" || strings.EqualFold(f.BoolValues[0], f.BoolValues[1]) {
			return fmt.Errorf("bool_values needs two different, non-empty texts")
		}
		if c.kind == 't' && (len(f.BoolValues[0]) > f.Length || len(f.BoolValues[1]) > f.Length) {
			return fmt.Errorf("%q and %q do not fit in %d byte(s); set bool_values, such as [\"Y\", \"N\"]", f.BoolValues[0], f.BoolValues[1], f.Length)
		}
	}
	if f.Value != nil && f.Value.Kind() == record.String && f.Kind != record.String {
		v, err := f.parseLoose(f.Value.Str())
		if err != nil {
			return fmt.Errorf("value: %w", err)
		}
		f.Value = &v
	}
	if f.Value != nil {
		if _, err := f.encode(nil, *f.Value, ""); err != nil {
			return fmt.Errorf("value: %w", err)
		}
	}
	return nil
}

// fixedValues converts a header_values or trailer_values map.
func fixedValues(v cty.Value, r *FixedRecord, attr string) (map[string]record.Value, error) {
	if v == cty.NilVal || v.IsNull() {
		return nil, nil
	}
	if !v.IsWhollyKnown() || !(v.Type().IsMapType() || v.Type().IsObjectType()) {
		return nil, fmt.Errorf("%s_values must be a map of field names to values", attr)
	}
	if r == nil {
		return nil, fmt.Errorf("%s_values is given but there is no %s block", attr, attr)
	}
	out := map[string]record.Value{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		name := k.AsString()
		if _, ok := r.schema.Index(name); !ok {
			return nil, fmt.Errorf("%s_values: the %s has no field %q (fields: %s)", attr, attr, name, strings.Join(r.schema.Names(), ", "))
		}
		val, err := fixedCtyValue(e)
		if err != nil {
			return nil, fmt.Errorf("%s_values: %s: %w", attr, name, err)
		}
		out[name] = val
	}
	return out, nil
}

func fixedCtyValue(v cty.Value) (record.Value, error) {
	if v.IsNull() {
		return record.Value{}, nil
	}
	switch v.Type() {
	case cty.String:
		return record.Str(v.AsString()), nil
	case cty.Bool:
		return record.BoolVal(v.True()), nil
	case cty.Number:
		bf := v.AsBigFloat()
		if i, acc := bf.Int64(); acc == big.Exact {
			return record.IntVal(i), nil
		}
		return record.ParseDecimal(bf.Text('f', -1))
	}
	return record.Value{}, fmt.Errorf("a %s cannot be written to a fixed field", v.Type().FriendlyName())
}
