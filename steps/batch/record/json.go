package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// AppendJSON appends a value as JSON: decimals as exact numbers, timestamps
// as RFC 3339 strings, maps as objects in field order.
func AppendJSON(b []byte, v Value) ([]byte, error) {
	switch v.kind {
	case Null:
		return append(b, "null"...), nil
	case String:
		return appendJSONString(b, v.s), nil
	case Int:
		return strconv.AppendInt(b, v.n, 10), nil
	case Decimal:
		return appendDecimal(b, v.n, v.scale), nil
	case Float:
		f := v.float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("cannot write %v as JSON", f)
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64), nil
	case Bool:
		return strconv.AppendBool(b, v.n != 0), nil
	case Time:
		b = append(b, '"')
		b = time.Unix(0, v.n).UTC().AppendFormat(b, time.RFC3339Nano)
		return append(b, '"'), nil
	case List:
		l, _ := v.List()
		b = append(b, '[')
		for i, e := range l {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = AppendJSON(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case Map:
		r, _ := v.Map()
		return AppendRecordJSON(b, r)
	}
	return nil, fmt.Errorf("cannot write a %s as JSON", v.kind)
}

// AppendRecordJSON appends a record as a JSON object.
func AppendRecordJSON(b []byte, r *Record) ([]byte, error) {
	b = append(b, '{')
	for i, f := range r.Schema.Fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f.Name)
		b = append(b, ':')
		var err error
		if b, err = AppendJSON(b, r.Values[i]); err != nil {
			return nil, fmt.Errorf("field %s: %w", f.Name, err)
		}
	}
	return append(b, '}'), nil
}

func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			enc, _ := json.Marshal(s)
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// DecodeJSON reads one JSON object into a record: integers become ints,
// other numbers exact decimals, objects nested maps. Field order is the
// object's. schemas caches the schemas of the objects seen.
func DecodeJSON(data []byte, schemas *Schemas) (*Record, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("expected a JSON object, found %v", tok)
	}
	r, err := decodeObject(dec, schemas)
	if err != nil {
		if errors.Is(err, io.EOF) {
			// encoding/json says only "EOF"; keep the fields before it.
			path := strings.TrimSuffix(err.Error(), io.EOF.Error())
			return nil, errors.New(path + "the line ends before the JSON object is closed")
		}
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value on the line")
	}
	return r, nil
}

func decodeObject(dec *json.Decoder, schemas *Schemas) (*Record, error) {
	var names []string
	var vals []Value
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("expected a field name, found %v", tok)
		}
		v, err := decodeValue(dec, schemas)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", name, err)
		}
		names = append(names, name)
		vals = append(vals, v)
	}
	if _, err := dec.Token(); err != nil { // }
		return nil, err
	}
	s, err := schemas.Get(names)
	if err != nil {
		return nil, err
	}
	return &Record{Schema: s, Values: vals}, nil
}

func decodeValue(dec *json.Decoder, schemas *Schemas) (Value, error) {
	tok, err := dec.Token()
	if err != nil {
		return Value{}, err
	}
	switch t := tok.(type) {
	case nil:
		return Value{}, nil
	case string:
		return Str(t), nil
	case bool:
		return BoolVal(t), nil
	case json.Number:
		if i, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return IntVal(i), nil
		}
		v, err := ParseDecimal(string(t))
		if err != nil {
			f, ferr := strconv.ParseFloat(string(t), 64)
			if ferr != nil {
				return Value{}, err
			}
			return FloatVal(f), nil
		}
		return v, nil
	case json.Delim:
		switch t {
		case '{':
			r, err := decodeObject(dec, schemas)
			if err != nil {
				return Value{}, err
			}
			return MapVal(r), nil
		case '[':
			var l []Value
			for dec.More() {
				e, err := decodeValue(dec, schemas)
				if err != nil {
					return Value{}, err
				}
				l = append(l, e)
			}
			if _, err := dec.Token(); err != nil {
				return Value{}, err
			}
			return ListVal(l), nil
		}
	}
	return Value{}, fmt.Errorf("unexpected %v", tok)
}
