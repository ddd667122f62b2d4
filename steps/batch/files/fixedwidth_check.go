package files

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch"
)

// checkFixed is the load-time check of a fixed reader or writer block:
// each object of a fields list (its attributes, their types and values,
// which the loader cannot check inside a list), then, when the model is
// constant, the whole model as New builds it (lengths, codecs, trailer
// counts and sums, a writer's header and trailer values).
func checkFixed(_ *flow.Node, b *flow.Block) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, rb := range b.Blocks {
		if a := rb.Attrs["fields"]; a != nil {
			diags = append(diags, checkFixedFields(rb.Type, a)...)
		}
	}
	if len(diags) > 0 {
		return diags
	}
	sep, ok := batch.ConstAttr(b, "record_separator")
	if !ok {
		return nil
	}
	blocks, ok := batch.ConstBlocks(b.Blocks)
	if !ok {
		return nil
	}
	f, err := FixedFormatFromConfig(&batch.Config{Attrs: map[string]cty.Value{"record_separator": sep}, Blocks: blocks})
	if err != nil {
		return hcl.Diagnostics{fixedModelDiag(b, err.Error())}
	}
	for _, x := range []struct {
		attr string
		rec  *FixedRecord
		role string
	}{{"header_values", f.Header, "header"}, {"trailer_values", f.Trailer, "trailer"}} {
		a := b.Attrs[x.attr]
		if a == nil {
			continue
		}
		v, ok := batch.ConstAttr(b, x.attr)
		if !ok {
			continue
		}
		if _, err := fixedValues(v, x.rec, x.role); err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid " + x.attr,
				Detail: err.Error() + ".", Subject: a.Expr.Range().Ptr()})
		}
	}
	return diags
}

// checkFixedFields checks the objects of a fields list that are constant,
// pointing at the attribute at fault.
func checkFixedFields(role string, a *hcl.Attribute) hcl.Diagnostics {
	tc, ok := a.Expr.(*hclsyntax.TupleConsExpr)
	if !ok {
		return nil // the model check reports what a constant list holds
	}
	var diags hcl.Diagnostics
	for i, e := range tc.Exprs {
		v, ok := batch.ConstValue(e)
		if !ok {
			continue
		}
		_, key, err := fixedFieldFromValue(v)
		if err == nil {
			continue
		}
		subject := e.Range()
		if k, val := batch.ObjectItem(e, key); k != nil {
			subject = val.Range()
			if strings.HasPrefix(err.Error(), "unknown attribute") || strings.HasPrefix(err.Error(), "a filler") {
				subject = k.Range()
			}
		}
		d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid field",
			Detail: fmt.Sprintf("%s: fields[%d]: %v.", role, i, err), Subject: subject.Ptr()}
		if s := fixedSuggest(v, key, err); s != "" {
			d.Detail += fmt.Sprintf(" Did you mean %q?", s)
		}
		diags = append(diags, d)
	}
	return diags
}

// fixedSuggest suggests a name for a misspelt attribute of a fields
// object, or a value for a misspelt one of a closed set (type, codec).
func fixedSuggest(obj cty.Value, key string, err error) string {
	if strings.HasPrefix(err.Error(), "unknown attribute") {
		return batch.Suggest(key, append([]string{"name"}, fixedFieldAttrNames()...))
	}
	if key == "" || !strings.HasPrefix(err.Error(), key+": ") || !obj.Type().IsObjectType() || !obj.Type().HasAttribute(key) {
		return ""
	}
	v := obj.GetAttr(key)
	if v.IsNull() || v.Type() != cty.String {
		return ""
	}
	for _, a := range fixedFieldAttrs {
		if a.Name == key && len(a.OneOf) > 0 {
			return batch.Suggest(v.AsString(), a.OneOf)
		}
	}
	return ""
}

// fixedModelDiag reports an error of the model, at the nested block it
// names when it starts with one's position or role.
func fixedModelDiag(b *flow.Block, msg string) *hcl.Diagnostic {
	subject := b.Range
	var find func(bs []*flow.Block) bool
	find = func(bs []*flow.Block) bool {
		for _, nb := range bs {
			if p := flow.Pos(nb.Range) + ": "; strings.HasPrefix(msg, p) {
				subject, msg = nb.Range, strings.TrimPrefix(msg, p)
				return true
			}
			if find(nb.Blocks) {
				return true
			}
		}
		return false
	}
	if !find(b.Blocks) {
		for _, nb := range b.Blocks {
			rest, ok := strings.CutPrefix(msg, nb.Type+": ")
			if !ok {
				continue
			}
			subject = nb.Range
			// "body: field amount: ...": the field's block, if it has one.
			for _, fb := range nb.BlocksOf("field") {
				if strings.HasPrefix(rest, "field "+fb.Label(0)+": ") {
					subject = fb.Range
				}
			}
			break
		}
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid fixed-width model", Detail: msg + ".", Subject: subject.Ptr()}
}
