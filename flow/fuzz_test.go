package flow_test

import (
	"bytes"
	"context"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/flowbatch/flow/flow"
	_ "github.com/flowbatch/flow/script" // script steps and js processors: their code is checked at load
)

// The fuzz targets of the flow package. Their seed corpora (f.Add below,
// the flow files of testdata/diags and examples/, and the files of
// testdata/fuzz/NAME) run with every go test; make fuzz runs each target
// for FUZZTIME.

// fuzzCallee is a valid flow that fuzzed flows may call.
const fuzzCallee = `flow "child" {
  param "n" {
    type    = number
    default = 1
  }
  output "twice" { value = param.n * 2 }
}
`

// addFlowSeeds adds every flow file under dir to the corpus.
func addFlowSeeds(f *testing.F, dir string) {
	f.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, flow.FileSuffix) {
			return err
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f.Add(src)
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
}

// FuzzLoad loads arbitrary bytes as a flow file, with the standard steps,
// decorators and batch components: no panic, and every error diagnostic
// has a position in a file the loader parsed (the CLI shows it as
// file:line:col with the source line), within that file's bounds.
func FuzzLoad(f *testing.F) {
	addFlowSeeds(f, filepath.Join("testdata", "diags"))
	addFlowSeeds(f, filepath.Join("..", "examples"))
	f.Add([]byte(`flow "a" { call "c" { flow = "lib/child.flow.hcl" } }`))
	f.Add([]byte(`flow "a" { call "me" { flow = "x.flow.hcl" } }`))
	f.Add([]byte(`flow "a" { script "s" { code = "return {a: 1" } }`))
	f.Add([]byte("flow \"a\" {\n  batch \"b\" {\n    reader \"csv\" { path = \"in.csv\" }\n    processor \"js\" { code = \"emit(item\" }\n    writer \"jsonl\" { path = \"out.jsonl\" }\n  }\n}\n"))
	f.Add([]byte("flow \"a\" {\n  fork \"f\" {\n    for_each = [1, 2]\n    log \"l\" { message = \"${each.value}\" }\n  }\n}\n"))
	f.Add([]byte("flow \"a\" { log \"l\" { message = \"\xff\xfe\" } }"))
	f.Fuzz(func(t *testing.T, src []byte) {
		fsys := fstest.MapFS{
			"x.flow.hcl":         {Data: src},
			"lib/child.flow.hcl": {Data: []byte(fuzzCallee)},
			"in.csv":             {Data: []byte("a,b\n1,2\n")},
		}
		set, diags := flow.LoadFS(fsys, "x.flow.hcl", nil)
		files := set.Files()
		for _, d := range diags {
			if d.Severity != hcl.DiagError {
				continue
			}
			if d.Subject == nil {
				t.Fatalf("error without a position: %s: %s\nsource:\n%s", d.Summary, d.Detail, src)
			}
			file := files[d.Subject.Filename]
			if file == nil {
				t.Fatalf("error positioned in %q, a file the loader did not parse: %s", d.Subject.Filename, d.Error())
			}
			s, e := d.Subject.Start, d.Subject.End
			if s.Line < 1 || s.Column < 1 || s.Byte < 0 || s.Byte > len(file.Bytes) || e.Byte < s.Byte || e.Byte > len(file.Bytes) {
				t.Fatalf("error positioned out of %s's %d bytes (%d:%d@%d to %d:%d@%d): %s",
					d.Subject.Filename, len(file.Bytes), s.Line, s.Column, s.Byte, e.Line, e.Column, e.Byte, d.Error())
			}
		}
		// The CLI prints them with source snippets.
		var buf bytes.Buffer
		if err := flow.WriteDiagnostics(&buf, files, diags, false); err != nil {
			t.Fatal(err)
		}
		if diags.HasErrors() {
			return
		}
		for _, fl := range set.Flows {
			if fl.Root == nil {
				t.Fatalf("flow %q loaded without a body", fl.Name)
			}
		}
	})
}

// fuzzFuncs are the flow functions, but those that read the file system
// or the environment, or can make huge values.
func fuzzFuncs() map[string]function.Function {
	fns := flow.Functions(".")
	for _, name := range []string{"file", "fileset", "env", "range", "timestamp"} {
		delete(fns, name)
	}
	return fns
}

// fuzzVars are values expressions may refer to: one of each type.
var fuzzVars = map[string]cty.Value{
	"v": cty.ObjectVal(map[string]cty.Value{
		"s":    cty.StringVal("héllo"),
		"n":    cty.NumberFloatVal(0.1),
		"i":    cty.NumberIntVal(-42),
		"b":    cty.True,
		"l":    cty.ListVal([]cty.Value{cty.NumberIntVal(1), cty.NumberIntVal(2)}),
		"set":  cty.SetVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")}),
		"m":    cty.MapVal(map[string]cty.Value{"k": cty.StringVal("v")}),
		"null": cty.NullVal(cty.String),
		"t":    cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.NullVal(cty.Number), cty.EmptyObjectVal}),
		"e":    cty.ListValEmpty(cty.Map(cty.Bool)),
	}),
}

// FuzzValueJournal evaluates an HCL expression and sends its value through
// the journal's encoding (what a step's outputs and variables become in
// the store): MarshalValue then UnmarshalValue must give back the same
// value with the same type, and encoding that again the same bytes.
func FuzzValueJournal(f *testing.F) {
	for _, s := range []string{
		`"héllo\n\"quoted\""`, `42`, `-0.000001`, `1e300`, `123456789012345678901234567890.5`,
		`1/3`, `true`, `null`, `[1, "a", null]`, `{a = 1, "b c" = [true]}`, `tolist(["a", "b"])`,
		`toset([3, 1, 2])`, `tomap({x = 1, y = 2})`, `v`, `v.l`, `[for k, x in v.m : "${k}=${x}"]`,
		`jsondecode("{\"a\":[1,2.5,{\"b\":null}]}")`, `v.n * 3`, `tolist([])`, `{}`, `[]`, `tomap({})`,
		`toset([])`, `[tolist([1]), tolist([])]`, `{a = tomap({}), b = null}`, `pow(2, 80)`, `-pow(10, -30)`,
		`"\u0000\ufffd"`, `jsondecode("1e400")`, `pow(2, 1023) * 3`, `1e-320`, `tonumber("0.1") + tonumber("0.2")`,
	} {
		f.Add(s)
	}
	ctx := &hcl.EvalContext{Variables: fuzzVars, Functions: fuzzFuncs()}
	f.Fuzz(func(t *testing.T, src string) {
		if !utf8.ValidString(src) {
			// Strings are UTF-8 in the journal (JSON): invalid bytes would
			// come back as U+FFFD. What takes text from outside makes it
			// valid UTF-8 first (exec's stdout and stderr, SQL rows) or
			// refuses it (file(), the CSV and JSONL readers), so that a
			// resumed run sees what the first one saw.
			return
		}
		expr, diags := hclsyntax.ParseExpression([]byte(src), "x.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			return
		}
		v, diags := expr.Value(ctx)
		if diags.HasErrors() || !v.IsWhollyKnown() || v.ContainsMarked() {
			return
		}
		b, err := flow.MarshalValue(v)
		if err != nil {
			if strings.Contains(err.Error(), "infinite") || strings.Contains(err.Error(), "beyond") {
				return // cty has infinities and 512-bit mantissas with 32-bit exponents; JSON has neither
			}
			t.Fatalf("MarshalValue(%#v): %v", v, err)
		}
		got, err := flow.UnmarshalValue(b)
		if err != nil {
			t.Fatalf("UnmarshalValue(%s) (of %#v): %v", b, v, err)
		}
		if !got.Type().Equals(v.Type()) {
			t.Fatalf("%s: type %s came back as %s", b, v.Type().GoString(), got.Type().GoString())
		}
		if !got.RawEquals(v) {
			t.Fatalf("%s: %#v came back as %#v", b, v, got)
		}
		b2, err := flow.MarshalValue(got)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("encoded again: %s, %v; first %s", b2, err, b)
		}
	})
}

// FuzzJournalDecode reads arbitrary bytes as a journal value: no panic;
// whatever decodes encodes again and decodes to the same value.
func FuzzJournalDecode(f *testing.F) {
	for _, s := range []string{
		`{"value":1,"type":"number"}`,
		`{"value":"x","type":"string"}`,
		`{"value":[1,2],"type":["list","number"]}`,
		`{"value":{"a":null},"type":["object",{"a":"bool"}]}`,
		`{"value":[true,"x"],"type":["tuple",["bool","string"]]}`,
		`{"value":{"k":[1]},"type":["map",["set","number"]]}`,
		`{"value":null,"type":"dynamic"}`,
		`{"value":{"value":1,"type":"number"},"type":"dynamic"}`,
		`{"value":1e999,"type":"number"}`,
		`{"value":1e99999999,"type":"number"}`,
		`{"value":-1e-99999999,"type":"number"}`,
		`{"value":0.1000000000000000000000000000001,"type":"number"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := flow.UnmarshalValue(data)
		if err != nil || !v.IsWhollyKnown() {
			return
		}
		b, err := flow.MarshalValue(v)
		if err != nil {
			if strings.Contains(err.Error(), "infinite") || strings.Contains(err.Error(), "beyond") {
				return
			}
			t.Fatalf("%s decoded to %#v, which does not encode: %v", data, v, err)
		}
		got, err := flow.UnmarshalValue(b)
		if err != nil {
			t.Fatalf("%s: encoded as %s, which does not decode: %v", data, b, err)
		}
		if !got.Type().Equals(v.Type()) || !got.RawEquals(v) {
			t.Fatalf("%s: %#v came back as %#v (through %s)", data, v, got, b)
		}
	})
}

// scriptEcho hands its param to JavaScript and takes it back.
const scriptEcho = `flow "echo" {
  param "v" { type = any }
  script "js" { code = "return { v: param.v }" }
  output "v" { value = step.js.v }
}
`

// FuzzScriptValues evaluates an HCL expression, hands the value to a
// script step and takes it back as the step's output (HCL → JS → HCL):
// the same value, lists, sets and tuples as tuples, maps and objects as
// objects; numbers exactly when a double or a decimal of 18 digits holds
// them (docs/javascript.md), else to the nearest double.
func FuzzScriptValues(f *testing.F) {
	for _, s := range []string{
		`"héllo"`, `42`, `-9007199254740993`, `9223372036854775807`, `0.1`, `1/3`, `123.456789012345678`,
		`1e300`, `pow(2, 80)`, `true`, `null`, `[1, "a", null, [2]]`, `toset(["b", "a"])`, `tomap({x = 1})`,
		`{a = {b = [1.5, {}]}, "c d" = []}`, `{"__proto__" = {a = 1}}`, `{"0" = 1, "1" = 2, z = 3}`,
		`{constructor = 1, toString = "x", valueOf = null}`, `[tolist([]), {}]`, `"\u0000"`, `1e-20`,
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "echo.flow.hcl"), []byte(scriptEcho), 0o644); err != nil {
		f.Fatal(err)
	}
	set, diags := flow.Load(filepath.Join(dir, "echo.flow.hcl"), nil)
	if diags.HasErrors() {
		f.Fatal(diags.Error())
	}
	echo, err := set.Only()
	if err != nil {
		f.Fatal(err)
	}
	ctx := &hcl.EvalContext{Variables: fuzzVars, Functions: fuzzFuncs()}
	f.Fuzz(func(t *testing.T, src string) {
		if !utf8.ValidString(src) {
			return
		}
		expr, diags := hclsyntax.ParseExpression([]byte(src), "x.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			return
		}
		v, diags := expr.Value(ctx)
		if diags.HasErrors() || !v.IsWhollyKnown() || v.ContainsMarked() || !jsSized(v, 0) {
			return
		}
		run, err := flow.NewEngine(nil).Start(context.Background(), echo, flow.RunOptions{Params: map[string]cty.Value{"v": v}})
		if err != nil {
			t.Fatal(err)
		}
		var res *flow.Result
		select {
		case <-run.Done():
			res = run.Wait()
		case <-time.After(time.Minute):
			t.Fatalf("%s: the script step did not end", src)
		}
		if res.Err != nil {
			t.Fatalf("%s (%#v): %v", src, v, res.Err)
		}
		got := res.Outputs["v"]
		if why := sameThroughJS(v, got); why != "" {
			t.Fatalf("%s: %#v came back as %#v: %s", src, v, got, why)
		}
	})
}

// jsSized reports whether a value is within what the conversion handles:
// at most 64 levels deep, numbers no larger than a double holds.
func jsSized(v cty.Value, depth int) bool {
	if depth > 60 {
		return false
	}
	if v.IsNull() {
		return true
	}
	ty := v.Type()
	switch {
	case ty == cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInf() {
			return false // JS has Infinity; HCL values take none from it
		}
		e := bf.MantExp(nil)
		return e > -1000 && e < 1000
	case ty.IsCollectionType() || ty.IsTupleType() || ty.IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			if _, e := it.Element(); !jsSized(e, depth+1) {
				return false
			}
		}
	}
	return true
}

// sameThroughJS compares a value with what came back from JavaScript; it
// returns why they differ, or "".
func sameThroughJS(in, out cty.Value) string {
	if in.IsNull() || out.IsNull() {
		if in.IsNull() && out.IsNull() {
			return ""
		}
		return "null on one side only"
	}
	it, ot := in.Type(), out.Type()
	switch {
	case it == cty.String || it == cty.Bool:
		if !ot.Equals(it) || !in.RawEquals(out) {
			return fmt.Sprintf("%#v is not %#v", out, in)
		}
	case it == cty.Number:
		if ot != cty.Number {
			return "not a number"
		}
		a, b := in.AsBigFloat(), out.AsBigFloat()
		if a.Cmp(b) == 0 {
			return ""
		}
		if exactInJS(a) {
			return fmt.Sprintf("%s is not %s, and a double or an 18-digit decimal holds it", b.Text('g', 30), a.Text('g', 30))
		}
		f, _ := a.Float64()
		if g, _ := b.Float64(); f != g {
			return fmt.Sprintf("%v is not the double nearest to %s", g, a.Text('g', 30))
		}
	case it.IsListType() || it.IsSetType() || it.IsTupleType():
		if !ot.IsTupleType() || out.LengthInt() != in.LengthInt() {
			return "not a tuple of the same length"
		}
		i := 0
		for iter := in.ElementIterator(); iter.Next(); i++ {
			_, e := iter.Element()
			if why := sameThroughJS(e, out.Index(cty.NumberIntVal(int64(i)))); why != "" {
				return fmt.Sprintf("[%d]: %s", i, why)
			}
		}
	case it.IsMapType() || it.IsObjectType():
		if !ot.IsObjectType() || out.LengthInt() != in.LengthInt() {
			return fmt.Sprintf("not an object of the same keys: %s", ot.FriendlyName())
		}
		for iter := in.ElementIterator(); iter.Next(); {
			k, e := iter.Element()
			name := k.AsString()
			if !ot.HasAttribute(name) {
				return fmt.Sprintf("key %q is lost", name)
			}
			if why := sameThroughJS(e, out.GetAttr(name)); why != "" {
				return fmt.Sprintf(".%s: %s", name, why)
			}
		}
	}
	return ""
}

// exactInJS reports whether the script step promises to give a number
// back exactly: whole numbers of 64 bits, numbers a double prints as, and
// decimals of up to 18 digits.
func exactInJS(a *big.Float) bool {
	if a.IsInt() {
		if _, acc := a.Int64(); acc == big.Exact {
			return true
		}
	}
	f, _ := a.Float64()
	if back, err := cty.ParseNumberVal(strconv.FormatFloat(f, 'g', -1, 64)); err == nil && back.AsBigFloat().Cmp(a) == 0 {
		return true
	}
	s := strings.TrimLeft(strings.Replace(strings.TrimRight(a.Text('f', 18), "0"), ".", "", 1), "-0")
	if len(s) > 18 {
		return false
	}
	back, err := cty.ParseNumberVal(a.Text('f', 18))
	return err == nil && back.AsBigFloat().Cmp(a) == 0
}

// Regressions found by the fuzz targets above.

// An integer from a double (pow(2, 80)) was journaled in its shortest
// form at 53 bits, 1208925819614629200000000, which reads back as another
// integer; numbers of huge exponents took minutes to write; a damaged
// tuple panicked in go-cty's decoder.
func TestJournalNumbers(t *testing.T) {
	v := cty.NumberFloatVal(1 << 62).Multiply(cty.NumberFloatVal(1 << 18))
	b, err := flow.MarshalValue(v)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := flow.UnmarshalValue(b); err != nil || !got.RawEquals(v) {
		t.Errorf("2^80 journaled as %s, read back as %#v, %v", b, got, err)
	}
	huge, err := cty.ParseNumberVal("1e99999999")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := flow.MarshalValue(huge); err == nil {
		t.Errorf("1e99999999 journaled as %d bytes", len(b))
	}
	if v, err := flow.UnmarshalValue([]byte(`{"value":[],"type":["tuple",["string"]]}`)); err == nil {
		t.Errorf("a tuple without its element decoded as %#v", v)
	}
}

// A number far beyond any double, handed to JavaScript, was printed with
// every digit first; an HCL object's "__proto__" key became the JS
// object's prototype, and was lost.
func TestScriptOddValues(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "echo.flow.hcl"), []byte(scriptEcho), 0o644); err != nil {
		t.Fatal(err)
	}
	set, diags := flow.Load(filepath.Join(dir, "echo.flow.hcl"), nil)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	echo, _ := set.Only()
	huge, _ := cty.ParseNumberVal("1e-99999999")
	proto := cty.ObjectVal(map[string]cty.Value{"__proto__": cty.ObjectVal(map[string]cty.Value{"a": cty.True})})
	for _, tc := range []struct {
		in, want cty.Value
	}{
		{huge, cty.Zero},
		{proto, proto},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		run, err := flow.NewEngine(nil).Start(ctx, echo, flow.RunOptions{Params: map[string]cty.Value{"v": tc.in}})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		res := run.Wait()
		cancel()
		if res.Err != nil || !res.Outputs["v"].RawEquals(tc.want) {
			t.Errorf("%s: got %#v, %v; want %#v", flow.FormatValue(tc.want), res.Outputs["v"], res.Err, tc.want)
		}
	}
}

// file() of a file that is not UTF-8 (Latin-1) made a string the store
// could not keep as it was: a resumed run saw U+FFFD instead. It is an
// error now.
func TestFileNotUTF8(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "latin1.txt"), []byte("caf\xe9"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "utf8.txt"), []byte("café"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := flow.Functions(dir)["file"]
	if v, err := file.Call([]cty.Value{cty.StringVal("latin1.txt")}); err == nil || !strings.Contains(err.Error(), "not UTF-8") {
		t.Errorf("file(latin1.txt) = %#v, %v", v, err)
	}
	if v, err := file.Call([]cty.Value{cty.StringVal("utf8.txt")}); err != nil || v.AsString() != "café" {
		t.Errorf("file(utf8.txt) = %#v, %v", v, err)
	}
}
