package script

// Object literals that a processor returns or emits are compiled into
// calls that build the output record directly. {...item, cents: c} costs
// goja a property copy per field to make the object, and the engine a key
// enumeration (an allocation per key) to read it back; the call instead
// copies the record's values as they are and converts only the literal's
// own values. The keys are known when the code is compiled, so the output
// schema is too.
//
// The rewrite keeps every value expression at its line and column (only
// the braces, keys and colons around them are replaced, by a call of the
// same length or less, padded with spaces, newlines kept), so positions in
// errors do not move; errors of the call itself are reported at the
// brace. "return {" ending its line leaves one character for the call to
// start on return's line (a line break there would end the statement):
// the name is then one letter, and its parenthesis goes on a later line,
// before the first value:
//
//	return {          return $
//	  ...item,    →   (    item,
//	  cents: c,              c)
//	};                 ;
//
// A literal is rewritten only when that is certain to mean the same:
// plain keys (no computed, numeric, duplicate or __proto__ keys, no
// methods or accessors), at most one spread, first; otherwise the object
// is read back key by key.

import (
	"reflect"
	"regexp"
	"strings"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/file"

	"github.com/flowbatch/flow/steps/batch/record"
)

// rewriteEnabled turns the rewrite on; tests turn it off to compare.
var rewriteEnabled = true

// litShape describes a rewritten literal: the call's arguments are the
// spread source (when spread) and then the values of keys, in order.
type litShape struct {
	name   string
	spread bool
	keys   []string
	// brace and paren are the offsets in the code of the literal's brace
	// and of the call's parenthesis, where goja places the call: errors
	// the call throws are reported at the brace.
	brace, paren int
}

// edit replaces code[from:to] by its tokens and spaces, keeping newlines.
type edit struct {
	from, to int
	toks     []string // written in order, each on one line, into the span
	atStart  bool     // the first token must start the span (it continues the line before)
}

// place finds where an edit's tokens go in code: each at the first place
// after the previous one where it fits on one line. ok is false when they
// do not all fit.
func place(code string, e edit) (at []int, ok bool) {
	p := e.from
	for i, t := range e.toks {
		for {
			if p+len(t) > e.to {
				return nil, false
			}
			if j := strings.IndexAny(code[p:p+len(t)], "\r\n"); j >= 0 {
				if i == 0 && e.atStart {
					return nil, false
				}
				p += j + 1
				continue
			}
			break
		}
		at = append(at, p)
		p += len(t)
	}
	return at, true
}

// The names the rewritten calls use: "$" and a character, and single
// characters for returns whose call must start in the one character of the
// brace (return's value must start on its line). A name the code itself
// mentions is not used.
const helperChars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"

var identRE = regexp.MustCompile(`\$[0-9A-Za-z_]`)

func isIdentByte(c byte) bool {
	return c == '$' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// shortNames returns the one-character identifiers code never mentions
// (in any form: a word of one character anywhere in the text); none when
// the code has escapes that could spell one.
func shortNames(code string) []string {
	if strings.Contains(code, "\\u") {
		return nil
	}
	used := map[byte]bool{}
	for i := 0; i < len(code); i++ {
		if isIdentByte(code[i]) && (i == 0 || !isIdentByte(code[i-1])) && (i+1 == len(code) || !isIdentByte(code[i+1])) {
			used[code[i]] = true
		}
	}
	var out []string
	for _, c := range []byte("$_" + helperChars[10:len(helperChars)-1]) {
		if !used[c] {
			out = append(out, string(c))
		}
	}
	return out
}

// rewriteLiterals finds the object literals of the per-record function that
// are returned or passed to emit, and returns the edits that turn them into
// helper calls. body is the function's statements in the simple form of
// the processor; base the offset of code byte 0 in that form; skip the
// spans not to touch (hoisted functions).
func rewriteLiterals(code string, body []ast.Statement, base int, skip func(int) bool) ([]*litShape, []edit) {
	used := map[string]bool{}
	for _, m := range identRE.FindAllString(code, -1) {
		used[m] = true
	}
	var long []string
	for _, c := range helperChars {
		if n := "$" + string(c); !used[n] {
			long = append(long, n)
		}
	}
	short := shortNames(code)
	// emit calls are rewritten only when every mention of emit is a call
	// of it: then the value the call builds reaches the engine at once.
	emitSafe := emitOnlyCalled(body)
	type lit struct {
		o *ast.ObjectLiteral
		// ret: the value of a return; the call must then start where the
		// brace is, on the return's line.
		ret bool
	}
	var found []lit
	seen := map[*ast.ObjectLiteral]bool{}
	add := func(o *ast.ObjectLiteral, ret bool) {
		if !seen[o] {
			seen[o] = true
			found = append(found, lit{o, ret})
		}
	}
	off := func(i int) int { return i - 1 - base }
	// nested: inside a function of its own, whose returns are not the
	// record's; or inside a try with a finally, which runs code between
	// the return's value and the engine taking it.
	var walk func(n any, nested bool)
	walk = func(n any, nested bool) {
		switch x := n.(type) {
		case nil:
			return
		case *ast.TryStatement:
			if x.Finally != nil {
				nested = true
			}
		case *ast.ReturnStatement:
			if o, ok := x.Argument.(*ast.ObjectLiteral); ok && !nested {
				// return ({ ... }): the parenthesis already continues
				// the line.
				from, to := off(int(x.Return))+len("return"), off(int(o.LeftBrace))
				add(o, from < 0 || to > len(code) || from > to || !gapIs(code[from:to], "("))
			}
		case *ast.CallExpression:
			if id, ok := x.Callee.(*ast.Identifier); ok && id.Name == "emit" && len(x.ArgumentList) == 1 && emitSafe {
				if o, ok := x.ArgumentList[0].(*ast.ObjectLiteral); ok {
					add(o, false)
				}
			}
		case *ast.FunctionLiteral, *ast.ArrowFunctionLiteral, *ast.ClassLiteral:
			nested = true
		}
		children(n, func(c any) { walk(c, nested) })
	}
	for _, st := range body {
		walk(st, false)
	}
	var shapes []*litShape
	var edits []edit
	for _, l := range found {
		if skip(off(int(l.o.LeftBrace))) {
			continue
		}
		ls, es, ok := literalEdits(code, l.o, off)
		if !ok {
			continue
		}
		// The call's name and parenthesis: "$0(" where the brace is; or,
		// with no room for it there, for a return "$" there and "(" after
		// it (across the line break), elsewhere "$0(" anywhere before the
		// first value.
		first := es[0]
		var tries []edit
		if len(long) > 0 {
			tries = append(tries, edit{from: first.from, to: first.to, toks: []string{long[0] + "("}, atStart: true})
		}
		if l.ret && len(short) > 0 {
			tries = append(tries, edit{from: first.from, to: first.to, toks: []string{short[0], "("}, atStart: true})
		}
		if !l.ret && len(long) > 0 {
			tries = append(tries, edit{from: first.from, to: first.to, toks: []string{long[0] + "("}})
		}
		placed := false
		for _, e := range tries {
			if at, ok := place(code, e); ok {
				es[0], placed = e, true
				ls.brace, ls.paren = first.from, at[len(at)-1]+len(e.toks[len(at)-1])-1
				break
			}
		}
		if !placed {
			continue
		}
		if ls.name = es[0].toks[0]; len(ls.name) == 1 {
			short = short[1:]
		} else {
			ls.name = ls.name[:len(ls.name)-1]
			long = long[1:]
		}
		shapes = append(shapes, ls)
		edits = append(edits, es...)
	}
	return shapes, edits
}

// emitOnlyCalled reports whether every mention of emit is a call of it.
func emitOnlyCalled(body []ast.Statement) bool {
	emits, calls := 0, 0
	var count func(n any)
	count = func(n any) {
		switch x := n.(type) {
		case *ast.Identifier:
			if x.Name == "emit" {
				emits++
			}
		case *ast.CallExpression:
			if id, ok := x.Callee.(*ast.Identifier); ok && id.Name == "emit" {
				calls++
			}
		}
		children(n, count)
	}
	for _, st := range body {
		count(st)
	}
	return emits == calls
}

// protoWords are what code that installs accessors on prototypes would
// mention: such an accessor, reading a field item does not have, would
// see item as this, and could keep it.
var protoWords = []string{"prototype", "__proto__", "defineProperty", "defineProperties", "setPrototypeOf",
	"__defineGetter__", "__defineSetter__", "Reflect", "Proxy", "globalThis"}

// itemStaysLocal reports whether the per-record code uses item only in
// ways that cannot keep it past the call: reading, writing or deleting its
// fields (item.x, item[k]; not calling them, which passes item as this),
// spreading it, returning or emitting it, decimal.field(item, name). Then
// one item object can serve every record of a worker instead of one made
// per record, with nothing able to tell. A mention of item in a nested
// function (a closure may outlive the call), arguments, eval, or words of
// code that could install accessors on prototypes rule it out. (Modules
// are not looked at: one installing accessors on Object.prototype that
// keep their receiver is not a case we cater for.)
func itemStaysLocal(code string, body []ast.Statement, base int, skip func(int) bool) bool {
	for _, w := range protoWords {
		if strings.Contains(code, w) {
			return false
		}
	}
	emitSafe := emitOnlyCalled(body)
	isItem := func(e ast.Expression) bool {
		id, ok := e.(*ast.Identifier)
		return ok && id.Name == "item"
	}
	isName := func(e ast.Expression, name string) bool {
		id, ok := e.(*ast.Identifier)
		return ok && id.Name.String() == name
	}
	ok := true
	field, decimalElse := false, false // decimal.field(item, ...) seen; decimal used otherwise
	var walk func(n any, nested bool)
	walk = func(n any, nested bool) {
		if !ok {
			return
		}
		switch x := n.(type) {
		case *ast.Identifier:
			switch x.Name {
			case "item", "arguments", "eval":
				ok = false
			case "decimal":
				decimalElse = true
			}
			return
		case *ast.DotExpression:
			switch {
			case isItem(x.Left):
				ok = ok && !nested
			case isName(x.Left, "decimal"):
			default:
				walk(x.Left, nested)
			}
			return // never the property's name
		case *ast.PrivateDotExpression:
			walk(x.Left, nested)
			return
		case *ast.BracketExpression:
			if isItem(x.Left) {
				ok = ok && !nested
			} else {
				walk(x.Left, nested)
			}
			walk(x.Member, nested)
			return
		case *ast.CallExpression:
			switch c := x.Callee.(type) {
			case *ast.DotExpression:
				if isItem(c.Left) {
					ok = false // item.f(): item is this
					return
				}
				if isName(c.Left, "decimal") && c.Identifier.Name == "field" && len(x.ArgumentList) > 0 && isItem(x.ArgumentList[0]) && !nested {
					field = true
					for _, a := range x.ArgumentList[1:] {
						walk(a, nested)
					}
					return
				}
			case *ast.BracketExpression:
				if isItem(c.Left) {
					ok = false
					return
				}
			case *ast.Identifier:
				if c.Name == "emit" && emitSafe && len(x.ArgumentList) == 1 && isItem(x.ArgumentList[0]) && !nested {
					return
				}
				if c.Name == "decimal" {
					for _, a := range x.ArgumentList {
						walk(a, nested)
					}
					return
				}
			}
		case *ast.ReturnStatement:
			if isItem(x.Argument) && !nested {
				return
			}
		case *ast.SpreadElement:
			if isItem(x.Expression) && !nested {
				return
			}
		case *ast.FunctionLiteral, *ast.ArrowFunctionLiteral, *ast.ClassLiteral:
			nested = true
		}
		children(n, func(c any) { walk(c, nested) })
	}
	for _, st := range body {
		if skip(int(st.Idx0()) - 1 - base) {
			continue
		}
		walk(st, false)
	}
	return ok && !(field && decimalElse)
}

// literalEdits checks a literal and returns its shape and the edits of the
// gaps between its values: the first gap becomes "NAME(", the others ",",
// the last ")".
func literalEdits(code string, o *ast.ObjectLiteral, off func(int) int) (*litShape, []edit, bool) {
	ls := &litShape{}
	type span struct{ from, to int }
	var values []span
	var expect []string // the gap tokens expected before each value, and at the end
	keys := map[string]bool{}
	for i, p := range o.Value {
		switch x := p.(type) {
		case *ast.SpreadElement:
			if i != 0 {
				return nil, nil, false
			}
			ls.spread = true
			values = append(values, span{off(int(x.Expression.Idx0())), off(int(x.Expression.Idx1()))})
			expect = append(expect, "{...")
			continue
		case *ast.PropertyShort:
			if x.Initializer != nil {
				return nil, nil, false
			}
			k := x.Name.Name.String()
			if !plainKey(k) || keys[k] {
				return nil, nil, false
			}
			keys[k] = true
			ls.keys = append(ls.keys, k)
			values = append(values, span{off(int(x.Name.Idx)), off(int(x.Name.Idx)) + len(k)})
			expect = append(expect, sep(i))
		case *ast.PropertyKeyed:
			if x.Computed || x.Kind != ast.PropertyKindValue {
				return nil, nil, false
			}
			sl, ok := x.Key.(*ast.StringLiteral)
			if !ok {
				return nil, nil, false
			}
			k := sl.Value.String()
			if !plainKey(k) || keys[k] {
				return nil, nil, false
			}
			keys[k] = true
			ls.keys = append(ls.keys, k)
			kf, kt := off(int(x.Key.Idx0())), off(int(x.Key.Idx1()))
			if kf < 0 || kt > len(code) || kf > kt {
				return nil, nil, false
			}
			values = append(values, span{off(int(x.Value.Idx0())), off(int(x.Value.Idx1()))})
			expect = append(expect, sep(i)+code[kf:kt]+":")
		default:
			return nil, nil, false
		}
	}
	if len(values) == 0 {
		return nil, nil, false
	}
	from, to := off(int(o.LeftBrace)), off(int(o.RightBrace))+1
	if from < 0 || to > len(code) {
		return nil, nil, false
	}
	var edits []edit
	at := from
	for i, v := range values {
		if v.from < at || v.to < v.from || v.to > to {
			return nil, nil, false
		}
		if !gapIs(code[at:v.from], expect[i]) {
			return nil, nil, false
		}
		// the first gap's tokens (the call) are chosen by the caller
		edits = append(edits, edit{from: at, to: v.from, toks: []string{","}})
		at = v.to
	}
	if !gapIs(code[at:to], "}") && !gapIs(code[at:to], ",}") {
		return nil, nil, false
	}
	edits = append(edits, edit{from: at, to: to, toks: []string{")"}})
	for _, e := range edits[1:] {
		if _, ok := place(code, e); !ok {
			return nil, nil, false
		}
	}
	return ls, edits, true
}

func sep(i int) string {
	if i == 0 {
		return "{"
	}
	return ","
}

// plainKey reports whether a key keeps its place in a JS object: not an
// array index (those come first) and not __proto__.
func plainKey(k string) bool {
	if k == "" || k == "__proto__" {
		return false
	}
	for _, c := range k {
		if c < '0' || c > '9' {
			return true
		}
	}
	return false
}

// gapIs reports whether a gap between values is exactly the expected
// tokens, give or take spaces and comments: a check that the parser's
// offsets are what the rewrite assumes.
func gapIs(gap, want string) bool {
	var b strings.Builder
	for i := 0; i < len(gap); i++ {
		switch {
		case strings.HasPrefix(gap[i:], "//"):
			j := strings.IndexByte(gap[i:], '\n')
			if j < 0 {
				i = len(gap)
			} else {
				i += j
			}
		case strings.HasPrefix(gap[i:], "/*"):
			j := strings.Index(gap[i+2:], "*/")
			if j < 0 {
				return false
			}
			i += j + 3
		case gap[i] == ' ' || gap[i] == '\t' || gap[i] == '\n' || gap[i] == '\r':
		default:
			b.WriteByte(gap[i])
		}
	}
	return b.String() == want
}

// applyEdits applies edits to code: each span is blanked (newlines kept)
// and its tokens written where place puts them.
func applyEdits(code string, edits []edit) string {
	b := []byte(code)
	for _, e := range edits {
		at, ok := place(code, e)
		if !ok {
			continue // checked before: not reached
		}
		for i := e.from; i < e.to; i++ {
			if b[i] != '\n' && b[i] != '\r' {
				b[i] = ' '
			}
		}
		for i, t := range e.toks {
			copy(b[at[i]:], t)
		}
	}
	return string(b)
}

var (
	typeNode = reflect.TypeOf((*ast.Node)(nil)).Elem()
	typeFile = reflect.TypeOf((*file.File)(nil))
)

// children calls fn for every AST node directly below n.
func children(n any, fn func(any)) {
	v := reflect.ValueOf(n)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return
	}
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.CanInterface() {
			visit(f, fn)
		}
	}
}

func visit(f reflect.Value, fn func(any)) {
	switch f.Kind() {
	case reflect.Interface, reflect.Pointer:
		if f.IsNil() || f.Type() == typeFile {
			return
		}
		if f.Type().Implements(typeNode) || (f.Kind() == reflect.Interface && f.Elem().Type().Implements(typeNode)) {
			fn(f.Interface())
			return
		}
		if f.Kind() == reflect.Pointer && f.Elem().Kind() == reflect.Struct {
			children(f.Interface(), fn)
		}
	case reflect.Slice:
		for j := 0; j < f.Len(); j++ {
			visit(f.Index(j), fn)
		}
	case reflect.Struct:
		if f.CanAddr() && reflect.PointerTo(f.Type()).Implements(typeNode) {
			fn(f.Addr().Interface())
			return
		}
		for j := 0; j < f.NumField(); j++ {
			if g := f.Field(j); g.CanInterface() {
				visit(g, fn)
			}
		}
	}
}

// plan says how a literal's record is made for one source schema: each
// output field comes from the spread record (src ≥ 0) or from an argument
// (arg ≥ 0), with orig the input field whose value an unchanged number
// keeps (-1: none).
type plan struct {
	src    *record.Schema // the spread record's schema (nil without spread)
	in     *record.Schema // the processed record's schema
	schema *record.Schema
	from   []int // per output field: index in the spread record, or -1
	arg    []int // per output field: argument index (after the spread), or -1
	orig   []int // per output field: index in the processed record, or -1
	same   bool  // no keys of its own: the spread record itself is the output
}

// literalHelper returns the JS function a rewritten literal calls in
// this runtime: it builds the record and returns it as an item.
func (w *pworker) literalHelper(ls *litShape) func(goja.FunctionCall) goja.Value {
	var last *plan
	return func(c goja.FunctionCall) goja.Value {
		r := w.rt
		args := c.Arguments
		var src *record.Record
		if ls.spread {
			s, err := w.spreadSource(c.Argument(0))
			if err != nil {
				panic(r.vm.NewTypeError(err.Error()))
			}
			src = s
			if len(args) > 0 {
				args = args[1:]
			}
		}
		in := w.cur
		var srcSchema, inSchema *record.Schema
		if src != nil {
			srcSchema = src.Schema
		}
		if in != nil {
			inSchema = in.Schema
		}
		if last == nil || last.src != srcSchema || last.in != inSchema {
			p, err := w.makePlan(ls, srcSchema, inSchema)
			if err != nil {
				panic(r.vm.NewTypeError(err.Error()))
			}
			last = p
		}
		p := last
		if p.same && src != nil {
			return w.hand(src)
		}
		vals := r.values(len(p.from))
		for i := range vals {
			if j := p.from[i]; j >= 0 && p.arg[i] < 0 {
				vals[i] = src.Values[j]
				continue
			}
			var arg goja.Value
			if a := p.arg[i]; a < len(args) {
				arg = args[a]
			}
			var orig *record.Value
			switch {
			case p.from[i] >= 0:
				orig = &src.Values[p.from[i]]
			case p.orig[i] >= 0:
				orig = &in.Values[p.orig[i]]
			}
			v, err := r.toValue(arg, orig)
			if err != nil {
				panic(r.vm.NewTypeError("field " + ls.keys[p.arg[i]] + ": " + err.Error()))
			}
			vals[i] = v
		}
		out := r.newRecord()
		out.Schema, out.Values = p.schema, vals
		if in != nil {
			out.Source, out.Line, out.Offset = in.Source, in.Line, in.Offset
		}
		return w.hand(out)
	}
}

// hand passes a record built by a literal's call to the return or emit
// that takes it: the value is a per-runtime placeholder, with the record
// kept aside, so that no object is made for it. The rewrite guarantees
// nothing else sees the placeholder.
func (w *pworker) hand(rec *record.Record) goja.Value {
	w.pending = rec
	return w.pendingJS
}

// pendingObj is the placeholder's Go side: should code read it after all,
// it shows the record.
type pendingObj struct{ w *pworker }

func (p *pendingObj) rec() *record.Record {
	if p.w.pending != nil {
		return p.w.pending
	}
	return emptyRecord
}

var emptySchema, _ = record.Names()
var emptyRecord = &record.Record{Schema: emptySchema}

func (p *pendingObj) Get(k string) goja.Value {
	if v, ok := p.rec().Get(k); ok {
		return p.w.rt.toJS(v)
	}
	return nil
}
func (p *pendingObj) Set(string, goja.Value) bool { return false }
func (p *pendingObj) Has(k string) bool           { _, ok := p.rec().Get(k); return ok }
func (p *pendingObj) Delete(string) bool          { return false }
func (p *pendingObj) Keys() []string              { return p.w.rt.names(p.rec().Schema) }

// spreadSource turns what is spread into a record, as JavaScript spreads
// it: an item as it is (with its writes), other objects by their own
// enumerable properties, strings by their characters, other values as
// nothing.
func (w *pworker) spreadSource(v goja.Value) (*record.Record, error) {
	if it, ok := w.rt.itemOf(v); ok {
		return it.record()
	}
	if o, ok := v.(*goja.Object); ok {
		return w.rt.objectRecord(o, nil)
	}
	if v != nil && v.ExportType() == typeString {
		if _, sym := v.(*goja.Symbol); !sym {
			return w.rt.objectRecord(w.rt.vm.ToValue(v).ToObject(w.rt.vm), nil)
		}
	}
	return nil, nil
}

func (w *pworker) makePlan(ls *litShape, src, in *record.Schema) (*plan, error) {
	p := &plan{src: src, in: in}
	var names []string
	if src != nil {
		names = append(names, src.Names()...)
		p.from = make([]int, len(names))
		p.arg = make([]int, len(names))
		for i := range names {
			p.from[i], p.arg[i] = i, -1
		}
	}
	for a, k := range ls.keys {
		if j, ok := indexOf(src, k); ok {
			p.arg[j] = a
			continue
		}
		names = append(names, k)
		p.from = append(p.from, -1)
		p.arg = append(p.arg, a)
	}
	p.same = src != nil && len(ls.keys) == 0
	p.orig = make([]int, len(names))
	for i, n := range names {
		p.orig[i] = -1
		if j, ok := indexOf(in, n); ok {
			p.orig[i] = j
		}
	}
	s, err := w.rt.schema(names)
	if err != nil {
		return nil, err
	}
	p.schema = s
	return p, nil
}

func indexOf(s *record.Schema, name string) (int, bool) {
	if s == nil {
		return 0, false
	}
	return s.Index(name)
}
