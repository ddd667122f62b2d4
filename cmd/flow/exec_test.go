package main_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

const greetFlow = `flow "greet" {
  param "name" {
    type    = string
    default = "world"
  }

  log "hello" {
    message = "Hello, ${param.name}!"
  }

  loop "count" {
    vars  = { n = 0 }
    until = var.n >= 3

    set "inc" {
      assign = { n = var.n + 1 }
    }
  }

  exec "echo" {
    command = ["echo", "from exec"]
  }

  output "message" {
    value = step.hello.message
  }
  output "iterations" {
    value = step.count.iterations
  }
  output "echoed" {
    value = trimspace(step.echo.stdout)
  }
  output "tags" {
    value = { who = param.name, list = [1, 2] }
  }
}
`

func TestExecText(t *testing.T) {
	dir := writeFlow(t, greetFlow)
	r := flowIn(t, dir, "exec", "main.flow.hcl", "-p", "name=Ada")
	wantCode(t, r, 0)
	lines := strings.Split(r.stdout, "\n")
	if !regexp.MustCompile(`^greet COMPLETED \(execution \S+\)$`).MatchString(lines[0]) {
		t.Errorf("first line: %q", lines[0])
	}
	wantContains(t, "stdout", r.stdout,
		"\n  message = \"Hello, Ada!\"\n",
		"\n  iterations = 3\n",
		"\n  echoed = \"from exec\"\n",
		// A multi-line value stays indented under its name.
		"\n  tags = {\n    list = [1, 2]\n    who  = \"Ada\"\n  }\n")
	// Logs go to stderr, never to stdout.
	wantNotContains(t, "stdout", r.stdout, "level=", "run started")
	wantContains(t, "stderr", r.stderr, `msg="run started"`, `msg="Hello, Ada!"`, "step=main/hello", `msg="run finished"`)
}

// jsonResult mirrors what --output json prints.
type jsonResult struct {
	ExecutionID string                     `json:"execution_id"`
	Flow        string                     `json:"flow"`
	Status      string                     `json:"status"`
	Outputs     map[string]json.RawMessage `json:"outputs"`
	Error       *struct {
		Step    string `json:"step"`
		Kind    string `json:"kind"`
		Message string `json:"message"`
	} `json:"error"`
}

// decodeOne decodes stdout as exactly one JSON object with exactly the
// documented keys.
func decodeOne(t *testing.T, stdout string) jsonResult {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, stdout)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		t.Fatalf("stdout holds more than one JSON value (%v):\n%s", err, stdout)
	}
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if want := []string{"error", "execution_id", "flow", "outputs", "status"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("keys: got %v, want %v", keys, want)
	}
	var res jsonResult
	d := json.NewDecoder(strings.NewReader(stdout))
	d.DisallowUnknownFields()
	if err := d.Decode(&res); err != nil {
		t.Fatalf("decode: %v\n%s", err, stdout)
	}
	return res
}

// compactJSON normalises a JSON text for comparison.
func compactJSON(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
	return b.String()
}

func wantOutputs(t *testing.T, res jsonResult, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for k, v := range res.Outputs {
		got[k] = compactJSON(t, string(v))
	}
	norm := map[string]string{}
	for k, v := range want {
		norm[k] = compactJSON(t, v)
	}
	if !reflect.DeepEqual(got, norm) {
		t.Errorf("outputs:\n got %v\nwant %v", got, norm)
	}
}

func TestExecJSON(t *testing.T) {
	dir := writeFlow(t, greetFlow)
	r := flowIn(t, dir, "exec", "main.flow.hcl", "--output", "json")
	wantCode(t, r, 0)
	res := decodeOne(t, r.stdout)
	if res.Flow != "greet" || res.Status != "COMPLETED" || res.Error != nil {
		t.Errorf("result: %+v", res)
	}
	// The id printed is the one the logs name.
	if res.ExecutionID == "" || !strings.Contains(r.stderr, "execution_id="+res.ExecutionID) {
		t.Errorf("execution_id %q not in the logs:\n%s", res.ExecutionID, r.stderr)
	}
	wantOutputs(t, res, map[string]string{
		"message":    `"Hello, world!"`,
		"iterations": `3`,
		"echoed":     `"from exec"`,
		"tags":       `{"list":[1,2],"who":"world"}`,
	})
	wantContains(t, "stderr", r.stderr, `msg="run started"`)
	// -o is the short form; --rerun runs the completed instance again.
	r = flowIn(t, dir, "exec", "-o", "json", "main.flow.hcl", "--rerun")
	wantCode(t, r, 0)
	if again := decodeOne(t, r.stdout); again.ExecutionID == res.ExecutionID {
		t.Errorf("the rerun has the same execution id %s", again.ExecutionID)
	}
}

const failingFlow = `flow "broken" {
  log "first" {
    message = "before"
  }

  sequential "outer" {
    fail "boom" {
      message = "it broke: ${flow.name}"
    }
    log "unreached" {
      message = "never logged"
    }
  }

  output "x" {
    value = 1
  }
}
`

func TestExecFailed(t *testing.T) {
	dir := writeFlow(t, failingFlow)
	r := flowIn(t, dir, "exec", "main.flow.hcl")
	wantCode(t, r, 1)
	if !regexp.MustCompile(`(?m)^broken FAILED \(execution \S+\)$`).MatchString(r.stdout) {
		t.Errorf("no status line:\n%s", r.stdout)
	}
	wantContains(t, "stdout", r.stdout, "error: main/outer/boom: it broke: broken")
	wantContains(t, "stderr", r.stderr, "step=main/outer/boom", `msg="step failed"`)
	wantNotContains(t, "stderr", r.stderr, "never logged")

	r = flowIn(t, dir, "exec", "main.flow.hcl", "--output", "json")
	wantCode(t, r, 1)
	res := decodeOne(t, r.stdout)
	if res.Status != "FAILED" || res.Error == nil {
		t.Fatalf("result: %+v", res)
	}
	if res.Error.Step != "main/outer/boom" || res.Error.Kind != "fail" || res.Error.Message != "it broke: broken" {
		t.Errorf("error: %+v", *res.Error)
	}
	if len(res.Outputs) != 0 {
		t.Errorf("a failed run has no outputs, got %v", res.Outputs)
	}
}

func TestExecCommandFails(t *testing.T) {
	dir := writeFlow(t, `flow "cmd" {
  exec "bad" {
    command = ["sh", "-c", "echo partial; echo 'disk on fire' >&2; exit 4"]
  }
}
`)
	r := flowIn(t, dir, "exec", "main.flow.hcl", "-o", "json")
	wantCode(t, r, 1)
	res := decodeOne(t, r.stdout)
	if res.Error == nil || res.Error.Step != "main/bad" || res.Error.Kind != "exit" ||
		!strings.Contains(res.Error.Message, "exited with code 4: disk on fire") {
		t.Errorf("result: %+v (error %+v)", res, res.Error)
	}
}

func TestValidationErrorRunsNothing(t *testing.T) {
	src := `flow "bad" {
  exec "touch" {
    command = ["touch", "created"]
  }

  log "x" {
    message = var.nope
  }
}
`
	dir := writeFlow(t, src)
	pos := "main.flow.hcl:" + posOf(t, src, "var.nope")
	for _, args := range [][]string{
		{"exec", "main.flow.hcl"},
		{"exec", "main.flow.hcl", "-o", "json"},
		{"validate", "main.flow.hcl"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := flowIn(t, dir, args...)
			wantCode(t, r, 2)
			wantContains(t, "stderr", r.stderr, pos, "var.nope", `"nope"`)
			if r.stdout != "" {
				t.Errorf("stdout should be empty:\n%s", r.stdout)
			}
			wantNotContains(t, "stderr", r.stderr, "run started")
			if exists(filepath.Join(dir, "created")) {
				t.Fatal("the exec step ran despite the validation error")
			}
		})
	}
}

const paramsFlow = `flow "p" {
  param "name" {
    type = string
  }
  param "count" {
    type    = number
    default = 1
  }
  param "tags" {
    type    = list(string)
    default = []
  }
  param "limits" {
    type    = map(number)
    default = {}
  }

  output "name" {
    value = param.name
  }
  output "count" {
    value = param.count
  }
  output "tags" {
    value = param.tags
  }
  output "limits" {
    value = param.limits
  }
}
`

func TestParamFlags(t *testing.T) {
	dir := writeFlow(t, paramsFlow)
	ok := []struct {
		name string
		args []string
		want map[string]string
	}{
		{"defaults", []string{"-p", "name=a"},
			map[string]string{"name": `"a"`, "count": `1`, "tags": `[]`, "limits": `{}`}},
		{"string taken as is", []string{"-p", `name= a b=c "q" [1] `},
			map[string]string{"name": `" a b=c \"q\" [1] "`, "count": `1`, "tags": `[]`, "limits": `{}`}},
		{"empty string", []string{"-p", "name="},
			map[string]string{"name": `""`, "count": `1`, "tags": `[]`, "limits": `{}`}},
		{"number", []string{"-p", "name=a", "-p", "count=42"},
			map[string]string{"name": `"a"`, "count": `42`, "tags": `[]`, "limits": `{}`}},
		{"fraction", []string{"-p", "name=a", "-p", "count=-2.5"},
			map[string]string{"name": `"a"`, "count": `-2.5`, "tags": `[]`, "limits": `{}`}},
		{"list", []string{"-p", "name=a", "-p", `tags=["x", "y z"]`},
			map[string]string{"name": `"a"`, "count": `1`, "tags": `["x","y z"]`, "limits": `{}`}},
		{"list of numbers converted", []string{"-p", "name=a", "-p", `tags=[1, 2]`},
			map[string]string{"name": `"a"`, "count": `1`, "tags": `["1","2"]`, "limits": `{}`}},
		{"map", []string{"-p", "name=a", "-p", `limits={ cpu = 2, mem = 512 }`},
			map[string]string{"name": `"a"`, "count": `1`, "tags": `[]`, "limits": `{"cpu":2,"mem":512}`}},
		{"last -p wins", []string{"-p", "name=a", "-p", "name=b", "--param", "count=2", "-p", "count=3"},
			map[string]string{"name": `"b"`, "count": `3`, "tags": `[]`, "limits": `{}`}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			r := flowIn(t, dir, append([]string{"exec", "main.flow.hcl", "-o", "json"}, tc.args...)...)
			wantCode(t, r, 0)
			wantOutputs(t, decodeOne(t, r.stdout), tc.want)
		})
	}

	bad := []struct {
		name string
		args []string
		want []string
	}{
		{"missing required", nil, []string{`missing param "name"`, "string"}},
		{"not a number", []string{"-p", "name=a", "-p", "count=many"}, []string{`param "count"`, "number"}},
		{"number syntax", []string{"-p", "name=a", "-p", "count=1..2"}, []string{`param "count"`, "number"}},
		{"not a list", []string{"-p", "name=a", "-p", "tags=3"}, []string{`param "tags"`, "list(string)"}},
		{"list syntax", []string{"-p", "name=a", "-p", `tags=["x"`}, []string{`param "tags"`}},
		{"map of strings", []string{"-p", "name=a", "-p", `limits={ cpu = "lots" }`}, []string{`param "limits"`, "map(number)"}},
		{"unknown param", []string{"-p", "name=a", "-p", "colour=red"}, []string{`no param "colour"`}},
		{"no equals sign", []string{"-p", "name"}, []string{"-p name=value"}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := flowIn(t, dir, append([]string{"exec", "main.flow.hcl"}, tc.args...)...)
			wantCode(t, r, 2)
			wantContains(t, "stderr", r.stderr, tc.want...)
			wantNotContains(t, "stderr", r.stderr, "run started")
			if r.stdout != "" {
				t.Errorf("stdout should be empty:\n%s", r.stdout)
			}
		})
	}
}

func TestParamsFile(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.flow.hcl":  paramsFlow,
		"good.json":      `{"name": "from file", "count": 7, "tags": ["a"], "limits": {"cpu": 1}}`,
		"partial.json":   `{"name": "from file"}`,
		"array.json":     `["name", "a"]`,
		"string.json":    `"name=a"`,
		"wrongtype.json": `{"name": "a", "count": "many"}`,
		"unknown.json":   `{"name": "a", "colour": "red"}`,
		"syntax.json":    "{\n  \"name\": \"a\",\n  \"count\": 2,,\n}\n",
	})
	ok := []struct {
		name string
		args []string
		want map[string]string
	}{
		{"good", []string{"--params-file", "good.json"},
			map[string]string{"name": `"from file"`, "count": `7`, "tags": `["a"]`, "limits": `{"cpu":1}`}},
		{"defaults fill the rest", []string{"--params-file", "partial.json"},
			map[string]string{"name": `"from file"`, "count": `1`, "tags": `[]`, "limits": `{}`}},
		{"-p wins over the file", []string{"-p", "count=9", "--params-file", "good.json", "-p", "name=flag"},
			map[string]string{"name": `"flag"`, "count": `9`, "tags": `["a"]`, "limits": `{"cpu":1}`}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			r := flowIn(t, dir, append([]string{"exec", "main.flow.hcl", "-o", "json"}, tc.args...)...)
			wantCode(t, r, 0)
			wantOutputs(t, decodeOne(t, r.stdout), tc.want)
		})
	}
	bad := []struct {
		file string
		want []string
	}{
		{"array.json", []string{"array.json", "JSON object"}},
		{"string.json", []string{"string.json", "JSON object"}},
		{"wrongtype.json", []string{"wrongtype.json", `param "count"`, "number"}},
		{"unknown.json", []string{"unknown.json", `unknown param "colour"`}},
		{"syntax.json", []string{"syntax.json", "line 3, column 14"}},
		{"missing.json", []string{"missing.json", "no such file"}},
	}
	for _, tc := range bad {
		t.Run(tc.file, func(t *testing.T) {
			r := flowIn(t, dir, "exec", "main.flow.hcl", "--params-file", tc.file)
			wantCode(t, r, 2)
			wantContains(t, "stderr", r.stderr, tc.want...)
			wantNotContains(t, "stderr", r.stderr, "run started")
		})
	}
}

func TestExecMissingFile(t *testing.T) {
	dir := t.TempDir()
	r := flowIn(t, dir, "exec", "nowhere.flow.hcl")
	wantCode(t, r, 2)
	wantContains(t, "stderr", r.stderr, "nowhere.flow.hcl")
	if _, err := os.Stat(filepath.Join(dir, "nowhere.flow.hcl")); err == nil {
		t.Fatal("the test needs the file to be missing")
	}
}
