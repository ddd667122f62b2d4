package script

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/flowtest"
)

// runLogged runs a flow file with a logger and returns the result and the
// log.
func runLogged(t *testing.T, dir string, params map[string]cty.Value) (*flow.Result, string) {
	t.Helper()
	f, diags := flowtest.LoadFile(t, filepath.Join(dir, "main.flow.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	lb := &logBuffer{}
	log := slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey || a.Key == "execution_id" {
			return slog.Attr{}
		}
		return a
	}}))
	eng := &flow.Engine{Logger: log}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := eng.Run(ctx, f, flow.RunOptions{Params: params})
	if err != nil {
		t.Fatal(err)
	}
	return res, lb.String()
}

// A script step sees the flow's values with their types, read-only, and
// its returned object becomes its outputs, with types kept.
func TestScriptStep(t *testing.T) {
	res, _ := flowtest.Run(t, `
flow "s" {
  param "files" {
    type    = list(string)
    default = ["a.csv", "b.txt", "c.csv"]
  }
  param "rate" { default = 0.1 }
  vars = { in_dir = "data/in", limit = 3, amount = 12.50, nested = { k = [1, 2], n = null } }
  log "before" { message = "hello" }
  script "prepare" {
    code = <<-JS
      const files = param.files.filter(f => f.endsWith(".csv"));
      if (typeof vars.limit !== "number" || vars.nested.n !== null) throw new Error("types lost");
      return {
        files,
        count: files.length,
        dir: vars.in_dir,
        rate: param.rate,
        total: decimal(vars.amount).mul(3).toString(),
        greeting: step.before.message + " " + flow.name,
        nested: vars.nested,
        when: new Date(Date.UTC(2026, 10, 20)),
        nothing: null,
        big: 2 ** 53 + 2,
      };
    JS
  }
  output "count" { value = step.prepare.count }
  output "files" { value = step.prepare.files }
  output "dir" { value = step.prepare.dir }
  output "rate" { value = step.prepare.rate + 0.2 }
  output "total" { value = step.prepare.total }
  output "greeting" { value = step.prepare.greeting }
  output "nested" { value = step.prepare.nested }
  output "when" { value = step.prepare.when }
  output "nothing" { value = step.prepare.nothing }
  output "big" { value = step.prepare.big }
}`, nil)
	if res.Status != flow.Completed {
		t.Fatalf("%s: %v", res.Status, res.Err)
	}
	for name, want := range map[string]string{
		"count":    "2",
		"files":    `["a.csv", "c.csv"]`,
		"dir":      `"data/in"`,
		"rate":     "0.3",
		"total":    `"37.5"`,
		"greeting": `"hello s"`,
		"nested":   "{\n  k = [1, 2]\n  n = null\n}",
		"when":     `"2026-11-20T00:00:00Z"`,
		"nothing":  "null",
		"big":      "9007199254740994",
	} {
		if got := flowtest.Output(res, name); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
}

// each, loop and error are visible where the flow has them.
func TestScriptStepLocals(t *testing.T) {
	res, _ := flowtest.Run(t, `
flow "l" {
  fork "f" {
    for_each = ["x", "y"]
    script "s" {
      code = "return { v: each.value + each.key, hasLoop: typeof loop !== 'undefined' };"
    }
  }
  sequential "c" {
    catch {
      script "e" {
        code = "if (error.kind !== 'fail' || !error.message.includes('boom')) throw new Error('error is ' + JSON.stringify(error)); return {};"
      }
    }
    fail "x" { message = "boom" }
  }
  output "r" { value = [for r in step.f.results : r.s.v] }
  output "loop" { value = step.f.results[0].s.hasLoop }
}`, nil)
	if res.Status != flow.Completed {
		t.Fatalf("%s: %v", res.Status, res.Err)
	}
	if got := flowtest.Output(res, "r"); got != `["x0", "y1"]` {
		t.Errorf("r = %s", got)
	}
	if got := flowtest.Output(res, "loop"); got != "false" {
		t.Errorf("loop = %s", got)
	}
}

// The flow's values are read-only; returning something else than an
// object fails the step.
func TestScriptStepMisuse(t *testing.T) {
	for _, tc := range []struct{ code, want string }{
		{`param.x = 1; return {};`, "TypeError"},
		{`vars.v.push(2); return {};`, "TypeError"},
		{`return 5;`, "a script returns an object (its outputs) or nothing, not a number"},
		{`return [1];`, "not a Array"},
		{`return { f() {} };`, "cannot convert a function"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			res, _ := flowtest.Run(t, fmt.Sprintf(`
flow "m" {
  param "x" { default = 1 }
  vars = { v = [1] }
  script "s" { code = %q }
}`, tc.code), nil)
			if res.Status != flow.Failed || !strings.Contains(res.Err.Error(), tc.want) {
				t.Errorf("%s: %v, want %q", res.Status, res.Err, tc.want)
			}
		})
	}
	res, _ := flowtest.Run(t, `flow "e" {
  script "s" { code = "" }
}`, nil)
	if res.Status != flow.Completed || len(res.Outputs) != 0 {
		t.Errorf("empty script: %s %v", res.Status, res.Err)
	}
}

// JavaScript syntax errors are load-time diagnostics at the line and
// column of the flow file, or of the .js file.
func TestSyntaxDiagnostics(t *testing.T) {
	cases := []struct {
		name  string
		flow  string
		files map[string]string
		want  string // file:line:col: detail
	}{
		{"flush heredoc", `flow "d" {
  script "s" {
    code = <<-JS
      const a = 1;
      const b = ;
    JS
  }
}`, nil, "main.flow.hcl:5:17: Unexpected token ;"},
		{"plain heredoc", `flow "d" {
  script "s" {
    code = <<JS
let ok = 1;
  let x = 2 +* 3;
JS
  }
}`, nil, "main.flow.hcl:5:14: Unexpected token *"},
		{"quoted string", `flow "d" {
  script "s" { code = "return 1 +;" }
}`, nil, "main.flow.hcl:2:34: Unexpected token ;"},
		{"strict mode", `flow "d" {
  script "s" {
    code = <<-JS
      with (param) { }
    JS
  }
}`, nil, "main.flow.hcl:4:7: Strict mode code may not include a with statement"},
		{"js file", `flow "d" {
  script "s" { file = "scripts/x.js" }
}`, map[string]string{"scripts/x.js": "// ok\nconst a = [1,\n  2 3];\nreturn { a };\n"}, filepath.Join("scripts", "x.js") + ":3:5: Unexpected number"},
		{"processor", `flow "d" {
  batch "b" {
    reader "script_test" { count = 1 }
    processor "js" {
      code = <<-JS
        if (item.x) {
          return item.y.;
        }
      JS
    }
    writer "script_test" { key = "k" }
  }
}`, nil, "main.flow.hcl:7:25: Unexpected token ;"},
		{"writer filter", `flow "d" {
  batch "b" {
    reader "script_test" { count = 1 }
    writer "script_test" {
      key    = "k"
      filter = "item.amount >> > 5"
    }
  }
}`, nil, "main.flow.hcl:6:32: Unexpected token >"},
		{"partition key", `flow "d" {
  batch "b" {
    concurrency     = 2
    partition_by_js = "item => item.account)"
    reader "script_test" { count = 1 }
    writer "script_test" { key = "k" }
  }
}`, nil, "main.flow.hcl:4:45: Unexpected token )"},
		{"missing", `flow "d" {
  script "s" {}
}`, nil, "main.flow.hcl:2:3: Give the code inline"},
		{"both", `flow "d" {
  script "s" {
    code = "return {}"
    file = "x.js"
  }
}`, nil, "main.flow.hcl:4:5: Give code or file, not both."},
		{"missing file", `flow "d" {
  script "s" { file = "nope.js" }
}`, nil, "main.flow.hcl:2:23: "},
		{"file outside", `flow "d" {
  script "s" { file = "../x.js" }
}`, nil, "main.flow.hcl:2:23: file \"../x.js\" is outside the flow's directory."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"main.flow.hcl": tc.flow}
			for k, v := range tc.files {
				files[k] = v
			}
			dir := flowtest.Write(t, files)
			_, diags := flowtest.LoadFile(t, filepath.Join(dir, "main.flow.hcl"))
			if !diags.HasErrors() {
				t.Fatal("no diagnostic")
			}
			var got []string
			for _, d := range diags {
				rel, _ := filepath.Rel(dir, d.Subject.Filename)
				got = append(got, fmt.Sprintf("%s:%d:%d: %s", rel, d.Subject.Start.Line, d.Subject.Start.Column, d.Detail))
			}
			if !strings.HasPrefix(got[0], tc.want) || (tc.name == "missing file" && !strings.Contains(got[0], "nope.js: no such file or directory")) {
				t.Errorf("got  %s\nwant %s", strings.Join(got, "\n     "), tc.want)
			}
		})
	}
}

// Runtime errors point at the flow file's line; console goes to the
// step's log.
func TestScriptStepRuntimeErrorAndLog(t *testing.T) {
	dir := flowtest.Write(t, map[string]string{"main.flow.hcl": `flow "r" {
  script "s" {
    code = <<-JS
      console.log("starting", { n: 1 }, [1, 2], decimal("1.50"));
      console.warn("careful");
      const o = undefined;
      return { v: o.field };
    JS
  }
}`})
	res, logs := runLogged(t, dir, nil)
	if res.Status != flow.Failed {
		t.Fatal(res.Status)
	}
	var je *Error
	if !errors.As(res.Err, &je) {
		t.Fatalf("%T %v", res.Err, res.Err)
	}
	if rel := strings.TrimPrefix(je.Where, filepath.Join(dir, "")+string(filepath.Separator)); rel != "main.flow.hcl:7:21" {
		t.Errorf("where %s", je.Where)
	}
	if !strings.Contains(je.Message, "TypeError: Cannot read property 'field' of undefined") {
		t.Errorf("message %s", je.Message)
	}
	for _, want := range []string{
		`level=INFO msg="starting {\"n\":1} [1,2] 1.50" flow=r step=main/s source=js at=`,
		`main.flow.hcl:4:18`,
		`level=WARN msg=careful flow=r step=main/s source=js at=`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

// The timeout decorator interrupts a script that does not end; so does a
// cancelled run.
func TestScriptStepInterrupted(t *testing.T) {
	res, _ := flowtest.Run(t, `
flow "t" {
  script "s" {
    timeout = "50ms"
    code    = "while (true) {}"
  }
}`, nil)
	if res.Status != flow.Failed || flow.KindOf(res.Err) != flow.KindTimeout {
		t.Fatalf("%s %s: %v", res.Status, flow.KindOf(res.Err), res.Err)
	}
	f := flowtest.Load(t, `flow "t" {
  script "s" { code = "while (true) {}" }
}`)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	res, _ = flowtest.RunFlow(t, ctx, f, nil)
	if res.Status != flow.Stopped {
		t.Errorf("cancelled run: %s %v", res.Status, res.Err)
	}
}

// file = points at a .js file; require resolves against the requiring
// file's directory.
func TestScriptFileAndRequire(t *testing.T) {
	dir := flowtest.Write(t, map[string]string{
		"main.flow.hcl": `flow "f" {
  script "s" { file = "scripts/prep.js" }
  output "r" { value = step.s.r }
}`,
		"scripts/prep.js":     "const u = require('./lib/util.js');\nconst again = require('./lib/util');\nreturn { r: u.twice(21) + (u === again ? 0 : 1000) };\n",
		"scripts/lib/util.js": "const c = require('../../common.js');\nexports.twice = x => c.mul(x, 2);\n",
		"common.js":           "module.exports = { mul: (a, b) => a * b };\n",
	})
	res, _ := runLogged(t, dir, nil)
	if res.Status != flow.Completed {
		t.Fatalf("%s: %v", res.Status, res.Err)
	}
	if got := flowtest.Output(res, "r"); got != "42" {
		t.Errorf("r = %s", got)
	}
	// An error in a module points at the module's line.
	dir = flowtest.Write(t, map[string]string{
		"main.flow.hcl": `flow "f" {
  script "s" {
    code = "return require('./m.js').f();"
  }
}`,
		"m.js": "exports.f = function () {\n  return null.x;\n};\n",
	})
	res, _ = runLogged(t, dir, nil)
	var je *Error
	if !errors.As(res.Err, &je) || !strings.HasSuffix(je.Where, "m.js:2:15") || len(je.Stack) != 2 ||
		!strings.HasSuffix(je.Stack[1], "main.flow.hcl:3:39)") {
		t.Errorf("err %v (where %s, stack %q)", res.Err, je.Where, je.Stack)
	}
}

// Flows loaded from an fs.FS read their .js files and modules from it.
func TestScriptFromFS(t *testing.T) {
	fsys := fstest.MapFS{
		"app/main.flow.hcl": {Data: []byte(`flow "f" {
  script "s" { file = "js/main.js" }
  output "r" { value = step.s.r }
}`)},
		"app/js/main.js": {Data: []byte("return { r: require('./lib.js').v + require('../top.js').v };\n")},
		"app/js/lib.js":  {Data: []byte("exports.v = 40;\n")},
		"app/top.js":     {Data: []byte("exports.v = 2;\n")},
		"secret.js":      {Data: []byte("exports.v = 'secret';\n")},
	}
	set, diags := flow.LoadFS(fsys, "app/main.flow.hcl", nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	f, _ := set.Only()
	res, _ := flowtest.RunFlow(t, context.Background(), f, nil)
	if res.Status != flow.Completed || flowtest.Output(res, "r") != "42" {
		t.Fatalf("%s %v %v", res.Status, res.Err, res.Outputs)
	}
	fsys["app/js/main.js"] = &fstest.MapFile{Data: []byte("return { r: require('../../secret.js').v };\n")}
	set, _ = flow.LoadFS(fsys, "app/main.flow.hcl", nil)
	f, _ = set.Only()
	res, _ = flowtest.RunFlow(t, context.Background(), f, nil)
	if res.Status != flow.Failed || !strings.Contains(res.Err.Error(), "outside the flow's directory") {
		t.Errorf("%s %v", res.Status, res.Err)
	}
}
