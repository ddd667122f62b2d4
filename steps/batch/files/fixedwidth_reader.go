package files

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"sync/atomic"
	"unicode/utf8"

	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

// FixedReader reads the body records of a fixed-width or binary file, as
// its FixedFormat describes. It streams the file (memory stays flat in its
// size), reads the header when it opens the file and the trailer when it
// gets there, and can resume from a position: the byte offset of the next
// body record with the record count and sums so far.
//
// Task values (Task.Value): "header" and "trailer" hold the header and
// trailer records once read.
type FixedReader struct {
	path, display string
	format        *FixedFormat
	logger        *slog.Logger
	task          *batch.Task

	f        *os.File
	br       *bufio.Reader
	size     int64
	lineMode bool
	sep      []byte
	hdrEnd   int64 // offset of the first body record
	bodyEnd  int64 // without line mode: where the trailer starts (or the size)
	hdrRecs  int64 // 1 with a header

	off      int64 // offset of the next record
	records  int64 // body records before off, readable or not
	bad      int64 // unreadable body records among them
	sums     []fixedSum
	done     bool
	opened   bool
	header   *record.Record
	trailer  *record.Record
	line     []byte
	lineCap  int
	buf      []byte
	progress atomic.Int64

	// slabs the records of a Load are cut from
	recSlab []record.Record
	valSlab []record.Value
}

// NewFixedReader makes a reader of the file at path; display is how
// messages name it (the path as the flow wrote it). logger may be nil.
// The format must have been through Init.
func NewFixedReader(path, display string, format *FixedFormat, logger *slog.Logger) *FixedReader {
	if display == "" {
		display = path
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &FixedReader{path: path, display: display, format: format, logger: logger, sep: []byte(format.Separator)}
	r.sums = make([]fixedSum, len(format.sumFields()))
	return r
}

// Header returns the header record (nil when the format has none or the
// file is not open yet).
func (r *FixedReader) Header() *record.Record { return r.header }

// Trailer returns the trailer record once the reader has reached it.
func (r *FixedReader) Trailer() *record.Record { return r.trailer }

// Setup opens the file, reads the header and publishes it as the task
// value "header".
func (r *FixedReader) Setup(t *batch.Task) error {
	r.task = t
	if err := r.open(); err != nil {
		return err
	}
	if r.header != nil {
		t.SetValue("header", r.header)
	}
	return nil
}

func (r *FixedReader) open() error {
	if r.opened {
		return nil
	}
	f, err := os.Open(r.path)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.size, r.opened = f, st.Size(), true
	ff := r.format
	maxLen := ff.Body.Length
	binaryFields := ff.Body.binary
	for _, rec := range []*FixedRecord{ff.Header, ff.Trailer} {
		if rec != nil {
			maxLen = max(maxLen, rec.Length)
			binaryFields = binaryFields || rec.binary
		}
	}
	r.lineMode = len(r.sep) > 0 && !binaryFields
	r.lineCap = maxLen + len(r.sep) + 16
	r.br = bufio.NewReaderSize(f, max(64<<10, 2*(maxLen+len(r.sep))))
	r.bodyEnd = r.size
	if ff.Header != nil {
		r.hdrRecs = 1
		if err := r.readHeader(); err != nil {
			return err
		}
	}
	r.hdrEnd = r.off
	if !r.lineMode && ff.Trailer != nil {
		tlen := int64(ff.Trailer.Length + len(r.sep))
		if len(r.sep) > 0 && !r.endsWithSep() {
			tlen = int64(ff.Trailer.Length)
		}
		r.bodyEnd = r.size - tlen
		if r.bodyEnd < r.hdrEnd {
			return fmt.Errorf("%s@%d: the file ends there, too short to hold its header and trailer records", r.display, r.size)
		}
	}
	r.progress.Store(r.off)
	return nil
}

func (r *FixedReader) endsWithSep() bool {
	n := int64(len(r.sep))
	if r.size < n {
		return false
	}
	b := make([]byte, n)
	if _, err := r.f.ReadAt(b, r.size-n); err != nil {
		return false
	}
	return bytes.Equal(b, r.sep)
}

func (r *FixedReader) readHeader() error {
	h := r.format.Header
	where := fmt.Sprintf("%s@0 (record 1, header)", r.display)
	var raw []byte
	var length int64
	if r.lineMode {
		ln, err := r.readLine()
		if err == io.EOF {
			return fmt.Errorf("%s: the file is empty; it should start with a header record", where)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		raw, length = ln.data, ln.length
		r.off += ln.consumed
	} else {
		n := h.Length + len(r.sep)
		if r.size < int64(h.Length) {
			return fmt.Errorf("%s: the file is %d bytes, too short for its %d-byte header record", where, r.size, h.Length)
		}
		if r.size < int64(n) {
			n = h.Length
		}
		raw = r.scratch(n)
		if _, err := io.ReadFull(r.br, raw); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		r.off += int64(n)
		if n > h.Length && !bytes.Equal(raw[h.Length:], r.sep) {
			return fmt.Errorf("%s: no record separator after the %d-byte header", where, h.Length)
		}
		raw, length = raw[:h.Length], int64(h.Length)
	}
	if length != int64(h.Length) {
		return fmt.Errorf("%s: the header record is %d bytes, the format says %d", where, length, h.Length)
	}
	rec := &record.Record{Schema: h.schema, Values: make([]record.Value, h.schema.Len()), Source: r.display, Line: 1, Offset: 0}
	if err := h.decode(raw, rec.Values); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	r.header = rec
	r.logger.Info("fixed file header", fixedLogArgs(r.display, rec)...)
	return nil
}

func fixedLogArgs(file string, rec *record.Record) []any {
	args := []any{"file", file}
	for i, f := range rec.Schema.Fields {
		args = append(args, f.Name, rec.Values[i].Text())
	}
	return args
}

func (r *FixedReader) scratch(n int) []byte {
	if cap(r.buf) < n {
		r.buf = make([]byte, n)
	}
	return r.buf[:n]
}

// fixedLine is a record read up to its separator.
type fixedLine struct {
	data     []byte // the record's bytes (at most lineCap of them)
	length   int64  // its real length, without the separator
	consumed int64  // bytes consumed, separator included
}

// readLine reads up to and including the next separator (or the end of
// the file). Only the first lineCap bytes are kept, so that a file with no
// separator does not fill the memory.
func (r *FixedReader) readLine() (fixedLine, error) {
	r.line = r.line[:0]
	var ln fixedLine
	last := r.sep[len(r.sep)-1]
	var tail [8]byte // the last bytes seen, to match a longer separator
	tn := 0
	for {
		chunk, err := r.br.ReadSlice(last)
		ln.consumed += int64(len(chunk))
		if room := r.lineCap - len(r.line); room > 0 {
			r.line = append(r.line, chunk[:min(room, len(chunk))]...)
		}
		for _, c := range chunk[max(0, len(chunk)-len(tail)):] {
			if tn == len(tail) {
				copy(tail[:], tail[1:])
				tn--
			}
			tail[tn] = c
			tn++
		}
		switch {
		case err == nil:
			if len(r.sep) == 1 || (tn >= len(r.sep) && bytes.Equal(tail[tn-len(r.sep):tn], r.sep)) {
				ln.length = ln.consumed - int64(len(r.sep))
				if len(r.sep) == 1 && r.sep[0] == '\n' && ln.length > 0 && tn >= 2 && tail[tn-2] == '\r' {
					ln.length-- // CRLF
				}
				ln.data = r.line[:min(int64(len(r.line)), ln.length)]
				return ln, nil
			}
		case err == bufio.ErrBufferFull:
		case err == io.EOF:
			if ln.consumed == 0 {
				return ln, io.EOF
			}
			ln.length = ln.consumed
			ln.data = r.line
			return ln, nil
		default:
			return ln, err
		}
	}
}

// fixedPosition is what Position returns, as JSON.
type fixedPosition struct {
	Offset  int64    `json:"offset"`
	Records int64    `json:"records"`
	Bad     int64    `json:"bad,omitempty"`
	Sums    []string `json:"sums,omitempty"`
}

// Position returns where the next body record starts, with the count and
// sums of the records before it.
func (r *FixedReader) Position() ([]byte, error) {
	if err := r.open(); err != nil {
		return nil, err
	}
	p := fixedPosition{Offset: r.off, Records: r.records, Bad: r.bad}
	if r.trailer != nil {
		// Past the end: a resume reads (and checks) the trailer again.
		p.Offset = r.trailer.Offset
	}
	for _, s := range r.sums {
		p.Sums = append(p.Sums, s.String())
	}
	return json.Marshal(p)
}

// Seek goes to a position Position returned.
func (r *FixedReader) Seek(pos []byte) error {
	if err := r.open(); err != nil {
		return err
	}
	var p fixedPosition
	if err := json.Unmarshal(pos, &p); err != nil {
		return fmt.Errorf("%s: invalid position %q: %w", r.display, pos, err)
	}
	if p.Offset < r.hdrEnd || p.Offset > r.size || (!r.lineMode && p.Offset > r.bodyEnd) || p.Records < 0 || p.Bad < 0 || len(p.Sums) != len(r.sums) {
		return fmt.Errorf("%s: position %s does not fit the file (%d bytes): was it changed since the checkpoint?", r.display, pos, r.size)
	}
	sums := make([]fixedSum, len(r.sums))
	for i, s := range p.Sums {
		if err := sums[i].parse(s); err != nil {
			return fmt.Errorf("%s: invalid position %q: %w", r.display, pos, err)
		}
	}
	if _, err := r.f.Seek(p.Offset, io.SeekStart); err != nil {
		return err
	}
	r.br.Reset(r.f)
	r.off, r.records, r.bad, r.sums, r.done = p.Offset, p.Records, p.Bad, sums, false
	r.trailer = nil
	r.progress.Store(r.off)
	return nil
}

// Size reports the bytes read and the file's size, for progress.
func (r *FixedReader) Size() (done, total int64) { return r.progress.Load(), r.size }

// Close closes the file.
func (r *FixedReader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// Load returns up to max body records.
func (r *FixedReader) Load(c *batch.Chunk, max int) ([]*record.Record, error) {
	if err := r.open(); err != nil {
		return nil, err
	}
	if r.f == nil {
		return nil, fmt.Errorf("%s: the reader is closed", r.display)
	}
	body := r.format.Body
	nf := body.schema.Len()
	var out []*record.Record
	for len(out) < max && !r.done {
		off := r.off
		recNo := r.hdrRecs + r.records + 1
		raw, length, last, err := r.next()
		if err == io.EOF {
			r.done = true
			if r.format.Trailer != nil {
				return nil, fmt.Errorf("%s@%d: the file ends without its trailer record (after %d body records)", r.display, off, r.records)
			}
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s@%d (record %d): %w", r.display, off, recNo, err)
		}
		if last {
			r.done = true
			if err := r.readTrailer(raw, length, off, recNo); err != nil {
				return nil, err
			}
			break
		}
		r.records++
		if len(r.recSlab) == 0 {
			n := min(max-len(out), 256)
			r.recSlab = make([]record.Record, n)
			r.valSlab = make([]record.Value, n*nf)
		}
		vals := r.valSlab[:nf:nf]
		if length != int64(body.Length) {
			err = r.lengthError(length, body.Length)
		} else {
			err = body.decode(raw, vals)
		}
		if err != nil {
			clear(vals)
			if ferr := r.readFailed(c, off, recNo, raw, err); ferr != nil {
				return nil, ferr
			}
			continue
		}
		for i, f := range r.format.sumFields() {
			if err := r.sums[i].add(vals[f.sumIdx]); err != nil {
				return nil, fmt.Errorf("%s@%d (record %d): the sum of %s: %w", r.display, off, recNo, f.SumOf, err)
			}
		}
		rec := &r.recSlab[0]
		r.recSlab, r.valSlab = r.recSlab[1:], r.valSlab[nf:]
		*rec = record.Record{Schema: body.schema, Values: vals, Source: r.display, Line: recNo, Offset: off}
		out = append(out, rec)
	}
	r.progress.Store(r.off)
	return out, nil
}

func (r *FixedReader) lengthError(length int64, want int) error {
	if len(r.sep) > 0 {
		return fmt.Errorf("the record is %d bytes long, a body record is %d", length, want)
	}
	return fmt.Errorf("truncated record: %d bytes, a body record is %d", length, want)
}

func (r *FixedReader) readFailed(c *batch.Chunk, off, recNo int64, raw []byte, err error) error {
	r.bad++
	where := fmt.Sprintf("%s@%d (record %d)", r.display, off, recNo)
	if c == nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	var item any
	if utf8.Valid(raw) {
		item = string(raw)
	} else {
		item = append([]byte(nil), raw...)
	}
	return c.ReadFailed(where, item, err)
}

// next reads the next record: its bytes (the separator left out), its
// real length, and whether it is the trailer. io.EOF: no more records.
func (r *FixedReader) next() (raw []byte, length int64, last bool, err error) {
	if r.lineMode {
		ln, err := r.readLine()
		if err != nil {
			return nil, 0, false, err
		}
		r.off += ln.consumed
		if r.format.Trailer != nil {
			if _, perr := r.br.Peek(1); perr != nil {
				if perr != io.EOF {
					return nil, 0, false, perr
				}
				last = true
			}
		}
		return ln.data, ln.length, last, nil
	}
	if r.off >= r.bodyEnd {
		if r.format.Trailer == nil || r.off > r.bodyEnd || r.trailer != nil {
			return nil, 0, false, io.EOF
		}
		n := int(r.size - r.bodyEnd)
		raw = r.scratch(n)
		if _, err := io.ReadFull(r.br, raw); err != nil {
			return nil, 0, false, err
		}
		r.off += int64(n)
		t := r.format.Trailer.Length
		if n > t && !bytes.Equal(raw[t:], r.sep) {
			return nil, 0, false, fmt.Errorf("no record separator after the trailer")
		}
		return raw[:t], int64(t), true, nil
	}
	L := r.format.Body.Length
	need := int64(L + len(r.sep))
	avail := r.bodyEnd - r.off
	if avail < need {
		n := int(avail)
		raw = r.scratch(n)
		if _, err := io.ReadFull(r.br, raw); err != nil {
			return nil, 0, false, err
		}
		r.off += avail
		if n == L && r.format.Trailer == nil {
			return raw, int64(L), false, nil // the last record, with no separator after it
		}
		return raw, avail, false, nil
	}
	raw = r.scratch(int(need))
	if _, err := io.ReadFull(r.br, raw); err != nil {
		return nil, 0, false, err
	}
	start := r.off
	r.off += need
	if len(r.sep) > 0 && !bytes.Equal(raw[L:], r.sep) {
		// The record is shorter or longer than it should be: carry on after
		// the next separator.
		length, err := r.resync(start, raw)
		if err != nil {
			return nil, 0, false, err
		}
		return raw[:min(int64(L), length)], length, false, nil
	}
	return raw[:L], int64(L), false, nil
}

// resync finds the first separator after start (raw holds the bytes read
// from there) and goes past it; it returns the length of the record
// before it.
func (r *FixedReader) resync(start int64, raw []byte) (int64, error) {
	if i := bytes.Index(raw, r.sep); i >= 0 {
		r.off = start + int64(i+len(r.sep))
		if _, err := r.f.Seek(r.off, io.SeekStart); err != nil {
			return 0, err
		}
		r.br.Reset(r.f)
		return int64(i), nil
	}
	// Further on: read on until the separator or the end of the body.
	window := append([]byte(nil), raw[len(raw)-len(r.sep)+1:]...)
	pos := r.off
	for pos < r.bodyEnd {
		c, err := r.br.ReadByte()
		if err != nil {
			return 0, err
		}
		pos++
		window = append(window, c)
		if len(window) > len(r.sep) {
			window = window[1:]
		}
		if bytes.Equal(window, r.sep) {
			r.off = pos
			return pos - start - int64(len(r.sep)), nil
		}
	}
	r.off = pos
	return pos - start, nil
}

func (r *FixedReader) readTrailer(raw []byte, length, off, recNo int64) error {
	t := r.format.Trailer
	where := fmt.Sprintf("%s@%d (record %d, trailer)", r.display, off, recNo)
	if length != int64(t.Length) {
		return fmt.Errorf("%s: the trailer record is %d bytes, the format says %d", where, length, t.Length)
	}
	rec := &record.Record{Schema: t.schema, Values: make([]record.Value, t.schema.Len()), Source: r.display, Line: recNo, Offset: off}
	if err := t.decode(raw, rec.Values); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	r.trailer = rec
	if r.task != nil {
		r.task.SetValue("trailer", rec)
	}
	r.logger.Info("fixed file trailer", fixedLogArgs(r.display, rec)...)
	si := 0
	for i, f := range t.Fields {
		if f.filler() {
			continue
		}
		v := rec.Values[t.valueIdx[i]]
		switch {
		case f.Check == "count":
			n, ok := v.Int()
			if !ok || n != r.records {
				return fmt.Errorf("%s: field %s: the trailer counts %s body records, the file has %d", where, f.Name, fixedOrNull(v), r.records)
			}
		case f.SumOf != "":
			s := r.sums[si]
			si++
			if r.bad > 0 {
				r.logger.Warn("fixed file trailer sum not checked: unreadable records were skipped",
					"file", r.display, "field", f.Name, "skipped", r.bad)
				continue
			}
			sv, err := s.value()
			if err != nil {
				return fmt.Errorf("%s: field %s: the sum of %s: %w", where, f.Name, f.SumOf, err)
			}
			if !v.Equal(sv) {
				return fmt.Errorf("%s: field %s: the trailer says the sum of %s is %s, the records add up to %s", where, f.Name, f.SumOf, fixedOrNull(v), sv.Text())
			}
		}
	}
	return nil
}

func fixedOrNull(v record.Value) string {
	if v.IsNull() {
		return "nothing"
	}
	return v.Text()
}

// sumFields returns the trailer's sum_of fields, in order.
func (ff *FixedFormat) sumFields() []*FixedField { return ff.sums }

// fixedSum adds decimals exactly.
type fixedSum struct {
	units int64
	scale int32
}

var errFixedSumRange = errors.New("the sum is out of range")

func (s *fixedSum) add(v record.Value) error {
	u, sc, ok := v.Decimal()
	if !ok {
		return nil // null: nothing to add
	}
	var good bool
	if sc > s.scale {
		if s.units, good = fixedRescale(s.units, s.scale, sc); !good {
			return errFixedSumRange
		}
		s.scale = sc
	} else if sc < s.scale {
		if u, good = fixedRescale(u, sc, s.scale); !good {
			return errFixedSumRange
		}
	}
	sum := s.units + u
	if (s.units > 0 && u > 0 && sum < 0) || (s.units < 0 && u < 0 && sum >= 0) {
		return errFixedSumRange
	}
	s.units = sum
	return nil
}

func (s fixedSum) value() (record.Value, error) {
	if s.units == math.MinInt64 {
		return record.Value{}, errFixedSumRange
	}
	return record.Dec(s.units, s.scale), nil
}

func (s fixedSum) String() string {
	return strconv.FormatInt(s.units, 10) + "e-" + strconv.Itoa(int(s.scale))
}

func (s *fixedSum) parse(t string) error {
	i := bytes.IndexByte([]byte(t), 'e')
	if i < 0 || i+2 > len(t) || t[i+1] != '-' {
		return fmt.Errorf("invalid sum %q", t)
	}
	u, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return fmt.Errorf("invalid sum %q", t)
	}
	sc, err := strconv.Atoi(t[i+2:])
	if err != nil || sc < 0 || sc > 18 {
		return fmt.Errorf("invalid sum %q", t)
	}
	s.units, s.scale = u, int32(sc)
	return nil
}
