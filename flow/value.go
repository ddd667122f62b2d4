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

// UnmarshalValue decodes what MarshalValue wrote.
func UnmarshalValue(b []byte) (cty.Value, error) {
	return ctyjson.Unmarshal(b, cty.DynamicPseudoType)
}

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
		if bf.IsInt() {
			if i, acc := bf.Int64(); acc == big.Exact {
				return strconv.AppendInt(buf, i, 10), nil
			}
		}
		if bf.IsInf() {
			return nil, fmt.Errorf("cannot encode an infinite number")
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
