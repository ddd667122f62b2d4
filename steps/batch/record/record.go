// Package record is the item type of the batch step: an ordered set of
// typed fields. Values are string, int, decimal (exact: an int64 of units
// and a scale, never a float), float (for binary formats), bool, timestamp,
// null, and nested lists and maps for formats that have them (JSON).
//
// A Schema names the fields and is shared by every record a reader
// produces, so a record is a slice of values, not a map: cheap to make and
// to read field by field.
package record

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Kind is a value's type.
type Kind uint8

// Kinds.
const (
	Null Kind = iota
	String
	Int
	Decimal
	Float
	Bool
	Time
	List
	Map
)

var kindNames = [...]string{"null", "string", "int", "decimal", "float", "bool", "timestamp", "list", "map"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind reads a kind name as schemas declare it: string, int,
// decimal, float, bool, timestamp (or time).
func ParseKind(s string) (Kind, error) {
	switch strings.ToLower(s) {
	case "string", "text":
		return String, nil
	case "int", "integer":
		return Int, nil
	case "decimal", "number":
		return Decimal, nil
	case "float", "double":
		return Float, nil
	case "bool", "boolean":
		return Bool, nil
	case "timestamp", "time", "datetime":
		return Time, nil
	}
	return Null, fmt.Errorf("unknown field type %q (use string, int, decimal, float, bool or timestamp)", s)
}

// Value is one field's value. The zero Value is null. It is kept to 40
// bytes (readers make millions): a float is stored in n's bits, and the
// rare nested values behind one pointer.
type Value struct {
	kind  Kind
	scale int32  // Decimal: digits after the point
	n     int64  // Int, Bool (0/1), Decimal units, Time (Unix nanoseconds), Float bits
	s     string // String
	ref   *nested
}

type nested struct {
	list []Value
	rec  *Record
}

// Constructors.
func Str(s string) Value { return Value{kind: String, s: s} }

// IntVal makes an int.
func IntVal(i int64) Value { return Value{kind: Int, n: i} }

// Dec makes a decimal of units × 10^-scale: Dec(12345, 2) is 123.45.
func Dec(units int64, scale int32) Value { return Value{kind: Decimal, n: units, scale: scale} }

// FloatVal makes a float.
func FloatVal(f float64) Value { return Value{kind: Float, n: int64(math.Float64bits(f))} }

func (v Value) float() float64 { return math.Float64frombits(uint64(v.n)) }

// BoolVal makes a bool.
func BoolVal(b bool) Value {
	if b {
		return Value{kind: Bool, n: 1}
	}
	return Value{kind: Bool}
}

// TimeVal makes a timestamp (kept to the nanosecond, in UTC).
func TimeVal(t time.Time) Value { return Value{kind: Time, n: t.UnixNano()} }

// ListVal makes a list.
func ListVal(vs []Value) Value { return Value{kind: List, ref: &nested{list: vs}} }

// MapVal makes a nested map from a record.
func MapVal(r *Record) Value { return Value{kind: Map, ref: &nested{rec: r}} }

// Kind returns the value's kind.
func (v Value) Kind() Kind { return v.kind }

// IsNull reports whether the value is null.
func (v Value) IsNull() bool { return v.kind == Null }

// Str returns a string value's text (or "" for other kinds: use Text).
func (v Value) Str() string { return v.s }

// Int returns an int value (and decimals with no fraction, floats that
// are whole); ok is false otherwise.
func (v Value) Int() (int64, bool) {
	switch v.kind {
	case Int:
		return v.n, true
	case Decimal:
		if v.scale == 0 {
			return v.n, true
		}
		p := pow10(v.scale)
		if p > 0 && v.n%p == 0 {
			return v.n / p, true
		}
	case Float:
		if f := v.float(); f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			return int64(f), true
		}
	}
	return 0, false
}

// Decimal returns the units and scale of a decimal (an int is a decimal
// of scale 0).
func (v Value) Decimal() (units int64, scale int32, ok bool) {
	switch v.kind {
	case Decimal:
		return v.n, v.scale, true
	case Int:
		return v.n, 0, true
	}
	return 0, 0, false
}

// Float returns a number as a float64 (decimals and ints converted).
func (v Value) Float() (float64, bool) {
	switch v.kind {
	case Float:
		return v.float(), true
	case Int:
		return float64(v.n), true
	case Decimal:
		return float64(v.n) / math.Pow10(int(v.scale)), true
	}
	return 0, false
}

// Bool returns a bool value.
func (v Value) Bool() (bool, bool) { return v.n != 0, v.kind == Bool }

// Time returns a timestamp value, in UTC.
func (v Value) Time() (time.Time, bool) {
	if v.kind != Time {
		return time.Time{}, false
	}
	return time.Unix(0, v.n).UTC(), true
}

// List returns a list's elements.
func (v Value) List() ([]Value, bool) {
	if v.kind != List || v.ref == nil {
		return nil, false
	}
	return v.ref.list, true
}

// Map returns a nested map's record.
func (v Value) Map() (*Record, bool) {
	if v.kind != Map || v.ref == nil {
		return nil, false
	}
	return v.ref.rec, true
}

// Text returns the value's text form: what CSV writes. Null is "",
// decimals keep their scale ("10.50"), timestamps are RFC 3339.
func (v Value) Text() string {
	if v.kind == String {
		return v.s // no copy: partition keys and lookups call this per record
	}
	return string(v.AppendText(nil))
}

// AppendText appends the text form to b.
func (v Value) AppendText(b []byte) []byte {
	switch v.kind {
	case Null:
		return b
	case String:
		return append(b, v.s...)
	case Int:
		return strconv.AppendInt(b, v.n, 10)
	case Decimal:
		return appendDecimal(b, v.n, v.scale)
	case Float:
		return strconv.AppendFloat(b, v.float(), 'g', -1, 64)
	case Bool:
		return strconv.AppendBool(b, v.n != 0)
	case Time:
		return time.Unix(0, v.n).UTC().AppendFormat(b, time.RFC3339Nano)
	case List, Map:
		out, err := AppendJSON(b, v)
		if err != nil {
			return append(b, "<"+err.Error()+">"...)
		}
		return out
	}
	return b
}

func (v Value) String() string { return v.Text() }

// Equal reports whether two values are the same (decimals compare by
// value: 1.50 equals 1.5).
func (v Value) Equal(w Value) bool {
	if v.kind == Decimal || w.kind == Decimal {
		a, as, ok1 := v.Decimal()
		b, bs, ok2 := w.Decimal()
		if !ok1 || !ok2 {
			return false
		}
		return cmpDecimal(a, as, b, bs) == 0
	}
	if v.kind != w.kind {
		return false
	}
	switch v.kind {
	case String:
		return v.s == w.s
	case Float:
		return v.float() == w.float()
	case List:
		a, _ := v.List()
		b, _ := w.List()
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if !a[i].Equal(b[i]) {
				return false
			}
		}
		return true
	case Map:
		a, _ := v.Map()
		b, _ := w.Map()
		return a.Equal(b)
	}
	return v.n == w.n
}

func pow10(s int32) int64 {
	if s < 0 || s > 18 {
		return 0
	}
	p := int64(1)
	for i := int32(0); i < s; i++ {
		p *= 10
	}
	return p
}

func appendDecimal(b []byte, units int64, scale int32) []byte {
	if scale <= 0 {
		b = strconv.AppendInt(b, units, 10)
		if units == 0 {
			return b // not "00": JSON has no leading zeros
		}
		for i := int32(0); i < -scale; i++ {
			b = append(b, '0')
		}
		return b
	}
	neg := units < 0
	var digits []byte
	if neg {
		digits = strconv.AppendUint(nil, uint64(-(units+1))+1, 10)
		b = append(b, '-')
	} else {
		digits = strconv.AppendInt(nil, units, 10)
	}
	for int32(len(digits)) <= scale {
		digits = append([]byte{'0'}, digits...)
	}
	cut := len(digits) - int(scale)
	b = append(b, digits[:cut]...)
	b = append(b, '.')
	return append(b, digits[cut:]...)
}

func cmpDecimal(a int64, as int32, b int64, bs int32) int {
	// Bring both to the larger scale; fall back to floats on overflow.
	for as < bs {
		if a > math.MaxInt64/10 || a < math.MinInt64/10 {
			return cmpFloat(float64(a)/math.Pow10(int(as)), float64(b)/math.Pow10(int(bs)))
		}
		a *= 10
		as++
	}
	for bs < as {
		if b > math.MaxInt64/10 || b < math.MinInt64/10 {
			return cmpFloat(float64(a)/math.Pow10(int(as)), float64(b)/math.Pow10(int(bs)))
		}
		b *= 10
		bs++
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ErrRange is returned for a number that does not fit.
var ErrRange = errors.New("number out of range")

// ParseDecimal reads a decimal exactly: "-12.340" is units -12340, scale 3.
// An exponent ("1.5e3") is accepted. More than 18 significant digits is
// ErrRange.
func ParseDecimal(s string) (Value, error) {
	t := s
	if t == "" {
		return Value{}, fmt.Errorf("empty decimal")
	}
	var exp int64
	if i := strings.IndexAny(t, "eE"); i >= 0 {
		e, err := strconv.ParseInt(t[i+1:], 10, 32)
		if err != nil {
			return Value{}, fmt.Errorf("invalid decimal %q", s)
		}
		exp, t = e, t[:i]
	}
	neg := false
	switch t[0] {
	case '-':
		neg, t = true, t[1:]
	case '+':
		t = t[1:]
	}
	var units int64
	var scale int32
	seenDot, digits := false, 0
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '.' && !seenDot:
			seenDot = true
		case c >= '0' && c <= '9':
			if units > (math.MaxInt64-int64(c-'0'))/10 {
				return Value{}, fmt.Errorf("decimal %q: %w", s, ErrRange)
			}
			units = units*10 + int64(c-'0')
			digits++
			if seenDot {
				scale++
			}
		default:
			return Value{}, fmt.Errorf("invalid decimal %q", s)
		}
	}
	if digits == 0 {
		return Value{}, fmt.Errorf("invalid decimal %q", s)
	}
	sc := int64(scale) - exp
	for sc < 0 {
		if units == 0 {
			sc = 0 // "0e2000000000": no two billion multiplications
			break
		}
		if units > math.MaxInt64/10 {
			return Value{}, fmt.Errorf("decimal %q: %w", s, ErrRange)
		}
		units *= 10
		sc++
	}
	if sc > 18 {
		return Value{}, fmt.Errorf("decimal %q: %w", s, ErrRange)
	}
	if neg {
		units = -units
	}
	return Dec(units, int32(sc)), nil
}

// Parse converts text to a value of kind k, as typed readers do. Empty
// text is null for every kind but string.
func Parse(k Kind, text string) (Value, error) {
	if k == String {
		return Str(text), nil
	}
	if text == "" {
		return Value{}, nil
	}
	switch k {
	case Int:
		i, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return Value{}, fmt.Errorf("invalid int %q", text)
		}
		return IntVal(i), nil
	case Decimal:
		return ParseDecimal(text)
	case Float:
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return Value{}, fmt.Errorf("invalid float %q", text)
		}
		return FloatVal(f), nil
	case Bool:
		b, err := strconv.ParseBool(text)
		if err != nil {
			return Value{}, fmt.Errorf("invalid bool %q", text)
		}
		return BoolVal(b), nil
	case Time:
		t, err := time.Parse(time.RFC3339Nano, text)
		if err != nil {
			if d, derr := time.Parse(time.DateOnly, text); derr == nil {
				return TimeVal(d), nil
			}
			return Value{}, fmt.Errorf("invalid timestamp %q (use RFC 3339, such as 2026-11-20T10:00:00Z, or a date)", text)
		}
		return TimeVal(t), nil
	case Null:
		return Value{}, nil
	}
	return Value{}, fmt.Errorf("cannot parse a %s from text", k)
}
