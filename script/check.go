package script

import (
	"fmt"
	"path"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
)

// site is one place of a flow that holds JavaScript: its code, where the
// code is written (for positions), and the files require may read.
type site struct {
	code    string
	origin  *origin
	files   files
	mainDir string
}

// sites remembers what the static checks found, for the run that follows:
// batch components get their configuration without source positions, so
// a processor finds its code's position here, by directory and code (or
// file), and a filter by the position of its attribute.
var sites boundedMap // string → *site

func codeKey(dir, code string) string { return "code\x00" + dir + "\x00" + code }
func fileKey(dir, file string) string { return "file\x00" + dir + "\x00" + file }
func exprKey(where string) string     { return "expr\x00" + where }
func lookupSite(key string) (*site, bool) {
	s, ok := sites.Load(key)
	if !ok {
		return nil, false
	}
	return s.(*site), true
}

// staticString returns an attribute's value when it is a string that
// needs nothing from the run (no variables, no functions).
func staticString(a *hcl.Attribute) (string, bool) {
	if a == nil || len(a.Expr.Variables()) > 0 {
		return "", false
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

// flowSource returns the bytes of the flow file an attribute is in.
func flowSource(f *flow.Flow, a *hcl.Attribute) []byte {
	if f == nil || f.Loader() == nil {
		return nil
	}
	if file := f.Loader().Files()[a.Expr.Range().Filename]; file != nil {
		return file.Bytes
	}
	return nil
}

func syntaxDiag(o *origin, e *syntaxError) *hcl.Diagnostic {
	r := o.rangeAt(e.line, e.col)
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "JavaScript syntax error",
		Detail: e.msg + ".", Subject: &r}
}

// checkCode checks the code or file attribute of a script step or a js
// processor: exactly one is given, and what it holds compiles. What it
// finds is kept for the run (sites).
func checkCode(f *flow.Flow, attrs map[string]*hcl.Attribute, where hcl.Range, kind unitKind) hcl.Diagnostics {
	code, file := attrs["code"], attrs["file"]
	switch {
	case code == nil && file == nil:
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Missing JavaScript",
			Detail: "Give the code inline (code = <<-JS ... JS) or in a file under the flow's directory (file = \"scripts/x.js\").", Subject: where.Ptr()}}
	case code != nil && file != nil:
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Conflicting attributes",
			Detail: "Give code or file, not both.", Subject: file.Range.Ptr()}}
	}
	fs := flowFiles(f)
	if code != nil {
		src, ok := staticString(code)
		if !ok {
			return nil // compiled when the run evaluates it
		}
		s := &site{code: src, origin: attrOrigin(code, src, flowSource(f, code)), files: fs}
		sites.Store(codeKey(f.Dir, src), s)
		if _, serr := compileUnit(kind, "", src); serr != nil {
			return hcl.Diagnostics{syntaxDiag(s.origin, serr)}
		}
		return nil
	}
	name, ok := staticString(file)
	if !ok {
		return nil
	}
	s, err := fileSite(fs, name)
	if err != nil {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read the JavaScript file",
			Detail: err.Error() + ".", Subject: file.Expr.Range().Ptr()}}
	}
	sites.Store(fileKey(f.Dir, name), s)
	if _, serr := compileUnit(kind, "", s.code); serr != nil {
		return hcl.Diagnostics{syntaxDiag(s.origin, serr)}
	}
	return nil
}

// fileSite reads the .js file of a file attribute.
func fileSite(fs files, name string) (*site, error) {
	rel, err := clean("", name)
	if err != nil {
		return nil, fmt.Errorf("file %s", err)
	}
	b, err := fs.read(rel)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", fs.display(rel), sandboxed(err))
	}
	return &site{code: string(b), origin: fileOrigin(fs.display(rel)), files: fs, mainDir: path.Dir(rel)}, nil
}

// checkExpr checks a filter or partition_by_js attribute.
func checkExpr(f *flow.Flow, a *hcl.Attribute, kind unitKind) hcl.Diagnostics {
	src, ok := staticString(a)
	if !ok {
		return nil
	}
	s := &site{code: src, origin: attrOrigin(a, src, flowSource(f, a)), files: flowFiles(f)}
	sites.Store(exprKey(flow.Pos(a.Expr.Range())), s)
	if _, serr := compileUnit(kind, "", src); serr != nil {
		return hcl.Diagnostics{syntaxDiag(s.origin, serr)}
	}
	return nil
}

// checkBatch checks the JavaScript of a batch step: js processors, writer
// filters and partition_by_js. It runs after the batch step's own checks.
func checkBatch(n *flow.Node) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, b := range n.BlocksOf("processor") {
		if b.Label(0) == Processor.Name {
			diags = append(diags, checkCode(n.Flow, b.Attrs, b.Range, kindProcessor)...)
		}
	}
	if a := n.Attr("partition_by_js"); a != nil {
		diags = append(diags, checkExpr(n.Flow, a, kindKey)...)
	}
	for _, w := range n.BlocksOf("writer") {
		if a := w.Attrs["filter"]; a != nil {
			diags = append(diags, checkExpr(n.Flow, a, kindPredicate)...)
		}
	}
	return diags
}

// hookBatchCheck adds checkBatch to the batch step's static checks: the
// batch package knows no JavaScript, and its components have no check
// hook of their own.
func hookBatchCheck(t *flow.StepType) {
	prev := t.Check
	t.Check = func(n *flow.Node) hcl.Diagnostics {
		var diags hcl.Diagnostics
		if prev != nil {
			diags = prev(n)
		}
		return append(diags, checkBatch(n)...)
	}
}
