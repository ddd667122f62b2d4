package script

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/flowtest"
	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

// sandboxDir makes a flow directory inside a parent that holds a secret
// .js file, with a symbolic link to it from inside.
func sandboxDir(t *testing.T, code string) string {
	t.Helper()
	parent := t.TempDir()
	if err := os.WriteFile(filepath.Join(parent, "secret.js"), []byte("module.exports = 'secret';"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "flow")
	files := map[string]string{
		"main.flow.hcl": fmt.Sprintf("flow \"s\" {\n  script \"s\" {\n    code = <<-JS\n%s\n    JS\n  }\n  output \"r\" { value = step.s.r }\n}\n", code),
		"ok.js":         "module.exports = 'ok';",
		"notes.txt":     "module.exports = 'txt';",
		"sub/inner.js":  "module.exports = require('../ok.js');",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(parent, "secret.js"), filepath.Join(dir, "link.js")); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	if err := os.Symlink(parent, filepath.Join(dir, "up")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Escapes are tried and refused: modules outside the flow's directory (by
// path, by .., by symbolic link), built-in modules, the process, the
// environment, timers, the network, and the global object reached
// through constructors.
func TestSandboxEscapes(t *testing.T) {
	cases := []struct {
		name, js string
		want     string // the output r, or "error: text"
	}{
		{"require fs", `return { r: require('fs') };`, "error: require(\"fs\"): only .js files under the flow's directory can be required"},
		{"require child_process", `return { r: require('child_process') };`, "error: there are no built-in modules"},
		{"require parent", `return { r: require('../secret.js') };`, "error: require(\"../secret.js\"): \"../secret.js\" is outside the flow's directory"},
		{"require absolute", `return { r: require('/etc/passwd') };`, "error: only .js files under the flow's directory"},
		{"require dot-dot inside", `return { r: require('./sub/../../secret.js') };`, "error: is outside the flow's directory"},
		{"require symlink out", `return { r: require('./link.js') };`, "error: require(\"./link.js\"): path escapes from parent"},
		{"require through linked dir", `return { r: require('./up/secret.js') };`, "error: path escapes from parent"},
		{"require not js", `return { r: require('./notes.txt') };`, "error: only .js files can be required"},
		{"require missing", `return { r: require('./nope.js') };`, "error: require(\"./nope.js\"): no such file or directory"},
		{"require inside is fine", `return { r: require('./sub/inner.js') + require('./ok') };`, `"okok"`},
		{"require from a module stays inside", `return { r: require('./sub/inner.js') };`, `"ok"`},
		{"process", `return { r: typeof process };`, `"undefined"`},
		{"process used", `return { r: process.env.HOME };`, "error: ReferenceError: process is not defined"},
		{"globalThis process", `return { r: String(globalThis.process) + String(this) };`, `"undefinedundefined"`},
		{"Function constructor", `return { r: Function('return typeof process + typeof require("fs")')() };`, "error: only .js files under the flow's directory"},
		{"constructor chain", `return { r: (() => 1).constructor('return Object.keys(this).sort().join()')() };`, `"console,decimal,require"`},
		{"eval sandboxed", `return { r: eval('typeof process + typeof setTimeout') };`, `"undefinedundefined"`},
		{"eval require", `return { r: eval("require('os')") };`, "error: there are no built-in modules"},
		{"timers", `return { r: [typeof setTimeout, typeof setInterval, typeof setImmediate, typeof queueMicrotask].join() };`, `"undefined,undefined,undefined,undefined"`},
		{"network", `return { r: [typeof fetch, typeof XMLHttpRequest, typeof WebSocket].join() };`, `"undefined,undefined,undefined"`},
		{"host objects", `return { r: [typeof Deno, typeof Bun, typeof module, typeof exports, typeof __dirname, typeof print].join() };`, `"undefined,undefined,undefined,undefined,undefined,undefined"`},
		{"the flow's values are frozen", `"use strict"; param.x = 1; return { r: 1 };`, "error: TypeError"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := sandboxDir(t, tc.js)
			res, _ := runLogged(t, dir, nil)
			if strings.HasPrefix(tc.want, "error: ") {
				if res.Status != flow.Failed || !strings.Contains(res.Err.Error(), strings.TrimPrefix(tc.want, "error: ")) {
					t.Errorf("%s: %v\nwant an error with %q", res.Status, res.Err, strings.TrimPrefix(tc.want, "error: "))
				}
				if res.Err != nil && strings.Contains(res.Err.Error(), filepath.Dir(dir)) && !strings.Contains(res.Err.Error(), dir) {
					t.Errorf("the error shows a path outside the flow: %v", res.Err)
				}
				return
			}
			if res.Status != flow.Completed {
				t.Fatalf("%s: %v", res.Status, res.Err)
			}
			if got := flowtest.Output(res, "r"); got != tc.want {
				t.Errorf("r = %s, want %s", got, tc.want)
			}
		})
	}
}

// A runtime belongs to one worker (or one script step): what code does to
// its globals or prototypes stays there.
func TestSandboxIsolation(t *testing.T) {
	p := newProc(t, `
function setup() { if (ctx.worker === 0) Object.prototype.polluted = true; }
return { w: ctx.worker, polluted: ({}).polluted === true };
`, nil, nil)
	out, _, err := run(t, p, small(400), batch.Options[*record.Record]{ChunkSize: 5, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range out {
		w, _ := r.Values[0].Int()
		pol, _ := r.Values[1].Bool()
		if pol != (w == 0) {
			t.Fatalf("worker %d sees polluted=%v", w, pol)
		}
		seen[fmt.Sprint(w)] = true
	}
	if len(seen) != 2 {
		t.Logf("only workers %v ran", seen)
	}
	res, _ := flowtest.Run(t, `flow "i" {
  script "a" { code = "globalThis.leak = 1; Array.prototype.leak = 2; return {};" }
  script "b" { code = "return { g: typeof leak, p: typeof [].leak };" }
  output "b" { value = step.b }
}`, nil)
	if got := flowtest.Output(res, "b"); got != "{\n  g = \"undefined\"\n  p = \"undefined\"\n}" {
		t.Errorf("the second script step saw the first's globals: %s", got)
	}
}
