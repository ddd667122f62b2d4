package flow

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// BindParams checks the given values against the flow's params: every
// required one present, every value converted to its declared type, no
// unknown names. Missing optional params take their defaults.
func (f *Flow) BindParams(given map[string]cty.Value) (map[string]cty.Value, error) {
	var problems []string
	out := map[string]cty.Value{}
	for name := range given {
		if f.Param(name) == nil {
			problems = append(problems, fmt.Sprintf("unknown param %q (declared: %s)", name, strings.Join(paramNames(f), ", ")))
		}
	}
	for _, p := range f.Params {
		v, ok := given[p.Name]
		if !ok {
			if p.Required() {
				problems = append(problems, fmt.Sprintf("missing param %q (%s, declared at %s)", p.Name, typeexpr.TypeString(p.Type), Pos(p.Range)))
				continue
			}
			out[p.Name] = p.Default
			continue
		}
		cv, err := convert.Convert(v, p.Type)
		if err != nil {
			problems = append(problems, fmt.Sprintf("param %q must be %s: %s", p.Name, typeexpr.TypeString(p.Type), err))
			continue
		}
		out[p.Name] = cv
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, &Error{Kind: KindUsage, Msg: strings.Join(problems, "; ")}
	}
	return out, nil
}

func paramNames(f *Flow) []string {
	var out []string
	for _, p := range f.Params {
		out = append(out, p.Name)
	}
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}

// ParseParam turns the text of -p name=value into a value for param p: a
// string param takes the text as it is; any other type parses it as an HCL
// expression (42, true, ["a", "b"], { k = 1 }).
func ParseParam(p *Param, text string) (cty.Value, error) {
	if p.Type == cty.String {
		return cty.StringVal(text), nil
	}
	expr, diags := hclsyntax.ParseExpression([]byte(text), "-p "+p.Name, hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		if p.Type == cty.DynamicPseudoType {
			return cty.StringVal(text), nil
		}
		return cty.NilVal, &Error{Kind: KindUsage, Msg: fmt.Sprintf("param %q: cannot parse %q as %s: %s", p.Name, text, typeexpr.TypeString(p.Type), diags.Error())}
	}
	if vars := expr.Variables(); len(vars) > 0 && p.Type != cty.DynamicPseudoType {
		// A bare word such as -p count=many: name it instead of HCL's
		// "Variables not allowed".
		msg := fmt.Sprintf("param %q: cannot parse %q as %s: %s is not a value", p.Name, text, typeexpr.TypeString(p.Type), vars[0].RootName())
		if !p.Type.IsPrimitiveType() {
			msg += ` (quote text inside lists and maps: ["a", "b"])`
		}
		return cty.NilVal, &Error{Kind: KindUsage, Msg: msg}
	}
	v, diags := expr.Value(nil)
	if diags.HasErrors() {
		if p.Type == cty.DynamicPseudoType {
			return cty.StringVal(text), nil
		}
		return cty.NilVal, &Error{Kind: KindUsage, Msg: fmt.Sprintf("param %q: %s", p.Name, diags.Error())}
	}
	cv, err := convert.Convert(v, p.Type)
	if err != nil {
		return cty.NilVal, &Error{Kind: KindUsage, Msg: fmt.Sprintf("param %q must be %s: %s", p.Name, typeexpr.TypeString(p.Type), err)}
	}
	return cv, nil
}

// ParseParamsJSON decodes a JSON object of param values (a --params-file),
// each converted to its param's declared type.
func (f *Flow) ParseParamsJSON(data []byte) (map[string]cty.Value, error) {
	var raw map[string]ctyjson.SimpleJSONValue
	if err := jsonUnmarshal(data, &raw); err != nil {
		return nil, &Error{Kind: KindUsage, Msg: "params file: " + err.Error()}
	}
	out := map[string]cty.Value{}
	for name, v := range raw {
		p := f.Param(name)
		if p == nil {
			return nil, &Error{Kind: KindUsage, Msg: fmt.Sprintf("params file: unknown param %q (declared: %s)", name, strings.Join(paramNames(f), ", "))}
		}
		cv, err := convert.Convert(v.Value, p.Type)
		if err != nil {
			return nil, &Error{Kind: KindUsage, Msg: fmt.Sprintf("params file: param %q must be %s: %s", name, typeexpr.TypeString(p.Type), err)}
		}
		out[name] = cv
	}
	return out, nil
}
