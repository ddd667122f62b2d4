package main_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const goodFlow = `flow "good" {
  log "hi" {
    message = "hi"
  }
}
`

const badFlow = `flow "bad" {
  log "hi" {
    mesage = "hi"
  }
}
`

func TestValidate(t *testing.T) {
	dir := writeFiles(t, map[string]string{"good.flow.hcl": goodFlow, "bad.flow.hcl": badFlow})

	r := flowIn(t, dir, "validate", "good.flow.hcl")
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.stdout, `good.flow.hcl: flow "good" is valid`)
	if r.stderr != "" {
		t.Errorf("stderr should be empty:\n%s", r.stderr)
	}

	r = flowIn(t, dir, "validate", "bad.flow.hcl")
	wantCode(t, r, 2)
	wantContains(t, "stderr", r.stderr, "bad.flow.hcl:"+posOf(t, badFlow, "mesage"), "mesage")
	wantNotContains(t, "stdout", r.stdout, "is valid")

	// Every file is checked; one bad file makes the exit code 2.
	r = flowIn(t, dir, "validate", "bad.flow.hcl", "good.flow.hcl")
	wantCode(t, r, 2)
	wantContains(t, "stdout", r.stdout, `good.flow.hcl: flow "good" is valid`)
	wantContains(t, "stderr", r.stderr, "bad.flow.hcl:")

	r = flowIn(t, dir, "validate")
	wantCode(t, r, 2)
}

const formatted = `flow "f" {
  param "name" {
    type    = string
    default = "x"
  }

  log "hi" {
    message = "hi ${param.name}"
    level   = "info"
  }
}
`

const unformatted = `flow "f" {
param "name" {
  type = string
      default = "x"
}

  log "hi" {
    message="hi ${param.name}"
    level = "info"
  }
}
`

func TestFmt(t *testing.T) {
	dir := writeFiles(t, map[string]string{"ok.flow.hcl": formatted, "messy.flow.hcl": unformatted})
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	r := flowIn(t, dir, "fmt", "--check", "ok.flow.hcl")
	wantCode(t, r, 0)
	if r.stdout != "" || r.stderr != "" {
		t.Errorf("a formatted file prints nothing:\n%s", r)
	}

	r = flowIn(t, dir, "fmt", "--check", "ok.flow.hcl", "messy.flow.hcl")
	wantCode(t, r, 1)
	if r.stdout != "messy.flow.hcl\n" {
		t.Errorf("--check lists the unformatted files only:\n%s", r)
	}
	if read("messy.flow.hcl") != unformatted {
		t.Error("--check wrote the file")
	}

	// A directory stands for its *.flow.hcl files.
	r = flowIn(t, dir, "fmt", "--check", ".")
	wantCode(t, r, 1)
	if r.stdout != "messy.flow.hcl\n" {
		t.Errorf("--check . lists the unformatted files of the directory:\n%s", r)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	r = flowIn(t, dir, "fmt", "empty")
	wantCode(t, r, 2)
	wantContains(t, "stderr", r.stderr, "empty: no *.flow.hcl file in the directory")

	r = flowIn(t, dir, "fmt", "messy.flow.hcl", "ok.flow.hcl")
	wantCode(t, r, 0)
	if got := read("messy.flow.hcl"); got != formatted {
		t.Errorf("fmt wrote:\n%s\nwant:\n%s", got, formatted)
	}
	if read("ok.flow.hcl") != formatted {
		t.Error("fmt changed a formatted file")
	}

	r = flowIn(t, dir, "fmt", "--check", "messy.flow.hcl")
	wantCode(t, r, 0)
}

func TestFmtSyntaxError(t *testing.T) {
	src := "flow \"f\" {\n  log \"hi\" {\n    message = \n  }\n"
	dir := writeFiles(t, map[string]string{"broken.flow.hcl": src})
	for _, args := range [][]string{{"fmt", "broken.flow.hcl"}, {"fmt", "--check", "broken.flow.hcl"}} {
		r := flowIn(t, dir, args...)
		wantCode(t, r, 2)
		wantContains(t, "stderr", r.stderr, "broken.flow.hcl:3:")
		b, err := os.ReadFile(filepath.Join(dir, "broken.flow.hcl"))
		if err != nil || string(b) != src {
			t.Fatalf("fmt touched a file with a syntax error (%v):\n%s", err, b)
		}
	}
	r := flowIn(t, dir, "fmt", "missing.flow.hcl")
	wantCode(t, r, 2)
	wantContains(t, "stderr", r.stderr, "missing.flow.hcl")
}

func TestGraph(t *testing.T) {
	for _, tc := range []struct{ format, golden string }{
		{"mermaid", "graph.mermaid.golden"},
		{"dot", "graph.dot.golden"},
		{"svg", "graph.svg.golden"},
		{"", "graph.mermaid.golden"}, // the default, after -update wrote it
	} {
		t.Run(tc.format, func(t *testing.T) {
			args := []string{"graph", filepath.Join("testdata", "graph.flow.hcl")}
			if tc.format != "" {
				args = append(args, "--format", tc.format)
			}
			r := run(t, args...)
			wantCode(t, r, 0)
			golden := filepath.Join("testdata", tc.golden)
			if *update && tc.format != "" {
				if err := os.WriteFile(golden, []byte(r.stdout), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run the tests with -update to write it)", err)
			}
			if r.stdout != string(want) {
				t.Errorf("flow %s differs from %s (rerun with -update if intended):\n%s", strings.Join(args, " "), golden, r.stdout)
			}
		})
	}

	r := run(t, "graph", filepath.Join("testdata", "graph.flow.hcl"), "--format", "png")
	wantCode(t, r, 2)
	wantContains(t, "stderr", r.stderr, "use mermaid, dot or svg")
	if r.stdout != "" {
		t.Errorf("stdout should be empty:\n%s", r.stdout)
	}
}

func TestVersion(t *testing.T) {
	r := run(t, "version")
	wantCode(t, r, 0)
	if !regexp.MustCompile(`^flow \S+\n$`).MatchString(r.stdout) {
		t.Errorf("version printed %q", r.stdout)
	}
	wantCode(t, run(t, "version", "extra"), 2)
}

func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		usage string
	}{
		{[]string{"--help"}, "flow [command]"},
		{[]string{"help"}, "flow [command]"},
		{[]string{"exec", "--help"}, "flow exec FILE"},
		{[]string{"help", "exec"}, "flow exec FILE"},
		{[]string{"validate", "--help"}, "flow validate FILE"},
		{[]string{"fmt", "-h"}, "flow fmt [--check] FILE"},
		{[]string{"graph", "--help"}, "flow graph FILE"},
		{[]string{"version", "--help"}, "flow version"},
		{[]string{"resume", "--help"}, "flow resume EXEC_ID"},
		{[]string{"stop", "--help"}, "flow stop EXEC_ID"},
		{[]string{"abandon", "--help"}, "flow abandon EXEC_ID"},
		{[]string{"history", "--help"}, "flow history [FLOW]"},
		{[]string{"show", "--help"}, "flow show EXEC_ID"},
		{[]string{"prune", "--help"}, "flow prune --older-than AGE"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := run(t, tc.args...)
			wantCode(t, r, 0)
			wantContains(t, "stdout", r.stdout, "Usage:", tc.usage)
		})
	}
	// Each command's help names its own flags.
	wantContains(t, "exec help", run(t, "exec", "--help").stdout, "--param", "--params-file", "--output", "--log-format",
		"--rerun", "--no-store", "--store", "Examples:")
	wantNotContains(t, "exec help", run(t, "exec", "--help").stdout, "--lease")
	wantContains(t, "root help", run(t, "--help").stdout, "resume", "stop", "abandon", "history", "show", "prune", "--store")
	for _, c := range [][]string{{"resume", "--param"}, {"stop", "--output"}, {"abandon", "--output"},
		{"history", "--status", "--limit"}, {"show", "--output"}, {"prune", "--older-than"}} {
		wantContains(t, c[0]+" help", run(t, c[0], "--help").stdout, append(c[1:], "Examples:", "--store")...)
	}
	wantContains(t, "fmt help", run(t, "fmt", "--help").stdout, "--check")
	wantContains(t, "graph help", run(t, "graph", "--help").stdout, "--format")
}

func TestUsageErrors(t *testing.T) {
	dir := writeFlow(t, goodFlow)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"bogus"}, `unknown command "bogus"`},
		{"unknown flag", []string{"exec", "--bogus", "main.flow.hcl"}, "unknown flag: --bogus"},
		{"unknown root flag", []string{"--bogus"}, "unknown flag: --bogus"},
		{"unknown shorthand", []string{"exec", "-z", "main.flow.hcl"}, "unknown shorthand flag: 'z'"},
		{"exec without file", []string{"exec"}, "flow exec needs FILE|DIR (see flow exec --help)"},
		{"exec with two files", []string{"exec", "main.flow.hcl", "main.flow.hcl"}, `flow exec: unexpected argument "main.flow.hcl" (usage: flow exec FILE|DIR)`},
		{"graph without file", []string{"graph"}, "flow graph needs FILE|DIR"},
		{"fmt without file", []string{"fmt"}, "flow fmt needs FILE|DIR..."},
		{"show without id", []string{"show"}, "flow show needs EXEC_ID"},
		{"bad output", []string{"exec", "main.flow.hcl", "--output", "yaml"}, `"yaml"`},
		{"bad log format", []string{"exec", "main.flow.hcl", "--log-format", "xml"}, `"xml"`},
		{"bad log level", []string{"exec", "main.flow.hcl", "--log-level", "loud"}, `"loud"`},
		{"param without value", []string{"exec", "main.flow.hcl", "-p"}, "flag needs an argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := flowIn(t, dir, tc.args...)
			wantCode(t, r, 2)
			wantContains(t, "stderr", r.stderr, tc.want)
			wantNotContains(t, "stderr", r.stderr, "run started")
		})
	}
}

func TestLogFormatJSON(t *testing.T) {
	dir := writeFlow(t, `flow "logs" {
  log "hello" {
    message = "hello from the flow"
    level   = "warn"
  }
  fail "stop" {
    message = "bad \"news\""
  }
}
`)
	r := flowIn(t, dir, "--log-format", "json", "exec", "main.flow.hcl")
	wantCode(t, r, 1)
	wantContains(t, "stdout", r.stdout, "logs FAILED")
	var msgs []string
	sc := bufio.NewScanner(strings.NewReader(r.stderr))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("stderr line is not JSON: %v\n%s", err, sc.Text())
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := line[k]; !ok {
				t.Errorf("no %q in %s", k, sc.Text())
			}
		}
		msgs = append(msgs, line["msg"].(string))
		if line["msg"] == "hello from the flow" && (line["level"] != "WARN" || line["step"] != "main/hello") {
			t.Errorf("log step line: %s", sc.Text())
		}
		if line["msg"] == "step failed" && line["error"] != `bad "news"` {
			t.Errorf("step failed line: %s", sc.Text())
		}
	}
	got := strings.Join(msgs, "|")
	for _, m := range []string{"run started", "hello from the flow", "step failed", "run finished"} {
		if !strings.Contains(got, m) {
			t.Errorf("no %q among the log messages %q", m, msgs)
		}
	}

	// The flag also works after the command, and --log-level filters.
	// (--rerun: a resume would restore the log step instead of running it.)
	r = flowIn(t, dir, "exec", "main.flow.hcl", "--log-format=json", "--log-level", "warn", "--rerun")
	wantCode(t, r, 1)
	wantNotContains(t, "stderr", r.stderr, `"level":"INFO"`)
	wantContains(t, "stderr", r.stderr, `"level":"WARN"`, `"level":"ERROR"`)
}
