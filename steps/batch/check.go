package batch

import (
	"fmt"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch/record"
)

// checkComponents runs the static checks of the reader and writer types
// the step's blocks name (their Check hooks).
func checkComponents(n *flow.Node) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, b := range n.BlocksOf("reader") {
		if t := lookupReader(b.Label(0)); t != nil && t.Check != nil {
			diags = append(diags, t.Check(n, b)...)
		}
	}
	for _, b := range n.BlocksOf("writer") {
		if t := lookupWriter(b.Label(0)); t != nil && t.Check != nil {
			diags = append(diags, t.Check(n, b)...)
		}
	}
	return diags
}

// ConstValue returns the value of an expression that needs nothing from a
// run: no variable, no function. ok is false for any other expression,
// and for one that does not evaluate (the loader reports that).
func ConstValue(e hcl.Expression) (v cty.Value, ok bool) {
	if e == nil || len(e.Variables()) > 0 {
		return cty.NilVal, false
	}
	v, diags := e.Value(nil)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return cty.NilVal, false
	}
	return v, true
}

// ConstAttr evaluates a block's attribute as a run would (converted to
// its declared type; its default, or null, when absent) when it is
// constant; ok is false when it is not, or is not a valid value of its
// spec (which the loader reports).
func ConstAttr(b *flow.Block, name string) (v cty.Value, ok bool) {
	var spec *flow.Attr
	for i := range b.Specs {
		if b.Specs[i].Name == name {
			spec = &b.Specs[i]
		}
	}
	ty := cty.DynamicPseudoType
	if spec != nil && spec.Type != cty.NilType {
		ty = spec.Type
	}
	a := b.Attrs[name]
	if a == nil {
		if spec != nil && spec.Default != cty.NilVal {
			return spec.Default, true
		}
		return cty.NullVal(ty), true
	}
	if v, ok = ConstValue(a.Expr); !ok {
		return cty.NilVal, false
	}
	v, err := convert.Convert(v, ty)
	if err != nil || (spec != nil && !v.IsNull() && flow.CheckValue(v, spec) != nil) {
		return cty.NilVal, false // the loader reports it
	}
	return v, true
}

// ConstBlocks makes the nested blocks of a Config from blocks whose
// attributes are all constant (see ConstAttr), for a Check that builds
// what New would; ok is false when one is not constant.
func ConstBlocks(bs []*flow.Block) (out []*ConfigBlock, ok bool) {
	for _, b := range bs {
		attrs := map[string]cty.Value{}
		for _, spec := range b.Specs {
			v, ok := ConstAttr(b, spec.Name)
			if !ok {
				return nil, false
			}
			attrs[spec.Name] = v
		}
		nested, ok := ConstBlocks(b.Blocks)
		if !ok {
			return nil, false
		}
		out = append(out, &ConfigBlock{Type: b.Type, Labels: b.Labels, Attrs: attrs, Blocks: nested, Where: flow.Pos(b.Range)})
	}
	return out, true
}

// ObjectItem returns the expressions of the key and value of an object
// constructor's item whose key is the constant key, or nils (not an
// object constructor, or no such item): for diagnostics that point inside
// an object.
func ObjectItem(e hcl.Expression, key string) (k, v hcl.Expression) {
	oc, ok := e.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil, nil
	}
	for _, it := range oc.Items {
		kv, ok := ConstValue(it.KeyExpr)
		if ok && kv.Type() == cty.String && kv.AsString() == key {
			return it.KeyExpr, it.ValueExpr
		}
	}
	return nil, nil
}

// KindNames are the field types a schema may name.
var KindNames = []string{"string", "int", "decimal", "float", "bool", "timestamp"}

// kindAliases are all the names record.ParseKind takes, for suggestions.
var kindAliases = []string{"string", "text", "int", "integer", "decimal", "number", "float", "double",
	"bool", "boolean", "timestamp", "time", "datetime"}

// CheckSchema checks a schema attribute, a map of field names to field
// types such as { amount = "decimal" }, as far as it is constant: every
// type must be one record.ParseKind knows. The diagnostic points at the
// bad type and lists the known ones. A nil attribute is fine.
func CheckSchema(a *hcl.Attribute) hcl.Diagnostics {
	if a == nil {
		return nil
	}
	if oc, ok := a.Expr.(*hclsyntax.ObjectConsExpr); ok {
		// Item by item, so that the rest of the map may use variables.
		var diags hcl.Diagnostics
		for _, it := range oc.Items {
			k, kok := ConstValue(it.KeyExpr)
			v, vok := ConstValue(it.ValueExpr)
			if !kok || !vok || k.IsNull() || k.Type() != cty.String {
				continue
			}
			diags = append(diags, checkKind(a.Name, k.AsString(), v, it.ValueExpr.Range())...)
		}
		return diags
	}
	v, ok := ConstValue(a.Expr)
	if !ok || v.IsNull() || !v.CanIterateElements() {
		return nil
	}
	var diags hcl.Diagnostics
	for it := v.ElementIterator(); it.Next(); {
		k, ev := it.Element()
		if k.Type() == cty.String {
			diags = append(diags, checkKind(a.Name, k.AsString(), ev, a.Expr.Range())...)
		}
	}
	return diags
}

func checkKind(attr, field string, v cty.Value, rng hcl.Range) hcl.Diagnostics {
	if v.IsNull() {
		return nil
	}
	sv, err := convert.Convert(v, cty.String)
	if err != nil {
		return nil // the attribute's type check reports it
	}
	name := sv.AsString()
	if _, err := record.ParseKind(name); err == nil {
		return nil
	}
	d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown field type",
		Detail:  fmt.Sprintf("%s: field %s: %q is not a field type; use %s.", attr, field, name, quotedList(KindNames)),
		Subject: rng.Ptr()}
	if s := Suggest(strings.ToLower(name), kindAliases); s != "" {
		d.Detail += fmt.Sprintf(" Did you mean %q?", s)
	}
	return hcl.Diagnostics{d}
}

func quotedList(ss []string) string {
	out := ""
	for i, s := range ss {
		switch {
		case i == 0:
		case i == len(ss)-1:
			out += " or "
		default:
			out += ", "
		}
		out += fmt.Sprintf("%q", s)
	}
	return out
}

// Suggest returns the name of have nearest to name when it is near (a
// likely misspelling), else "".
func Suggest(name string, have []string) string {
	best, bestD := "", 3
	for _, h := range have {
		if d := levenshtein.Distance(name, h, nil); d < bestD && h != name {
			best, bestD = h, d
		}
	}
	return best
}
