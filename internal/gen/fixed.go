package gen

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
)

// FixedLength is the length of every record of WriteFixed's files, before
// its "\n". They hold the standard input in a bank file's shape: a header
// record, one body record per row of the CSV of the same seed, and a
// trailer with the record count and the sum of the amounts;
// FixedReaderModel reads them.
//
//	header:  tag "H" (1), date 20261120 (8), blanks
//	body:    tag "D" (1), id (10, zero-padded), account (9),
//	         amount (12, cents zero-padded: implied scale 2), currency (3),
//	         ts (20), memo (40, left-aligned, blank-padded)
//	trailer: tag "T" (1), count (10, zero-padded), total amount
//	         (18, cents zero-padded), blanks
const FixedLength = 1 + 10 + 9 + 12 + 3 + 20 + 40

// FixedReaderModel is the header, body and trailer blocks of a reader
// "fixed" that reads WriteFixed's files, trailer count and sum checked.
const FixedReaderModel = `header {
  fields = [
    { name = "tag", length = 1, value = "H" },
    { name = "date", length = 8, type = "timestamp", format = "20060102" },
    { length = 86 },
  ]
}
body {
  length = 95
  fields = [
    { name = "tag", length = 1, value = "D" },
    { name = "id", length = 10, type = "int", pad = "0" },
    { name = "account", length = 9 },
    { name = "amount", length = 12, type = "decimal", scale = 2, pad = "0" },
    { name = "currency", length = 3 },
    { name = "ts", length = 20 },
    { name = "memo", length = 40 },
  ]
}
trailer {
  fields = [
    { name = "tag", length = 1, value = "T" },
    { name = "count", length = 10, type = "int", pad = "0", check = "count" },
    { name = "total", length = 18, type = "decimal", scale = 2, pad = "0", sum_of = "amount" },
    { length = 66 },
  ]
}`

// WriteFixed writes n rows made from seed, the rows of WriteCSV with the
// same seed, as a fixed-width file (see FixedLength).
func WriteFixed(w io.Writer, n int, seed int64) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	line := make([]byte, 0, FixedLength+1)
	end := func() error {
		if len(line) > FixedLength {
			return fmt.Errorf("a record of %d bytes, want %d", len(line), FixedLength)
		}
		for len(line) < FixedLength {
			line = append(line, ' ')
		}
		line = append(line, '\n')
		_, err := bw.Write(line)
		line = line[:0]
		return err
	}
	line = append(append(line, 'H'), Start.Format("20060102")...)
	if err := end(); err != nil {
		return err
	}
	g := New(seed)
	var total int64
	for i := 0; i < n; i++ {
		row := g.Next()
		cents, err := textCents(row[2])
		if err != nil {
			return err
		}
		total += cents
		line = append(line, 'D')
		line = zeroPad(line, row[0], 10)
		line = left(line, row[1], 9)
		line = zeroPad(line, strconv.FormatInt(cents, 10), 12)
		line = left(line, row[3], 3)
		line = left(line, row[4], 20)
		line = left(line, row[5], 40)
		if err := end(); err != nil {
			return fmt.Errorf("row %d: %w", i+1, err)
		}
	}
	line = append(line, 'T')
	line = zeroPad(line, strconv.Itoa(n), 10)
	line = zeroPad(line, strconv.FormatInt(total, 10), 18)
	if err := end(); err != nil {
		return err
	}
	return bw.Flush()
}

// zeroPad appends s right-aligned in width bytes, padded with zeros; a
// longer s is appended whole (end then reports the record's length).
func zeroPad(b []byte, s string, width int) []byte {
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// left appends s left-aligned in width bytes, padded with blanks.
func left(b []byte, s string, width int) []byte {
	b = append(b, s...)
	for i := len(s); i < width; i++ {
		b = append(b, ' ')
	}
	return b
}
