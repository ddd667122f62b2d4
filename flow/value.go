package flow

import (
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// FormatValue renders a value in HCL syntax, for terminal output.
func FormatValue(v cty.Value) string {
	if v == cty.NilVal {
		return "null"
	}
	if !v.IsWhollyKnown() {
		return "(unknown)"
	}
	return string(hclwrite.Format(hclwrite.TokensForValue(v).Bytes()))
}
