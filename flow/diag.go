package flow

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Pos formats the start of a range as file:line:col, the form editors and
// terminals turn into links.
func Pos(r hcl.Range) string {
	if r.Filename == "" {
		return fmt.Sprintf("%d:%d", r.Start.Line, r.Start.Column)
	}
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// WriteDiagnostics prints diagnostics the way compilers do: a
// file:line:col header, the source line with the problem underlined, and the
// explanation. files supplies the source (Set.Files); a diagnostic whose
// file is unknown is printed without a snippet.
func WriteDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, color bool) error {
	bw := bufio.NewWriter(w)
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	for i, d := range diags {
		if i > 0 {
			bw.WriteString("\n")
		}
		sev := paint("1;31", "error")
		if d.Severity == hcl.DiagWarning {
			sev = paint("1;33", "warning")
		}
		where := ""
		if d.Subject != nil {
			where = Pos(*d.Subject) + ": "
		}
		fmt.Fprintf(bw, "%s%s: %s\n", where, sev, paint("1", d.Summary))
		if d.Subject != nil {
			if f := files[d.Subject.Filename]; f != nil {
				writeSnippet(bw, f.Bytes, *d.Subject, paint)
			}
		}
		if d.Detail != "" {
			for _, line := range strings.Split(wrap(d.Detail, 78), "\n") {
				fmt.Fprintf(bw, "  %s\n", line)
			}
		}
	}
	return bw.Flush()
}

func writeSnippet(w io.Writer, src []byte, r hcl.Range, paint func(string, string) string) {
	lines := bytes.Split(src, []byte("\n"))
	if r.Start.Line < 1 || r.Start.Line > len(lines) {
		return
	}
	text := strings.TrimRight(strings.ReplaceAll(string(lines[r.Start.Line-1]), "\t", " "), "\r")
	num := fmt.Sprint(r.Start.Line)
	pad := strings.Repeat(" ", len(num))
	fmt.Fprintf(w, "  %s | %s\n", num, text)
	start := r.Start.Column - 1
	end := r.End.Column - 1
	if r.End.Line != r.Start.Line || end > len([]rune(text)) {
		end = len([]rune(text))
	}
	if start < 0 {
		start = 0
	}
	if end <= start {
		end = start + 1
	}
	fmt.Fprintf(w, "  %s | %s%s\n", pad, strings.Repeat(" ", start), paint("1;31", strings.Repeat("^", end-start)))
}

// wrap folds text at width on spaces.
func wrap(s string, width int) string {
	var out strings.Builder
	for pi, para := range strings.Split(s, "\n") {
		if pi > 0 {
			out.WriteString("\n")
		}
		n := 0
		for i, word := range strings.Fields(para) {
			if i > 0 && n+1+len(word) > width {
				out.WriteString("\n")
				n = 0
			} else if i > 0 {
				out.WriteString(" ")
				n++
			}
			out.WriteString(word)
			n += len(word)
		}
	}
	return out.String()
}
