package flow

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// FormatValue renders a value in HCL syntax, for terminal output.
func FormatValue(v cty.Value) string {
	if v == cty.NilVal {
		return "null"
	}
	if !v.IsWhollyKnown() {
		return "(unknown)"
	}
	return string(hclwrite.Format(hclwrite.TokensForValue(v).Bytes()))
}

// MarshalValue encodes a value with its type as JSON, in the form
// go-cty's json package reads with cty.DynamicPseudoType
// ({"value": ..., "type": ...}), so that UnmarshalValue gives back the
// same value and type. Whole numbers are written without going through
// big.Float formatting, which dominates the cost of journaling otherwise.
func MarshalValue(v cty.Value) ([]byte, error) {
	if !v.IsWhollyKnown() {
		return nil, fmt.Errorf("value is not known")
	}
	ty, err := ctyjson.MarshalType(v.Type())
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 0, 64)
	buf = append(buf, `{"value":`...)
	if buf, err = appendValue(buf, v); err != nil {
		return nil, err
	}
	buf = append(buf, `,"type":`...)
	buf = append(buf, ty...)
	return append(buf, '}'), nil
}

// UnmarshalValue decodes what MarshalValue wrote. Bytes that do not hold
// such a value (a damaged store) give an error, never a panic: go-cty's
// decoder panics on some, such as a tuple with fewer elements than its
// type.
func UnmarshalValue(b []byte) (v cty.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = cty.NilVal, fmt.Errorf("invalid value: %v", r)
		}
	}()
	return ctyjson.Unmarshal(b, cty.DynamicPseudoType)
}

// maxExp bounds the binary exponent of the numbers MarshalValue encodes:
// far beyond any float64 (2^±1024), and at most 2467 digits.
const maxExp = 8192

func appendValue(buf []byte, v cty.Value) ([]byte, error) {
	if v.IsNull() {
		return append(buf, "null"...), nil
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		b, err := json.Marshal(v.AsString())
		if err != nil {
			return nil, err
		}
		return append(buf, b...), nil
	case ty == cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInf() {
			return nil, fmt.Errorf("cannot encode an infinite number")
		}
		if e := bf.MantExp(nil); e > maxExp || e < -maxExp {
			// Writing it in decimal would take minutes and gigabytes.
			return nil, fmt.Errorf("cannot encode a number beyond 2^±%d (about 1e±2466)", maxExp)
		}
		if bf.IsInt() {
			if i, acc := bf.Int64(); acc == big.Exact {
				return strconv.AppendInt(buf, i, 10), nil
			}
			// Every digit: the shortest form at a float64's precision
			// (pow(2, 80) as 1208925819614629200000000) reads back as
			// another integer at cty's 512 bits.
			return bf.Append(buf, 'f', 0), nil
		}
		return bf.Append(buf, 'f', -1), nil
	case ty == cty.Bool:
		return strconv.AppendBool(buf, v.True()), nil
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		buf = append(buf, '[')
		i := 0
		var err error
		for it := v.ElementIterator(); it.Next(); i++ {
			if i > 0 {
				buf = append(buf, ',')
			}
			_, ev := it.Element()
			if buf, err = appendValue(buf, ev); err != nil {
				return nil, err
			}
		}
		return append(buf, ']'), nil
	case ty.IsMapType() || ty.IsObjectType():
		buf = append(buf, '{')
		i := 0
		for it := v.ElementIterator(); it.Next(); i++ {
			if i > 0 {
				buf = append(buf, ',')
			}
			k, ev := it.Element()
			kb, err := json.Marshal(k.AsString())
			if err != nil {
				return nil, err
			}
			buf = append(append(buf, kb...), ':')
			if buf, err = appendValue(buf, ev); err != nil {
				return nil, err
			}
		}
		return append(buf, '}'), nil
	}
	return nil, fmt.Errorf("cannot encode a value of type %s", ty.FriendlyName())
}
