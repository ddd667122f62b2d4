package batch_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch"
)

// parseAttr parses "name = expr" and returns the attribute.
func parseAttr(t *testing.T, src string) *hcl.Attribute {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "x.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	attrs, diags := f.Body.JustAttributes()
	if diags.HasErrors() || len(attrs) != 1 {
		t.Fatalf("%s: %v", src, diags)
	}
	for _, a := range attrs {
		return a
	}
	return nil
}

// CheckSchema finds an unknown type in the constant part of a schema and
// points at it; what is not constant is left to the run.
func TestCheckSchema(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want []string // "line:col detail", one a diagnostic
	}{
		{`schema = { amount = "decimal", id = "int", ts = "timestamp" }`, nil},
		{`schema = { a = "text", b = "integer", c = "number", d = "double", e = "boolean", f = "datetime" }`, nil},
		{`schema = { amount = "decmal" }`, []string{`1:21 schema: field amount: "decmal" is not a field type; use "string", "int", "decimal", "float", "bool" or "timestamp". Did you mean "decimal"?`}},
		{"schema = {\n  id = \"int\"\n  amount = \"money\"\n  ts = \"tme\"\n}", []string{
			`3:12 schema: field amount: "money" is not a field type; use "string", "int", "decimal", "float", "bool" or "timestamp".`,
			`4:8 schema: field ts: "tme" is not a field type; use "string", "int", "decimal", "float", "bool" or "timestamp". Did you mean "time"?`}},
		{`schema = { "odd name" = 3 }`, []string{`1:25 schema: field odd name: "3" is not a field type`}},
		{`schema = { amount = var.t, id = "nit" }`, []string{`1:33 schema: field id: "nit" is not a field type`}},
		{`schema = var.schema`, nil},
		{`schema = null`, nil},
	} {
		diags := batch.CheckSchema(parseAttr(t, tc.src))
		if len(diags) != len(tc.want) {
			t.Errorf("%s: %d diagnostics, want %d: %v", tc.src, len(diags), len(tc.want), diags)
			continue
		}
		for i, d := range diags {
			pos, detail, _ := strings.Cut(tc.want[i], " ")
			if !strings.HasPrefix(d.Detail, detail) || d.Subject == nil || posOf(d.Subject) != pos || d.Summary != "Unknown field type" {
				t.Errorf("%s: diagnostic %d is %s %q: %q, want %s %q", tc.src, i, posOf(d.Subject), d.Summary, d.Detail, pos, detail)
			}
		}
	}
	if diags := batch.CheckSchema(nil); diags != nil {
		t.Errorf("no attribute: %v", diags)
	}
}

func posOf(r *hcl.Range) string {
	if r == nil {
		return "none"
	}
	return fmt.Sprintf("%d:%d", r.Start.Line, r.Start.Column)
}

// ConstAttr evaluates what a run would, as long as it is constant.
func TestConstAttr(t *testing.T) {
	specs := []flow.Attr{
		{Name: "n", Type: cty.Number, Default: cty.NumberIntVal(7)},
		{Name: "s", Type: cty.String},
		{Name: "v", Type: cty.String},
	}
	f, diags := hclsyntax.ParseConfig([]byte("n = \"3\"\nv = var.x\n"), "x.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	attrs, _ := f.Body.JustAttributes()
	b := &flow.Block{Attrs: attrs, Specs: specs}
	if v, ok := batch.ConstAttr(b, "n"); !ok || !v.RawEquals(cty.NumberIntVal(3)) {
		t.Errorf("n = %#v, %v; want 3, converted to a number", v, ok)
	}
	if v, ok := batch.ConstAttr(b, "s"); !ok || !v.RawEquals(cty.NullVal(cty.String)) {
		t.Errorf("s = %#v, %v; want a null string", v, ok)
	}
	if _, ok := batch.ConstAttr(b, "v"); ok {
		t.Error("v refers to a variable: not constant")
	}
	b.Attrs = nil
	if v, ok := batch.ConstAttr(b, "n"); !ok || !v.RawEquals(cty.NumberIntVal(7)) {
		t.Errorf("absent n = %#v, %v; want its default", v, ok)
	}
}
