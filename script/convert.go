package script

import (
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/dop251/goja"

	"github.com/flowbatch/flow/steps/batch/record"
)

// itemObj is a record as JavaScript sees it, without a copy: a field is
// converted when it is read. Writes (item.x = 1, delete item.y) go to an
// overlay; the record itself never changes, so a record passed on
// untouched (return item) is the same record.
type itemObj struct {
	r   *rt
	rec *record.Record
	set []setField // in the order first written; nil until a write
}

type setField struct {
	name    string
	v       goja.Value
	deleted bool
}

func (o *itemObj) find(key string) *setField {
	for i := range o.set {
		if o.set[i].name == key {
			return &o.set[i]
		}
	}
	return nil
}

// Get converts a field when the code reads it.
func (o *itemObj) Get(key string) goja.Value {
	if o.set != nil {
		if f := o.find(key); f != nil {
			if f.deleted {
				return nil
			}
			return f.v
		}
	}
	i, ok := o.rec.Schema.Index(key)
	if !ok {
		return nil
	}
	r := o.r
	if o.rec == r.cacheRec && i < len(r.cache) {
		// The record being processed: each field is converted once.
		if v := r.cache[i]; v != nil {
			return v
		}
		v := r.toJS(o.rec.Values[i])
		r.cache[i] = v
		return v
	}
	return r.toJS(o.rec.Values[i])
}

// current makes rec the record whose converted fields are cached.
func (r *rt) current(rec *record.Record) {
	r.cacheRec = rec
	if rec == nil {
		clear(r.cache)
		return
	}
	n := len(rec.Values)
	if cap(r.cache) < n {
		r.cache = make([]goja.Value, n)
	}
	r.cache = r.cache[:n]
	clear(r.cache)
}

func (o *itemObj) Set(key string, v goja.Value) bool {
	if f := o.find(key); f != nil {
		f.v, f.deleted = v, false
		return true
	}
	o.set = append(o.set, setField{name: key, v: v})
	return true
}

func (o *itemObj) Has(key string) bool {
	if o.set != nil {
		if f := o.find(key); f != nil {
			return !f.deleted
		}
	}
	_, ok := o.rec.Schema.Index(key)
	return ok
}

func (o *itemObj) Delete(key string) bool {
	if f := o.find(key); f != nil {
		f.v, f.deleted = nil, true
		return true
	}
	if _, ok := o.rec.Schema.Index(key); ok {
		o.set = append(o.set, setField{name: key, deleted: true})
	}
	return true
}

func (o *itemObj) Keys() []string {
	names := o.r.names(o.rec.Schema)
	if o.set == nil {
		return names
	}
	out := make([]string, 0, len(names)+len(o.set))
	for _, n := range names {
		if f := o.find(n); f == nil || !f.deleted {
			out = append(out, n)
		}
	}
	for _, f := range o.set {
		if _, ok := o.rec.Schema.Index(f.name); !ok && !f.deleted {
			out = append(out, f.name)
		}
	}
	return out
}

// names returns a schema's field names, kept per runtime so that Keys
// (spread, for-in, Object.keys) allocates nothing.
func (r *rt) names(s *record.Schema) []string {
	if n, ok := r.itemKeys[s]; ok {
		return n
	}
	n := s.Names()
	if len(r.itemKeys) > 1024 {
		clear(r.itemKeys)
	}
	r.itemKeys[s] = n
	return n
}

func (r *rt) newItem(rec *record.Record) *goja.Object {
	_, o := r.newItemObj(rec)
	return o
}

// newItemObj makes an item. (Not from a slab: an item the code keeps
// would keep the records of the whole slab.)
func (r *rt) newItemObj(rec *record.Record) (*itemObj, *goja.Object) {
	it := &itemObj{r: r, rec: rec}
	return it, r.vm.NewDynamicObject(it)
}

// itemOf returns the Go side of an item.
func (r *rt) itemOf(v goja.Value) (*itemObj, bool) {
	if v == nil {
		return nil, false
	}
	if r.itemJS != nil && v == r.itemJS {
		return r.item, true
	}
	if o, ok := v.(*goja.Object); ok && o.ExportType() == typeItem {
		return o.Export().(*itemObj), true
	}
	return nil, false
}

// record returns the record an item stands for: the record itself when
// the code did not write to it, a new one otherwise.
func (o *itemObj) record() (*record.Record, error) {
	if o.set == nil {
		return o.rec, nil
	}
	keys := o.Keys()
	vals := make([]record.Value, len(keys))
	for i, k := range keys {
		var orig *record.Value
		if j, ok := o.rec.Schema.Index(k); ok {
			orig = &o.rec.Values[j]
		}
		v := goja.Value(nil)
		if f := o.find(k); f != nil {
			v = f.v
		} else if orig != nil {
			vals[i] = *orig
			continue
		}
		var err error
		if vals[i], err = o.r.toValue(v, orig); err != nil {
			return nil, fmt.Errorf("field %s: %w", k, err)
		}
	}
	s, err := o.r.schema(keys)
	if err != nil {
		return nil, err
	}
	return &record.Record{Schema: s, Values: vals, Source: o.rec.Source, Line: o.rec.Line, Offset: o.rec.Offset}, nil
}

// toJS converts a record value for JavaScript. Decimals of up to 15
// significant digits are numbers (they print back as the same decimal);
// larger ones are decimal objects. Timestamps are Dates, nested maps
// items.
func (r *rt) toJS(v record.Value) goja.Value {
	switch v.Kind() {
	case record.String:
		return r.vm.ToValue(v.Str())
	case record.Int:
		i, _ := v.Int()
		return r.intToJS(i)
	case record.Decimal:
		u, s, _ := v.Decimal()
		d := dec{u, s}
		if d.exactFloat() {
			return r.vm.ToValue(d.float())
		}
		if d.s < 0 || d.s > maxScale {
			f, _ := v.Float()
			return r.vm.ToValue(f)
		}
		return r.newDecimal(d)
	case record.Float:
		f, _ := v.Float()
		return r.vm.ToValue(f)
	case record.Bool:
		b, _ := v.Bool()
		return r.vm.ToValue(b)
	case record.Time:
		t, _ := v.Time()
		return r.date(t)
	case record.List:
		l, _ := v.List()
		items := make([]any, len(l))
		for i, e := range l {
			items[i] = r.toJS(e)
		}
		return r.vm.NewArray(items...)
	case record.Map:
		m, _ := v.Map()
		return r.newItem(m)
	}
	return goja.Null()
}

// maxSafe is the largest integer a JS number holds exactly (2^53).
const maxSafe = 1 << 53

// intToJS gives integers beyond 2^53 as BigInts, which keep them exact.
func (r *rt) intToJS(i int64) goja.Value {
	if i > maxSafe || i < -maxSafe {
		return r.vm.ToValue(big.NewInt(i))
	}
	return r.vm.ToValue(i)
}

func (r *rt) date(t time.Time) goja.Value {
	o, err := r.vm.New(r.dateCtor, r.vm.ToValue(t.UnixMilli()))
	if err != nil {
		return goja.Null()
	}
	return o
}

// sameNumber reports whether a JS number is what a numeric field of the
// record showed: then the field's own value (an exact decimal with its
// scale, an int) is kept.
func sameNumber(orig *record.Value, f float64) bool {
	if orig == nil {
		return false
	}
	switch orig.Kind() {
	case record.Decimal:
		u, s, _ := orig.Decimal()
		return dec{u, s}.exactFloat() && dec{u, s}.float() == f
	case record.Int, record.Float:
		g, _ := orig.Float()
		return g == f
	}
	return false
}

// toValue converts a JS value to a record value. orig is the field of the
// input record of the same name, if any: a number or Date that did not
// change keeps the field's own value, so that decimals keep their digits
// and scale and timestamps their nanoseconds.
func (r *rt) toValue(v goja.Value, orig *record.Value) (record.Value, error) {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return record.Value{}, nil
	}
	if _, ok := v.(*goja.Symbol); ok {
		return record.Value{}, fmt.Errorf("cannot store a symbol in a record")
	}
	switch v.ExportType() {
	case typeInt64:
		i := v.ToInteger()
		if sameNumber(orig, float64(i)) {
			return *orig, nil
		}
		return record.IntVal(i), nil
	case typeFloat64:
		f := v.ToFloat()
		if sameNumber(orig, f) {
			return *orig, nil
		}
		return record.FloatVal(f), nil
	case typeString:
		return record.Str(v.String()), nil
	case typeBool:
		return record.BoolVal(v.ToBoolean()), nil
	case typeBigInt:
		b, _ := v.Export().(*big.Int)
		if b != nil && b.IsInt64() {
			return record.IntVal(b.Int64()), nil
		}
		return record.Value{}, fmt.Errorf("BigInt %v does not fit in 64 bits", b)
	}
	o, ok := v.(*goja.Object)
	if !ok {
		return record.Value{}, fmt.Errorf("cannot store a %s in a record", typeName(v))
	}
	if it, ok := r.itemOf(o); ok {
		rec, err := it.record()
		if err != nil {
			return record.Value{}, err
		}
		return record.MapVal(rec), nil
	}
	switch o.ExportType() {
	case typeDecimal:
		d, _ := r.decimalOf(o)
		return d.d.value(), nil
	case typeTime:
		t, _ := o.Export().(time.Time)
		if orig != nil && orig.Kind() == record.Time {
			if ot, _ := orig.Time(); ot.UnixMilli() == t.UnixMilli() {
				return *orig, nil
			}
		}
		return record.TimeVal(t.UTC()), nil
	case typeArray:
		n := o.Get("length").ToInteger()
		l := make([]record.Value, n)
		var origs []record.Value
		if orig != nil {
			origs, _ = orig.List()
		}
		for i := range l {
			var eo *record.Value
			if i < len(origs) {
				eo = &origs[i]
			}
			e, err := r.toValue(o.Get(strconv.Itoa(i)), eo)
			if err != nil {
				return record.Value{}, fmt.Errorf("[%d]: %w", i, err)
			}
			l[i] = e
		}
		return record.ListVal(l), nil
	case typeMap:
		if o.ClassName() != "Object" {
			return record.Value{}, fmt.Errorf("cannot store a %s in a record", o.ClassName())
		}
		rec, err := r.objectRecord(o, nil)
		if err != nil {
			return record.Value{}, err
		}
		return record.MapVal(rec), nil
	}
	return record.Value{}, fmt.Errorf("cannot store a %s in a record", typeName(v))
}

func typeName(v goja.Value) string {
	switch {
	case v == nil || goja.IsUndefined(v):
		return "undefined"
	case goja.IsNull(v):
		return "null"
	}
	if o, ok := v.(*goja.Object); ok {
		if _, isFn := goja.AssertFunction(o); isFn {
			return "function"
		}
		if o.ExportType() == typeDecimal {
			return "decimal"
		}
		return o.ClassName()
	}
	switch v.ExportType() {
	case typeInt64, typeFloat64:
		return "number"
	case typeString:
		if _, ok := v.(*goja.Symbol); ok {
			return "symbol"
		}
		return "string"
	case typeBool:
		return "boolean"
	case typeBigInt:
		return "bigint"
	}
	return fmt.Sprintf("%T", v.Export())
}

// shape is a cached output schema: the keys of an object, and where each
// key is in the input record's schema (for keeping unchanged values).
type shape struct {
	keys   []string
	schema *record.Schema
	in     *record.Schema
	idx    []int // index in in, or -1
}

// maxShapes bounds the shapes a runtime remembers; the most recently used
// come first.
const maxShapes = 16

// shapeOf returns the cached shape of these keys, or makes one.
func (r *rt) shapeOf(keys []string) (*shape, error) {
	for i, s := range r.shapes {
		if sameKeys(s.keys, keys) {
			if i > 0 {
				copy(r.shapes[1:i+1], r.shapes[:i])
				r.shapes[0] = s
			}
			return s, nil
		}
	}
	schema, err := r.h.schemas.Get(keys)
	if err != nil {
		return nil, err
	}
	s := &shape{keys: append([]string(nil), keys...), schema: schema}
	if len(r.shapes) < maxShapes {
		r.shapes = append(r.shapes, nil)
	}
	copy(r.shapes[1:], r.shapes)
	r.shapes[0] = s
	return s, nil
}

func sameKeys(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (r *rt) schema(keys []string) (*record.Schema, error) {
	s, err := r.shapeOf(keys)
	if err != nil {
		return nil, err
	}
	return s.schema, nil
}

// objectRecord reads a plain object back into a record, field by field.
// in is the record being processed: unchanged values keep its fields'
// own values, and the new record keeps its position.
func (r *rt) objectRecord(o *goja.Object, in *record.Record) (*record.Record, error) {
	keys := o.Keys()
	s, err := r.shapeOf(keys)
	if err != nil {
		return nil, err
	}
	var idx []int
	if in != nil {
		if s.in != in.Schema {
			s.in = in.Schema
			s.idx = make([]int, len(keys))
			for i, k := range s.keys {
				s.idx[i] = -1
				if j, ok := in.Schema.Index(k); ok {
					s.idx[i] = j
				}
			}
		}
		idx = s.idx
	}
	vals := r.values(len(keys))
	for i, k := range s.keys {
		var orig *record.Value
		if idx != nil && idx[i] >= 0 {
			orig = &in.Values[idx[i]]
		}
		if vals[i], err = r.toValue(o.Get(k), orig); err != nil {
			return nil, fmt.Errorf("field %s: %w", k, err)
		}
	}
	out := r.newRecord()
	out.Schema, out.Values = s.schema, vals
	if in != nil {
		out.Source, out.Line, out.Offset = in.Source, in.Line, in.Offset
	}
	return out, nil
}

// Output records and their values are cut from slabs: two allocations
// per slab instead of two per record. A slab lives as long as any of its
// records does, which for a batch step is about a chunk.
const slabSize = 256

func (r *rt) values(n int) []record.Value {
	if n > slabSize/4 {
		return make([]record.Value, n)
	}
	if len(r.valSlab)+n > cap(r.valSlab) {
		r.valSlab = make([]record.Value, 0, slabSize)
	}
	start := len(r.valSlab)
	r.valSlab = r.valSlab[:start+n]
	return r.valSlab[start : start+n : start+n]
}

func (r *rt) newRecord() *record.Record {
	if len(r.recSlab) == 0 {
		r.recSlab = make([]record.Record, slabSize/8)
	}
	out := &r.recSlab[0]
	r.recSlab = r.recSlab[1:]
	return out
}
