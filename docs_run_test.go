// Tests that run what README.md and docs/tutorial.md tell a newcomer to
// run, through the flow command line (cli.Main), and compare what it
// prints with what the pages show. docs_test.go only loads the flows.
//
// A page's code blocks are found by a piece of the prose just before them
// (see blockAfter), so that the tests keep up with edits that do not change
// what a command prints. In a ```text block of output, the lines that start
// with "time=" are log lines (stderr, shown as excerpts); the other lines
// are what stdout holds, exactly.
package flowbatch_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowbatch/flow/cli"
)

// docPage is a Markdown page split into code blocks and prose.
type docPage struct {
	name   string
	blocks []block
	prose  []string
}

func readDocPage(t *testing.T, name string) *docPage {
	t.Helper()
	src, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	blocks, prose := parse(string(src))
	return &docPage{name: name, blocks: blocks, prose: prose}
}

// blockAfter returns the first block of kind info that opens after the
// first prose line containing marker.
func (p *docPage) blockAfter(t *testing.T, marker, info string) string {
	t.Helper()
	for i, line := range p.prose {
		if !strings.Contains(line, marker) {
			continue
		}
		for _, b := range p.blocks {
			if b.line > i && b.info == info {
				return b.text
			}
		}
		break
	}
	t.Fatalf("%s: no ```%s block after a line with %q", p.name, info, marker)
	return ""
}

// stdoutOf drops the log lines of an output excerpt.
func stdoutOf(text string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(text, "\n") {
		if line != "" && !strings.HasPrefix(line, "time=") {
			b.WriteString(line)
		}
	}
	return b.String()
}

type docRun struct {
	code           int
	stdout, stderr string
}

// flowCmd runs the flow command line with args in the working directory.
func flowCmd(args ...string) docRun {
	var out, errb bytes.Buffer
	code := cli.Main(args, strings.NewReader(""), &out, &errb)
	return docRun{code, out.String(), errb.String()}
}

func (r docRun) want(t *testing.T, what string, code int, stdout string) {
	t.Helper()
	if r.code != code {
		t.Errorf("%s: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", what, r.code, code, r.stdout, r.stderr)
	}
	if r.stdout != stdout {
		t.Errorf("%s: stdout differs from the page\ngot:\n%s\nwant:\n%s\nstderr:\n%s", what, r.stdout, stdout, r.stderr)
	}
}

func writeDocFile(t *testing.T, name, text string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDocReadmeRuns runs "A first flow" and "A first batch" of the README
// as written, in a fresh directory with a fresh store.
func TestDocReadmeRuns(t *testing.T) {
	readme := readDocPage(t, "README.md")
	t.Chdir(t.TempDir())
	t.Setenv("FLOW_STORE", "")

	writeDocFile(t, "first.flow.hcl", readme.blockAfter(t, "Save this as `first.flow.hcl`", "hcl"))
	flowCmd("exec", "first.flow.hcl").want(t, "flow exec first.flow.hcl", 0,
		readme.blockAfter(t, "the result, on stdout, is", "text"))
	// "Run the same command again and flow refuses, with exit code 2."
	again := flowCmd("exec", "first.flow.hcl")
	again.want(t, "flow exec first.flow.hcl, again", 2, "")
	if !strings.Contains(again.stderr, "already completed") {
		t.Errorf("the second exec: %q, want a refusal saying the flow already completed", again.stderr)
	}
	flowCmd("exec", "first.flow.hcl", "-p", `who=["linus"]`).want(t, "flow exec -p who", 0,
		"first COMPLETED (execution 2)\n  replies = [\"hello linus\"]\n")
	if r := flowCmd("show", "1"); r.code != 0 || !strings.Contains(r.stdout, "✓ say") {
		t.Errorf("flow show 1: exit code %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// "In a new directory": a store of its own.
	if err := os.Mkdir("batch", 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir("batch")
	writeDocFile(t, "orders.csv", readme.blockAfter(t, "In a new directory (so that the execution ids", "text"))
	writeDocFile(t, "orders.flow.hcl", readme.blockAfter(t, "and this as `orders.flow.hcl`", "hcl"))
	flowCmd("exec", "orders.flow.hcl").want(t, "flow exec orders.flow.hcl", 0,
		readme.blockAfter(t, "`flow exec orders.flow.hcl` prints", "text"))
	for file, marker := range map[string]string{
		"out/orders.jsonl":  "and writes `out/orders.jsonl`",
		"out/skipped.jsonl": "The row it could not read is in `out/skipped.jsonl`",
	} {
		got, err := os.ReadFile(filepath.FromSlash(file))
		if err != nil {
			t.Fatal(err)
		}
		if want := readme.blockAfter(t, marker, "text"); string(got) != want {
			t.Errorf("%s differs from the README\ngot:\n%s\nwant:\n%s", file, got, want)
		}
	}
}

// TestDocTutorialRuns follows sections 1 to 7 of the tutorial in one
// directory and one store, as a reader does, so that the execution ids
// match the page's.
func TestDocTutorialRuns(t *testing.T) {
	tut := readDocPage(t, "docs/tutorial.md")
	t.Chdir(t.TempDir())
	t.Setenv("FLOW_STORE", "")

	// 1. Hello
	writeDocFile(t, "hello.flow.hcl", tut.blockAfter(t, "Write `hello.flow.hcl`:", "hcl"))
	flowCmd("exec", "hello.flow.hcl").want(t, "1. hello", 0, stdoutOf(tut.blockAfter(t, "a message. Run it:", "text")))

	// 2. Params and outputs
	hello := tut.blockAfter(t, "Replace `hello.flow.hcl` with:", "hcl")
	writeDocFile(t, "hello.flow.hcl", hello)
	flowCmd("exec", "hello.flow.hcl", "-p", "name=Ada").want(t, "2. -p name=Ada", 0,
		stdoutOf(tut.blockAfter(t, "blocks are the results of the run", "text")))
	r := flowCmd("exec", "hello.flow.hcl", "-p", "nme=Ada")
	r.want(t, "2. -p nme=Ada", 2, "")
	if want := tut.blockAfter(t, "A misspelt name is a usage error", "text"); r.stderr != want {
		t.Errorf("2. -p nme=Ada: stderr\n%s\nwant\n%s", r.stderr, want)
	}

	// 3. Variables and a loop
	writeDocFile(t, "count.flow.hcl", tut.blockAfter(t, "Write `count.flow.hcl`", "hcl"))
	flowCmd("exec", "count.flow.hcl", "-p", "to=4").want(t, "3. count", 0,
		stdoutOf(tut.blockAfter(t, "say exactly where each", "text")))

	// 4. Fork
	writeDocFile(t, "team.flow.hcl", tut.blockAfter(t, "Write `team.flow.hcl`", "hcl"))
	flowCmd("exec", "team.flow.hcl").want(t, "4. team", 0,
		stdoutOf(tut.blockAfter(t, "the `for` expression picks the", "text")))

	// 5. Retry, catch and finally, then without the catch.
	resilient := tut.blockAfter(t, "a timeout expires. Write", "hcl")
	writeDocFile(t, "resilient.flow.hcl", resilient)
	flowCmd("exec", "resilient.flow.hcl").want(t, "5. resilient", 0,
		stdoutOf(tut.blockAfter(t, "Here the catch appends", "text")))
	start := strings.Index(resilient, "    catch {")
	end := strings.Index(resilient, "    finally {")
	if start < 0 || end < start {
		t.Fatal("5. resilient: no catch block before the finally block")
	}
	writeDocFile(t, "resilient.flow.hcl", resilient[:start]+resilient[end:])
	r = flowCmd("exec", "resilient.flow.hcl", "--rerun")
	r.want(t, "5. resilient without catch", 1, "resilient FAILED (execution 6)\nerror: main/broken: sh exited with code 7: disk full\n")
	if !strings.Contains(r.stderr, "cleaning up after broken") {
		t.Errorf("5. resilient without catch: finally did not run:\n%s", r.stderr)
	}

	// 6. Mistakes are caught before running
	bad := strings.Replace(strings.Replace(hello, "param.name}", "param.nme}", 1), "step.greet.message", "step.greeet.message", 1)
	writeDocFile(t, "hello.flow.hcl", bad)
	r = flowCmd("validate", "hello.flow.hcl")
	r.want(t, "6. validate", 2, "")
	if want := tut.blockAfter(t, "check the file without running it", "text"); r.stderr != want {
		t.Errorf("6. validate: stderr\n%s\nwant\n%s", r.stderr, want)
	}
	writeDocFile(t, "hello.flow.hcl", hello)

	// 7. Results as JSON
	r = flowCmd("exec", "count.flow.hcl", "-p", "to=2", "--output", "json")
	var got, want any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("7. --output json: %v\n%s", err, r.stdout)
	}
	if err := json.Unmarshal([]byte(tut.blockAfter(t, "prints one object on stdout at the end", "json")), &want); err != nil {
		t.Fatal(err)
	}
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Errorf("7. --output json:\n%s\nwant\n%s", g, w)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
