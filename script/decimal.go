package script

import (
	"errors"
	"math"
	"math/big"
	"strconv"

	"github.com/dop251/goja"

	"github.com/flowbatch/flow/steps/batch/record"
)

// dec is an exact decimal: u × 10^-s, with 0 ≤ s ≤ maxScale. It is what
// record decimals are and what the JS decimal() helper computes with.
type dec struct {
	u int64
	s int32
}

const maxScale = 18

var errOverflow = errors.New("decimal overflow: the result does not fit in 18 digits")

var pow10tab = func() [19]int64 {
	var t [19]int64
	t[0] = 1
	for i := 1; i < len(t); i++ {
		t[i] = t[i-1] * 10
	}
	return t
}()

func (d dec) value() record.Value { return record.Dec(d.u, d.s) }

func (d dec) String() string { return d.value().Text() }

func (d dec) float() float64 {
	if d.s >= 0 && d.s < int32(len(pow10tab)) {
		return float64(d.u) / float64(pow10tab[d.s])
	}
	f, _ := d.value().Float()
	return f
}

// exactFloat reports whether the decimal is what a JS number shows: at
// most 15 significant digits, so that the nearest double prints back as
// the same decimal and arithmetic with small integers is exact after
// rounding.
func (d dec) exactFloat() bool {
	return d.s >= 0 && d.s <= 22 && d.u > -1e15 && d.u < 1e15
}

func parseDec(s string) (dec, error) {
	v, err := record.ParseDecimal(s)
	if err != nil {
		return dec{}, err
	}
	u, sc, _ := v.Decimal()
	return normScale(u, sc)
}

// normScale brings a negative scale (from an exponent) to 0.
func normScale(u int64, s int32) (dec, error) {
	d := dec{u, s}
	if s < 0 {
		return d.rescale(0)
	}
	if s > maxScale {
		return d.round(maxScale)
	}
	return d, nil
}

// decFromFloat makes the decimal a JS number prints as: 0.1 is 0.1, not
// the binary fraction nearest to it.
func decFromFloat(f float64) (dec, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dec{}, errors.New("decimal: NaN and Infinity are not decimals")
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<63 {
		return dec{int64(f), 0}, nil
	}
	// The shortest decimal that reads back as f, found without text when
	// it has at most 15 significant digits: then decimals of its scale are
	// more than 4 ulps of f apart, so the nearest one to f×10^k is the
	// only candidate, and m/10^k, correctly rounded from exact operands,
	// is what reading it would give.
	for k := 1; k <= 15; k++ {
		p := float64(pow10tab[k])
		m := math.Round(f * p)
		if math.Abs(m) >= 1e15 {
			break
		}
		if m/p == f {
			return dec{int64(m), int32(k)}, nil
		}
	}
	return parseDec(strconv.FormatFloat(f, 'g', -1, 64))
}

func mul64(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	c := a * b
	if (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) || c/b != a {
		return 0, false
	}
	return c, true
}

func add64(a, b int64) (int64, bool) {
	c := a + b
	if (a > 0 && b > 0 && c < 0) || (a < 0 && b < 0 && c >= 0) {
		return 0, false
	}
	return c, true
}

// rescale gives d the larger scale s, exactly.
func (d dec) rescale(s int32) (dec, error) {
	if s < d.s {
		return d.round(s)
	}
	if s-d.s >= int32(len(pow10tab)) {
		return dec{}, errOverflow
	}
	u, ok := mul64(d.u, pow10tab[s-d.s])
	if !ok {
		return dec{}, errOverflow
	}
	return dec{u, s}, nil
}

// round rounds to scale s, half away from zero (as cash registers do).
func (d dec) round(s int32) (dec, error) {
	if s < 0 {
		s = 0
	}
	if s >= d.s {
		return d.rescale(s)
	}
	k := d.s - s
	if k >= int32(len(pow10tab)) {
		return dec{0, s}, nil
	}
	p := pow10tab[k]
	q, r := d.u/p, d.u%p
	if r < 0 {
		r = -r
	}
	if r >= p-r { // r ≥ p/2 without overflow
		if d.u < 0 {
			q--
		} else {
			q++
		}
	}
	return dec{q, s}, nil
}

func align(a, b dec) (dec, dec, error) {
	s := max(a.s, b.s)
	a, err := a.rescale(s)
	if err != nil {
		return a, b, err
	}
	b, err = b.rescale(s)
	return a, b, err
}

func (d dec) add(e dec) (dec, error) {
	a, b, err := align(d, e)
	if err != nil {
		return dec{}, err
	}
	u, ok := add64(a.u, b.u)
	if !ok {
		return dec{}, errOverflow
	}
	return dec{u, a.s}, nil
}

func (d dec) neg() (dec, error) {
	if d.u == math.MinInt64 {
		return dec{}, errOverflow
	}
	return dec{-d.u, d.s}, nil
}

func (d dec) sub(e dec) (dec, error) {
	n, err := e.neg()
	if err != nil {
		return dec{}, err
	}
	return d.add(n)
}

func (d dec) mul(e dec) (dec, error) {
	if u, ok := mul64(d.u, e.u); ok && d.s+e.s <= maxScale {
		return dec{u, d.s + e.s}, nil
	}
	// Through big integers, then rounded back to 18 decimals at most.
	p := new(big.Int).Mul(big.NewInt(d.u), big.NewInt(e.u))
	return fromBig(p, d.s+e.s, min(d.s+e.s, maxScale))
}

// div divides to scale s, rounding half away from zero.
func (d dec) div(e dec, s int32) (dec, error) {
	if e.u == 0 {
		return dec{}, errors.New("decimal: division by zero")
	}
	// d/e = (d.u × 10^(e.s+s+1)) / (e.u × 10^d.s) × 10^-(s+1)
	num := new(big.Int).Mul(big.NewInt(d.u), pow10big(int64(e.s)+int64(s)+1))
	den := new(big.Int).Mul(big.NewInt(e.u), pow10big(int64(d.s)))
	q := new(big.Int).Quo(num, den)
	return fromBig(q, s+1, s)
}

func pow10big(n int64) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(n), nil)
}

// fromBig rounds u × 10^-from to scale to (≤ from), half away from zero.
func fromBig(u *big.Int, from, to int32) (dec, error) {
	if from > to {
		p := pow10big(int64(from - to))
		q, r := new(big.Int).QuoRem(u, p, new(big.Int))
		r.Abs(r).Mul(r, big.NewInt(2))
		if r.Cmp(p) >= 0 {
			if u.Sign() < 0 {
				q.Sub(q, big.NewInt(1))
			} else {
				q.Add(q, big.NewInt(1))
			}
		}
		u = q
	}
	if !u.IsInt64() {
		return dec{}, errOverflow
	}
	return dec{u.Int64(), to}, nil
}

func (d dec) cmp(e dec) int {
	if a, b, err := align(d, e); err == nil {
		switch {
		case a.u < b.u:
			return -1
		case a.u > b.u:
			return 1
		}
		return 0
	}
	x := new(big.Int).Mul(big.NewInt(d.u), pow10big(int64(e.s)))
	y := new(big.Int).Mul(big.NewInt(e.u), pow10big(int64(d.s)))
	return x.Cmp(y)
}

// decimalObj is the Go side of a JS decimal: an object with no own
// properties whose methods live on the decimal prototype.
type decimalObj struct{ d dec }

// decRing is how many of the decimals made last a runtime remembers, so
// that their methods find their value without Export (which allocates):
// a chain like decimal.field(item, "amount").mul(rate).round(2) only uses
// the latest ones.
const decRing = 8

func (*decimalObj) Get(string) goja.Value       { return nil }
func (*decimalObj) Set(string, goja.Value) bool { return false }
func (*decimalObj) Has(string) bool             { return false }
func (*decimalObj) Delete(string) bool          { return true }
func (*decimalObj) Keys() []string              { return nil }

// newDecimal makes a JS decimal, its Go side cut from a slab.
func (r *rt) newDecimal(d dec) *goja.Object {
	if len(r.decSlab) == 0 {
		r.decSlab = make([]decimalObj, slabSize/4)
	}
	h := &r.decSlab[0]
	r.decSlab = r.decSlab[1:]
	h.d = d
	o := r.vm.NewDynamicObject(h)
	_ = o.SetPrototype(r.decProto)
	i := r.decNext
	r.decObjs[i], r.decVals[i] = o, h
	r.decNext = (i + 1) % decRing
	return o
}

// decimalOf returns the Go side of a JS decimal.
func (r *rt) decimalOf(v goja.Value) (*decimalObj, bool) {
	o, ok := v.(*goja.Object)
	if !ok {
		return nil, false
	}
	for i, x := range r.decObjs {
		if x == o {
			return r.decVals[i], true
		}
	}
	if o.ExportType() != typeDecimal {
		return nil, false
	}
	h, ok := o.Export().(*decimalObj)
	return h, ok
}

// toDec converts a JS value to a decimal: decimals, numbers (as they
// print), strings and BigInts.
func (r *rt) toDec(v goja.Value) (dec, error) {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return dec{}, errors.New("decimal: expected a number, a string or a decimal, got " + typeName(v))
	}
	switch v.ExportType() {
	case typeInt64:
		return dec{v.ToInteger(), 0}, nil
	case typeFloat64:
		return decFromFloat(v.ToFloat())
	case typeString:
		d, err := parseDec(v.String())
		if err != nil {
			return dec{}, errors.New("decimal: " + err.Error())
		}
		return d, nil
	case typeBigInt:
		b, _ := v.Export().(*big.Int)
		if b == nil || !b.IsInt64() {
			return dec{}, errOverflow
		}
		return dec{b.Int64(), 0}, nil
	case typeDecimal:
		if h, ok := r.decimalOf(v); ok {
			return h.d, nil
		}
	}
	return dec{}, errors.New("decimal: expected a number, a string or a decimal, got " + typeName(v))
}

// initDecimal defines the decimal() function and its prototype.
func (r *rt) initDecimal() {
	vm := r.vm
	proto := vm.NewObject()
	r.decProto = proto
	this := func(c goja.FunctionCall) dec {
		if h, ok := r.decimalOf(c.This); ok {
			return h.d
		}
		panic(vm.NewTypeError("not a decimal"))
	}
	arg := func(c goja.FunctionCall, i int) dec {
		d, err := r.toDec(c.Argument(i))
		if err != nil {
			panic(vm.NewTypeError(err.Error()))
		}
		return d
	}
	scaleArg := func(c goja.FunctionCall, i int, def int32) int32 {
		v := c.Argument(i)
		if goja.IsUndefined(v) {
			return def
		}
		s := v.ToInteger()
		if s < 0 || s > maxScale {
			panic(r.rangeError("decimal: scale must be between 0 and 18"))
		}
		return int32(s)
	}
	ret := func(d dec, err error) goja.Value {
		if err != nil {
			panic(r.rangeError(err.Error()))
		}
		return r.newDecimal(d)
	}
	method := func(name string, fn func(goja.FunctionCall) goja.Value) {
		_ = proto.Set(name, fn)
	}
	method("add", func(c goja.FunctionCall) goja.Value { return ret(this(c).add(arg(c, 0))) })
	method("sub", func(c goja.FunctionCall) goja.Value { return ret(this(c).sub(arg(c, 0))) })
	method("mul", func(c goja.FunctionCall) goja.Value {
		d, err := this(c).mul(arg(c, 0))
		if err == nil && !goja.IsUndefined(c.Argument(1)) {
			d, err = d.round(scaleArg(c, 1, 0))
		}
		return ret(d, err)
	})
	method("div", func(c goja.FunctionCall) goja.Value {
		d, e := this(c), arg(c, 0)
		return ret(d.div(e, scaleArg(c, 1, max(d.s, e.s))))
	})
	method("round", func(c goja.FunctionCall) goja.Value { return ret(this(c).round(scaleArg(c, 0, 0))) })
	method("neg", func(c goja.FunctionCall) goja.Value { return ret(this(c).neg()) })
	method("abs", func(c goja.FunctionCall) goja.Value {
		d := this(c)
		if d.u < 0 {
			return ret(d.neg())
		}
		return r.newDecimal(d)
	})
	method("cmp", func(c goja.FunctionCall) goja.Value { return vm.ToValue(this(c).cmp(arg(c, 0))) })
	for name, want := range map[string]func(int) bool{
		"eq": func(i int) bool { return i == 0 }, "lt": func(i int) bool { return i < 0 },
		"lte": func(i int) bool { return i <= 0 }, "gt": func(i int) bool { return i > 0 },
		"gte": func(i int) bool { return i >= 0 },
	} {
		method(name, func(c goja.FunctionCall) goja.Value { return vm.ToValue(want(this(c).cmp(arg(c, 0)))) })
	}
	method("sign", func(c goja.FunctionCall) goja.Value {
		d := this(c)
		switch {
		case d.u < 0:
			return vm.ToValue(-1)
		case d.u > 0:
			return vm.ToValue(1)
		}
		return vm.ToValue(0)
	})
	method("scale", func(c goja.FunctionCall) goja.Value { return vm.ToValue(this(c).s) })
	units := func(d dec, s int32) goja.Value {
		if s == d.s {
			return r.intToJS(d.u)
		}
		if s > d.s {
			// Exact, and possibly beyond 64 bits: a BigInt then.
			u := new(big.Int).Mul(big.NewInt(d.u), pow10big(int64(s-d.s)))
			if u.IsInt64() {
				return r.intToJS(u.Int64())
			}
			return vm.ToValue(u)
		}
		d, err := d.round(s)
		if err != nil {
			panic(r.rangeError(err.Error()))
		}
		return r.intToJS(d.u)
	}
	method("toUnits", func(c goja.FunctionCall) goja.Value { d := this(c); return units(d, scaleArg(c, 0, d.s)) })
	method("toCents", func(c goja.FunctionCall) goja.Value { return units(this(c), 2) })
	method("toNumber", func(c goja.FunctionCall) goja.Value { return vm.ToValue(this(c).float()) })
	method("valueOf", func(c goja.FunctionCall) goja.Value { return vm.ToValue(this(c).float()) })
	method("toString", func(c goja.FunctionCall) goja.Value { return vm.ToValue(this(c).String()) })
	method("toJSON", func(c goja.FunctionCall) goja.Value { return vm.ToValue(this(c).String()) })
	method("toFixed", func(c goja.FunctionCall) goja.Value {
		d, err := this(c).round(scaleArg(c, 0, 0))
		if err != nil {
			panic(r.rangeError(err.Error()))
		}
		return vm.ToValue(d.String())
	})

	ctor := vm.ToValue(func(c goja.FunctionCall) goja.Value {
		d := arg(c, 0)
		if !goja.IsUndefined(c.Argument(1)) {
			var err error
			if d, err = d.round(scaleArg(c, 1, 0)); err != nil {
				panic(r.rangeError(err.Error()))
			}
		}
		return r.newDecimal(d)
	}).(*goja.Object)
	_ = ctor.Set("prototype", proto)
	_ = proto.Set("constructor", ctor)
	_ = ctor.Set("isDecimal", func(c goja.FunctionCall) goja.Value {
		return vm.ToValue(c.Argument(0).ExportType() == typeDecimal)
	})
	// decimal.field(item, name): a field of the record as an exact decimal,
	// with its own scale (a JS number does not keep 20.10's trailing 0).
	_ = ctor.Set("field", func(c goja.FunctionCall) goja.Value {
		it, ok := r.itemOf(c.Argument(0))
		if !ok {
			panic(vm.NewTypeError("decimal.field: expected an item, such as decimal.field(item, \"amount\")"))
		}
		name := c.Argument(1).String()
		if f := it.find(name); f != nil {
			if f.deleted {
				return goja.Null()
			}
			return r.newDecimal(arg(goja.FunctionCall{Arguments: []goja.Value{f.v}}, 0))
		}
		v, ok := it.rec.Get(name)
		if !ok {
			panic(vm.NewTypeError("decimal.field: the record has no field " + name))
		}
		if v.IsNull() {
			return goja.Null()
		}
		if u, s, ok := v.Decimal(); ok {
			d, err := normScale(u, s)
			if err != nil {
				panic(r.rangeError(err.Error()))
			}
			return r.newDecimal(d)
		}
		return r.newDecimal(arg(goja.FunctionCall{Arguments: []goja.Value{r.toJS(v)}}, 0))
	})
	// decimal and decimal.field are read-only: the code that calls
	// decimal.field(item, ...) is then known to hand item to this function
	// only (see itemStaysLocal).
	_ = ctor.DefineDataProperty("field", ctor.Get("field"), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	_ = vm.GlobalObject().DefineDataProperty("decimal", ctor, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
}

func (r *rt) rangeError(msg string) *goja.Object {
	o, err := r.vm.New(r.vm.Get("RangeError"), r.vm.ToValue(msg))
	if err != nil {
		return r.vm.NewTypeError(msg)
	}
	return o
}
