package script

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"
	"github.com/hashicorp/hcl/v2"
)

// unitKind says how a piece of JavaScript is wrapped before it is compiled.
type unitKind int

const (
	// kindScript: the body of a function of the scope roots (script step).
	kindScript unitKind = iota
	// kindProcessor: the body of a function of item (js processor), with
	// top-level setup and chunk_end functions hoisted out of it.
	kindProcessor
	// kindPredicate: an expression over item (writer filter).
	kindPredicate
	// kindKey: a function of item, or an expression over item
	// (partition_by_js).
	kindKey
	// kindModule: a CommonJS module (require).
	kindModule
)

var kindNames = [...]string{"script", "processor", "filter", "partition_by_js", "module"}

func (k unitKind) String() string { return kindNames[k] }

// scriptRoots are the parameters of a script step's function: the roots of
// the flow's expressions, with var spelled vars (var is a JS keyword).
var scriptRoots = []string{"param", "vars", "step", "flow", "each", "loop", "error"}

// unit is a compiled piece of JavaScript. Units are immutable and shared
// by every runtime that runs them.
type unit struct {
	kind  unitKind
	name  string // the program's name, as stack frames show it
	code  string
	prog  *goja.Program
	lines int // lines of code
	// first is the generated line that holds code line 1 (in the copy that
	// runs per call); hoisted the same for the copy that holds setup and
	// chunk_end (processors), 0 when there is none.
	first, hoisted int
	// setup and chunkEnd: the processor declares them.
	setup, chunkEnd bool
	// fn: a partition key given as a function rather than an expression.
	fn bool
	// lits are the processor's returned and emitted object literals that
	// were compiled into record-building calls (see shapes.go).
	lits []*litShape
	// itemLocal: the per-record code cannot keep item past the call, so
	// one item object can serve every record (see itemStaysLocal).
	itemLocal bool
	// braceAt maps the position of such a call (code line and column) to
	// the position of its literal, where its errors are reported.
	braceAt map[[2]int][2]int
}

// codeLine maps a line of the generated program to a line of the code.
func (u *unit) codeLine(g int) (int, bool) {
	if g >= u.first && g < u.first+u.lines {
		return g - u.first + 1, true
	}
	if u.hoisted > 0 && g >= u.hoisted && g < u.hoisted+u.lines {
		return g - u.hoisted + 1, true
	}
	return 0, false
}

// syntaxError is a syntax error in code coordinates (line and column of
// the code as written, from 1).
type syntaxError struct {
	line, col int
	msg       string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%d:%d: %s", e.line, e.col, e.msg) }

type unitKey struct {
	kind unitKind
	name string
	code string
}

type compiled struct {
	u   *unit
	err *syntaxError
}

// units caches compiled units: each distinct piece of code is compiled
// once per process, at load time when the code is in the flow file.
var units boundedMap // unitKey → *compiled

// boundedMap is a sync.Map that forgets everything when it grows past
// maxCached entries, so that a long-lived process that loads flow after
// flow does not keep every script it ever saw.
type boundedMap struct {
	m sync.Map
	n atomic.Int64
}

const maxCached = 10000

func (b *boundedMap) Load(k any) (any, bool) { return b.m.Load(k) }

func (b *boundedMap) LoadOrStore(k, v any) (any, bool) {
	got, loaded := b.m.LoadOrStore(k, v)
	if !loaded && b.n.Add(1) > maxCached {
		b.m.Clear()
		b.n.Store(0)
	}
	return got, loaded
}

func (b *boundedMap) Store(k, v any) {
	if _, loaded := b.m.Swap(k, v); !loaded && b.n.Add(1) > maxCached {
		b.m.Clear()
		b.n.Store(0)
		b.m.Store(k, v)
	}
}

// compileUnit compiles code of a kind, or returns the cached result. name
// is the program name (modules: their path; others: the kind).
func compileUnit(kind unitKind, name, code string) (*unit, *syntaxError) {
	if name == "" {
		name = kind.String()
	}
	key := unitKey{kind, name, code}
	if c, ok := units.Load(key); ok {
		return c.(*compiled).u, c.(*compiled).err
	}
	u, err := build(kind, name, code)
	c, _ := units.LoadOrStore(key, &compiled{u, err})
	return c.(*compiled).u, c.(*compiled).err
}

// build wraps and compiles code. Every wrapper puts the code on lines of
// its own, so that columns need no mapping and lines a constant offset.
func build(kind unitKind, name, code string) (*unit, *syntaxError) {
	u := &unit{kind: kind, name: name, code: code, lines: strings.Count(code, "\n") + 1, first: 2}
	var src string
	strict := true
	switch kind {
	case kindScript:
		src = "(function(" + strings.Join(scriptRoots, ", ") + `){"use strict";` + "\n" + code + "\n})"
	case kindPredicate:
		src = `(function(item){"use strict";return (` + "\n" + code + "\n);})"
	case kindKey:
		// A function (item => item.account) or an expression over item.
		p, err := parser.ParseFile(nil, name, "(\n"+code+"\n)", 0)
		if err == nil && len(p.Body) == 1 {
			if es, ok := p.Body[0].(*ast.ExpressionStatement); ok {
				switch es.Expression.(type) {
				case *ast.ArrowFunctionLiteral, *ast.FunctionLiteral:
					u.fn = true
				}
			}
		}
		if u.fn {
			src = `(function(){"use strict";return (` + "\n" + code + "\n);})"
		} else {
			src = `(function(item){"use strict";return (` + "\n" + code + "\n);})"
		}
	case kindModule:
		strict = false
		src = "(function(exports, require, module, __filename, __dirname){\n" + code + "\n})"
	case kindProcessor:
		return buildProcessor(u)
	}
	return u, u.compile(src, strict)
}

// compile parses and compiles the generated source src.
func (u *unit) compile(src string, strict bool) *syntaxError {
	p, err := parser.ParseFile(nil, u.name, src, 0)
	if err != nil {
		return u.parseError(err)
	}
	prog, err := goja.CompileAST(p, strict)
	if err != nil {
		return u.compileError(err)
	}
	u.prog = prog
	return nil
}

func (u *unit) parseError(err error) *syntaxError {
	if list, ok := err.(parser.ErrorList); ok && len(list) > 0 {
		e := list[0]
		return u.at(e.Position.Line, e.Position.Column, e.Message)
	}
	return &syntaxError{line: 1, col: 1, msg: err.Error()}
}

func (u *unit) compileError(err error) *syntaxError {
	var ce *goja.CompilerError
	switch e := err.(type) {
	case *goja.CompilerSyntaxError:
		ce = &e.CompilerError
	case *goja.CompilerReferenceError:
		ce = &e.CompilerError
	}
	if ce != nil && ce.File != nil {
		p := ce.File.Position(ce.Offset)
		return u.at(p.Line, p.Column, ce.Message)
	}
	if ce != nil {
		return &syntaxError{line: 1, col: 1, msg: ce.Message}
	}
	return &syntaxError{line: 1, col: 1, msg: err.Error()}
}

// at converts a position of the generated source to code coordinates.
func (u *unit) at(line, col int, msg string) *syntaxError {
	l, ok := u.codeLine(line)
	switch {
	case ok:
	case line < u.first:
		l, col = 1, 1
	default:
		// Past the end of the code: an unclosed bracket or string.
		l = u.lines
		col = utf8.RuneCountInString(lastLine(u.code)) + 1
	}
	return &syntaxError{line: l, col: col, msg: msg}
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// processorHead is the first line of a processor's generated source: the
// parameters are the values that stay the same for every record.
const processorHead = `(function(emit, ctx){"use strict";` + "\n"

// buildProcessor compiles a processor. Its code is the body of the
// per-record function; top-level function declarations named setup and
// chunk_end are hoisted out of it, so that they are made once per runtime
// rather than on every record. The code is written twice, each time on
// lines of its own: first with everything but the hoisted functions
// blanked out, then with the hoisted functions blanked out. Blanking keeps
// newlines, so both copies keep the code's lines and columns.
func buildProcessor(u *unit) (*unit, *syntaxError) {
	simple := processorHead + "return function(item){\n" + u.code + "\n}})"
	p, err := parser.ParseFile(nil, u.name, simple, 0)
	if err != nil {
		u.first = 3 // code line 1 is on line 3 of the simple form
		return u, u.parseError(err)
	}
	type span struct{ from, to int } // byte offsets in the code
	var hoist []span
	base := len(processorHead) + len("return function(item){\n")
	for _, st := range innerBody(p) {
		fd, ok := st.(*ast.FunctionDeclaration)
		if !ok || fd.Function.Name == nil || fd.Function.Async || fd.Function.Generator {
			continue
		}
		switch fd.Function.Name.Name {
		case "setup":
			u.setup = true
		case "chunk_end":
			u.chunkEnd = true
		default:
			continue
		}
		// Idx are 1-based offsets in the generated source.
		hoist = append(hoist, span{int(fd.Idx0()) - 1 - base, int(fd.Idx1()) - 1 - base})
	}
	inHoist := func(i int) bool {
		for _, s := range hoist {
			if i >= s.from && i < s.to {
				return true
			}
		}
		return false
	}
	blank := func(keep func(int) bool) string {
		b := []byte(u.code)
		for i := range b {
			if b[i] != '\n' && b[i] != '\r' && !keep(i) {
				b[i] = ' '
			}
		}
		return string(b)
	}
	u.itemLocal = itemStaysLocal(u.code, innerBody(p), base, inHoist)
	var lits []*litShape
	var edits []edit
	if rewriteEnabled {
		lits, edits = rewriteLiterals(u.code, innerBody(p), base, inHoist)
	}
	gen := func(lits []*litShape, edits []edit) string {
		var src strings.Builder
		src.WriteString("(function(emit, ctx")
		for _, l := range lits {
			src.WriteString(", ")
			src.WriteString(l.name)
		}
		src.WriteString(processorHead[len("(function(emit, ctx"):])
		perRecord := u.code
		if len(hoist) > 0 {
			src.WriteString(blank(inHoist))
			src.WriteString("\n")
			perRecord = blank(func(i int) bool { return !inHoist(i) })
		}
		src.WriteString("return [function(item){\n")
		src.WriteString(applyEdits(perRecord, edits))
		src.WriteString("\n}, typeof setup === \"function\" ? setup : null, typeof chunk_end === \"function\" ? chunk_end : null];})")
		return src.String()
	}
	if len(hoist) > 0 {
		u.hoisted = 2
		u.first = 2 + u.lines + 1
	} else {
		u.first = 3
	}
	if len(lits) > 0 {
		if err := u.compile(gen(lits, edits), true); err == nil {
			u.lits = lits
			u.braceAt = map[[2]int][2]int{}
			for _, l := range lits {
				u.braceAt[lineCol(u.code, l.paren)] = lineCol(u.code, l.brace)
			}
			return u, nil
		}
		// The rewrite is checked token by token; should it still not
		// compile, the code runs as written.
	}
	return u, u.compile(gen(nil, nil), true)
}

// lineCol returns the line and column (in bytes, as goja counts them),
// from 1, of a byte offset of code.
func lineCol(code string, off int) [2]int {
	start := strings.LastIndexByte(code[:off], '\n') + 1
	return [2]int{strings.Count(code[:off], "\n") + 1, off - start + 1}
}

// innerBody finds the statements of the per-record function in the simple
// form of a processor.
func innerBody(p *ast.Program) []ast.Statement {
	if len(p.Body) != 1 {
		return nil
	}
	es, ok := p.Body[0].(*ast.ExpressionStatement)
	if !ok {
		return nil
	}
	outer, ok := es.Expression.(*ast.FunctionLiteral)
	if !ok || outer.Body == nil {
		return nil
	}
	for _, st := range outer.Body.List {
		if rs, ok := st.(*ast.ReturnStatement); ok {
			if inner, ok := rs.Argument.(*ast.FunctionLiteral); ok && inner.Body != nil {
				return inner.Body.List
			}
		}
	}
	return nil
}

// origin maps code coordinates to the file the code was written in: the
// flow file (code attributes, heredocs included) or a .js file.
type origin struct {
	file string
	// starts holds, per code line, its line in the file and the column of
	// its first character; nil means the code is the file itself.
	starts []hcl.Pos
	// inFlow: the code is written in the flow file.
	inFlow bool
}

// pos returns the file position of a code position.
func (o *origin) pos(line, col int) hcl.Pos {
	if o == nil {
		return hcl.Pos{Line: line, Column: col}
	}
	if o.starts == nil {
		return hcl.Pos{Line: line, Column: col}
	}
	if line < 1 {
		line = 1
	}
	if line > len(o.starts) {
		line = len(o.starts)
	}
	s := o.starts[line-1]
	return hcl.Pos{Line: s.Line, Column: s.Column + col - 1, Byte: s.Byte + col - 1}
}

// where formats a code position as file:line:col.
func (o *origin) where(line, col int) string {
	p := o.pos(line, col)
	name := "<js>"
	if o != nil && o.file != "" {
		name = o.file
	}
	return fmt.Sprintf("%s:%d:%d", name, p.Line, p.Column)
}

// rangeAt returns a one-character range at a code position, for diagnostics.
func (o *origin) rangeAt(line, col int) hcl.Range {
	p := o.pos(line, col)
	end := p
	end.Column++
	end.Byte++
	name := ""
	if o != nil {
		name = o.file
	}
	return hcl.Range{Filename: name, Start: p, End: end}
}

// fileOrigin is the origin of code read from a .js file.
func fileOrigin(name string) *origin { return &origin{file: name} }

// attrOrigin is the origin of code held by an attribute of the flow file
// whose source is src: a heredoc (<<JS or <<-JS, whose lines are the file's
// lines after the opening one, indented or not) or a quoted string.
func attrOrigin(a *hcl.Attribute, code string, src []byte) *origin {
	r := a.Expr.Range()
	o := &origin{file: r.Filename, inFlow: true}
	n := strings.Count(code, "\n") + 1
	o.starts = make([]hcl.Pos, n)
	heredoc := r.Start.Byte+2 <= len(src) && string(src[r.Start.Byte:r.Start.Byte+2]) == "<<"
	if !heredoc {
		// A quoted string: code line 1 starts after the quote. Lines
		// made with \n escapes are mapped to the string's start.
		first := hcl.Pos{Line: r.Start.Line, Column: r.Start.Column + 1, Byte: r.Start.Byte + 1}
		for i := range o.starts {
			o.starts[i] = first
		}
		return o
	}
	lines := strings.Split(code, "\n")
	// Byte offsets of the file's lines.
	var offsets []int
	offsets = append(offsets, 0)
	for i, c := range src {
		if c == '\n' {
			offsets = append(offsets, i+1)
		}
	}
	for k := range lines {
		fl := r.Start.Line + k + 1 // the line after <<JS holds code line 1
		pos := hcl.Pos{Line: fl, Column: 1}
		if fl-1 < len(offsets) {
			start := offsets[fl-1]
			end := len(src)
			if fl < len(offsets) {
				end = offsets[fl] - 1
			}
			raw := strings.TrimRight(string(src[start:end]), "\r")
			pos.Byte = start
			if strings.HasSuffix(raw, lines[k]) {
				indent := raw[:len(raw)-len(lines[k])]
				pos.Column = utf8.RuneCountInString(indent) + 1
				pos.Byte = start + len(indent)
			}
		}
		o.starts[k] = pos
	}
	return o
}

// exprOrigin is the origin of an expression known only by the position of
// its attribute's value (file:line:col of the opening quote), as writer
// filters and partition keys are handed to the expression language.
func exprOrigin(where string) *origin {
	file, line, col, ok := splitWhere(where)
	if !ok {
		return &origin{file: where}
	}
	return &origin{file: file, inFlow: true, starts: []hcl.Pos{{Line: line, Column: col + 1}}}
}

// splitWhere splits file:line:col.
func splitWhere(where string) (file string, line, col int, ok bool) {
	i := strings.LastIndexByte(where, ':')
	if i < 0 {
		return "", 0, 0, false
	}
	j := strings.LastIndexByte(where[:i], ':')
	if j < 0 {
		return "", 0, 0, false
	}
	if _, err := fmt.Sscanf(where[j+1:], "%d:%d", &line, &col); err != nil {
		return "", 0, 0, false
	}
	return where[:j], line, col, true
}
