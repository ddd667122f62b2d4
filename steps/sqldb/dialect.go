package sqldb

import (
	"strconv"
	"strings"
)

// Driver names as a datasource's driver attribute gives them.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
	MySQL    = "mysql"
)

// dialect is what differs between the databases in the SQL this package
// writes: identifier quoting, bind parameters, upserts, limits.
type dialect string

// quote quotes an identifier: "name" (PostgreSQL, SQLite) or `name`
// (MySQL, MariaDB).
func (d dialect) quote(ident string) string {
	q := `"`
	if d == MySQL {
		q = "`"
	}
	return q + strings.ReplaceAll(ident, q, q+q) + q
}

// quoteName quotes a possibly qualified name (schema.table): each part
// on its own.
func (d dialect) quoteName(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = d.quote(p)
	}
	return strings.Join(parts, ".")
}

// param is the n-th bind parameter (from 1): $n or ?.
func (d dialect) param(n int) string {
	if d == Postgres {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// maxParams is how many bind parameters one statement may take.
func (d dialect) maxParams() int {
	switch d {
	case SQLite:
		return 32766
	default:
		return 65535
	}
}

// rowValues says whether the database compares row values, (a, b) > (?, ?),
// in a way its planner turns into an index range. MySQL parses them but
// does not always use an index for them, so the reader spells the
// comparison out there.
func (d dialect) rowValues() bool { return d != MySQL }

// pieceRows is the row count of the next multi-row INSERT of n rows of
// ncols columns. Row counts repeat from chunk to chunk, so that each
// statement is prepared once per connection rather than parsed per chunk
// (parsing a 1000-row INSERT cost SQLite more than running it):
//
//   - SQLite and PostgreSQL: pieces of 256 (SQLite) or 512 rows, then the
//     remainder in powers of two (1000 rows: 256, 256, 256, 128, 64, 32,
//     8), which bounds the statements a connection keeps to a dozen. A
//     statement more costs SQLite microseconds, PostgreSQL a round trip.
//   - MySQL: pieces of 1000 rows, then the remainder whole: a round trip
//     costs more there, and its connections keep their 16 most recently
//     used statements.
//
// Either way a statement stays within the database's bind parameters.
func (d dialect) pieceRows(n, ncols int) int {
	limit := 512
	switch d {
	case SQLite:
		limit = 256
	case MySQL:
		limit = 1000
	}
	per := max(1, min(limit, d.maxParams()/max(1, ncols)))
	if n >= per {
		if d == MySQL {
			return per
		}
		return floorPow2(per)
	}
	if d == MySQL {
		return n
	}
	return floorPow2(n)
}

// floorPow2 is the largest power of two not above n (n ≥ 1).
func floorPow2(n int) int {
	p := 1
	for p*2 <= n {
		p *= 2
	}
	return p
}
