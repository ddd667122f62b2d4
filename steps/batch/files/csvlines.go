package files

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// fileMaxLine is the longest line (and the longest CSV record) a reader
// accepts: past it the line is an error, not a reason to hold the whole
// file in memory.
const fileMaxLine = 64 << 20

// errLineTooLong reports a line longer than the limit; the line is consumed.
var errLineTooLong = fmt.Errorf("line longer than %d MiB", fileMaxLine>>20)

// fileLines reads a file line by line from a large buffer, keeping the
// byte offset and the number of the next line. The csv and jsonl readers
// share it.
type fileLines struct {
	r          io.ReadSeeker
	buf        []byte
	start, end int // unread data: buf[start:end]
	eof        bool
	err        error
	offset     int64 // file offset of buf[start]
	line       int64 // number of the line at buf[start], from 1
	max        int
}

func newFileLines(r io.ReadSeeker, size int) *fileLines {
	return &fileLines{r: r, buf: make([]byte, size), line: 1, max: fileMaxLine}
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// skipBOM drops a UTF-8 byte order mark at the start of the file.
func (l *fileLines) skipBOM() error {
	if l.offset != 0 {
		return nil
	}
	for l.end-l.start < len(utf8BOM) && !l.eof && l.err == nil {
		l.read()
	}
	if bytes.HasPrefix(l.buf[l.start:l.end], utf8BOM) {
		l.start += len(utf8BOM)
		l.offset += int64(len(utf8BOM))
	}
	return l.err
}

// read reads more data after buf[end], making room first.
func (l *fileLines) read() {
	if l.end == len(l.buf) {
		if l.start > 0 {
			l.end = copy(l.buf, l.buf[l.start:l.end])
			l.start = 0
		} else {
			nb := make([]byte, 2*len(l.buf))
			l.end = copy(nb, l.buf[l.start:l.end])
			l.start = 0
			l.buf = nb
		}
	}
	n, err := l.r.Read(l.buf[l.end:])
	l.end += n
	switch {
	case errors.Is(err, io.EOF):
		l.eof = true
	case err != nil:
		l.err = err
	}
}

// next returns the next line with its "\n" (none on a last line that has
// none). It is valid until the next call. At the end it returns io.EOF; a
// line longer than the limit is skipped and reported as errLineTooLong.
func (l *fileLines) next() ([]byte, error) {
	scan := 0 // bytes of buf[start:] known to hold no newline
	for {
		if i := bytes.IndexByte(l.buf[l.start+scan:l.end], '\n'); i >= 0 {
			return l.take(scan + i + 1), nil
		}
		scan = l.end - l.start
		if l.err != nil {
			return nil, l.err
		}
		if l.eof {
			if scan > 0 {
				return l.take(scan), nil
			}
			return nil, io.EOF
		}
		if scan >= l.max {
			return nil, l.discardLine()
		}
		l.read()
	}
}

func (l *fileLines) take(n int) []byte {
	b := l.buf[l.start : l.start+n]
	l.start += n
	l.offset += int64(n)
	l.line++
	return b
}

// discardLine drops the rest of an overlong line.
func (l *fileLines) discardLine() error {
	for {
		if i := bytes.IndexByte(l.buf[l.start:l.end], '\n'); i >= 0 {
			l.take(i + 1)
			return errLineTooLong
		}
		l.offset += int64(l.end - l.start)
		l.start, l.end = 0, 0
		if l.err != nil {
			return l.err
		}
		if l.eof {
			l.line++
			return errLineTooLong
		}
		l.read()
	}
}

// seek moves to a line start at offset, numbered line.
func (l *fileLines) seek(offset, line int64) error {
	if _, err := l.r.Seek(offset, io.SeekStart); err != nil {
		return err
	}
	l.start, l.end, l.eof, l.err = 0, 0, false, nil
	l.offset, l.line = offset, line
	return nil
}

// filePosition is a reader's position: where the next record starts.
type filePosition struct {
	Offset int64 `json:"offset"`
	Line   int64 `json:"line"`
}
