package script

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/dop251/goja"
	"github.com/zclconf/go-cty/cty"
)

// maxDepth bounds the nesting of values converted between HCL and JS (a
// cycle in a JS object would otherwise never end).
const maxDepth = 64

// ctyToJS converts an HCL value for JavaScript, frozen when freeze is set
// (what the script step and ctx.params hand in is read-only). Whole
// numbers that fit 64 bits are integers; other numbers are JS numbers when
// the nearest double prints back as the same number, decimal objects when
// they have up to 18 digits, and the nearest double otherwise. Lists, sets
// and tuples are arrays; maps and objects are objects; null is null.
func (r *rt) ctyToJS(v cty.Value, freeze bool) goja.Value {
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() {
		return goja.Null()
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return r.vm.ToValue(v.AsString())
	case ty == cty.Bool:
		return r.vm.ToValue(v.True())
	case ty == cty.Number:
		return r.numberToJS(v.AsBigFloat())
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		items := make([]any, 0, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			items = append(items, r.ctyToJS(e, freeze))
		}
		return r.frozen(r.vm.NewArray(items...), freeze)
	case ty.IsMapType() || ty.IsObjectType():
		o := r.vm.NewObject()
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			// An own property whatever the key: Set("__proto__", ...)
			// would replace the object's prototype and lose the key.
			_ = o.DefineDataProperty(k.AsString(), r.ctyToJS(e, freeze), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE)
		}
		return r.frozen(o, freeze)
	}
	return goja.Undefined()
}

func (r *rt) frozen(o *goja.Object, freeze bool) goja.Value {
	if freeze {
		_, _ = r.freeze(goja.Undefined(), o)
	}
	return o
}

func (r *rt) numberToJS(bf *big.Float) goja.Value {
	if e := bf.MantExp(nil); e > 1100 || e < -1100 {
		// Beyond any double (1e99999999): printing it in decimal, as
		// below, would take minutes.
		f, _ := bf.Float64()
		return r.vm.ToValue(f)
	}
	if bf.IsInt() {
		if i, acc := bf.Int64(); acc == big.Exact {
			return r.intToJS(i)
		}
	}
	f, _ := bf.Float64()
	if !math.IsInf(f, 0) {
		if back, err := cty.ParseNumberVal(strconv.FormatFloat(f, 'g', -1, 64)); err == nil && back.AsBigFloat().Cmp(bf) == 0 {
			return r.vm.ToValue(f)
		}
	}
	if d, err := parseDec(trimZeros(bf.Text('f', maxScale))); err == nil {
		if back, err := cty.ParseNumberVal(d.String()); err == nil && back.AsBigFloat().Cmp(bf) == 0 {
			return r.newDecimal(d)
		}
	}
	return r.vm.ToValue(f)
}

// jsToCty converts a JS value to HCL: integers are whole numbers, other
// numbers the decimal they print as (0.1 is HCL's 0.1), decimals exact,
// Dates RFC 3339 strings, arrays tuples, objects objects, undefined null.
func (r *rt) jsToCty(v goja.Value) (cty.Value, error) { return r.jsToCtyDepth(v, 0) }

func (r *rt) jsToCtyDepth(v goja.Value, depth int) (cty.Value, error) {
	if depth > maxDepth {
		return cty.NilVal, errors.New("nested too deeply (a cycle?)")
	}
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return cty.NullVal(cty.DynamicPseudoType), nil
	}
	if _, ok := v.(*goja.Symbol); ok {
		return cty.NilVal, errors.New("cannot convert a symbol")
	}
	switch v.ExportType() {
	case typeInt64:
		return cty.NumberIntVal(v.ToInteger()), nil
	case typeFloat64:
		f := v.ToFloat()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return cty.NilVal, fmt.Errorf("%v is not a number HCL can hold", f)
		}
		return cty.ParseNumberVal(strconv.FormatFloat(f, 'g', -1, 64))
	case typeString:
		return cty.StringVal(v.String()), nil
	case typeBool:
		return cty.BoolVal(v.ToBoolean()), nil
	case typeBigInt:
		b, _ := v.Export().(*big.Int)
		return cty.NumberVal(new(big.Float).SetInt(b)), nil
	}
	o, ok := v.(*goja.Object)
	if !ok {
		return cty.NilVal, fmt.Errorf("cannot convert a %s", typeName(v))
	}
	switch o.ExportType() {
	case typeDecimal:
		return cty.ParseNumberVal(o.Export().(*decimalObj).d.String())
	case typeTime:
		t, _ := o.Export().(time.Time)
		return cty.StringVal(t.UTC().Format(time.RFC3339Nano)), nil
	case typeArray:
		n := o.Get("length").ToInteger()
		if n == 0 {
			return cty.EmptyTupleVal, nil
		}
		items := make([]cty.Value, n)
		for i := range items {
			e, err := r.jsToCtyDepth(o.Get(strconv.Itoa(i)), depth+1)
			if err != nil {
				return cty.NilVal, fmt.Errorf("[%d]: %w", i, err)
			}
			items[i] = e
		}
		return cty.TupleVal(items), nil
	case typeMap, typeItem:
		if _, isFn := goja.AssertFunction(o); isFn {
			break
		}
		keys := o.Keys()
		if len(keys) == 0 {
			return cty.EmptyObjectVal, nil
		}
		m := make(map[string]cty.Value, len(keys))
		for _, k := range keys {
			e, err := r.jsToCtyDepth(o.Get(k), depth+1)
			if err != nil {
				return cty.NilVal, fmt.Errorf("%s: %w", k, err)
			}
			m[k] = e
		}
		return cty.ObjectVal(m), nil
	}
	return cty.NilVal, fmt.Errorf("cannot convert a %s", typeName(v))
}

// trimZeros drops the trailing zeros of a fraction ("1.500" → "1.5").
func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
