package files

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf8"
	"unsafe"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

func init() {
	batch.RegisterReader(&batch.ReaderType{
		Name:    "csv",
		Summary: "Reads a CSV file (RFC 4180): one record per row, fields named by the header or by columns, typed by schema.",
		Attrs:   csvReaderAttrs,
		New:     func(c *batch.Config) (batch.Reader, error) { return newCSVReader(c) },
		Check:   checkCSVReader,
	})
}

var (
	_ batch.Reader = (*csvReader)(nil)
	_ batch.Sizer  = (*csvReader)(nil)
	_ io.Closer    = (*csvReader)(nil)
	_ batch.Writer = (*csvWriter)(nil)
	_ batch.Reader = (*jsonlReader)(nil)
	_ batch.Sizer  = (*jsonlReader)(nil)
	_ io.Closer    = (*jsonlReader)(nil)
	_ batch.Writer = (*jsonlWriter)(nil)
)

var csvReaderAttrs = []flow.Attr{
	{Name: "path", Type: cty.String, Required: true,
		Doc: "The file to read; a relative path is relative to the flow file's directory."},
	{Name: "header", Type: cty.Bool, Default: cty.True,
		Doc: "Whether the first row (after skip_rows and comment lines) names the fields."},
	{Name: "columns", Type: cty.List(cty.String),
		Doc: "The field names, in file order: required when header is false; with a header, they replace its names (the counts must match)."},
	{Name: "delimiter", Type: cty.String, Default: cty.StringVal(","),
		Doc: "The field separator: one character, such as \",\", \";\" or \"\\t\"."},
	{Name: "quote", Type: cty.String, Default: cty.StringVal(`"`),
		Doc: "The quote character; \"\" turns quoting off. A field that starts with it may hold delimiters, newlines and doubled quotes."},
	{Name: "comment", Type: cty.String,
		Doc: "A prefix, such as \"#\": lines that start with it are skipped."},
	{Name: "schema", Type: cty.Map(cty.String),
		Doc: "Field types by field name: string, int, decimal, float, bool or timestamp (RFC 3339 or a date). Fields not listed stay strings; an empty field of a typed column is null."},
	{Name: "skip_rows", Type: cty.Number, Default: cty.NumberIntVal(0),
		Doc: "How many lines to skip at the start of the file, before the header."},
	{Name: "trim_space", Type: cty.Bool, Default: cty.False,
		Doc: "Whether to trim spaces and tabs around fields (outside the quotes of quoted fields)."},
}

// csvReader reads records from a CSV file.
//
// The common case, a row with no quote character, is split in place: one
// string is made for the row and every field is a slice of it. Records
// and their values are cut from slabs allocated a few hundred records at a
// time, so a record may keep its neighbours' memory alive as long as it
// lives. Rows that hold the quote character take the careful path, which
// follows RFC 4180 (quoted fields with delimiters, doubled quotes and
// newlines).
type csvReader struct {
	path    string // as configured: records' Source, messages
	f       *os.File
	in      *fileLines
	size    int64
	done    atomic.Int64 // bytes read, for Size
	dataOff int64        // where records start (after the header)
	dataLn  int64

	schema  *record.Schema
	names   []string
	kinds   []record.Kind
	typed   bool
	delim   byte
	quote   byte // 0: no quoting
	comment []byte
	trim    bool

	recSlab []record.Record
	valSlab []record.Value
	raw     []byte   // careful path: the record's lines
	fb      []byte   // careful path: field bytes
	ends    []int    // careful path: end of each field in fb
	fields  []string // header fields
	ioErr   error    // careful path: a read error, which ends the run
	arena   []byte   // see str
}

// csvBadRow is a row that cannot be read: where (path:line), its text and
// why, naming the field.
type csvBadRow struct {
	where string
	raw   string
	err   error
}

const csvSlab = 64

func newCSVReader(cfg *batch.Config) (*csvReader, error) {
	c, err := fileAttrs(cfg, "reader", csvReaderAttrs)
	if err != nil {
		return nil, err
	}
	r := &csvReader{path: c.String("path"), trim: c.Bool("trim_space")}
	fail := func(err error) (*csvReader, error) {
		if r.f != nil {
			_ = r.f.Close()
		}
		return nil, fmt.Errorf("csv reader %s: %w", r.path, err)
	}
	if r.delim, err = fileByte(c, "delimiter", false); err != nil {
		return fail(err)
	}
	if r.quote, err = fileByte(c, "quote", true); err != nil {
		return fail(err)
	}
	if r.quote != 0 && r.quote == r.delim {
		return fail(errors.New("quote and delimiter must differ"))
	}
	if cm := c.String("comment"); cm != "" {
		r.comment = []byte(cm)
	}
	columns, err := fileStrings(c, "columns")
	if err != nil {
		return fail(err)
	}
	types, err := fileStringMap(c, "schema")
	if err != nil {
		return fail(err)
	}
	header := c.Bool("header")
	if !header && len(columns) == 0 {
		return fail(errors.New("header = false needs columns, the field names"))
	}
	skip := c.Int("skip_rows")
	if skip < 0 {
		return fail(errors.New("skip_rows cannot be negative"))
	}
	if r.f, err = os.Open(filePath(c, r.path)); err != nil {
		return fail(err)
	}
	fi, err := r.f.Stat()
	if err != nil {
		return fail(err)
	}
	r.size = fi.Size()
	r.in = newFileLines(r.f, 1<<20)
	if err := r.in.skipBOM(); err != nil {
		return fail(err)
	}
	for i := int64(0); i < skip; i++ {
		if _, err := r.in.next(); err == io.EOF {
			break
		} else if err != nil && err != errLineTooLong {
			return fail(err)
		}
	}
	names := columns
	if header {
		hdr, line, err := r.readHeader()
		switch {
		case err == io.EOF && len(columns) == 0:
			return fail(errors.New("no header: the file is empty"))
		case err == io.EOF:
		case err != nil:
			return fail(fmt.Errorf("header (line %d): %w", line, err))
		case len(columns) > 0 && len(columns) != len(hdr):
			return fail(fmt.Errorf("columns lists %d names but the header (line %d) has %d fields", len(columns), line, len(hdr)))
		case len(columns) == 0:
			names = hdr
			for i, n := range names {
				if n == "" {
					return fail(fmt.Errorf("field %d of the header (line %d) has no name", i+1, line))
				}
			}
		}
	}
	for i, n := range names {
		if n == "" {
			return fail(fmt.Errorf("column %d has no name", i+1))
		}
	}
	fields := make([]record.Field, len(names))
	for i, n := range names {
		fields[i] = record.Field{Name: n, Kind: record.String}
	}
	var unknown []string
	for name, tn := range types {
		k, err := record.ParseKind(tn)
		if err != nil {
			return fail(fmt.Errorf("schema: field %s: %w", name, err))
		}
		i := indexOf(names, name)
		if i < 0 {
			unknown = append(unknown, name)
			continue
		}
		fields[i].Kind = k
		if k != record.String {
			r.typed = true
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fail(fmt.Errorf("schema names %s, not among the fields (%s)", strings.Join(unknown, ", "), strings.Join(names, ", ")))
	}
	if r.schema, err = record.NewSchema(fields...); err != nil {
		return fail(err)
	}
	r.names = names
	r.kinds = make([]record.Kind, len(fields))
	for i, f := range fields {
		r.kinds[i] = f.Kind
	}
	r.dataOff, r.dataLn = r.in.offset, r.in.line
	r.done.Store(r.dataOff)
	return r, nil
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// readHeader reads the first row that is neither blank nor a comment.
func (r *csvReader) readHeader() ([]string, int64, error) {
	for {
		ln := r.in.line
		line, err := r.in.next()
		if err != nil {
			return nil, ln, err
		}
		if r.skippable(line) {
			continue
		}
		fields, bad := r.split(line, ln)
		if bad != nil {
			return nil, ln, bad.err
		}
		return fields, ln, nil
	}
}

// skippable reports whether a line is blank or a comment.
func (r *csvReader) skippable(line []byte) bool {
	if len(line) <= 2 && len(trimEOL(line)) == 0 {
		return true
	}
	return len(r.comment) > 0 && bytes.HasPrefix(line, r.comment)
}

// Schema returns the schema the reader's records share.
func (r *csvReader) Schema() *record.Schema { return r.schema }

// Load reads up to max records.
// ReadAhead implements batch.ReadAhead: Load uses only c.ReadFailed.
func (r *csvReader) ReadAhead() bool { return true }

func (r *csvReader) Load(c *batch.Chunk, max int) ([]*record.Record, error) {
	out := make([]*record.Record, 0, min(max, 4096))
	for len(out) < max {
		rec, bad, err := r.read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", r.path, err)
		}
		if bad != nil {
			if ferr := c.ReadFailed(bad.where, bad.raw, bad.err); ferr != nil {
				return nil, ferr
			}
			continue
		}
		out = append(out, rec)
	}
	r.done.Store(r.in.offset)
	return out, nil
}

// read returns the next record, or the row that could not be read, or an
// error (io.EOF at the end).
func (r *csvReader) read() (*record.Record, *csvBadRow, error) {
	for {
		off, ln := r.in.offset, r.in.line
		line, err := r.in.next()
		if err == errLineTooLong {
			return nil, &csvBadRow{where: r.where(ln), err: err}, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if r.skippable(line) {
			continue
		}
		nf := len(r.names)
		if len(r.valSlab) < nf {
			r.valSlab = make([]record.Value, csvSlab*max(nf, 1))
		}
		vals := r.valSlab[:nf:nf]
		var bad *csvBadRow
		if r.quote == 0 || bytes.IndexByte(line, r.quote) < 0 {
			bad = r.fast(line, ln, vals)
		} else {
			bad = r.careful(line, off, ln, vals)
		}
		if r.ioErr != nil {
			return nil, nil, r.ioErr
		}
		if bad != nil {
			return nil, bad, nil
		}
		r.valSlab = r.valSlab[nf:]
		if len(r.recSlab) == 0 {
			r.recSlab = make([]record.Record, csvSlab)
		}
		rec := &r.recSlab[0]
		r.recSlab = r.recSlab[1:]
		rec.Schema, rec.Values, rec.Source, rec.Line, rec.Offset = r.schema, vals, r.path, ln, off
		return rec, nil, nil
	}
}

func (r *csvReader) where(line int64) string { return r.path + ":" + strconv.FormatInt(line, 10) }

// trimEOL drops a line's "\n" or "\r\n" (or the "\r" that ends a file).
func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

func trimBlank(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// fast splits a row without quotes: one string for the row, fields are
// slices of it.
func (r *csvReader) fast(line []byte, ln int64, vals []record.Value) *csvBadRow {
	s := r.str(trimEOL(line))
	if i := invalidUTF8(s); i >= 0 {
		start := strings.LastIndexByte(s[:i], r.delim) + 1
		return r.badUTF8(s, ln, strings.Count(s[:i], string(r.delim)), i-start, s[i])
	}
	nf := len(vals)
	k, p := 0, 0
	if !r.typed && !r.trim {
		// The common case, kept lean: every field a string.
		for {
			i := strings.IndexByte(s[p:], r.delim)
			if k == nf {
				return r.ragged(s, ln, k+1+strings.Count(s[p:], string(r.delim)))
			}
			if i < 0 {
				vals[k] = record.Str(s[p:])
				k++
				break
			}
			vals[k] = record.Str(s[p : p+i])
			k++
			p += i + 1
		}
	} else {
		for {
			i := strings.IndexByte(s[p:], r.delim)
			end := len(s)
			if i >= 0 {
				end = p + i
			}
			if k == nf {
				return r.ragged(s, ln, k+1+strings.Count(s[p:], string(r.delim)))
			}
			text := s[p:end]
			if r.trim {
				text = trimBlank(text)
			}
			if err := r.set(vals, k, text); err != nil {
				return &csvBadRow{where: r.where(ln), raw: s, err: err}
			}
			k++
			if i < 0 {
				break
			}
			p = end + 1
		}
	}
	if k != nf {
		return r.ragged(s, ln, k)
	}
	return nil
}

// csvArena is the size of the blocks rows' text is copied into: one
// allocation for many rows instead of one a row.
const csvArena = 32 << 10

// str returns b as a string. Short ones are cut from an arena block that
// is only ever appended to, so the strings made from it never change; a
// block lives as long as any string cut from it.
func (r *csvReader) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > csvArena/8 {
		return string(b)
	}
	if cap(r.arena)-len(r.arena) < len(b) {
		r.arena = make([]byte, 0, csvArena)
	}
	n := len(r.arena)
	r.arena = append(r.arena, b...)
	return unsafe.String(&r.arena[n], len(b))
}

// set stores field k's text (trimmed already) as its schema's type.
func (r *csvReader) set(vals []record.Value, k int, text string) error {
	if !r.typed || r.kinds[k] == record.String {
		vals[k] = record.Str(text)
		return nil
	}
	v, err := record.Parse(r.kinds[k], text)
	if err != nil {
		return fmt.Errorf("field %s: %w", r.names[k], err)
	}
	vals[k] = v
	return nil
}

func (r *csvReader) ragged(raw string, ln int64, got int) *csvBadRow {
	nf := len(r.names)
	var err error
	if got < nf {
		err = fmt.Errorf("%d fields, expected %d: field %s is missing", got, nf, r.names[got])
	} else {
		err = fmt.Errorf("%d fields, expected %d (%s): field %d is one too many", got, nf, strings.Join(r.names, ", "), nf+1)
	}
	return &csvBadRow{where: r.where(ln), raw: raw, err: err}
}

// careful reads a row that holds the quote character, reading more lines
// while a quoted field goes on; off and ln are where the row starts.
func (r *csvReader) careful(first []byte, off, ln int64, vals []record.Value) *csvBadRow {
	firstLen := len(first) // first itself may be overwritten by reading on
	n, bad := r.parse(first, ln)
	if bad != nil {
		bad.raw = string(trimEOL(r.raw))
		if bad.err == errUnterminated || errors.Is(bad.err, errLineTooLong) {
			// Go on from the row's second line rather than lose the rest
			// of the file to a stray quote: the row skipped is its first
			// line.
			if err := r.in.seek(off+int64(firstLen), ln+1); err != nil {
				r.ioErr = err
			}
			bad.raw = string(trimEOL(r.raw[:firstLen]))
			bad.err = fmt.Errorf("field %s: %w", r.fieldName(n), bad.err)
		}
		return bad
	}
	s := r.str(r.fb)
	if i := invalidUTF8(s); i >= 0 {
		k, start := 0, 0
		for k < len(r.ends)-1 && r.ends[k] <= i {
			start = r.ends[k]
			k++
		}
		return r.badUTF8(string(trimEOL(r.raw)), ln, k, i-start, s[i])
	}
	if len(r.ends) != len(vals) {
		return r.ragged(string(trimEOL(r.raw)), ln, len(r.ends))
	}
	p := 0
	for k, e := range r.ends {
		if err := r.set(vals, k, s[p:e]); err != nil {
			return &csvBadRow{where: r.where(ln), raw: string(trimEOL(r.raw)), err: err}
		}
		p = e
	}
	return nil
}

// invalidUTF8 returns the index of the first byte of s that is not
// UTF-8, or -1.
func invalidUTF8(s string) int {
	if utf8.ValidString(s) {
		return -1
	}
	for i := 0; i < len(s); {
		c, n := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// badUTF8 is a row with bytes that are not UTF-8 (a file in another
// encoding): an error, rather than text that writers would mangle.
// field is the field's index, off the offset of the byte b in it.
func (r *csvReader) badUTF8(raw string, ln int64, field, off int, b byte) *csvBadRow {
	return &csvBadRow{where: r.where(ln), raw: raw, err: fmt.Errorf("field %s: byte %d (0x%02X) is not UTF-8: convert the file to UTF-8",
		r.fieldName(field), off+1, b)}
}

func (r *csvReader) fieldName(k int) string {
	if k < len(r.names) {
		return r.names[k]
	}
	return strconv.Itoa(k + 1)
}

var errUnterminated = errors.New("quoted field not terminated")

// split parses one row (the header) into fields.
func (r *csvReader) split(first []byte, ln int64) ([]string, *csvBadRow) {
	n, bad := r.parse(first, ln)
	if bad != nil {
		bad.err = fmt.Errorf("field %d: %w", n+1, bad.err)
		return nil, bad
	}
	s := string(r.fb)
	r.fields = r.fields[:0]
	p := 0
	for _, e := range r.ends {
		r.fields = append(r.fields, s[p:e])
		p = e
	}
	return r.fields, nil
}

// parse splits a row by RFC 4180 into r.fb and r.ends, reading more lines
// while a quoted field goes on; the row's text ends up in r.raw. On error
// it returns the index of the field at fault.
func (r *csvReader) parse(first []byte, ln int64) (int, *csvBadRow) {
	r.raw = append(r.raw[:0], first...)
	r.fb, r.ends = r.fb[:0], r.ends[:0]
	raw := r.raw
	p := 0
	for {
		k := len(r.ends)
		if r.trim {
			for p < len(raw) && (raw[p] == ' ' || raw[p] == '\t') {
				p++
			}
		}
		if r.quote == 0 || p >= len(raw) || raw[p] != r.quote {
			// Unquoted: up to the delimiter or the end of the line. A
			// quote inside is taken as it is.
			end := len(raw)
			if i := bytes.IndexByte(raw[p:], r.delim); i >= 0 {
				end = p + i
			}
			if i := bytes.IndexByte(raw[p:end], '\n'); i >= 0 {
				end = p + i
			}
			atDelim := end < len(raw) && raw[end] == r.delim
			field := raw[p:end]
			if !atDelim {
				field = trimEOL(raw[p:]) // the line's end: drop "\n" or "\r\n"
			}
			if r.trim {
				for len(field) > 0 && (field[len(field)-1] == ' ' || field[len(field)-1] == '\t') {
					field = field[:len(field)-1]
				}
			}
			r.fb = append(r.fb, field...)
			r.ends = append(r.ends, len(r.fb))
			if !atDelim {
				return 0, nil
			}
			p = end + 1
			continue
		}
		// Quoted: up to a quote that is not doubled.
		p++
		for {
			i := bytes.IndexByte(raw[p:], r.quote)
			if i < 0 {
				// The field goes on past the line's end.
				r.fb = append(r.fb, raw[p:]...)
				if len(raw) > fileMaxLine {
					return k, &csvBadRow{where: r.where(ln), err: fmt.Errorf("%w: %w", errUnterminated, errLineTooLong)}
				}
				line, err := r.in.next()
				switch {
				case err == io.EOF:
					return k, &csvBadRow{where: r.where(ln), err: errUnterminated}
				case err == errLineTooLong:
					return k, &csvBadRow{where: r.where(ln), err: fmt.Errorf("%w: %w", errUnterminated, errLineTooLong)}
				case err != nil:
					r.ioErr = err
					return k, &csvBadRow{where: r.where(ln), err: err}
				}
				p = len(raw)
				raw = append(raw, line...)
				r.raw = raw
				continue
			}
			r.fb = append(r.fb, raw[p:p+i]...)
			p += i + 1
			if p < len(raw) && raw[p] == r.quote {
				r.fb = append(r.fb, r.quote)
				p++
				continue
			}
			break
		}
		r.ends = append(r.ends, len(r.fb))
		if r.trim {
			for p < len(raw) && (raw[p] == ' ' || raw[p] == '\t') {
				p++
			}
		}
		switch {
		case p < len(raw) && raw[p] == r.delim:
			p++
		case len(trimEOL(raw[p:])) == 0:
			return 0, nil
		default:
			c := raw[p]
			return k, &csvBadRow{where: r.where(ln), err: fmt.Errorf("field %s: %q after the closing quote (a quote inside a quoted field is written twice)",
				r.fieldName(k), rune(c))}
		}
	}
}

// Position returns where the next record starts, as JSON
// {"offset":bytes,"line":n}.
func (r *csvReader) Position() ([]byte, error) {
	return json.Marshal(filePosition{Offset: r.in.offset, Line: r.in.line})
}

// Seek goes to a position Position returned. The header was read when the
// reader was made, so records keep the same schema.
func (r *csvReader) Seek(pos []byte) error {
	p, err := fileSeekTarget(r.path, pos, r.dataOff, r.dataLn, r.size)
	if err != nil {
		return err
	}
	if err := r.in.seek(p.Offset, p.Line); err != nil {
		return fmt.Errorf("csv reader %s: %w", r.path, err)
	}
	r.done.Store(p.Offset)
	return nil
}

// fileSeekTarget checks a position against the file.
func fileSeekTarget(path string, pos []byte, dataOff, dataLn, size int64) (filePosition, error) {
	var p filePosition
	if err := json.Unmarshal(pos, &p); err != nil {
		return p, fmt.Errorf("%s: invalid position %q: %v", path, pos, err)
	}
	switch {
	case p.Offset < dataOff || p.Line < dataLn:
		return p, fmt.Errorf("%s: position %s is before the first record (offset %d, line %d)", path, pos, dataOff, dataLn)
	case p.Offset > size:
		return p, fmt.Errorf("%s: position %s is past the end of the file (%d bytes): was it replaced?", path, pos, size)
	}
	return p, nil
}

// Size reports bytes read and the file's size.
func (r *csvReader) Size() (done, total int64) { return r.done.Load(), r.size }

// Close closes the file.
func (r *csvReader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
