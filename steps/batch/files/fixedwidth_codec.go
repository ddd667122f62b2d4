package files

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flowbatch/flow/steps/batch/record"
)

// decode reads a record's fields into vals (in schema order). The error
// names the field and its bytes within the record.
func (r *FixedRecord) decode(raw []byte, vals []record.Value) error {
	var str string // the record as a string, made once: its string fields are cut from it
	for i, f := range r.Fields {
		if f.filler() {
			continue
		}
		b := raw[f.Offset : f.Offset+f.Length]
		var v record.Value
		var err error
		if f.codec.kind == 't' && f.Kind == record.String {
			if str == "" {
				str = string(raw)
			}
			v, err = f.decodeString(b, str[f.Offset:f.Offset+f.Length])
		} else {
			v, err = f.decode(b)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", f.label(), err)
		}
		if f.Value != nil && !v.Equal(*f.Value) && !(f.Kind == record.String && string(f.stripPad(b)) == f.Value.Str()) {
			return fmt.Errorf("%s: expected %q, found %q", f.label(), f.Value.Text(), b)
		}
		vals[r.valueIdx[i]] = v
	}
	return nil
}

// decode reads one field's bytes.
func (f *FixedField) decode(b []byte) (record.Value, error) {
	switch f.codec.kind {
	case 't':
		return f.decodeText(b)
	case 'i', 'u':
		return f.fromInt(fixedGetInt(b, f.codec))
	case 'f':
		if f.codec.size == 4 {
			return record.FloatVal(float64(math.Float32frombits(uint32(fixedGetInt(b, fixedCodec{size: 4, kind: 'u', little: f.codec.little}))))), nil
		}
		return record.FloatVal(math.Float64frombits(uint64(fixedGetInt(b, fixedCodec{size: 8, kind: 'i', little: f.codec.little})))), nil
	case 'p':
		n, err := fixedUnpack(b)
		if err != nil {
			return record.Value{}, err
		}
		return f.fromInt(n)
	}
	return record.Value{}, fmt.Errorf("unknown codec %q", f.codec.name)
}

func (f *FixedField) fromInt(n int64) (record.Value, error) {
	switch f.Kind {
	case record.Decimal:
		return record.Dec(n, int32(f.Scale)), nil
	case record.Bool:
		switch n {
		case 0:
			return record.BoolVal(false), nil
		case 1:
			return record.BoolVal(true), nil
		}
		return record.Value{}, fmt.Errorf("invalid bool %d (expected 0 or 1)", n)
	}
	return record.IntVal(n), nil
}

func fixedGetInt(b []byte, c fixedCodec) int64 {
	var u uint64
	switch c.size {
	case 1:
		u = uint64(b[0])
	case 2:
		if c.little {
			u = uint64(binary.LittleEndian.Uint16(b))
		} else {
			u = uint64(binary.BigEndian.Uint16(b))
		}
	case 4:
		if c.little {
			u = uint64(binary.LittleEndian.Uint32(b))
		} else {
			u = uint64(binary.BigEndian.Uint32(b))
		}
	case 8:
		if c.little {
			u = binary.LittleEndian.Uint64(b)
		} else {
			u = binary.BigEndian.Uint64(b)
		}
	}
	if c.kind == 'i' && c.size < 8 {
		// Sign-extend.
		shift := 64 - 8*c.size
		return int64(u<<shift) >> shift
	}
	return int64(u)
}

func fixedPutInt(dst []byte, c fixedCodec, n int64) []byte {
	u := uint64(n)
	switch c.size {
	case 1:
		return append(dst, byte(u))
	case 2:
		if c.little {
			return binary.LittleEndian.AppendUint16(dst, uint16(u))
		}
		return binary.BigEndian.AppendUint16(dst, uint16(u))
	case 4:
		if c.little {
			return binary.LittleEndian.AppendUint32(dst, uint32(u))
		}
		return binary.BigEndian.AppendUint32(dst, uint32(u))
	}
	if c.little {
		return binary.LittleEndian.AppendUint64(dst, u)
	}
	return binary.BigEndian.AppendUint64(dst, u)
}

func fixedIntRange(c fixedCodec) (lo, hi int64) {
	bits := 8 * c.size
	if c.kind == 'u' {
		return 0, int64(1)<<bits - 1
	}
	if bits == 64 {
		return math.MinInt64, math.MaxInt64
	}
	return -(int64(1) << (bits - 1)), int64(1)<<(bits-1) - 1
}

// fixedUnpack reads a packed decimal (COMP-3): two digits a byte, the
// last nibble the sign (C, A, E, F: plus; D, B: minus).
func fixedUnpack(b []byte) (int64, error) {
	var n int64
	for i, c := range b {
		hi, lo := c>>4, c&0x0f
		if hi > 9 {
			return 0, fmt.Errorf("invalid packed decimal: byte %d is 0x%02x", i+1, c)
		}
		n = n*10 + int64(hi)
		if i < len(b)-1 {
			if lo > 9 {
				return 0, fmt.Errorf("invalid packed decimal: byte %d is 0x%02x", i+1, c)
			}
			n = n*10 + int64(lo)
			continue
		}
		switch lo {
		case 0x0c, 0x0a, 0x0e, 0x0f:
		case 0x0d, 0x0b:
			n = -n
		default:
			return 0, fmt.Errorf("invalid packed decimal: sign nibble 0x%x", lo)
		}
	}
	return n, nil
}

func fixedPack(dst []byte, n int64, length int) ([]byte, error) {
	sign := byte(0x0c)
	u := uint64(n)
	if n < 0 {
		sign, u = 0x0d, uint64(-(n+1))+1
	}
	digits := 2*length - 1
	var buf [20]byte
	s := strconv.AppendUint(buf[:0], u, 10)
	if len(s) > digits {
		return dst, fmt.Errorf("%d has %d digits; a %d-byte packed field holds %d", n, len(s), length, digits)
	}
	start := len(dst)
	dst = append(dst, make([]byte, length)...)
	out := dst[start:]
	out[length-1] = sign
	// Digits from the right: the last one shares the sign's byte.
	pos := 2*length - 2 // nibble index of the last digit (high nibble of the last byte)
	for i := len(s) - 1; i >= 0; i-- {
		d := s[i] - '0'
		if pos%2 == 0 {
			out[pos/2] |= d << 4
		} else {
			out[pos/2] |= d
		}
		pos--
	}
	return dst, nil
}

func fixedASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// stripPad removes the padding from the padded side.
func (f *FixedField) stripPad(b []byte) []byte {
	if f.right {
		i := 0
		for i < len(b) && b[i] == f.pad {
			i++
		}
		return b[i:]
	}
	j := len(b)
	for j > 0 && b[j-1] == f.pad {
		j--
	}
	return b[:j]
}

func fixedTrimSpace(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && b[i] == ' ' {
		i++
	}
	for j > i && b[j-1] == ' ' {
		j--
	}
	return b[i:j]
}

// decodeString reads a string field; s holds the same bytes as b.
func (f *FixedField) decodeString(b []byte, s string) (record.Value, error) {
	if !fixedASCII(b) && !utf8.Valid(b) {
		return record.Value{}, fmt.Errorf("not valid UTF-8: %q", b)
	}
	if !f.KeepPadding {
		t := f.stripPad(b)
		if f.right {
			s = s[len(b)-len(t):]
		} else {
			s = s[:len(t)]
		}
	}
	return record.Str(s), nil
}

func (f *FixedField) decodeText(b []byte) (record.Value, error) {
	if f.Kind == record.String {
		return f.decodeString(b, string(b))
	}
	if !fixedASCII(b) && !utf8.Valid(b) {
		return record.Value{}, fmt.Errorf("not valid UTF-8: %q", b)
	}
	t := fixedTrimSpace(f.stripPad(b))
	if len(t) == 0 {
		if f.pad == '0' && len(b) > 0 && b[0] == '0' && (f.Kind == record.Int || f.Kind == record.Decimal || f.Kind == record.Float) {
			t = []byte{'0'} // all zeros: zero, not null
		} else {
			return record.Value{}, nil
		}
	}
	switch f.Kind {
	case record.Int:
		n, err := fixedParseInt(t)
		if err != nil {
			return record.Value{}, fmt.Errorf("invalid int %q: %w", b, err)
		}
		return record.IntVal(n), nil
	case record.Decimal:
		u, sc, err := fixedParseDecimal(t, f.Scale)
		if err != nil {
			return record.Value{}, fmt.Errorf("invalid decimal %q: %w", b, err)
		}
		return record.Dec(u, sc), nil
	case record.Float:
		for _, c := range t {
			if (c < '0' || c > '9') && c != '.' && c != '-' && c != '+' && c != 'e' && c != 'E' {
				return record.Value{}, fmt.Errorf("invalid float %q: %q is not part of a number", b, c)
			}
		}
		x, err := strconv.ParseFloat(string(t), 64)
		if err != nil {
			return record.Value{}, fmt.Errorf("invalid float %q", b)
		}
		return record.FloatVal(x), nil
	case record.Bool:
		s := string(t)
		switch {
		case strings.EqualFold(s, f.BoolValues[0]):
			return record.BoolVal(true), nil
		case strings.EqualFold(s, f.BoolValues[1]):
			return record.BoolVal(false), nil
		}
		return record.Value{}, fmt.Errorf("invalid bool %q (expected %q or %q)", b, f.BoolValues[0], f.BoolValues[1])
	case record.Time:
		tm, err := time.Parse(f.Format, string(t))
		if err != nil {
			return record.Value{}, fmt.Errorf("invalid timestamp %q (layout %q)", b, f.Format)
		}
		if y := tm.Year(); y < 1678 || y > 2261 {
			// Timestamps are kept in Unix nanoseconds.
			return record.Value{}, fmt.Errorf("timestamp %q is out of range (years 1678 to 2261)", b)
		}
		return record.TimeVal(tm), nil
	}
	return record.Value{}, fmt.Errorf("cannot read a %s", f.Kind)
}

var errFixedDigits = errors.New("no digits")

func fixedParseInt(t []byte) (int64, error) {
	neg := false
	if len(t) > 0 && (t[0] == '-' || t[0] == '+') {
		neg, t = t[0] == '-', t[1:]
	}
	if len(t) == 0 {
		return 0, errFixedDigits
	}
	var n uint64
	for _, c := range t {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a digit", c)
		}
		if n > (1<<63)/10 {
			return 0, record.ErrRange
		}
		n = n*10 + uint64(c-'0')
		if n > 1<<63 {
			return 0, record.ErrRange
		}
	}
	if neg {
		return -int64(n-1) - 1, nil
	}
	if n > math.MaxInt64 {
		return 0, record.ErrRange
	}
	return int64(n), nil
}

// fixedParseDecimal reads [sign]digits[.digits]; without a point, a scale
// above 0 says how many of the digits are decimals. With a point and a
// scale, the value is brought to that scale.
func fixedParseDecimal(t []byte, scale int) (int64, int32, error) {
	neg := false
	if len(t) > 0 && (t[0] == '-' || t[0] == '+') {
		neg, t = t[0] == '-', t[1:]
	}
	var n int64
	digits, frac, dot := 0, 0, false
	for _, c := range t {
		switch {
		case c == '.' && !dot:
			dot = true
		case c >= '0' && c <= '9':
			if n > (math.MaxInt64-int64(c-'0'))/10 {
				return 0, 0, record.ErrRange
			}
			n = n*10 + int64(c-'0')
			digits++
			if dot {
				frac++
			}
		default:
			return 0, 0, fmt.Errorf("%q is not a digit", c)
		}
	}
	if digits == 0 {
		return 0, 0, errFixedDigits
	}
	if frac > 18 {
		return 0, 0, fmt.Errorf("%d decimal places; at most 18", frac)
	}
	if neg {
		n = -n
	}
	switch {
	case !dot && scale > 0:
		return n, int32(scale), nil
	case dot && scale > 0 && frac > scale:
		return 0, 0, fmt.Errorf("%d decimal places, more than the field's scale %d", frac, scale)
	case dot && scale > 0:
		u, ok := fixedRescale(n, int32(frac), int32(scale))
		if !ok {
			return 0, 0, record.ErrRange
		}
		return u, int32(scale), nil
	}
	return n, int32(frac), nil
}

// fixedRescale brings units from one scale to a larger or equal one, or
// to a smaller one when no digit is lost.
func fixedRescale(u int64, from, to int32) (int64, bool) {
	for from < to {
		if u > math.MaxInt64/10 || u < math.MinInt64/10 {
			return 0, false
		}
		u *= 10
		from++
	}
	for from > to {
		if u%10 != 0 {
			return 0, false
		}
		u /= 10
		from--
	}
	return u, true
}

// parseLoose converts text to the field's kind, for values that come as
// strings (from an untyped reader, a constant, header_values).
func (f *FixedField) parseLoose(s string) (record.Value, error) {
	if f.Kind == record.String {
		return record.Str(s), nil
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return record.Value{}, nil
	}
	switch f.Kind {
	case record.Bool:
		switch {
		case strings.EqualFold(s, f.BoolValues[0]):
			return record.BoolVal(true), nil
		case strings.EqualFold(s, f.BoolValues[1]):
			return record.BoolVal(false), nil
		}
	case record.Time:
		if t, err := time.Parse(f.Format, s); err == nil {
			return record.TimeVal(t), nil
		}
	}
	return record.Parse(f.Kind, s)
}

// encode appends the field's bytes for v: exactly f.Length bytes, or an
// error (and dst unchanged). sep is the record separator a text value
// must not contain.
func (f *FixedField) encode(dst []byte, v record.Value, sep string) ([]byte, error) {
	if f.filler() {
		return fixedAppendPad(dst, f.pad, f.Length), nil
	}
	if f.Value != nil {
		v = *f.Value
	}
	if v.Kind() == record.String && f.Kind != record.String {
		pv, err := f.parseLoose(v.Str())
		if err != nil {
			return dst, err
		}
		v = pv
	}
	if f.codec.kind != 't' {
		return f.encodeBinary(dst, v)
	}
	if v.IsNull() {
		pad := f.pad
		if f.Kind != record.String {
			pad = ' '
		}
		return fixedAppendPad(dst, pad, f.Length), nil
	}
	start := len(dst)
	out, err := f.appendText(dst, v)
	if err != nil {
		return dst[:start], err
	}
	text := out[start:]
	n := len(text)
	if n > f.Length {
		return dst[:start], fmt.Errorf("value %q is %d bytes, longer than the field's %d", text, n, f.Length)
	}
	if f.Kind == record.String {
		if !fixedASCII(text) && !utf8.Valid(text) {
			return dst[:start], fmt.Errorf("value %q is not valid UTF-8", text)
		}
		if sep != "" && strings.Contains(string(text), sep) {
			return dst[:start], fmt.Errorf("value %q contains the record separator", text)
		}
	}
	fill := f.Length - n
	if fill == 0 {
		return out, nil
	}
	if !f.right {
		return fixedAppendPad(out, f.pad, fill), nil
	}
	out = fixedAppendPad(out, f.pad, fill) // grow, then move the text right
	copy(out[start+fill:], out[start:start+n])
	for i := start; i < start+fill; i++ {
		out[i] = f.pad
	}
	if f.pad == '0' && out[start+fill] == '-' {
		// -0001234, not 000-1234.
		out[start], out[start+fill] = '-', '0'
	}
	return out, nil
}

func fixedAppendPad(dst []byte, pad byte, n int) []byte {
	for i := 0; i < n; i++ {
		dst = append(dst, pad)
	}
	return dst
}

func (f *FixedField) appendText(dst []byte, v record.Value) ([]byte, error) {
	switch f.Kind {
	case record.String:
		return v.AppendText(dst), nil
	case record.Int:
		i, ok := v.Int()
		if !ok {
			return dst, fmt.Errorf("%s %q is not a whole number", v.Kind(), v.Text())
		}
		return strconv.AppendInt(dst, i, 10), nil
	case record.Decimal:
		u, sc, err := fixedDecimalOf(v)
		if err != nil {
			return dst, err
		}
		if f.Scale == 0 {
			return record.Dec(u, sc).AppendText(dst), nil
		}
		su, ok := fixedRescale(u, sc, int32(f.Scale))
		if !ok {
			return dst, fmt.Errorf("%s does not fit scale %d (more decimal places, or too large)", record.Dec(u, sc).Text(), f.Scale)
		}
		return strconv.AppendInt(dst, su, 10), nil
	case record.Float:
		x, ok := v.Float()
		if !ok {
			return dst, fmt.Errorf("%s %q is not a number", v.Kind(), v.Text())
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return dst, fmt.Errorf("%v is not a finite number", x)
		}
		start := len(dst)
		dst = strconv.AppendFloat(dst, x, 'f', -1, 64)
		if len(dst)-start > f.Length {
			dst = strconv.AppendFloat(dst[:start], x, 'g', -1, 64)
		}
		return dst, nil
	case record.Bool:
		b, ok := v.Bool()
		if !ok {
			return dst, fmt.Errorf("%s %q is not a bool", v.Kind(), v.Text())
		}
		if b {
			return append(dst, f.BoolValues[0]...), nil
		}
		return append(dst, f.BoolValues[1]...), nil
	case record.Time:
		t, ok := v.Time()
		if !ok {
			return dst, fmt.Errorf("%s %q is not a timestamp", v.Kind(), v.Text())
		}
		return t.AppendFormat(dst, f.Format), nil
	}
	return dst, fmt.Errorf("cannot write a %s", f.Kind)
}

// fixedDecimalOf returns a number as exact units and scale.
func fixedDecimalOf(v record.Value) (int64, int32, error) {
	if u, sc, ok := v.Decimal(); ok {
		return u, sc, nil
	}
	if x, ok := v.Float(); ok {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, 0, fmt.Errorf("%v is not a finite number", x)
		}
		d, err := record.ParseDecimal(strconv.FormatFloat(x, 'f', -1, 64))
		if err != nil {
			return 0, 0, err
		}
		u, sc, _ := d.Decimal()
		return u, sc, nil
	}
	return 0, 0, fmt.Errorf("%s %q is not a number", v.Kind(), v.Text())
}

func (f *FixedField) encodeBinary(dst []byte, v record.Value) ([]byte, error) {
	if f.codec.kind == 'f' {
		x, ok := v.Float()
		switch {
		case v.IsNull():
			x = 0
		case !ok:
			return dst, fmt.Errorf("%s %q is not a number", v.Kind(), v.Text())
		}
		if f.codec.size == 4 {
			if !math.IsInf(x, 0) && !math.IsNaN(x) && math.Abs(x) > math.MaxFloat32 {
				return dst, fmt.Errorf("%v does not fit in a %s", x, f.codec.name)
			}
			return fixedPutInt(dst, fixedCodec{size: 4, little: f.codec.little}, int64(math.Float32bits(float32(x)))), nil
		}
		return fixedPutInt(dst, fixedCodec{size: 8, little: f.codec.little}, int64(math.Float64bits(x))), nil
	}
	var n int64
	switch {
	case v.IsNull():
	case f.Kind == record.Bool:
		b, ok := v.Bool()
		if !ok {
			return dst, fmt.Errorf("%s %q is not a bool", v.Kind(), v.Text())
		}
		if b {
			n = 1
		}
	case f.Kind == record.Decimal:
		u, sc, err := fixedDecimalOf(v)
		if err != nil {
			return dst, err
		}
		su, ok := fixedRescale(u, sc, int32(f.Scale))
		if !ok {
			return dst, fmt.Errorf("%s does not fit scale %d (more decimal places, or too large)", record.Dec(u, sc).Text(), f.Scale)
		}
		n = su
	default:
		i, ok := v.Int()
		if !ok {
			return dst, fmt.Errorf("%s %q is not a whole number", v.Kind(), v.Text())
		}
		n = i
	}
	if f.codec.kind == 'p' {
		return fixedPack(dst, n, f.Length)
	}
	if lo, hi := fixedIntRange(f.codec); n < lo || n > hi {
		return dst, fmt.Errorf("%d does not fit in %s (%d to %d)", n, f.codec.name, lo, hi)
	}
	return fixedPutInt(dst, f.codec, n), nil
}
