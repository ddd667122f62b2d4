package files

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch"
)

// checkCSVReader is the load-time check of a csv reader block: the
// schema's types, the delimiter and quote characters, columns without a
// header, as far as they are constant.
func checkCSVReader(_ *flow.Node, b *flow.Block) hcl.Diagnostics {
	diags := batch.CheckSchema(b.Attrs["schema"])
	delim, dok, d := csvCheckChar(b, "delimiter", false)
	diags = append(diags, d...)
	quote, qok, d := csvCheckChar(b, "quote", true)
	diags = append(diags, d...)
	if dok && qok && quote != 0 && quote == delim {
		at := "quote"
		if b.Attrs["quote"] == nil {
			at = "delimiter"
		}
		diags = append(diags, csvDiag(b, at, "Invalid "+at, "quote and delimiter must differ."))
	}
	h, hok := batch.ConstAttr(b, "header")
	cols, cok := batch.ConstAttr(b, "columns")
	if hok && cok && !h.IsNull() && h.False() && (cols.IsNull() || cols.LengthInt() == 0) {
		diags = append(diags, csvDiag(b, "header", "Missing columns",
			"header = false needs columns, the field names: columns = [\"id\", \"amount\", ...]."))
	}
	if v, ok := batch.ConstAttr(b, "skip_rows"); ok && !v.IsNull() && v.LessThan(cty.Zero).True() {
		diags = append(diags, csvDiag(b, "skip_rows", "Invalid skip_rows", "skip_rows cannot be negative."))
	}
	return diags
}

// checkCSVWriter is the load-time check of a csv writer block: its
// delimiter, which cannot be the quote the writer uses.
func checkCSVWriter(_ *flow.Node, b *flow.Block) hcl.Diagnostics {
	delim, ok, diags := csvCheckChar(b, "delimiter", false)
	if ok && delim == '"' {
		diags = append(diags, csvDiag(b, "delimiter", "Invalid delimiter", "the delimiter cannot be the quote, '\"'."))
	}
	return diags
}

// csvCheckChar checks a one-character attribute as New reads it; ok says
// the character is known (constant, and valid).
func csvCheckChar(b *flow.Block, name string, allowEmpty bool) (c byte, ok bool, diags hcl.Diagnostics) {
	v, ok := batch.ConstAttr(b, name)
	if !ok || v.IsNull() {
		return 0, false, nil
	}
	c, err := fileByte(&batch.Config{Attrs: map[string]cty.Value{name: v}}, name, allowEmpty)
	if err != nil {
		return 0, false, hcl.Diagnostics{csvDiag(b, name, "Invalid "+name, err.Error()+".")}
	}
	return c, true, nil
}

// csvDiag is an error at the value of attribute name (at the block when
// it is absent: a default).
func csvDiag(b *flow.Block, name, summary, detail string) *hcl.Diagnostic {
	rng := b.Range
	if a := b.Attrs[name]; a != nil {
		rng = a.Expr.Range()
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}
}
