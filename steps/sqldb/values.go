package sqldb

import (
	"database/sql"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/flowbatch/flow/steps/batch/record"
)

// column is a result column and the kind its values take.
type column struct {
	name   string
	dbType string
	// kind is decided from the column's database type; Null means the
	// database did not say (a SQLite expression): each value keeps the
	// kind of what the driver returned.
	kind record.Kind
}

func columnsOf(rows *sql.Rows) ([]column, error) {
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	cols := make([]column, len(cts))
	for i, ct := range cts {
		t := strings.ToUpper(ct.DatabaseTypeName())
		cols[i] = column{name: ct.Name(), dbType: t, kind: kindOfType(t)}
	}
	return cols, nil
}

// kindOfType maps a column's database type to a record kind. The rules
// are SQLite's type affinity rules, widened to the names PostgreSQL and
// MySQL report: anything with INT is an int, DECIMAL and NUMERIC are exact
// decimals, REAL, FLOAT and DOUBLE are floats, BOOL is a bool, DATE,
// DATETIME and TIMESTAMP are timestamps, the rest is text. An unknown or
// missing type (a SQLite expression) is decided value by value.
func kindOfType(t string) record.Kind {
	if i := strings.IndexByte(t, '('); i >= 0 {
		t = strings.TrimSpace(t[:i]) // VARCHAR(20), DECIMAL(12,2)
	}
	switch {
	case t == "":
		return record.Null
	case t == "INTERVAL" || strings.Contains(t, "POINT"):
		return record.String
	case strings.Contains(t, "INT"), t == "YEAR":
		return record.Int
	case strings.HasPrefix(t, "BOOL"):
		return record.Bool
	case strings.HasPrefix(t, "DEC"), strings.HasPrefix(t, "NUMERIC"), t == "NUMBER", t == "FIXED":
		return record.Decimal
	case strings.Contains(t, "REAL"), strings.HasPrefix(t, "FLOA"), strings.HasPrefix(t, "DOUB"):
		return record.Float
	case strings.HasPrefix(t, "TIMESTAMP"), t == "DATETIME", t == "DATE":
		return record.Time
	case strings.Contains(t, "CHAR"), strings.Contains(t, "TEXT"), strings.Contains(t, "CLOB"),
		strings.Contains(t, "BLOB"), strings.Contains(t, "BINARY"), t == "BYTEA",
		t == "UUID", strings.HasPrefix(t, "JSON"), t == "ENUM", t == "SET", t == "XML", t == "TIME", t == "TIMETZ",
		t == "INET", t == "CIDR", t == "MACADDR", t == "MONEY", t == "NAME", t == "BIT", t == "VARBIT":
		return record.String
	}
	return record.Null
}

// toValue converts what the driver returned for a column of kind k.
func toValue(k record.Kind, v any) (record.Value, error) {
	if v == nil {
		return record.Value{}, nil
	}
	switch k {
	case record.Null:
		return dynamicValue(v)
	case record.String:
		switch x := v.(type) {
		case string:
			return record.Str(x), nil
		case []byte:
			return record.Str(string(x)), nil
		case time.Time:
			return record.Str(x.UTC().Format(time.RFC3339Nano)), nil
		}
		dv, err := dynamicValue(v)
		if err != nil {
			return dv, err
		}
		return record.Str(dv.Text()), nil
	case record.Int:
		switch x := v.(type) {
		case int64:
			return record.IntVal(x), nil
		case int32:
			return record.IntVal(int64(x)), nil
		case int:
			return record.IntVal(int64(x)), nil
		case uint64:
			if x > math.MaxInt64 {
				return record.Value{}, fmt.Errorf("%d does not fit in a signed 64-bit int", x)
			}
			return record.IntVal(int64(x)), nil
		case float64:
			if x == math.Trunc(x) && math.Abs(x) < 1<<63 {
				return record.IntVal(int64(x)), nil
			}
			return record.Value{}, fmt.Errorf("%v is not a whole number", x)
		case bool:
			if x {
				return record.IntVal(1), nil
			}
			return record.IntVal(0), nil
		case string, []byte:
			s := text(x)
			i, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return record.Value{}, fmt.Errorf("invalid int %q", s)
			}
			return record.IntVal(i), nil
		}
	case record.Decimal:
		switch x := v.(type) {
		case int64:
			return record.Dec(x, 0), nil
		case float64:
			return record.ParseDecimal(strconv.FormatFloat(x, 'f', -1, 64))
		case string, []byte:
			d, err := record.ParseDecimal(text(x))
			if err != nil {
				return d, fmt.Errorf("%w (decimals keep at most 18 digits: cast wider ones to text in the query)", err)
			}
			return d, nil
		}
	case record.Float:
		switch x := v.(type) {
		case float64:
			return record.FloatVal(x), nil
		case float32:
			return record.FloatVal(float64(x)), nil
		case int64:
			return record.FloatVal(float64(x)), nil
		case string, []byte:
			f, err := strconv.ParseFloat(text(x), 64)
			if err != nil {
				return record.Value{}, fmt.Errorf("invalid float %q", text(x))
			}
			return record.FloatVal(f), nil
		}
	case record.Bool:
		switch x := v.(type) {
		case bool:
			return record.BoolVal(x), nil
		case int64:
			return record.BoolVal(x != 0), nil
		case string, []byte:
			switch strings.ToLower(text(x)) {
			case "1", "t", "true", "y", "yes", "on":
				return record.BoolVal(true), nil
			case "0", "f", "false", "n", "no", "off":
				return record.BoolVal(false), nil
			}
			return record.Value{}, fmt.Errorf("invalid bool %q", text(x))
		}
	case record.Time:
		switch x := v.(type) {
		case time.Time:
			return record.TimeVal(x), nil
		case string, []byte:
			t, err := parseTime(text(x))
			if err != nil {
				return record.Value{}, err
			}
			return record.TimeVal(t), nil
		case int64:
			return record.TimeVal(time.Unix(x, 0)), nil
		}
	}
	return record.Value{}, fmt.Errorf("cannot read a %T as %s", v, k)
}

// dynamicValue keeps the kind of what the driver returned.
func dynamicValue(v any) (record.Value, error) {
	switch x := v.(type) {
	case nil:
		return record.Value{}, nil
	case int64:
		return record.IntVal(x), nil
	case int32:
		return record.IntVal(int64(x)), nil
	case int:
		return record.IntVal(int64(x)), nil
	case uint64:
		if x > math.MaxInt64 {
			return record.ParseDecimal(strconv.FormatUint(x, 10))
		}
		return record.IntVal(int64(x)), nil
	case float64:
		return record.FloatVal(x), nil
	case float32:
		return record.FloatVal(float64(x)), nil
	case bool:
		return record.BoolVal(x), nil
	case string:
		return record.Str(x), nil
	case []byte:
		return record.Str(string(x)), nil
	case time.Time:
		return record.TimeVal(x), nil
	}
	return record.Value{}, fmt.Errorf("cannot read a value of Go type %T", v)
}

func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

var timeFormats = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	time.DateOnly,
}

func parseTime(s string) (time.Time, error) {
	for _, f := range timeFormats {
		if t, err := time.Parse(f, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid timestamp %q", s)
}

// arg converts a record value to a bind parameter. Decimals go as their
// exact text, which every database converts to its DECIMAL or NUMERIC
// without a detour through floating point; timestamps as time.Time in UTC;
// lists and maps as JSON text.
func arg(v record.Value) any {
	switch v.Kind() {
	case record.Null:
		return nil
	case record.String:
		return v.Str()
	case record.Int:
		i, _ := v.Int()
		return i
	case record.Decimal:
		return v.Text()
	case record.Float:
		f, _ := v.Float()
		return f
	case record.Bool:
		b, _ := v.Bool()
		return b
	case record.Time:
		t, _ := v.Time()
		return t
	}
	return v.Text() // lists and maps: JSON
}

// ctyArg converts an HCL value to a bind parameter: whole numbers as
// int64, other numbers as float64 when that keeps them exactly and as
// decimal text when not, lists and objects as JSON text.
func ctyArg(v cty.Value) (any, error) {
	if !v.IsWhollyKnown() {
		return nil, fmt.Errorf("value is not known")
	}
	if v.IsNull() {
		return nil, nil
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return v.AsString(), nil
	case ty == cty.Bool:
		return v.True(), nil
	case ty == cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInt() {
			if i, acc := bf.Int64(); acc == big.Exact {
				return i, nil
			}
			return bf.Text('f', 0), nil
		}
		s := bf.Text('f', -1)
		if f, acc := bf.Float64(); acc == big.Exact {
			return f, nil
		}
		return s, nil
	}
	b, err := ctyjson.Marshal(v, ty)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// ctyType is the HCL type of a column's values in a sql step's rows.
func ctyType(k record.Kind) cty.Type {
	switch k {
	case record.Int, record.Decimal, record.Float:
		return cty.Number
	case record.Bool:
		return cty.Bool
	case record.String, record.Time:
		return cty.String
	}
	return cty.DynamicPseudoType
}

// ctyValue converts a record value to HCL: numbers (decimals exact, in
// cty's 512-bit numbers), timestamps as RFC 3339 text in UTC, lists and
// maps as HCL lists and objects.
func ctyValue(v record.Value) cty.Value {
	switch v.Kind() {
	case record.Null:
		return cty.NullVal(cty.DynamicPseudoType)
	case record.String:
		s := v.Str()
		if !utf8.ValidString(s) {
			s = strings.ToValidUTF8(s, "\uFFFD")
		}
		return cty.StringVal(s)
	case record.Int:
		i, _ := v.Int()
		return cty.NumberIntVal(i)
	case record.Decimal:
		n, err := cty.ParseNumberVal(v.Text())
		if err != nil {
			return cty.StringVal(v.Text())
		}
		return n
	case record.Float:
		f, _ := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return cty.StringVal(v.Text())
		}
		return cty.NumberFloatVal(f)
	case record.Bool:
		b, _ := v.Bool()
		return cty.BoolVal(b)
	case record.Time:
		return cty.StringVal(v.Text())
	}
	return cty.StringVal(v.Text()) // lists and maps (not read from SQL): JSON
}
