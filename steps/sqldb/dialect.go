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
