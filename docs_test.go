// Tests that keep the documentation true: every flow written in README.md
// and docs/ loads without a diagnostic, and every relative link points at a
// file (and heading) that exists.
//
// Conventions for code blocks in the Markdown files:
//
//   - ```hcl holds a complete flow file: it must contain a flow "NAME" block
//     and load with no diagnostic at all.
//   - ```hcl-snippet holds a fragment (a step, an expression, a mistake on
//     purpose); it is not checked.
//   - A ```hcl block whose first line is a comment "# file: PATH" is written
//     to PATH, next to the other flows of the same Markdown file, so that a
//     call step in another block can refer to it.
package flowbatch_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode"

	_ "github.com/flowbatch/flow/decorators"
	"github.com/flowbatch/flow/flow"
	_ "github.com/flowbatch/flow/script" // docs/javascript.md
	_ "github.com/flowbatch/flow/steps"
	_ "github.com/flowbatch/flow/steps/batch/files" // reader "csv" in docs/javascript.md
)

// markdownFiles lists README.md and every .md file under docs/.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md"}
	err := filepath.WalkDir("docs", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// block is one fenced code block.
type block struct {
	info string // the info string after the fence: "hcl", "sh", ...
	line int    // the line of the opening fence
	text string
}

// parse splits a Markdown file into its fenced code blocks and its prose
// (with the code blocks blanked out, line numbers kept).
func parse(src string) (blocks []block, prose []string) {
	var cur *block
	var fence string
	var body strings.Builder
	sc := bufio.NewScanner(strings.NewReader(src))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		n++
		trimmed := strings.TrimLeft(line, " ")
		if cur == nil {
			if f := fenceOf(trimmed); f != "" {
				fence = f
				cur = &block{info: strings.TrimSpace(trimmed[len(f):]), line: n}
				body.Reset()
				prose = append(prose, "")
				continue
			}
			prose = append(prose, line)
			continue
		}
		prose = append(prose, "")
		if strings.HasPrefix(trimmed, fence) && strings.TrimSpace(strings.TrimLeft(trimmed, fence[:1])) == "" {
			cur.text = body.String()
			blocks = append(blocks, *cur)
			cur = nil
			continue
		}
		body.WriteString(line)
		body.WriteString("\n")
	}
	return blocks, prose
}

// fenceOf returns the fence (``` or ~~~, possibly longer) a line opens with.
func fenceOf(line string) string {
	for _, c := range []string{"`", "~"} {
		i := 0
		for i < len(line) && line[i:i+1] == c {
			i++
		}
		if i >= 3 {
			return line[:i]
		}
	}
	return ""
}

var (
	flowBlockRE = regexp.MustCompile(`(?m)^\s*flow\s+"`)
	fileNameRE  = regexp.MustCompile(`^#\s*file:\s*(\S+)\s*$`)
)

func TestDocFlowsLoad(t *testing.T) {
	total := 0
	for _, md := range markdownFiles(t) {
		src, err := os.ReadFile(md)
		if err != nil {
			t.Fatal(err)
		}
		blocks, _ := parse(string(src))
		dir := t.TempDir()
		type pending struct {
			path string
			b    block
		}
		var toLoad []pending
		// First write the named files, so that calls between blocks resolve.
		for _, b := range blocks {
			if b.info != "hcl" {
				continue
			}
			first, _, _ := strings.Cut(b.text, "\n")
			if m := fileNameRE.FindStringSubmatch(strings.TrimSpace(first)); m != nil {
				p := filepath.Join(dir, filepath.FromSlash(m[1]))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(b.text), 0o644); err != nil {
					t.Fatal(err)
				}
				toLoad = append(toLoad, pending{p, b})
				continue
			}
			toLoad = append(toLoad, pending{"", b})
		}
		for _, pl := range toLoad {
			where := fmt.Sprintf("%s:%d", md, pl.b.line)
			if !flowBlockRE.MatchString(pl.b.text) {
				t.Errorf("%s: an ```hcl block must hold a whole flow file (a flow \"NAME\" block); fence a fragment as ```hcl-snippet", where)
				continue
			}
			path := pl.path
			if path == "" {
				path = filepath.Join(dir, "x.flow.hcl")
				if err := os.WriteFile(path, []byte(pl.b.text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			total++
			set, diags := flow.Load(path, nil)
			if len(diags) > 0 {
				for _, d := range diags {
					at := where
					if d.Subject != nil && d.Subject.Filename == path {
						// Line 1 of the block is the line after the fence.
						at = fmt.Sprintf("%s:%d", md, pl.b.line+d.Subject.Start.Line)
					}
					t.Errorf("%s: the flow does not load cleanly: %s: %s", at, d.Summary, d.Detail)
				}
				continue
			}
			if len(set.Flows) == 0 {
				t.Errorf("%s: no flow loaded", where)
			}
		}
	}
	if total == 0 {
		t.Fatal("no ```hcl flow found in README.md or docs/: the test checks nothing")
	}
}

var (
	linkRE       = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	inlineCodeRE = regexp.MustCompile("`[^`]*`")
	headingRE    = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)
)

func TestDocLinks(t *testing.T) {
	anchors := map[string]map[string]bool{} // file → its heading anchors
	anchorsOf := func(p string) map[string]bool {
		if a, ok := anchors[p]; ok {
			return a
		}
		src, err := os.ReadFile(p)
		a := map[string]bool{}
		if err == nil {
			_, prose := parse(string(src))
			seen := map[string]int{}
			for _, line := range prose {
				m := headingRE.FindStringSubmatch(line)
				if m == nil {
					continue
				}
				slug := slugify(m[2])
				if k := seen[slug]; k > 0 {
					a[fmt.Sprintf("%s-%d", slug, k)] = true
				} else {
					a[slug] = true
				}
				seen[slug]++
			}
		}
		anchors[p] = a
		return a
	}
	checked := 0
	for _, md := range markdownFiles(t) {
		src, err := os.ReadFile(md)
		if err != nil {
			t.Fatal(err)
		}
		_, prose := parse(string(src))
		for i, line := range prose {
			line = inlineCodeRE.ReplaceAllString(line, "")
			for _, m := range linkRE.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				where := fmt.Sprintf("%s:%d", md, i+1)
				file, frag, _ := strings.Cut(target, "#")
				p := md
				if file != "" {
					p = filepath.Join(filepath.Dir(md), filepath.FromSlash(file))
					if _, err := os.Stat(p); err != nil {
						t.Errorf("%s: link %q points at a missing file", where, target)
						continue
					}
				}
				checked++
				if frag != "" && strings.HasSuffix(p, ".md") && !anchorsOf(p)[frag] {
					t.Errorf("%s: link %q: %s has no heading with anchor #%s", where, target, p, frag)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no relative link found: the test checks nothing")
	}
}

// slugify makes the anchor GitHub gives a heading: lower case, punctuation
// dropped, spaces turned into dashes.
func slugify(h string) string {
	h = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`).ReplaceAllString(h, "$1") // links keep their text
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestSlugify(t *testing.T) {
	for in, want := range map[string]string{
		"Scoping rules":                    "scoping-rules",
		"`if` decorator":                   "if-decorator",
		"Status, exit codes and stopping":  "status-exit-codes-and-stopping",
		"`regex_replace`":                  "regex_replace",
		"Step 3: params (and `-p`)":        "step-3-params-and--p",
		"[Linked](x.md) heading":           "linked-heading",
		"Decorators: if → retry → timeout": "decorators-if--retry--timeout",
	} {
		if got := slugify(in); got != want {
			t.Errorf("slugify(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseFences(t *testing.T) {
	src := "intro\n```hcl\nflow \"a\" {}\n```\ntext [x](y.md)\n````md\n```hcl\nnot a block\n```\n````\n"
	blocks, prose := parse(src)
	if len(blocks) != 2 || blocks[0].info != "hcl" || blocks[0].line != 2 || blocks[1].info != "md" {
		t.Fatalf("blocks = %+v", blocks)
	}
	if !strings.Contains(blocks[1].text, "not a block") {
		t.Errorf("nested fence not kept inside the outer block: %q", blocks[1].text)
	}
	if prose[4] != "text [x](y.md)" || prose[2] != "" {
		t.Errorf("prose = %q", prose)
	}
}
